// Token shards: the llm.c / modded-nanogpt binary layout, a memory-mapped reader, and a
// deterministic window sampler whose position a checkpoint can save and restore.
//
// File layout (little-endian), as written by llm.c's dev/data/data_common.py:
//   header: 256 x int32   [0] magic, [1] version, [2] token count N, rest 0
//   body:   N tokens      version 1: uint16, magic 20240520 (vocab <= 65536: GPT-2 shards)
//                         version 7: uint32, magic 20240801 (larger vocabularies: llm.c's
//                                    Llama-3 shards); magic 20240520 with version 7 is read too
// A file whose size is not 1024 + N * bytes_per_token is truncated (or has trailing bytes) and
// is rejected, naming the file, the declared count and the size found. N < 2^31 (int32).
// Shards must not be modified while open; writers here replace files by rename.
//
// A dataset is one or more shards, read in the order given (paths sorted when a directory or a
// glob is resolved). Training windows are context+1 tokens, never crossing a shard boundary:
// shard i is cut into floor((N_i - 1) / context) windows with stride context (window w covers
// tokens [w*context, w*context + context], so neighbours share one token), and an epoch visits
// every window of every shard once in a seeded pseudo-random order (a bijection of
// [0, n_windows): a Feistel network with cycle walking, so no table is stored). Window number g
// of the stream (g = 0, 1, 2, ...) is epoch g / n_windows, slot g % n_windows; epoch e uses the
// permutation keyed by (seed, e). With rank/world, rank r takes windows r, r + world,
// r + 2*world, ... of the stream: disjoint across ranks within an epoch.
//
// Resident memory: a shard is mapped read-only and shared (MAP_SHARED, PROT_READ) for the
// sequential one-pass vocabulary check, which unmaps each 16 MiB chunk behind it (madvise
// MADV_DONTNEED; the page cache keeps the data); windows are copied with pread, which maps
// nothing. Either way the data lives in the page cache, shared by every process reading it,
// and a process's resident set holds a few MiB of shard data however large the corpus is.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/io.h"

namespace moe {

constexpr int32_t kShardMagic = 20240520;     // version 1 (uint16 tokens)
constexpr int32_t kShardMagicU32 = 20240801;  // version 7 (uint32 tokens), as llm.c writes it
constexpr int32_t kShardVersionU16 = 1;
constexpr int32_t kShardVersionU32 = 7;
constexpr int64_t kShardHeaderInts = 256;
constexpr int64_t kShardHeaderBytes = kShardHeaderInts * 4;
constexpr int64_t kShardMaxTokens = 2147483647;  // the count is an int32

struct ShardHeader {
  int32_t magic = kShardMagic;
  int32_t version = kShardVersionU16;
  int64_t n_tokens = 0;
  int64_t bytes_per_token() const { return version == kShardVersionU32 ? 4 : 2; }
};

// Smallest version able to hold token ids below vocab_size (1 when vocab <= 65536, else 7).
int32_t shard_version_for_vocab(int64_t vocab_size);

// Writes a shard atomically (temp + rename). Throws std::invalid_argument when a token does not
// fit the version (e.g. id 70000 in a version 1 shard) or the version is not 1 or 7.
void write_shard(const std::string& path, const std::vector<uint32_t>& tokens, int32_t version);

// Streams tokens into a shard without holding them in memory. The body goes to a temporary file
// next to `path` whose header is all zeros (magic 0: never a valid shard); finish() writes the
// header, flushes to disk and renames the file into place. Destroying a writer that was not
// finished removes the temporary, so an interrupted run leaves no shard that looks valid.
class ShardWriter {
 public:
  ShardWriter(const std::string& path, int32_t version);  // throws std::system_error on I/O

  // Throws std::invalid_argument when a token does not fit the version or the count would
  // exceed kShardMaxTokens.
  void append(const uint32_t* tokens, size_t n);
  int64_t n_tokens() const { return n_tokens_; }
  void finish();

 private:
  void flush();
  std::string path_;
  int32_t version_;
  AtomicFile file_;
  bool finished_ = false;
  int64_t n_tokens_ = 0;
  std::vector<unsigned char> buffer_;
};

// Reads and checks the header of a shard against its file size; throws moe::InputError naming
// the file and the problem (missing, empty, wrong magic, unknown version, truncated).
ShardHeader read_shard_header(const std::string& path);

// One shard, open and memory-mapped. Reads are const and safe from several threads at once.
class TokenShard {
 public:
  explicit TokenShard(const std::string& path);  // validates the header; throws moe::InputError
  ~TokenShard();
  TokenShard(const TokenShard&) = delete;
  TokenShard& operator=(const TokenShard&) = delete;

