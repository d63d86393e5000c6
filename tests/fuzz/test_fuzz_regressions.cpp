// Inputs kept from fuzzing and from reviewing the fuzzed readers
// (tests/fuzz/regressions/<harness>/) and the seed corpora (tests/fuzz/corpus/<harness>/), run
// through the same checks as the libFuzzer targets (fuzz_inputs.h). Each kept input is listed here
// with the documented error it must get; an input in the folder without an entry fails the test.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_inputs.h"
#include "tests/temp_dir.h"

using moe::fuzz::Verdict;
using moe::testing::TempDir;

namespace {

namespace fs = std::filesystem;

const fs::path kFuzzDir = MOESCALE_FUZZ_DIR;

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

Verdict run(const std::string& harness, const std::string& bytes, const std::string& dir) {
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  if (harness == "shard") return moe::fuzz::check_shard_input(data, bytes.size(), dir);
  if (harness == "grid") return moe::fuzz::check_grid_input(data, bytes.size());
  if (harness == "csv") return moe::fuzz::check_csv_input(data, bytes.size(), dir);
  return moe::fuzz::check_train_config_input(data, bytes.size(), dir);
}

struct Expected {
  Verdict::Kind kind;
  std::vector<std::string> contains;  // fragments of the message
};

// Runs every kept input of a harness and checks it against its entry.
void check_kept(const std::string& harness, const std::map<std::string, Expected>& expected) {
  const fs::path dir = kFuzzDir / "regressions" / harness;
  const auto files = files_in(dir);
  REQUIRE(files.size() == expected.size());
  for (const auto& file : files) {
    const std::string name = file.filename().string();
    INFO(harness << "/" << name);
    const auto it = expected.find(name);
    REQUIRE(it != expected.end());
    TempDir tmp;
    Verdict v;
    REQUIRE_NOTHROW(v = run(harness, read_bytes(file), tmp.path()));
    INFO("message: " << v.message);
    CHECK(moe::fuzz::to_string(v.kind) == moe::fuzz::to_string(it->second.kind));
    for (const auto& fragment : it->second.contains)
      CHECK_THAT(v.message, Catch::Contains(fragment));
    CHECK(v.message.find('\n') == std::string::npos);
  }
}

}  // namespace

TEST_CASE("kept shard inputs get the documented errors", "[fuzz]") {
  check_kept("shard",
             {
                 // Every shard empty: the message named no file ("the longest, , has 0").
                 {"all_shards_empty", {Verdict::kInputError, {"/a.bin, has 0)"}}},
                 // context = 2^63 - 1: context + 1 overflowed in the sampler's message and in
                 // sequential_windows.
                 {"context_int64_max",
                  {Verdict::kInputError, {"context+1 = 9223372036854775808 tokens", "/a.bin"}}},
                 // vocab size -5: check_vocab blamed the shard ("position -1") instead of the
                 // argument.
                 {"vocab_negative", {Verdict::kInvalidArgument, {"vocab size -5 must be >= 1"}}},
             });
}

TEST_CASE("kept grid inputs get the documented errors", "[fuzz]") {
  check_kept(
      "grid",
      {
          // 1e63 FLOPs: tokens / (batch * T) converted to int64 out of range (undefined).
          {"compute_1e63",
           {Verdict::kInputError,
            {"grid fuzz.grid: run compute=1e+63", "more than a run can hold (1e18)"}}},
          // 120,000 runs: expanding took minutes (a quadratic search for repeated runs).
          {"too_many_runs",
           {Verdict::kInputError,
            {"120000 runs (400 compute x 1 label x 1 experts x 1 ratio x 300 seed)",
             "limit of 10000"}}},
          // 48,600 runs under the old limit of 100,000: planning them all outlasted the fuzzer's
          // 10 s timeout under ASan (6.7 s for `moescale plan --grid` in a release build).
          {"runs_48600_timeout",
           {Verdict::kInputError,
            {"48600 runs (162 compute x 1 label x 1 experts x 1 ratio x 300 seed)",
             "limit of 10000"}}},
          // seed -1 was read as 2^64 - 1.
          {"negative_seed", {Verdict::kInputError, {"seed = '-1' must be a non-negative integer"}}},
          // vocab 2^62: vocab * d_model overflowed int64 in the parameter count (undefined).
          {"vocab_2_62", {Verdict::kInputError, {"--vocab 4611686018427387904 is too large"}}},
          // top-k 2^63 - 1: top-k + shared overflowed int64 (undefined).
          {"top_k_int64_max", {Verdict::kInputError, {"--top-k 9223372036854775807 is too large"}}},
          // batch-size 2^63 - 1: batch * context overflowed int64 (undefined).
          {"batch_size_int64_max", {Verdict::kInputError, {"less than one step"}}},
      });
}

