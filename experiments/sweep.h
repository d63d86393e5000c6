// Sweeps: run every entry of a grid (experiments/grid.h), resumably, in parallel, once.
//
// SWEEPDIR/
//   sweep.json        the data the sweep trains on (a later call must use the same data), the
//                     latest grid file and devices (for the report's "how to redo this")
//   results.csv       one row per run of the current grid, rebuilt atomically (under a lock)
//                     after every finished run; columns in result_columns()
//   runs/<id>/        one trainer run directory (moe/trainer.h) per run, named by the run id
//                     (moe::run_id: a hash of the run's full config), plus
//     sweep_config.json   the TrainConfig handed to moescale-train --config
//     attempts.jsonl      one line per launch: host, pid, exit status, outcome
//     train.log           the trainer's output
//     lock/               held while a process works on the run (experiments/lock.h)
//
// A run is final when its result is done or diverged, or when it failed twice (one retry).
// With `bracket = yes` in the grid, the sweep adds runs as cells finish (experiments/bracket.h)
// and trains them like the grid's own; results.csv says why each run exists (origin) and how
// its cell's bracketing stands (bracket).
// Rerunning the same command skips final runs and resumes interrupted ones from their newest
// checkpoint; editing the grid adds or drops runs without touching finished ones (a dropped
// run's directory stays, out of results.csv). Runs are executed by `moescale-train`
// subprocesses (each in the sweep's process group, and told to stop if the sweep dies), one per
// worker; CPU workers split the machine's cores (each run gets --threads cores / workers).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "experiments/bracket.h"
#include "experiments/grid.h"
#include "moe/run_dir.h"

namespace moe::experiments {

// One row of results.csv: a run's plan and how it ended. Values a run does not have yet are
// empty cells (nullopt).
struct ResultRow {
  std::string run_id, label;
  uint64_t seed = 0;  // replicates of one cell differ only in it
  double compute = 0, sparsity = 0, ratio = 0, ratio_achieved = 0;
  int64_t n_experts = 0, top_k = 0, n_shared_experts = 0, d_model = 0, n_layers = 0, n_heads = 0,
          head_dim = 0, d_expert = 0, n_dense_layers = 0, d_dense = 0, params_active = 0,
          params_total = 0;
  double flops_per_token = 0, tokens = 0;
  double triad_m = 0;  // paper 2's M: training FLOPs per token without the logits
  std::optional<double> m_over_na_target, n_over_na_target;  // a triad run's request
  std::optional<double> d_position_target;
  std::optional<double> val_loss, final_train_loss;  // val_loss: done runs only
  RunStatus status = RunStatus::kPending;
  RunOrigin origin = RunOrigin::kGrid;
  std::string bracket;  // the cell's bracketing note (BracketPlan::note), empty without bracket
  std::optional<double> wall_seconds;
};
// The columns, in order (what `moescale report` and `moescale fit` read by name).
const std::vector<std::string>& result_columns();
std::vector<std::string> result_cells(const ResultRow& row);

struct SweepOptions {
  std::string grid_path;
  std::string data;
  std::string val_data;
  std::string out;
  int workers = 0;                          // 0: one per device for CUDA, 1 for CPU
  std::vector<std::string> devices{"cpu"};  // cpu | cuda:0,cuda:1,...
  int threads = 0;                          // torch threads per worker; 0: cores / workers
  std::string only;                         // run id: run just this one (Slurm array tasks)
  std::string train_program;                // path of moescale-train
  int max_failures = 2;                     // a failed run is retried once
  double stale_lock_seconds = 300;
};

struct SweepSummary {
  int runs = 0, done = 0, diverged = 0, failed = 0, pending = 0;
  bool interrupted = false;
};

// Runs the sweep; throws moe::InputError for bad input (grid, data, devices) before any run.
SweepSummary run_sweep(const SweepOptions& options);

// Rebuilds SWEEPDIR/results.csv for `runs` from their run directories; `plan` gives each
// cell's bracketing note.
void rebuild_results(const std::string& sweep_dir, const std::vector<RunSpec>& runs,
                     const BracketPlan* plan = nullptr);

// A run's state as read from its directory: its result.json status (kInterrupted also when it
// has a checkpoint but no result), and how many launches failed.
struct RunState {
  RunStatus status = RunStatus::kPending;
  int failures = 0;
  bool final(int max_failures) const {
    return status == RunStatus::kDone || status == RunStatus::kDiverged ||
           (status == RunStatus::kFailed && failures >= max_failures);
  }
};
RunState read_run_state(const std::string& run_dir);

// The runs of a sweep directory as they stand: the grid's and those bracketing has added given
// the finished runs in SWEEPDIR/runs (what `sweep`, `--only`, `--dry-run` and `--emit-slurm`
// work from). A run is final after `max_failures` failed launches.
BracketPlan sweep_plan(const Grid& grid, const std::string& sweep_dir, int max_failures = 2);

// A run's row of results.csv from its plan, its state and its result.json (RunDir::read_result:
// pending when there is none yet).
ResultRow result_row(const RunSpec& run, const RunState& state, const RunResult& result);

// The table `moescale plan --grid` and `moescale sweep --dry-run` print.
std::string format_runs(const std::vector<RunSpec>& runs);

// The memory of the smallest GPU among `devices` as nvidia-smi reports it (nullopt for CPU
// devices or without nvidia-smi).
std::optional<double> visible_gpu_memory(const std::vector<std::string>& devices);
// "" when every run fits its device (its device-memory setting, else `visible`; nothing to
// check without either), else one line naming the runs that cannot, their estimates and what
// would fit each (moe/memory.h).
std::string memory_refusal(const std::vector<RunSpec>& runs, std::optional<double> visible);

struct SlurmOptions {
  std::string partition, time = "04:00:00", account, mem;
  int gpus_per_task = 0;  // 0: CPU runs
  int cpus_per_task = 0;  // 0: Slurm's default
  int max_parallel = 0;   // array throttle (%N); 0: no limit
};

// A job-array script: one task per run of the grid, each `moescale sweep --only <id>`.
std::string slurm_script(const SweepOptions& sweep, const SlurmOptions& slurm,
                         const std::vector<RunSpec>& runs, const std::string& moescale_program);

}  // namespace moe::experiments
