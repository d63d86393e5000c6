#include <sys/resource.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "common/errors.h"
#include "data/shards.h"
#include "tests/temp_dir.h"

using Catch::Contains;
using moe::testing::TempDir;

namespace {

// The bytes of a shard in llm.c's layout, built by hand: 256 little-endian int32s, then tokens.
std::string llmc_bytes(int32_t magic, int32_t version, int32_t count,
                       const std::vector<uint32_t>& tokens, int bytes_per_token) {
  std::string b(1024, '\0');
  std::memcpy(&b[0], &magic, 4);
  std::memcpy(&b[4], &version, 4);
  std::memcpy(&b[8], &count, 4);
  for (uint32_t t : tokens) {
    for (int i = 0; i < bytes_per_token; ++i) b.push_back(static_cast<char>((t >> (8 * i)) & 0xFF));
  }
  return b;
}

std::vector<uint32_t> iota_tokens(size_t n, uint32_t modulo) {
  std::vector<uint32_t> t(n);
  for (size_t i = 0; i < n; ++i) t[i] = static_cast<uint32_t>(i % modulo);
  return t;
}

}  // namespace

TEST_CASE("the header written equals the header read, for uint16 and uint32 shards", "[shards]") {
  TempDir dir;
  const std::vector<uint32_t> small = {0, 1, 65535, 42, 7};
  moe::write_shard(dir / "a.bin", small, moe::kShardVersionU16);
  moe::ShardHeader h = moe::read_shard_header(dir / "a.bin");
  CHECK(h.magic == 20240520);
  CHECK(h.version == 1);
  CHECK(h.n_tokens == 5);
  CHECK(std::filesystem::file_size(dir / "a.bin") == 1024 + 5 * 2);

  const std::vector<uint32_t> big = {0, 65536, 128255, 3};
  moe::write_shard(dir / "b.bin", big, moe::kShardVersionU32);
  h = moe::read_shard_header(dir / "b.bin");
  CHECK(h.magic == 20240801);  // llm.c's magic for uint32 (Llama-3) shards
  CHECK(h.version == 7);
  CHECK(h.n_tokens == 4);
  CHECK(std::filesystem::file_size(dir / "b.bin") == 1024 + 4 * 4);

  moe::TokenShard a(dir / "a.bin"), b(dir / "b.bin");
  for (size_t i = 0; i < small.size(); ++i) CHECK(a[i] == small[i]);
  for (size_t i = 0; i < big.size(); ++i) CHECK(b[i] == big[i]);
  CHECK(a.max_token() == 65535);
  CHECK(b.max_token() == 128255);
}

TEST_CASE("the shard version follows the vocabulary size", "[shards]") {
  CHECK(moe::shard_version_for_vocab(257) == 1);
  CHECK(moe::shard_version_for_vocab(50257) == 1);
  CHECK(moe::shard_version_for_vocab(65536) == 1);
  CHECK(moe::shard_version_for_vocab(65537) == 7);
  CHECK(moe::shard_version_for_vocab(128256) == 7);
  CHECK_THROWS_AS(moe::shard_version_for_vocab(0), std::invalid_argument);
}

TEST_CASE("a shard written by hand in the llm.c layout is read correctly", "[shards]") {
  TempDir dir;
  // GPT-2 ids as llm.c's fineweb.py writes them: <|endoftext|> first, then the document.
  const std::vector<uint32_t> gpt2 = {50256, 15496, 11, 995, 0, 50256, 464};
  const std::string p = dir.write("fineweb_val_000000.bin", llmc_bytes(20240520, 1, 7, gpt2, 2));
  moe::TokenShard s(p);
  CHECK(s.size() == 7);
  CHECK(s.header().version == 1);
  std::vector<int64_t> out(5, -1);
  s.copy(1, 5, out.data());
  CHECK(out == std::vector<int64_t>{15496, 11, 995, 0, 50256});
  CHECK(s.max_token() == 50256);
  CHECK_THROWS_AS(s.copy(3, 5, out.data()), std::out_of_range);

  const std::vector<uint32_t> llama3 = {128000, 9906, 1917, 128001};
  const std::string q = dir.write("llama3_train.bin", llmc_bytes(20240801, 7, 4, llama3, 4));
  moe::TokenShard t(q);
  std::vector<int64_t> out3(4);
  t.copy(0, 4, out3.data());
  CHECK(out3 == std::vector<int64_t>{128000, 9906, 1917, 128001});
}

