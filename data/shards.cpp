#include "data/shards.h"

#include <fcntl.h>
#include <glob.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>

#include "common/errors.h"
#include "common/hashing.h"
#include "common/io.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "token shards are little-endian and are read as they are");

namespace moe {
namespace fs = std::filesystem;

namespace {

// The most a read fault maps around the faulting address: a PMD-sized page-cache folio (ext4
// on Linux 6.x keeps large folios and maps a whole folio per fault; fault-around for small
// pages stays within the same aligned block). Scans unmap whole blocks behind them.
constexpr uintptr_t kFaultBlockBytes = uintptr_t{2} << 20;
// The vocabulary scan reads this much between drops; a multiple of the page size.
constexpr int64_t kScanChunkBytes = 16ll << 20;

std::string errno_text() { return std::generic_category().message(errno); }

[[noreturn]] void io_fail(const std::string& what, const std::string& path) {
  throw std::system_error(errno, std::generic_category(), what + " " + path);
}

bool known_layout(int32_t magic, int32_t version) {
  return (magic == kShardMagic && (version == kShardVersionU16 || version == kShardVersionU32)) ||
         (magic == kShardMagicU32 && version == kShardVersionU32);
}

// Checks a header against the file size; `size` is the file's length in bytes.
ShardHeader check_header(const std::string& path, const int32_t* h, int64_t size) {
  ShardHeader header;
  header.magic = h[0];
  header.version = h[1];
  header.n_tokens = h[2];
  if (header.magic != kShardMagic && header.magic != kShardMagicU32) {
    throw InputError(path + ": wrong magic number " + std::to_string(header.magic) + " (expected " +
                     std::to_string(kShardMagic) + " or " + std::to_string(kShardMagicU32) +
                     "): not a token shard; make one with 'moescale data'");
  }
  if (!known_layout(header.magic, header.version)) {
    throw InputError(path + ": unsupported shard version " + std::to_string(header.version) +
                     " with magic " + std::to_string(header.magic) +
                     " (expected 1: uint16 tokens, or 7: uint32 tokens)");
  }
  if (header.n_tokens < 0) {
    throw InputError(path + ": header declares a negative token count " +
                     std::to_string(header.n_tokens) + "; the file is corrupt");
  }
  const int64_t expected = kShardHeaderBytes + header.n_tokens * header.bytes_per_token();
  if (size < expected) {
    throw InputError(path + ": truncated: header declares " + std::to_string(header.n_tokens) +
                     " tokens (" + std::to_string(expected) + " bytes) but the file has " +
                     std::to_string(size) + " bytes; re-create or re-download it");
  }
  if (size > expected) {
    throw InputError(path + ": " + std::to_string(size - expected) +
                     " bytes after the last of the " + std::to_string(header.n_tokens) +
                     " tokens the header declares (" + std::to_string(expected) +
                     " bytes expected); the file is corrupt");
  }
  return header;
}

// Opens a shard and checks its header; returns the descriptor (caller closes) and the header.
std::pair<int, ShardHeader> open_shard(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw InputError(path + ": cannot open (" + errno_text() + "); check the path given to --data");
  }
  try {
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw InputError(path + ": cannot stat (" + errno_text() + ")");
    if (!S_ISREG(st.st_mode)) throw InputError(path + ": not a regular file");
    const int64_t size = st.st_size;
    if (size == 0) throw InputError(path + ": empty file (0 bytes), not a token shard");
    if (size < kShardHeaderBytes) {
      throw InputError(path + ": " + std::to_string(size) +
                       " bytes, shorter than the 1024-byte shard header: truncated or not a "
                       "token shard");
    }
    int32_t h[kShardHeaderInts];
    ssize_t got = 0;
    while (got < kShardHeaderBytes) {
      const ssize_t n = ::pread(fd, reinterpret_cast<char*>(h) + got, kShardHeaderBytes - got, got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw InputError(path + ": cannot read the header (" + errno_text() + ")");
      got += n;
    }
    return {fd, check_header(path, h, size)};
  } catch (...) {
    ::close(fd);
    throw;
  }
}

// A seeded bijection of [0, n): a 4-round Feistel network on the smallest domain of 2^(2h)
// values holding n (so fewer than 4n values), with cycle walking: a value that lands outside
// [0, n) is encrypted again until it lands inside. The walk ends because it follows the
// permutation's cycle through the starting value, which is inside.
class Permutation {
 public:
  Permutation(uint64_t n, uint64_t key) : n_(n) {
    while ((1ull << (2 * half_bits_)) < n_) ++half_bits_;
    mask_ = (1ull << half_bits_) - 1;
    for (int i = 0; i < kRounds; ++i) keys_[i] = mix64(key + 0x9E3779B97F4A7C15ull * (i + 1));
  }

