// Small file helpers shared by every program: atomic writes and whole-file reads.
//
// Every file another process may read while it is being written (config.json, result.json,
// results.csv, checkpoints, shards) goes through write_file_atomic: the bytes go to a temporary
// file in the same directory, are flushed to disk, and the temporary is renamed over the
// target, so a reader sees either the old file or the new one, never half of one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

namespace moe {

// A file written under a temporary name in the target's directory and renamed over the target
// by commit() (after fsync), so that a reader sees the old file or the whole new one. Destroyed
// without commit(), it leaves nothing behind. Failures throw std::system_error naming the path.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(std::string_view bytes);
  void write_at(uint64_t offset, std::string_view bytes);  // over bytes already written
  void commit();
  const std::string& path() const { return path_; }

 private:
  std::string path_, tmp_path_;
  int fd_ = -1;
};

// Throws std::system_error naming the path if any step fails.
void write_file_atomic(const std::string& path, std::string_view content);
void write_json_atomic(const std::string& path, const nlohmann::json& j);

// Throws moe::InputError naming the path when it cannot be read.
std::string read_file(const std::string& path);
// Throws moe::InputError naming the path and the parse position when it is not valid JSON, when
// a number does not fit a double, or when arrays and objects nest deeper than kMaxJsonDepth.
constexpr size_t kMaxJsonDepth = 256;
nlohmann::json read_json(const std::string& path);

// Appends one line and flushes it to disk (metrics.jsonl). Creates the file when missing.
void append_line(const std::string& path, std::string_view line);

// fsync a directory so that a rename inside it survives a crash.
void sync_directory(const std::string& dir);

}  // namespace moe