TEST_CASE("bad shards are rejected with a message naming the file and the problem", "[shards]") {
  TempDir dir;
  const auto tokens = iota_tokens(100, 50);
  const std::string good = llmc_bytes(20240520, 1, 100, tokens, 2);

  const std::string truncated = dir.write("truncated.bin", good.substr(0, good.size() - 10));
  CHECK_THROWS_WITH(moe::TokenShard(truncated), Contains(truncated) && Contains("truncated") &&
                                                    Contains("declares 100 tokens (1224 bytes)") &&
                                                    Contains("1214 bytes"));

  const std::string magic = dir.write("magic.bin", llmc_bytes(1234, 1, 100, tokens, 2));
  CHECK_THROWS_WITH(moe::TokenShard(magic), Contains(magic) && Contains("wrong magic number 1234"));

  const std::string version = dir.write("version.bin", llmc_bytes(20240520, 3, 100, tokens, 2));
  CHECK_THROWS_WITH(moe::read_shard_header(version),
                    Contains(version) && Contains("unsupported shard version 3"));

  const std::string trailing = dir.write("trailing.bin", good + "xx");
  CHECK_THROWS_WITH(moe::TokenShard(trailing), Contains(trailing) && Contains("2 bytes after"));

  const std::string empty = dir.write("empty.bin", "");
  CHECK_THROWS_WITH(moe::TokenShard(empty), Contains(empty) && Contains("empty file"));

  const std::string stub = dir.write("stub.bin", good.substr(0, 100));
  CHECK_THROWS_WITH(moe::TokenShard(stub), Contains(stub) && Contains("shorter than the 1024"));

  CHECK_THROWS_WITH(moe::TokenShard(dir / "missing.bin"),
                    Contains(dir / "missing.bin") && Contains("cannot open"));
  CHECK_THROWS_AS(moe::TokenShard(truncated), moe::InputError);
}

TEST_CASE("write_shard refuses ids that do not fit and leaves no file behind", "[shards]") {
  TempDir dir;
  CHECK_THROWS_WITH(moe::write_shard(dir / "x.bin", {1, 70000}, moe::kShardVersionU16),
                    Contains("70000") && Contains("version 1"));
  CHECK_FALSE(std::filesystem::exists(dir / "x.bin"));
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path()),
                      std::filesystem::directory_iterator()) == 0);
  CHECK_THROWS_AS(moe::write_shard(dir / "x.bin", {1}, 2), std::invalid_argument);
}

TEST_CASE("an unfinished ShardWriter leaves no shard, a finished one a valid shard", "[shards]") {
  TempDir dir;
  {
    moe::ShardWriter w(dir / "train.bin", moe::kShardVersionU16);
    const auto t = iota_tokens(10000, 300);
    w.append(t.data(), t.size());
  }  // destroyed without finish(): as if the run were interrupted
  CHECK_FALSE(std::filesystem::exists(dir / "train.bin"));
  CHECK(std::filesystem::is_empty(dir.path()));

  moe::ShardWriter w(dir / "train.bin", moe::kShardVersionU16);
  const auto t = iota_tokens(3000000, 8192);  // several internal flushes
  w.append(t.data(), 1000000);
  w.append(t.data() + 1000000, 2000000);
  CHECK(w.n_tokens() == 3000000);
  w.finish();
  moe::TokenShard s(dir / "train.bin");
  CHECK(s.size() == 3000000);
  CHECK(s[2999999] == 2999999 % 8192);
  CHECK(s.max_token() == 8191);
}

