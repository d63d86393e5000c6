// A lock per run directory that works across processes and machines sharing a filesystem.
// The trainer holds RUNDIR/lock while it trains, so a run never runs twice at the same time,
// whoever starts it (two sweeps, a sweep and a user, a Slurm task and an orphaned trainer).
//
// Acquire = mkdir(LOCKDIR), which is atomic on local filesystems and on NFS; the owner writes
// LOCKDIR/owner.json (host, pid, time) and refreshes LOCKDIR/heartbeat while it holds the lock
// (touch_heartbeat: the trainer does so every 30 s). A lock is stale, and is broken, when its
// owner is a dead process on this host, when its heartbeat is older than stale_seconds (owners
// on other hosts), or when it has had no owner.json for 10 s (its owner died right after
// mkdir). Breakers serialise on a second directory (LOCKDIR.break) and re-check staleness
// there, so a breaker can never remove a lock that another process has just taken anew.
#pragma once

#include <cstdint>
#include <string>

namespace moe {

class DirLock {
 public:
  explicit DirLock(std::string path, double stale_seconds = 300.0);
  ~DirLock();  // releases if held
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

  // One attempt (breaking a stale lock first). True when this object now holds the lock.
  bool try_acquire();
  void release();
  bool held() const { return held_; }
  void touch_heartbeat() const;
  // True when the lock directory exists and is not stale (someone is working).
  bool busy() const;
  // "pid 123 on host h" from owner.json, for messages.
  std::string owner() const;
  const std::string& path() const { return path_; }

 private:
  bool stale() const;
  std::string path_;
  double stale_seconds_;
  bool held_ = false;
};

// This machine's host name.
std::string host_name();

}  // namespace moe