  const std::string& path() const { return path_; }
  const ShardHeader& header() const { return header_; }
  int64_t size() const { return header_.n_tokens; }
  uint32_t operator[](int64_t i) const;  // through the mapping; no bounds check (tests, tools)
  // Copies tokens [begin, begin + n) into out as int64 (what torch's embedding takes). Throws
  // std::out_of_range when the range is not inside the shard.
  void copy(int64_t begin, int64_t n, int64_t* out) const;
  // One pass over the tokens: the largest id (for the vocabulary check); 0 when empty. Drops the
  // pages it read as it goes.
  uint32_t max_token() const;
  // Position of the first token >= id, or -1 (names the culprit when the vocabulary check fails).
  int64_t find_token_at_least(uint32_t id) const;

 private:
  std::string path_;
  ShardHeader header_;
  int fd_ = -1;                          // for pread
  const unsigned char* data_ = nullptr;  // the mapping, header included
  size_t mapped_bytes_ = 0;
};

// Expands a --data argument into shard paths: a file (taken as is); a directory (its *.bin files
// whose name contains `split`, e.g. "train" or "val", sorted; "" takes every *.bin); or a glob
// pattern (every regular file it matches, sorted, split not applied: the pattern chooses).
// Throws moe::InputError when nothing matches, naming the argument.
std::vector<std::string> resolve_shards(const std::string& spec, const std::string& split);

class TokenDataset {
 public:
  // Opens and maps every shard and checks its header; throws moe::InputError naming a bad file,
  // or when `paths` is empty. Raises the process's soft limit on open files when the shards
  // need more descriptors than it allows.
  explicit TokenDataset(const std::vector<std::string>& paths);
  int64_t n_tokens() const;
  const std::vector<std::unique_ptr<TokenShard>>& shards() const { return shards_; }
  // Throws moe::InputError naming the shard, the offending id and vocab_size when any token is
  // >= vocab_size ("use a model with --vocab >= id+1 or re-tokenize"); std::invalid_argument
  // when vocab_size < 1.
  // One pass over every token: 0.1 to 0.5 s per GB from the page cache (bench/RESULTS.md).
  void check_vocab(int64_t vocab_size) const;

 private:
  std::vector<std::unique_ptr<TokenShard>> shards_;
};

class WindowSampler {
 public:
  // context: tokens per training sequence T (windows hold T + 1 tokens). Throws
  // moe::InputError when no shard holds a single window ("shards shorter than context+1"), and
  // std::invalid_argument unless context >= 1, world >= 1 and 0 <= rank < world. `data` must
  // outlive the sampler.
  WindowSampler(const TokenDataset& data, int64_t context, uint64_t seed, int64_t rank = 0,
                int64_t world = 1);

  int64_t windows_per_epoch() const { return n_windows_; }
  // Fills out[b * (T + 1) + t] for b < batch, t <= T with the next `batch` windows of this rank,
  // and advances the position by batch.
  void next_batch(int64_t batch, int64_t* out);
  // Windows of this rank consumed so far: the whole state (checkpointed as one integer).
  uint64_t position() const { return position_; }
  void set_position(uint64_t position) { position_ = position; }
  // Epoch of this rank's next window: (position * world + rank) / windows_per_epoch.
  uint64_t epoch() const;
  // Start token of global stream window g, as (shard index, offset); exposed for tests.
  std::pair<int64_t, int64_t> window_start(uint64_t g) const;

 private:
  const TokenDataset& data_;
  int64_t context_;
  uint64_t seed_;
  int64_t rank_, world_;
  int64_t n_windows_ = 0;
  std::vector<int64_t> first_window_;  // per shard: index of its first window, prefix sums
  uint64_t position_ = 0;
};

// Reads the first n_windows windows of a dataset in file order (stride T, no shuffling, the same
// windows as the sampler's, shard by shard): the fixed held-out set for validation loss, laid
// out like next_batch's output. Fewer are returned when the data is shorter.
std::vector<int64_t> sequential_windows(const TokenDataset& data, int64_t context,
                                        int64_t n_windows);

}  // namespace moe