TEST_CASE("check_vocab names the shard, the id and the fix", "[shards]") {
  TempDir dir;
  auto tokens = iota_tokens(5000, 256);
  moe::write_shard(dir / "ok.bin", tokens, 1);
  tokens[1234] = 300;
  moe::write_shard(dir / "bad.bin", tokens, 1);
  moe::TokenDataset ok({dir / "ok.bin"});
  CHECK_NOTHROW(ok.check_vocab(256));
  CHECK_THROWS_WITH(ok.check_vocab(255), Contains("token id 255") && Contains("--vocab >= 256"));
  moe::TokenDataset both({dir / "ok.bin", dir / "bad.bin"});
  CHECK_THROWS_WITH(both.check_vocab(257), Contains(dir / "bad.bin") && Contains("token id 300") &&
                                               Contains("position 1234") &&
                                               Contains("--vocab >= 301"));
  CHECK(both.n_tokens() == 10000);
}

TEST_CASE("an epoch visits every window of every shard exactly once", "[shards]") {
  TempDir dir;
  // Shards of 1001, 10 (no window at context 16) and 500 tokens; token value = global index so
  // that a window's first token says where it came from.
  std::vector<uint32_t> a(1001), b(10), c(500);
  std::iota(a.begin(), a.end(), 0u);
  std::iota(b.begin(), b.end(), 2000u);
  std::iota(c.begin(), c.end(), 3000u);
  moe::write_shard(dir / "a.bin", a, 7);
  moe::write_shard(dir / "b.bin", b, 7);
  moe::write_shard(dir / "c.bin", c, 7);
  moe::TokenDataset data({dir / "a.bin", dir / "b.bin", dir / "c.bin"});
  const int64_t T = 16;
  moe::WindowSampler sampler(data, T, 7);
  REQUIRE(sampler.windows_per_epoch() == 1000 / 16 + 0 + 499 / 16);  // 62 + 31

  const int64_t n = sampler.windows_per_epoch();
  std::vector<int64_t> batch(n * (T + 1));
  sampler.next_batch(n, batch.data());
  std::set<int64_t> starts;
  for (int64_t w = 0; w < n; ++w) {
    const int64_t* win = &batch[w * (T + 1)];
    starts.insert(win[0]);
    for (int64_t t = 1; t <= T; ++t) CHECK(win[t] == win[0] + t);  // contiguous, one shard
    const bool in_a = win[0] % T == 0 && win[0] + T <= 1000;
    const bool in_c = win[0] >= 3000 && (win[0] - 3000) % T == 0 && win[0] + T <= 3499;
    CHECK((in_a || in_c));
  }
  CHECK(static_cast<int64_t>(starts.size()) == n);  // no window twice
  CHECK(sampler.position() == static_cast<uint64_t>(n));
  CHECK(sampler.epoch() == 1);
}

TEST_CASE("the same seed gives the same windows; another seed or epoch another order", "[shards]") {
  TempDir dir;
  std::vector<uint32_t> t(20001);
  std::iota(t.begin(), t.end(), 0u);
  moe::write_shard(dir / "t.bin", t, 7);
  moe::TokenDataset data({dir / "t.bin"});
  auto first_tokens = [&](uint64_t seed, int64_t count, uint64_t from = 0) {
    moe::WindowSampler s(data, 32, seed);
    s.set_position(from);
    std::vector<int64_t> out(count * 33);
    s.next_batch(count, out.data());
    std::vector<int64_t> firsts;
    for (int64_t i = 0; i < count; ++i) firsts.push_back(out[i * 33]);
    return firsts;
  };
  const auto a = first_tokens(1234, 625);
  CHECK(a == first_tokens(1234, 625));
  CHECK(a != first_tokens(1235, 625));
  const auto next_epoch = first_tokens(1234, 625, 625);
  CHECK(a != next_epoch);
  CHECK(std::set<int64_t>(a.begin(), a.end()) ==
        std::set<int64_t>(next_epoch.begin(), next_epoch.end()));
  // Shuffled: the order is far from the file order (a sorted stream would give 0 inversions of
  // the first 100 windows; a random order about 100*99/4 = 2475).
  int inversions = 0;
  for (int i = 0; i < 100; ++i) {
    for (int j = i + 1; j < 100; ++j) inversions += a[i] > a[j];
  }
  CHECK(inversions > 1500);
  CHECK(inversions < 3500);
}

