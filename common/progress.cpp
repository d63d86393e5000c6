#include "common/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

namespace moe {

ProgressLine::ProgressLine(std::string unit, int64_t total, int64_t start, bool silent)
    : unit_(std::move(unit)),
      total_(total),
      start_(start),
      tty_(::isatty(STDERR_FILENO) != 0),
      t0_(std::chrono::steady_clock::now()),
      last_print_(t0_),
      silent_(silent) {
  last_decile_ = total_ > 0 ? static_cast<int>(10 * start_ / total_) : 0;
}

std::string ProgressLine::format_duration(double s) {
  if (!(s >= 0) || s > 1e8) return "?";
  const auto total = static_cast<int64_t>(s + 0.5);
  if (total >= 3600) return fmt::format("{}h{:02d}m", total / 3600, (total % 3600) / 60);
  if (total >= 60) return fmt::format("{}m{:02d}s", total / 60, total % 60);
  return fmt::format("{}s", total);
}

void ProgressLine::update(int64_t done, const std::string& detail, bool force) {
  if (silent_) return;
  const auto now = std::chrono::steady_clock::now();
  const double since_print = std::chrono::duration<double>(now - last_print_).count();
  const int decile = total_ > 0 ? static_cast<int>(10 * done / total_) : 0;
  const bool due = tty_ ? since_print >= 0.25 : (decile > last_decile_ || since_print >= 60.0);
  if (!due && !force) return;
  const double elapsed = std::chrono::duration<double>(now - t0_).count();
  const int64_t progressed = done - start_;
  const double eta = progressed > 0 ? elapsed * static_cast<double>(total_ - done) /
                                          static_cast<double>(progressed)
                                    : -1;
  const double pct = total_ > 0 ? 100.0 * static_cast<double>(done) / total_ : 100.0;
  const std::string line = fmt::format("{:6.1f}% | {} {}/{} | ETA {} | {}", pct, unit_, done,
                                       total_, format_duration(eta), detail);
  if (tty_) {
    std::fprintf(stderr, "\r\033[K%s", line.c_str());
    dirty_ = true;
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
  last_print_ = now;
  last_decile_ = decile;
}

void ProgressLine::finish(const std::string& detail) {
  if (silent_) return;
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  if (tty_ && dirty_) std::fprintf(stderr, "\r\033[K");
  std::fprintf(stderr, "%s (%s)\n", detail.c_str(), format_duration(elapsed).c_str());
  std::fflush(stderr);
}

}  // namespace moe
