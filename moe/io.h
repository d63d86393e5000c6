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

// Throws std::runtime_error naming the path if any step fails.
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

// FNV-1a 64-bit checksums (of bytes, of a file's contents): cheap integrity checks for
// checkpoints and stable ids, not cryptographic. checksum_file throws moe::InputError when the
// file cannot be read.
uint64_t fnv1a64(std::string_view bytes, uint64_t seed = 1469598103934665603ull);
uint64_t checksum_file(const std::string& path);

// fsync a directory so that a rename inside it survives a crash.
void sync_directory(const std::string& dir);

}  // namespace moe