TEST_CASE("a restored position continues the exact stream", "[shards]") {
  TempDir dir;
  moe::write_shard(dir / "t.bin", iota_tokens(50000, 40000), 1);
  moe::TokenDataset data({dir / "t.bin"});
  moe::WindowSampler full(data, 64, 99);
  std::vector<int64_t> all(40 * 65), resumed(20 * 65), skip(20 * 65);
  full.next_batch(40, all.data());

  moe::WindowSampler first(data, 64, 99);
  first.next_batch(20, skip.data());
  const uint64_t saved = first.position();
  CHECK(saved == 20);
  moe::WindowSampler second(data, 64, 99);
  second.set_position(saved);
  second.next_batch(20, resumed.data());
  CHECK(std::equal(resumed.begin(), resumed.end(), all.begin() + 20 * 65));
}

TEST_CASE("ranks take disjoint windows that together are the single-rank stream", "[shards]") {
  TempDir dir;
  moe::write_shard(dir / "t.bin", iota_tokens(30000, 60000), 1);
  moe::TokenDataset data({dir / "t.bin"});
  const int64_t T = 8, world = 3, per_rank = 50;
  moe::WindowSampler single(data, T, 5);
  std::vector<int64_t> stream(world * per_rank * (T + 1));
  single.next_batch(world * per_rank, stream.data());
  for (int64_t r = 0; r < world; ++r) {
    moe::WindowSampler rank(data, T, 5, r, world);
    std::vector<int64_t> mine(per_rank * (T + 1));
    rank.next_batch(per_rank, mine.data());
    for (int64_t i = 0; i < per_rank; ++i) {
      const int64_t g = i * world + r;
      CHECK(mine[i * (T + 1)] == stream[g * (T + 1)]);
    }
  }
  CHECK_THROWS_AS(moe::WindowSampler(data, T, 5, 3, 3), std::invalid_argument);
  CHECK_THROWS_AS(moe::WindowSampler(data, 0, 5), std::invalid_argument);
  CHECK_THROWS_WITH(moe::WindowSampler(data, 30000, 5),
                    Contains("shorter than context+1 = 30001") && Contains(dir / "t.bin"));
}

TEST_CASE("sequential windows are the first windows in file order", "[shards]") {
  TempDir dir;
  std::vector<uint32_t> a(21), b(40);
  std::iota(a.begin(), a.end(), 0u);
  std::iota(b.begin(), b.end(), 100u);
  moe::write_shard(dir / "a.bin", a, 1);
  moe::write_shard(dir / "b.bin", b, 1);
  moe::TokenDataset data({dir / "a.bin", dir / "b.bin"});
  const auto w = moe::sequential_windows(data, 10, 3);
  REQUIRE(w.size() == 3 * 11);
  CHECK(w[0] == 0);
  CHECK(w[10] == 10);
  CHECK(w[11] == 10);   // stride T: neighbours share one token
  CHECK(w[22] == 100);  // the third window is the first of shard b
  CHECK(moe::sequential_windows(data, 10, 100).size() == (2 + 3) * 11);
}

