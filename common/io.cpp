#include "common/io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <system_error>

#include "common/errors.h"

namespace moe {
namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail(const std::string& what, const std::string& path) {
  throw std::system_error(errno, std::generic_category(), what + " " + path);
}

void write_all(int fd, std::string_view bytes, const std::string& path) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("cannot write", path);
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

std::string directory_of(const std::string& path) {
  const fs::path target(path);
  return target.has_parent_path() ? target.parent_path().string() : ".";
}

}  // namespace

void sync_directory(const std::string& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;  // best effort: some filesystems refuse to open directories
  ::fsync(fd);
  ::close(fd);
}

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  tmp_path_ =
      (fs::path(directory_of(path_)) / ("." + fs::path(path_).filename().string() + ".tmp.XXXXXX"))
          .string();
  fd_ = ::mkstemp(tmp_path_.data());
  if (fd_ < 0) fail("cannot create a temporary file for", path_);
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(tmp_path_.c_str());
  }
}

void AtomicFile::write(std::string_view bytes) { write_all(fd_, bytes, tmp_path_); }

void AtomicFile::write_at(uint64_t offset, std::string_view bytes) {
  if (::pwrite(fd_, bytes.data(), bytes.size(), static_cast<off_t>(offset)) !=
      static_cast<ssize_t>(bytes.size())) {
    fail("cannot write", tmp_path_);
  }
}

void AtomicFile::commit() {
  if (fd_ < 0) throw std::logic_error("AtomicFile::commit called twice for " + path_);
  if (::fsync(fd_) != 0) fail("cannot flush", tmp_path_);
  ::fchmod(fd_, 0644);
  ::close(fd_);
  fd_ = -1;
  if (::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp_path_.c_str());
    throw std::system_error(err, std::generic_category(), "cannot rename into place " + path_);
  }
  sync_directory(directory_of(path_));
}

void write_file_atomic(const std::string& path, std::string_view content) {
  AtomicFile file(path);
  file.write(content);
  file.commit();
}

void write_json_atomic(const std::string& path, const nlohmann::json& j) {
  write_file_atomic(path, j.dump(2) + "\n");
}

std::string read_file(const std::string& path) {
  // A directory opens as a stream that reads nothing, which would pass for an empty file.
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    throw InputError(path + ": is a directory, not a file; give the path of the file itself");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw InputError(path + ": cannot open (" + std::generic_category().message(errno) +
                     "); check the path and its permissions");
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw InputError(path + ": read error");
  return ss.str();
}

namespace {

// Deepest nesting of arrays and objects in JSON text; brackets inside strings do not count.
size_t json_depth(std::string_view text) {
  size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (const char ch : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (ch == '\\') {
        escaped = true;
      } else if (ch == '"') {
        in_string = false;
      }
    } else if (ch == '"') {
      in_string = true;
    } else if (ch == '[' || ch == '{') {
      deepest = std::max(deepest, ++depth);
    } else if ((ch == ']' || ch == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

}  // namespace

nlohmann::json read_json(const std::string& path) {
  const std::string text = read_file(path);
  // nlohmann parses any depth, but copies and dumps values recursively: 100,000 nested
  // brackets (200 KB) overflow the stack.
  if (json_depth(text) > kMaxJsonDepth) {
    throw InputError(path + ": JSON nested deeper than " + std::to_string(kMaxJsonDepth) +
                     " levels; the file is corrupt, restore or delete it");
  }
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError(path + ": not valid JSON at byte " + std::to_string(e.byte) +
                     "; the file is corrupt or truncated, restore or delete it");
  } catch (const nlohmann::json::out_of_range&) {
    // Error 406: a number that does not fit a double, such as 1e400.
    throw InputError(path +
                     ": a number is out of range for a double; the file is corrupt, "
                     "restore or delete it");
  }
}

void append_line(const std::string& path, std::string_view line) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) fail("cannot open for append", path);
  std::string buf(line);
  buf += '\n';
  try {
    write_all(fd, buf, path);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
}

}  // namespace moe
