// A progress line for long loops (training steps, sweep runs).
//
// On a terminal (stderr is a TTY) one line is redrawn in place at most 4 times a second:
//   "  42.1% | step 120/285 | ETA 1m23s | <detail>"
// Elsewhere (CI, Slurm logs, pipes) a plain line is printed at every 10% of progress and at
// least every 60 seconds, so logs stay short but show that the run is alive.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace moe {

class ProgressLine {
 public:
  // silent: prints nothing (the ranks of a run other than rank 0).
  ProgressLine(std::string unit, int64_t total, int64_t start = 0, bool silent = false);
  // done: units finished; detail: what follows the percentage (loss, tokens/s, ...).
  void update(int64_t done, const std::string& detail, bool force = false);
  // Ends the in-place line (prints a newline on a terminal).
  void finish(const std::string& detail);

  static std::string format_duration(double seconds);  // "1h02m", "3m05s", "42s"

 private:
  std::string unit_;
  int64_t total_, start_;
  bool tty_;
  std::chrono::steady_clock::time_point t0_, last_print_;
  int last_decile_ = -1;
  bool dirty_ = false;
  bool silent_ = false;
};

}  // namespace moe