TEST_CASE("kept train config inputs get the documented errors", "[fuzz]") {
  check_kept(
      "train_config",
      {
          // 4e901: nlohmann's out_of_range escaped read_json (not an InputError).
          {"number_4e901", {Verdict::kInputError, {"config.json: a number is out of range"}}},
          // A double into an int64 field: undefined conversion inside nlohmann's get_to.
          {"batch_size_1e300.json",
           {Verdict::kInputError, {"config.json: train config: 'batch_size' must be an integer"}}},
          // batch 2^32 x context 2^32 wrapped to 0 in steps(): division by zero.
          {"steps_product_wraps.json", {Verdict::kInvalidArgument, {"less than one step"}}},
          // warmup -5 was accepted and made the schedule start past its warmup.
          {"warmup_negative.json", {Verdict::kInvalidArgument, {"--warmup -5 must be >= 0"}}},
          // seed -1 was read as 2^64 - 1.
          {"seed_negative.json",
           {Verdict::kInputError, {"'seed' must be a non-negative integer (found -1)"}}},
          // adam_eps 0 was accepted (a division by zero in AdamW's update).
          {"adam_eps_zero.json", {Verdict::kInvalidArgument, {"AdamW epsilon 0 must be > 0"}}},
          // vocab 2^32 x d_model 2^32: the parameter count does not fit in 64 bits.
          {"params_overflow.json", {Verdict::kInvalidArgument, {"does not fit in 64 bits"}}},
      });
}

TEST_CASE("kept CSV inputs get the documented errors", "[fuzz]") {
  check_kept(
      "csv",
      {
          // A quoted cell with a line break: numbers() of its column quoted it verbatim,
          // a two-line message. The table itself is fine.
          {"cell_with_line_break", {Verdict::kAccepted, {}}},
          // A --where filter built from such cells: apply_where quoted it verbatim.
          {"where_filter_with_line_break",
           {Verdict::kInputError, {"--where B.=", "\\x1a=\\n,(-o\\x09: ", "has no column B."}}},
      });
}

TEST_CASE("a config nested 100000 levels deep is refused rather than overflowing the stack",
          "[fuzz]") {
  // 200 KB: larger than the fuzzer's inputs, so it is built here rather than kept as a file.
  const std::string deep = "{\"tokens\": 1000000, \"plan\": " + std::string(100000, '[') +
                           std::string(100000, ']') + "}";
  TempDir tmp;
  Verdict v;
  REQUIRE_NOTHROW(v = run("train_config", deep, tmp.path()));
  CHECK(v.kind == Verdict::kInputError);
  CHECK_THAT(v.message, Catch::Contains("config.json: JSON nested deeper than 256 levels"));
  // At the limit the same plan is accepted.
  const std::string limit =
      "{\"tokens\": 1000000, \"plan\": " + std::string(255, '[') + std::string(255, ']') + "}";
  REQUIRE_NOTHROW(v = run("train_config", limit, tmp.path()));
  CHECK(v.kind == Verdict::kAccepted);
}

TEST_CASE("the seed corpora pass the harness checks with the verdicts their names say", "[fuzz]") {
  const std::map<std::string, Verdict::Kind> seeds = {
      {"shard/valid_u16", Verdict::kAccepted},
      {"shard/valid_u32_and_u16_two_ranks", Verdict::kAccepted},
      {"shard/vocab_too_small", Verdict::kInputError},
      {"shard/truncated", Verdict::kInputError},
      {"shard/bad_magic", Verdict::kInputError},
      {"shard/empty_shard_context_1", Verdict::kInputError},
      {"shard/shorter_than_header", Verdict::kInputError},
      {"shard/rank_outside_world", Verdict::kInvalidArgument},
      {"grid/demo.grid", Verdict::kAccepted},
      {"grid/micro.grid", Verdict::kAccepted},
      {"grid/experts_every_key.grid", Verdict::kAccepted},
      {"grid/unknown_key.grid", Verdict::kInputError},
      {"grid/empty_list.grid", Verdict::kInputError},
      {"train_config/full.json", Verdict::kAccepted},
      {"train_config/minimal.json", Verdict::kAccepted},
      {"train_config/wrong_type.json", Verdict::kInputError},
      {"train_config/unknown_key.json", Verdict::kInputError},
      {"train_config/truncated.json", Verdict::kInputError},
      {"csv/results.csv", Verdict::kAccepted},
      {"csv/chinchilla.csv", Verdict::kAccepted},
      {"csv/quoted_crlf_bom.csv", Verdict::kAccepted},
      {"csv/ragged.csv", Verdict::kInputError},
      {"csv/unclosed_quote.csv", Verdict::kInputError},
      {"csv/empty.csv", Verdict::kInputError},
      {"csv/duplicate_column.csv", Verdict::kInputError},
  };
  size_t n_files = 0;
  for (const char* harness : {"shard", "grid", "train_config", "csv"}) {
    for (const auto& file : files_in(kFuzzDir / "corpus" / harness)) {
      ++n_files;
      const std::string key = std::string(harness) + "/" + file.filename().string();
      INFO(key);
      const auto it = seeds.find(key);
      REQUIRE(it != seeds.end());
      TempDir tmp;
      Verdict v;
      REQUIRE_NOTHROW(v = run(harness, read_bytes(file), tmp.path()));
      INFO("message: " << v.message);
      CHECK(moe::fuzz::to_string(v.kind) == moe::fuzz::to_string(it->second));
    }
  }
  CHECK(n_files == seeds.size());
}
