// The run directory's contract, shared by the trainer that writes it and the sweep, the report
// and `moescale train` that read it: its paths, result.json as one type, the run statuses, and
// the exit statuses of moescale-train. No torch here.
//
// RUNDIR/ (moe/trainer.h says what each file holds)
//   config.json  metrics.jsonl  result.json  checkpoints/  lock/   written by the trainer
//   sweep_config.json  train.log  attempts.jsonl                   written by the sweep
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <string>

namespace moe {

// What result.json says of a run; kPending when there is no result yet.
enum class RunStatus { kPending, kDone, kDiverged, kFailed, kInterrupted };
std::string to_string(RunStatus s);
// Throws std::invalid_argument for an unknown status.
RunStatus parse_run_status(const std::string& s);

// Exit statuses of moescale-train (130/143: interrupted by SIGINT/SIGTERM, checkpoint saved).
namespace exit_status {
constexpr int kDone = 0;
constexpr int kFailed = 1;
constexpr int kBadInput = 2;
constexpr int kDiverged = 3;
constexpr int kBusy = 75;  // EX_TEMPFAIL: another process trains this run directory
}  // namespace exit_status

// RUNDIR/result.json. Losses that are not finite (a diverged run) are written as null and read
// back as NaN; fields a failed run's short result lacks keep their defaults.
struct RunResult {
  RunStatus status = RunStatus::kPending;
  std::string reason;
  double val_loss = 0;  // final, on the fixed held-out set
  double final_train_loss = 0;
  int64_t steps = 0;
  int64_t steps_planned = 0;
  int64_t tokens = 0;
  double flops = 0;  // training FLOPs spent
  double wall_seconds = 0;
  double peak_flops_per_second = 0;
  std::string peak_source;
  std::string run_id;
  int64_t diverged_step = -1;  // -1: did not diverge
};
void to_json(nlohmann::json& j, const RunResult& r);
void from_json(const nlohmann::json& j, RunResult& r);

// The paths of one run directory.
class RunDir {
 public:
  explicit RunDir(std::filesystem::path root) : root_(std::move(root)) {}
  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path config() const { return root_ / "config.json"; }
  std::filesystem::path metrics() const { return root_ / "metrics.jsonl"; }
  std::filesystem::path result() const { return root_ / "result.json"; }
  std::filesystem::path checkpoints() const { return root_ / "checkpoints"; }
  std::filesystem::path lock() const { return root_ / "lock"; }
  std::filesystem::path sweep_config() const { return root_ / "sweep_config.json"; }
  std::filesystem::path train_log() const { return root_ / "train.log"; }
  std::filesystem::path attempts() const { return root_ / "attempts.jsonl"; }

  // result.json, or a kPending result when the file is absent or unreadable (a run killed
  // while writing it is unfinished; the trainer rewrites it).
  RunResult read_result() const;

 private:
  std::filesystem::path root_;
};

}  // namespace moe
