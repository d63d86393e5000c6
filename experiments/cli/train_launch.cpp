#include "experiments/cli/train_launch.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include "common/process.h"

namespace moe::cli {

namespace {

// A TCP port nobody listens on now (the kernel's choice); rank 0 binds it moments later.
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("no socket for the ranks' rendezvous");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);
  if (!ok) throw std::runtime_error("no free port on 127.0.0.1 for the ranks' rendezvous");
  return ntohs(addr.sin_port);
}

std::string rank_log(const std::string& out, int rank) {
  return (std::filesystem::path(out) / fmt::format("rank-{}.log", rank)).string();
}

// The last non-empty line of a file ("" when there is none).
std::string last_line(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return "";
  std::string line, last;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, f) != nullptr) {
    line = buf;
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    if (!line.empty()) last = line;
  }
  std::fclose(f);
  return last;
}

// The ranks of one run, started and waited for.
class RankGroup {
 public:
  RankGroup(int n, const std::vector<std::string>& args, const std::string& out) : out_(out) {
    std::error_code ec;
    const std::string self = std::filesystem::read_symlink("/proc/self/exe", ec).string();
    if (ec) throw std::runtime_error("cannot find this program (/proc/self/exe) to start ranks");
    const int port = free_port();
    std::filesystem::create_directories(out, ec);  // for the ranks' logs (rank 0 checks --out)
    for (int i = 0; i < n; ++i) {
      ChildSpec spec;
      spec.argv = {self};
      spec.argv.insert(spec.argv.end(), args.begin(), args.end());
      spec.env = {
          fmt::format("MOESCALE_RANK={}", i),       fmt::format("MOESCALE_WORLD_SIZE={}", n),
          fmt::format("MOESCALE_LOCAL_RANK={}", i), fmt::format("MOESCALE_LOCAL_WORLD_SIZE={}", n),
          "MOESCALE_MASTER_ADDR=127.0.0.1",         fmt::format("MOESCALE_MASTER_PORT={}", port)};
      spec.die_with_parent = true;
      if (i > 0 && !ec) spec.log_path = rank_log(out, i);
      pids_.push_back(spawn(spec));
    }
    running_.assign(pids_.size(), true);
  }

  // Until every rank has ended; returns the first failure's status (0 when none failed).
  int wait(const std::function<int()>& stop_signal) {
    int forwarded = 0;
    for (size_t left = pids_.size(); left > 0;) {
      if (const int sig = stop_signal(); sig != 0 && forwarded == 0) {
        forwarded = sig;
        stop_all(sig);  // the ranks agree to checkpoint and stop
      }
      int status = 0;
      const pid_t pid = ::waitpid(-1, &status, WNOHANG);
      if (pid < 0 && errno != EINTR) break;
      if (pid > 0) {
        left -= ended(pid, status);
        continue;
      }
      if (killing_ && std::chrono::steady_clock::now() >= kill_at_) {
        stop_all(SIGKILL);
        killing_ = false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    report();
    return first_status_;
  }

 private:
  void stop_all(int sig) {
    for (size_t i = 0; i < pids_.size(); ++i) {
      if (running_[i]) ::kill(pids_[i], sig);
    }
  }

  // A rank ended: 1 when `pid` was one of them. The first failure stops the others (no rank
  // may wait on a dead one; they cannot checkpoint without it, and the last checkpoint is whole).
  size_t ended(pid_t pid, int status) {
    for (size_t i = 0; i < pids_.size(); ++i) {
      if (pids_[i] != pid || !running_[i]) continue;
      running_[i] = false;
      const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      if (code != 0 && first_rank_ < 0) {
        first_rank_ = static_cast<int>(i);
        first_status_ = code;
        first_killed_ = !WIFEXITED(status);
        first_how_ = first_killed_ ? fmt::format("was killed by signal {}", WTERMSIG(status))
                                   : fmt::format("ended with status {}", code);
        stop_all(SIGTERM);
        kill_at_ = std::chrono::steady_clock::now() + std::chrono::seconds(15);
        killing_ = true;
      }
      return 1;
    }
    return 0;
  }

  // Rank 0 says why it stopped itself; another rank's reason is the last line of its log.
  void report() const {
    if (first_rank_ < 0 || (first_rank_ == 0 && !first_killed_)) return;
    const std::string last = last_line(rank_log(out_, first_rank_));
    std::fprintf(stderr,
                 "moescale train: rank %d of %zu %s%s; the other ranks were stopped; continue "
                 "from the last checkpoint with --resume\n",
                 first_rank_, pids_.size(), first_how_.c_str(),
                 last.empty() ? "" : (" (" + last + ")").c_str());
  }

  std::string out_;
  std::vector<pid_t> pids_;
  std::vector<bool> running_;
  int first_rank_ = -1, first_status_ = 0;
  bool first_killed_ = false, killing_ = false;
  std::string first_how_;
  std::chrono::steady_clock::time_point kill_at_{};
};

}  // namespace

int launch_ranks(int n, const std::vector<std::string>& args, const std::string& out,
                 const std::function<int()>& stop_signal) {
  RankGroup ranks(n, args, out);
  return ranks.wait(stop_signal);
}

}  // namespace moe::cli