  uint64_t operator()(uint64_t x) const {
    do {
      x = encrypt(x);
    } while (x >= n_);
    return x;
  }

 private:
  static constexpr int kRounds = 4;

  uint64_t encrypt(uint64_t x) const {
    uint64_t left = x >> half_bits_, right = x & mask_;
    for (int i = 0; i < kRounds; ++i) {
      const uint64_t next = left ^ (mix64(right ^ keys_[i]) & mask_);
      left = right;
      right = next;
    }
    return (left << half_bits_) | right;
  }

  uint64_t n_;
  int half_bits_ = 1;
  uint64_t mask_ = 1;
  uint64_t keys_[kRounds] = {};
};

uint64_t epoch_key(uint64_t seed, uint64_t epoch) {
  return mix64(mix64(seed) ^ (epoch * 0xD1B54A32D192ED03ull));
}

bool has_glob_chars(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

}  // namespace

int32_t shard_version_for_vocab(int64_t vocab_size) {
  if (vocab_size <= 0 || vocab_size > (int64_t{1} << 32)) {
    throw std::invalid_argument("vocab size " + std::to_string(vocab_size) +
                                " must be in [1, 2^32]");
  }
  return vocab_size <= 65536 ? kShardVersionU16 : kShardVersionU32;
}

// ---- writing --------------------------------------------------------------------------------

namespace {

int32_t checked_version(int32_t version) {
  if (version != kShardVersionU16 && version != kShardVersionU32) {
    throw std::invalid_argument("shard version " + std::to_string(version) +
                                " is not 1 (uint16) or 7 (uint32)");
  }
  return version;
}

}  // namespace

ShardWriter::ShardWriter(const std::string& path, int32_t version)
    : path_(path), version_(checked_version(version)), file_(path) {
  // A zero header (magic 0) until finish(): the temporary never passes for a shard.
  buffer_.assign(kShardHeaderBytes, 0);
  buffer_.reserve(4 << 20);
}

void ShardWriter::append(const uint32_t* tokens, size_t n) {
  if (n_tokens_ + static_cast<int64_t>(n) > kShardMaxTokens) {
    throw std::invalid_argument(path_ + ": more than 2^31 - 1 tokens do not fit one shard");
  }
  const size_t bpt = version_ == kShardVersionU32 ? 4 : 2;
  const size_t old = buffer_.size();
  buffer_.resize(old + n * bpt);
  unsigned char* out = buffer_.data() + old;
  if (bpt == 2) {
    uint32_t any_high = 0;
    for (size_t i = 0; i < n; ++i) any_high |= tokens[i];
    if (any_high > 0xFFFF) {
      buffer_.resize(old);
      for (size_t i = 0; i < n; ++i) {
        if (tokens[i] > 0xFFFF) {
          throw std::invalid_argument("token id " + std::to_string(tokens[i]) +
                                      " does not fit a version 1 (uint16) shard; use version 7");
        }
      }
    }
    for (size_t i = 0; i < n; ++i) {
      const auto t = static_cast<uint16_t>(tokens[i]);
      std::memcpy(out + 2 * i, &t, 2);
    }
  } else {
    std::memcpy(out, tokens, 4 * n);
  }
  n_tokens_ += static_cast<int64_t>(n);
  if (buffer_.size() >= (4u << 20)) flush();
}

void ShardWriter::flush() {
  file_.write({reinterpret_cast<const char*>(buffer_.data()), buffer_.size()});
  buffer_.clear();
}

void ShardWriter::finish() {
  if (finished_) throw std::logic_error("ShardWriter::finish called twice for " + path_);
  flush();
  int32_t header[kShardHeaderInts] = {};
  header[0] = version_ == kShardVersionU32 ? kShardMagicU32 : kShardMagic;
  header[1] = version_;
  header[2] = static_cast<int32_t>(n_tokens_);
  file_.write_at(0, {reinterpret_cast<const char*>(header), sizeof(header)});
  file_.commit();
  finished_ = true;
}

void write_shard(const std::string& path, const std::vector<uint32_t>& tokens, int32_t version) {
  ShardWriter writer(path, version);
  writer.append(tokens.data(), tokens.size());
  writer.finish();
}

// ---- reading --------------------------------------------------------------------------------

ShardHeader read_shard_header(const std::string& path) {
  auto [fd, header] = open_shard(path);
  ::close(fd);
  return header;
}

TokenShard::TokenShard(const std::string& path) : path_(path) {
  auto [fd, header] = open_shard(path);
  header_ = header;
  fd_ = fd;
  mapped_bytes_ =
      static_cast<size_t>(kShardHeaderBytes + header_.n_tokens * header_.bytes_per_token());
  void* p = ::mmap(nullptr, mapped_bytes_, PROT_READ, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    ::close(fd_);
    io_fail("cannot map", path);
  }
  data_ = static_cast<const unsigned char*>(p);
}

TokenShard::~TokenShard() {
  if (data_) ::munmap(const_cast<unsigned char*>(data_), mapped_bytes_);
  if (fd_ >= 0) ::close(fd_);
}

uint32_t TokenShard::operator[](int64_t i) const {
  const unsigned char* body = data_ + kShardHeaderBytes;
  if (header_.version == kShardVersionU32) return reinterpret_cast<const uint32_t*>(body)[i];
  return reinterpret_cast<const uint16_t*>(body)[i];
}

void TokenShard::copy(int64_t begin, int64_t n, int64_t* out) const {
  if (begin < 0 || n < 0 || begin + n > header_.n_tokens) {
    throw std::out_of_range(path_ + ": tokens [" + std::to_string(begin) + ", " +
                            std::to_string(begin + n) + ") outside [0, " +
                            std::to_string(header_.n_tokens) + ")");
  }
  // pread, not the mapping: a fault on a page-cache folio maps all of it (up to 2 MiB on
  // Linux 6.x ext4), so a random 2 KiB window read through the mapping costs ~30 us to map and
  // unmap and grows the resident set; pread costs ~4 us and never maps anything.
  const int64_t bpt = header_.bytes_per_token();
  thread_local std::vector<unsigned char> buffer;
  constexpr int64_t kChunkTokens = 1 << 16;
  for (int64_t done = 0; done < n;) {
    const int64_t k = std::min(kChunkTokens, n - done);
    buffer.resize(static_cast<size_t>(k * bpt));
    const off_t offset = static_cast<off_t>(kShardHeaderBytes + (begin + done) * bpt);
    for (size_t got = 0; got < buffer.size();) {
      const ssize_t r =
          ::pread(fd_, buffer.data() + got, buffer.size() - got, offset + static_cast<off_t>(got));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        throw std::runtime_error(path_ + ": read failed at byte " + std::to_string(offset + got) +
                                 (r < 0 ? ": " + errno_text() : ": the file shrank"));
      }
      got += static_cast<size_t>(r);
    }
    if (bpt == 4) {
      const auto* src = reinterpret_cast<const uint32_t*>(buffer.data());
      std::copy(src, src + k, out + done);
    } else {
      const auto* src = reinterpret_cast<const uint16_t*>(buffer.data());
      std::copy(src, src + k, out + done);
    }
    done += k;
  }
}

namespace {

// Runs f(tokens, count, first_index) over a shard in chunks, dropping each chunk's pages after
// use and asking the kernel to read the next one ahead. Stops early when f returns false.
template <typename T, typename F>
void scan_chunks(const unsigned char* data, int64_t n_tokens, F&& f) {
  const int64_t per_chunk = kScanChunkBytes / static_cast<int64_t>(sizeof(T));
  const T* body = reinterpret_cast<const T*>(data + kShardHeaderBytes);
  // Blocks around tokens [begin, end), clipped to the mapping (which starts page-aligned).
  auto block_range = [&](int64_t begin, int64_t end) {
    const auto lo = std::max(reinterpret_cast<uintptr_t>(data),
                             reinterpret_cast<uintptr_t>(body + begin) & ~(kFaultBlockBytes - 1));
    const auto hi = std::min(
        reinterpret_cast<uintptr_t>(body + n_tokens),
        (reinterpret_cast<uintptr_t>(body + end) + kFaultBlockBytes - 1) & ~(kFaultBlockBytes - 1));
    return std::make_pair(reinterpret_cast<void*>(lo), static_cast<size_t>(hi - lo));
  };
  for (int64_t begin = 0; begin < n_tokens; begin += per_chunk) {
    const int64_t end = std::min(n_tokens, begin + per_chunk);
    if (end < n_tokens) {
      auto [p, len] = block_range(end, std::min(n_tokens, end + per_chunk));
      ::madvise(p, len, MADV_WILLNEED);
    }
    const bool go_on = f(body + begin, end - begin, begin);
    auto [p, len] = block_range(begin, end);
    ::madvise(p, len, MADV_DONTNEED);
    if (!go_on) break;
  }
}

}  // namespace

uint32_t TokenShard::max_token() const {
  uint32_t best = 0;
  auto chunk_max = [&best](const auto* t, int64_t n, int64_t) {
    // Branch-free so that the compiler vectorises it.
    auto m = t[0];
    for (int64_t i = 1; i < n; ++i) m = t[i] > m ? t[i] : m;
    best = std::max<uint32_t>(best, m);
    return true;
  };
  if (header_.version == kShardVersionU32) {
    scan_chunks<uint32_t>(data_, header_.n_tokens, chunk_max);
  } else {
    scan_chunks<uint16_t>(data_, header_.n_tokens, chunk_max);
  }
  return best;
}

int64_t TokenShard::find_token_at_least(uint32_t id) const {
  int64_t found = -1;
  auto find = [&](const auto* t, int64_t n, int64_t first) {
    for (int64_t i = 0; i < n; ++i) {
      if (t[i] >= id) {
        found = first + i;
        return false;
      }
    }
    return true;
  };
  if (header_.version == kShardVersionU32) {
    scan_chunks<uint32_t>(data_, header_.n_tokens, find);
  } else {
    scan_chunks<uint16_t>(data_, header_.n_tokens, find);
  }
  return found;
}

std::vector<std::string> resolve_shards(const std::string& spec, const std::string& split) {
  std::error_code ec;
  if (fs::is_regular_file(spec, ec)) return {spec};
  std::vector<std::string> paths;
  if (fs::is_directory(spec, ec)) {
    for (const auto& entry : fs::directory_iterator(spec, ec)) {
      const std::string name = entry.path().filename().string();
      if (entry.is_regular_file(ec) && entry.path().extension() == ".bin" &&
          name.find(split) != std::string::npos) {
        paths.push_back(entry.path().string());
      }
    }
    if (ec) throw InputError(spec + ": cannot list the directory (" + ec.message() + ")");
    if (paths.empty()) {
      throw InputError(spec + ": no *.bin shard whose name contains '" + split +
                       "'; make shards with 'moescale data --out " + spec + "'");
    }
  } else if (has_glob_chars(spec)) {
    glob_t g{};
    const int rc = ::glob(spec.c_str(), 0, nullptr, &g);
    for (size_t i = 0; rc == 0 && i < g.gl_pathc; ++i) {
      if (fs::is_regular_file(g.gl_pathv[i], ec)) paths.emplace_back(g.gl_pathv[i]);
    }
    ::globfree(&g);
    if (paths.empty()) throw InputError("'" + spec + "' matches no shard file");
  } else {
    throw InputError(spec +
                     ": no such file or directory; --data takes a shard, a directory "
                     "of shards or a glob such as 'dir/*_train_*.bin'");
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

// ---- datasets and windows ---------------------------------------------------------------------

TokenDataset::TokenDataset(const std::vector<std::string>& paths) {
  if (paths.empty()) throw InputError("no token shards given");
  // Each shard keeps a descriptor open; FineWeb-100B alone is 1,030 shards, past the usual
  // soft limit of 1,024 descriptors, so raise the soft limit to the hard one when needed.
  struct rlimit limit {};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY &&
      limit.rlim_cur < paths.size() + 256) {
    limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, paths.size() + 256);
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
  for (const auto& p : paths) shards_.push_back(std::make_unique<TokenShard>(p));
}

int64_t TokenDataset::n_tokens() const {
  int64_t n = 0;
  for (const auto& s : shards_) n += s->size();
  return n;
}

void TokenDataset::check_vocab(int64_t vocab_size) const {
  if (vocab_size < 1) {
    throw std::invalid_argument("vocab size " + std::to_string(vocab_size) + " must be >= 1");
  }
  for (const auto& s : shards_) {
    const uint32_t top = s->max_token();
    if (s->size() > 0 && static_cast<int64_t>(top) >= vocab_size) {
      const int64_t at = s->find_token_at_least(static_cast<uint32_t>(vocab_size));
      throw InputError(
          s->path() + ": token id " + std::to_string(top) +
          " (first id >= " + std::to_string(vocab_size) + " at position " + std::to_string(at) +
          ") is out of range for vocab size " + std::to_string(vocab_size) +
          "; use a model with --vocab >= " + std::to_string(int64_t{top} + 1) + " or re-tokenize");
    }
  }
}

WindowSampler::WindowSampler(const TokenDataset& data, int64_t context, uint64_t seed, int64_t rank,
                             int64_t world)
    : data_(data), context_(context), seed_(seed), rank_(rank), world_(world) {
  if (context < 1) {
    throw std::invalid_argument("context " + std::to_string(context) + " must be >= 1");
  }
  if (world < 1 || rank < 0 || rank >= world) {
    throw std::invalid_argument("rank " + std::to_string(rank) + " / world " +
                                std::to_string(world) + " must satisfy 0 <= rank < world");
  }
  // The longest shard is named when there is no window; the first one when all are empty.
  const TokenShard* longest = data.shards().front().get();
  for (const auto& s : data.shards()) {
    first_window_.push_back(n_windows_);
    n_windows_ += std::max<int64_t>(0, (s->size() - 1) / context);
    if (s->size() > longest->size()) longest = s.get();
  }
  if (n_windows_ == 0) {
    // context + 1 in unsigned arithmetic: context may be as large as int64 allows.
    throw InputError(
        "shards shorter than context+1 = " + std::to_string(static_cast<uint64_t>(context) + 1) +
        " tokens (the longest, " + longest->path() + ", has " + std::to_string(longest->size()) +
        "); use a smaller --context or more data");
  }
}

uint64_t WindowSampler::epoch() const {
  return (position_ * static_cast<uint64_t>(world_) + static_cast<uint64_t>(rank_)) /
         static_cast<uint64_t>(n_windows_);
}

std::pair<int64_t, int64_t> WindowSampler::window_start(uint64_t g) const {
  const uint64_t n = static_cast<uint64_t>(n_windows_);
  const uint64_t w = Permutation(n, epoch_key(seed_, g / n))(g % n);
  const auto it =
      std::upper_bound(first_window_.begin(), first_window_.end(), static_cast<int64_t>(w));
  // Shards without windows share their first_window_ with the next one; upper_bound - 1 picks
  // the last of equal entries, which is the shard that holds the window.
  const int64_t shard = (it - first_window_.begin()) - 1;
  return {shard, (static_cast<int64_t>(w) - first_window_[shard]) * context_};
}

void WindowSampler::next_batch(int64_t batch, int64_t* out) {
  const int64_t width = context_ + 1;
  for (int64_t b = 0; b < batch; ++b) {
    const uint64_t g = position_ * static_cast<uint64_t>(world_) + static_cast<uint64_t>(rank_);
    const auto [shard, offset] = window_start(g);
    const TokenShard& s = *data_.shards()[shard];
    s.copy(offset, width, out + b * width);
    ++position_;
  }
}

std::vector<int64_t> sequential_windows(const TokenDataset& data, int64_t context,
                                        int64_t n_windows) {
  if (context < 1) {
    throw std::invalid_argument("context " + std::to_string(context) + " must be >= 1");
  }
  std::vector<int64_t> out;
  for (const auto& s : data.shards()) {
    const int64_t here = std::max<int64_t>(0, (s->size() - 1) / context);
    // Only computed once a shard holds a window, so context < 2^31 and context + 1 fits.
    const int64_t width = here > 0 ? context + 1 : 0;
    for (int64_t w = 0; w < here && n_windows > 0; ++w, --n_windows) {
      out.resize(out.size() + width);
      s->copy(w * context, width, out.data() + out.size() - width);
    }
    if (n_windows == 0) break;
  }
  return out;
}

}  // namespace moe
