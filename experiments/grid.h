// Sweep grids: a small text file, Boost.Program_options' config-file syntax, that lists the
// axes of a sweep and the settings its runs share. Every key is a `moescale plan` or
// `moescale train` flag name without the dashes.
//
//   # the CPU demo grid
//   label    = 1M
//   compute  = 3e12 1e13 3e13          # axes: space- or comma-separated lists,
//   ratio    = 0.2, 0.35, 0.5, 1, 1.5  # or one value per repeated line
//   sparsity = 0.8235                  # or: experts = 16 32 (routed experts)
//   seed     = 0
//   top-k    = 2
//   shared   = 1
//   eval-tokens = 32768
//
// Axes (lists; the grid is their cartesian product): compute, ratio, sparsity or experts,
// label, d-model, seed. Instead of ratio, m-over-na and n-over-na sweep paper 2's triads (M/N_a x
// N/N_a at each label's FLOPs, or at M = K C^A with `m-law = K,A`: moe/planner.h,
// PlanRequest::m_over_na); their d is the proxy, or each of d-model, or each of d-position
// (fractions of each triad's own feasible interval). A budget may carry its own
// size label, "compute = 1e17@20M 1e18@30M", as in the paper, where each budget trains one model
// size; it then ignores the label axis. Every other key is a shared setting of moe::settings()
// (SettingUse::kShared): the plan and training flags that describe a run rather than how one
// process carries it out. Unknown keys, empty lists, bad numbers and impossible plans are errors
// that name the key or the run, raised before any run starts.
//
// Sweep keys (not settings of a run; listed by sweep_keys()): `bracket = yes` lets the sweep add
// ratios beyond an end of a cell's ratio list while the cell's lowest loss lies at that end
// (experiments/bracket.h), within `bracket-steps`, `bracket-min` and `bracket-max`, stepping by
// `bracket-factor`; `refine = N` then adds N ratios around the minimum.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "moe/planner.h"
#include "moe/settings.h"
#include "moe/train_config.h"

namespace moe::experiments {

// How a sweep extends each cell's ratio list (experiments/bracket.h).
struct Bracket {
  bool on = false;
  int steps = 4;      // most ratios added beyond each end of a cell's list
  double factor = 0;  // step in r (multiplicative); 0: the list's own step at that end
  double min = 0.01;  // ratios below this or above max are never added
  double max = 100;
  int refine = 0;     // ratios added around a bracketed minimum
  double margin = 0;  // an end is a wall only when its loss is this much above the lowest
};

struct Grid {
  std::string name;  // where it came from (for messages)
  std::vector<double> compute;
  std::vector<std::string> compute_label;  // per budget: its own label ("1e18@30M"), or ""
  std::vector<double> ratio;               // either ratios ...
  std::vector<double> m_over_na;  // ... or paper 2's triads: M/N_a x N/N_a at the label's FLOPs
  std::vector<double> n_over_na;
  std::vector<double> sparsity;  // either sparsity ...
  std::vector<int64_t> experts;  // ... or routed expert counts
  std::vector<std::string> label;
  std::vector<int64_t> d_model;    // empty: the label's (or, for triads, the proxy)
  std::vector<double> d_position;  // triads: d as a fraction of its feasible interval instead
  std::vector<uint64_t> seed;
  RunSettings shared;  // every other key (compute, ratio, label, experts, seed set per run)
  Bracket bracket;
};

// The keys of a grid that configure the sweep rather than its runs, with their help.
struct SweepKey {
  std::string key, help;
};
const std::vector<SweepKey>& sweep_keys();

// Parses grid text; `name` is used in messages. Throws moe::InputError.
Grid parse_grid(const std::string& text, const std::string& name);
Grid load_grid(const std::string& path);

// Why a run is in a sweep: the grid lists it, or bracketing added it beyond an end of its
// cell's ratio list, or around the cell's minimum.
enum class RunOrigin { kGrid, kBracket, kRefine };
std::string to_string(RunOrigin o);

// A cell of the grid: the runs that differ only in ratio (or triad) and seed: one ratio curve.
struct Cell {
  size_t compute = 0;   // index into Grid::compute
  size_t sparsity = 0;  // index into Grid::sparsity or Grid::experts (0 when neither is given)
  std::string label;
  size_t d_model = 0;  // index into Grid::d_model or Grid::d_position (0 when neither is given)
  bool operator==(const Cell& o) const {
    return compute == o.compute && sparsity == o.sparsity && label == o.label &&
           d_model == o.d_model;
  }
};

struct RunSpec {
  std::string id;  // moe::run_id(config)
  Plan plan;
  TrainConfig config;  // data/device left empty: the sweep fills them
  Cell cell;
  RunOrigin origin = RunOrigin::kGrid;
};

// The cells in expansion order (compute outermost, then sparsity, then label).
std::vector<Cell> cells(const Grid& grid);
// A point of a cell's curve: a ratio, or paper 2's (M/N_a, N/N_a).
struct CurvePoint {
  double ratio = 1;
  std::optional<double> m_over_na, n_over_na;
};
// The grid's points in file order: its ratios, or the product of its M/N_a and N/N_a lists.
std::vector<CurvePoint> curve_points(const Grid& grid);

// One run of a cell: its plan and training config. Throws std::invalid_argument when the
// planner refuses it (the reason in the message).
RunSpec plan_run(const Grid& grid, const Cell& cell, const CurvePoint& point, uint64_t seed);
// "compute=1e+12 experts=8 label=tiny"
std::string describe_cell(const Grid& grid, const Cell& cell);
// "compute=1e+12 experts=8 ratio=0.5 label=tiny seed=0", without a run.
std::string describe(const Grid& grid, const Cell& cell, const CurvePoint& point, uint64_t seed);

// The most runs one grid may expand into: far more than a scaling study sweeps, few enough that
// expanding and planning them takes a second, sanitizers included (48,600 runs took over 10 s
// under ASan).
constexpr size_t kMaxGridRuns = 10000;

// The cartesian product, in file order (compute outermost, then sparsity, ratio, label, seed).
// Throws moe::InputError naming the run ("compute=1e9 ratio=0.5 ...") whose plan is impossible,
// the two runs that are the same run, or the axis sizes when the product exceeds kMaxGridRuns.
// (d-position values that round to the same d of a narrow interval are one run, not an error.)
std::vector<RunSpec> expand(const Grid& grid);

// "compute=1e13 sparsity=0.8235 ratio=0.5 label=1M seed=0"
std::string describe(const RunSpec& run);

}  // namespace moe::experiments