TEST_CASE("a --data argument resolves a file, a directory by split, or a glob", "[shards]") {
  TempDir dir;
  for (const char* name :
       {"fineweb_train_000002.bin", "fineweb_train_000001.bin", "fineweb_val_000000.bin"}) {
    moe::write_shard(dir / name, {1, 2, 3}, 1);
  }
  dir.write("notes.txt", "not a shard");
  using V = std::vector<std::string>;
  CHECK(moe::resolve_shards(dir.path(), "train") ==
        V{dir / "fineweb_train_000001.bin", dir / "fineweb_train_000002.bin"});
  CHECK(moe::resolve_shards(dir.path(), "val") == V{dir / "fineweb_val_000000.bin"});
  CHECK(moe::resolve_shards(dir.path(), "").size() == 3);
  CHECK(moe::resolve_shards(dir / "fineweb_*_00000[02].bin", "train") ==
        V{dir / "fineweb_train_000002.bin", dir / "fineweb_val_000000.bin"});
  CHECK(moe::resolve_shards(dir / "notes.txt", "train") == V{dir / "notes.txt"});
  CHECK_THROWS_WITH(moe::resolve_shards(dir.path(), "test"),
                    Contains(dir.path()) && Contains("contains 'test'"));
  CHECK_THROWS_WITH(moe::resolve_shards(dir / "*.npy", "train"), Contains("matches no shard"));
  CHECK_THROWS_WITH(moe::resolve_shards(dir / "nope", "train"),
                    Contains(dir / "nope") && Contains("no such file"));
  CHECK_THROWS_WITH(moe::TokenDataset({}), Contains("no token shards"));
}

namespace {

// File-backed resident memory of this process in MB (shard pages that are mapped).
double rss_file_mb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("RssFile:", 0) == 0) return std::atof(line.c_str() + 8) / 1024.0;
  }
  return -1;
}

}  // namespace

TEST_CASE("the vocabulary check and the sampler leave the resident set flat", "[shards]") {
  TempDir dir;
  moe::write_shard(dir / "big.bin", iota_tokens(24 << 20, 50000), 1);  // 48 MiB of tokens
  moe::TokenDataset data({dir / "big.bin"});
  const double before = rss_file_mb();
  REQUIRE(before >= 0);
  data.check_vocab(50000);
  moe::WindowSampler sampler(data, 1024, 3);
  std::vector<int64_t> batch(16 * 1025);
  for (int i = 0; i < 400; ++i) sampler.next_batch(16, batch.data());  // 6400 windows
  CHECK(rss_file_mb() - before < 8);
  // A reader that keeps what it maps holds the whole shard: the check above can fail.
  uint64_t sum = 0;
  const moe::TokenShard& s = *data.shards()[0];
  for (int64_t i = 0; i < s.size(); ++i) sum += s[i];
  CHECK(sum > 0);
  CHECK(rss_file_mb() - before > 40);
}

TEST_CASE("a dataset of more shards than the soft open-file limit opens", "[shards]") {
  struct rlimit saved {};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
  // A soft limit below the shard count and a hard limit above it, whatever this machine's hard
  // limit is: the dataset must raise the soft limit to open them all.
  const rlim_t hard = saved.rlim_max == RLIM_INFINITY ? 4096 : saved.rlim_max;
  struct rlimit low = saved;
  low.rlim_cur = std::min<rlim_t>(64, hard / 2);
  const int n_shards = static_cast<int>(std::min<rlim_t>(150, hard - 16));
  INFO("hard limit " << hard << ", soft limit " << low.rlim_cur << ", shards " << n_shards);
  REQUIRE(static_cast<rlim_t>(n_shards) > low.rlim_cur + 8);
  TempDir dir;
  std::vector<std::string> paths;
  for (int i = 0; i < n_shards; ++i) {
    paths.push_back(
        dir.write("s" + std::to_string(i) + ".bin", llmc_bytes(20240520, 1, 3, {1, 2, 3}, 2)));
  }
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
  int64_t n = -1;
  CHECK_NOTHROW(n = moe::TokenDataset(paths).n_tokens());
  CHECK(n == 3 * n_shards);
  ::setrlimit(RLIMIT_NOFILE, &saved);
}
