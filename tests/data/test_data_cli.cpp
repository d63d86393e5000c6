// Runs the built moescale-data program on bad input: exit status 2 and one line on stderr that
// names the file and the problem.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <string>
#include <vector>

#include "common/io.h"
#include "data/shards.h"
#include "tests/data/sample_text.h"
#include "tests/temp_dir.h"

using Catch::Contains;
using Catch::StartsWith;
using moe::testing::TempDir;

namespace {

struct Run {
  int status;
  std::string out, err;
};

Run run(const TempDir& dir, const std::string& args) {
  const std::string cmd = std::string(MOESCALE_DATA_BIN) + " " + args + " >" + (dir / "stdout") +
                          " 2>" + (dir / "stderr");
  const int raw = std::system(cmd.c_str());
  Run r{WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, moe::read_file(dir / "stdout"),
        moe::read_file(dir / "stderr")};
  INFO(cmd << "\nstdout: " << r.out << "\nstderr: " << r.err);
  return r;
}

// Exit status 2 and exactly one line on stderr, containing every fragment.
void expect_bad_input(const Run& r, const std::vector<std::string>& fragments) {
  INFO("stderr: " << r.err);
  CHECK(r.status == 2);
  CHECK_THAT(r.err, StartsWith("moescale data: error: "));
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  for (const auto& f : fragments) CHECK_THAT(r.err, Contains(f));
}

std::string llmc_shard(int32_t magic, int32_t version, int32_t count, int n_tokens) {
  std::string b(1024, '\0');
  std::memcpy(&b[0], &magic, 4);
  std::memcpy(&b[4], &version, 4);
  std::memcpy(&b[8], &count, 4);
  for (int i = 0; i < n_tokens; ++i) b += std::string("\x10\x27", 2);  // id 10000
  return b;
}

}  // namespace

TEST_CASE("moescale data: bad text input exits 2 with one line naming the file", "[data][cli]") {
  TempDir dir;
  const std::string out = " --out " + (dir / "out") + " --tokenizer byte";
  expect_bad_input(run(dir, "--input " + (dir / "nope.txt") + out),
                   {dir / "nope.txt", "no such file"});
  dir.write("empty.txt", "");
  expect_bad_input(run(dir, "--input " + (dir / "empty.txt") + out),
                   {dir / "empty.txt", "empty file"});
  dir.write("latin1.txt", "line one\nline two\ncaf\xe9\n");
  expect_bad_input(run(dir, "--input " + (dir / "latin1.txt") + out),
                   {dir / "latin1.txt", "not UTF-8", "byte 0xe9 at line 3, column 4"});
  dir.write("one.txt", "a single document without separators\n");
  expect_bad_input(run(dir, "--input " + (dir / "one.txt") + out),
                   {dir / "one.txt", "single document"});
  expect_bad_input(run(dir, "--input " + (dir / "one.txt") + out + " --val-fraction 2"),
                   {"--val-fraction 2"});
  expect_bad_input(run(dir, "--out " + (dir / "out")), {"--input is required"});
  CHECK_FALSE(std::filesystem::exists(dir / "out/meta.json"));
}

TEST_CASE("moescale data: a vocabulary too small for BPE exits 2 naming --vocab-size",
          "[data][cli]") {
  TempDir dir;
  dir.write("text.txt", moe::testing::join_documents(moe::testing::sample_documents(50)));
  const std::string base = "--input " + (dir / "text.txt") + " --out " + (dir / "out");
  expect_bad_input(run(dir, base + " --vocab-size 100"), {"--vocab-size 100 is too small"});
#ifdef MOESCALE_HAVE_SENTENCEPIECE
  // Above the fixed 259 pieces, but not room for the text's characters as well.
  expect_bad_input(run(dir, base + " --vocab-size 280"),
                   {"--vocab-size 280 is too small for BPE on these inputs"});
#endif
  const Run probe = run(dir, base + " --tokenizer byte --vocab-size 1000");
  expect_bad_input(probe, {"--vocab-size applies to --tokenizer bpe"});
}

TEST_CASE("moescale data --check: bad shards exit 2 with one line naming the file", "[data][cli]") {
  TempDir dir;
  const std::string truncated = dir.write("trunc.bin", llmc_shard(20240520, 1, 100, 60));
  expect_bad_input(run(dir, "--check " + truncated), {truncated, "truncated"});
  const std::string magic = dir.write("magic.bin", llmc_shard(42, 1, 10, 10));
  expect_bad_input(run(dir, "--check " + magic), {magic, "wrong magic number 42"});
  const std::string good = dir.write("good_train.bin", llmc_shard(20240520, 1, 10, 10));
  expect_bad_input(run(dir, "--check " + good + " --vocab-size 8192"),
                   {good, "token id 10000", "--vocab >= 10001"});
  const Run ok = run(dir, "--check " + good);
  CHECK(ok.status == 0);
  CHECK_THAT(ok.out, Contains("10 tokens") && Contains("--vocab >= 10001"));
  expect_bad_input(run(dir, "--check '" + (dir / "*.npy") + "'"), {"matches no shard"});
}

TEST_CASE("moescale data: a good run writes the shards, and a second run does nothing",
          "[data][cli]") {
  TempDir dir;
  dir.write("text.txt", moe::testing::join_documents(moe::testing::sample_documents(100)));
  const std::string args =
      "--input " + (dir / "text.txt") + " --out " + (dir / "out") + " --tokenizer byte";
  const Run first = run(dir, args);
  CHECK(first.status == 0);
  CHECK(first.err.empty());
  CHECK(moe::read_shard_header(dir / "out/train.bin").n_tokens > 10000);
  const Run second = run(dir, args);
  CHECK(second.status == 0);
  CHECK_THAT(second.out, Contains("up to date"));
}
