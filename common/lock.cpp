#include "common/lock.h"

#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <system_error>

#include "common/io.h"

namespace moe {
namespace fs = std::filesystem;

std::string host_name() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

DirLock::DirLock(std::string path, double stale_seconds)
    : path_(std::move(path)), stale_seconds_(stale_seconds) {}

DirLock::~DirLock() { release(); }

void DirLock::touch_heartbeat() const {
  if (!held_) return;
  std::ofstream(path_ + "/heartbeat", std::ios::trunc)
      << std::chrono::system_clock::now().time_since_epoch().count() << "\n";
}

bool DirLock::stale() const {
  std::error_code ec;
  try {
    const nlohmann::json owner = nlohmann::json::parse(read_file(path_ + "/owner.json"));
    if (owner.value("host", "") == host_name()) {
      const pid_t pid = owner.value("pid", 0);
      return pid <= 0 || (::kill(pid, 0) != 0 && errno == ESRCH);
    }
  } catch (const std::exception&) {
    // No readable owner: either the owner is between mkdir and writing owner.json (a matter of
    // milliseconds) or it died there.
    const auto age = fs::file_time_type::clock::now() - fs::last_write_time(path_, ec);
    if (!ec && std::chrono::duration<double>(age).count() > 10.0) return true;
  }
  fs::path beat = fs::path(path_) / "heartbeat";
  if (!fs::exists(beat, ec)) beat = path_;
  const auto age = fs::file_time_type::clock::now() - fs::last_write_time(beat, ec);
  if (ec) return false;
  return std::chrono::duration<double>(age).count() > stale_seconds_;
}

bool DirLock::busy() const {
  std::error_code ec;
  return fs::exists(path_, ec) && !stale();
}

std::string DirLock::owner() const {
  try {
    const nlohmann::json j = nlohmann::json::parse(read_file(path_ + "/owner.json"));
    return fmt::format("pid {} on host {}", j.value("pid", 0), j.value("host", "?"));
  } catch (const std::exception&) {
    return "an unknown process";
  }
}

bool DirLock::try_acquire() {
  if (held_) return true;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (::mkdir(path_.c_str(), 0755) == 0) {
      held_ = true;
      write_json_atomic(path_ + "/owner.json",
                        {{"host", host_name()},
                         {"pid", static_cast<int64_t>(::getpid())},
                         {"since", std::chrono::system_clock::now().time_since_epoch().count()}});
      touch_heartbeat();
      return true;
    }
    if (errno != EEXIST) {
      throw std::runtime_error(
          fmt::format("cannot create lock {}: {}", path_, std::generic_category().message(errno)));
    }
    if (!stale()) return false;
    // Break the stale lock under a second lock, re-checking inside: a breaker that decided
    // "stale" just before another process broke the lock and took it anew must not remove
    // the new owner's lock.
    const std::string breaker = path_ + ".break";
    if (::mkdir(breaker.c_str(), 0755) != 0) {
      std::error_code ec;
      const auto age = fs::file_time_type::clock::now() - fs::last_write_time(breaker, ec);
      if (!ec && std::chrono::duration<double>(age).count() > 60.0) ::rmdir(breaker.c_str());
      return false;
    }
    if (stale()) {
      std::error_code ec;
      fs::remove_all(path_, ec);
    }
    ::rmdir(breaker.c_str());
  }
  return false;
}

void DirLock::release() {
  if (!held_) return;
  std::error_code ec;
  fs::remove_all(path_, ec);
  held_ = false;
}

}  // namespace moe
