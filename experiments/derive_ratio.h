// r*(C, S) derived from a fitted loss law, numerically and through the planner.
//
// At a fixed compute budget C and sparsity S, the ratio r moves the model's shape, hence its
// active parameters N and its tokens D = C / (training FLOPs per token): the planner
// (moe/planner.h, make_plan) is that mapping r -> (N, D, achieved r). The derived optimum is
//   r*(C, S) = argmin_r  Lhat(N(r), D(r), S, r(r))
// over a log-spaced grid of requested r in [r_min, r_max] (161 points), refined by a parabola in
// ln r through the 7 grid points around the grid minimum.
//
// The planner rounds widths to whole multiples, so N(r) and D(r) carry steps of a few percent
// that belong to the rounding, not to r: evaluated on them a law's L(r) is a saw-tooth whose
// teeth (0.3% of L on small labels) are as deep as the valley. So ln N, ln D and ln r (achieved)
// are smoothed by a local quadratic regression on the requested ln r within +-0.3 (+-35%)
// before the law is evaluated; loss_opt, n_opt and d_opt are on that smoothed mapping. Requests
// the planner cannot build are skipped, and so are those it builds more than 3% away from the
// requested r or from the quantity it holds (per-token FLOPs, or active parameters with
// hold = active): at the extremes of r one width is a few units wide and rounding moves N and
// D by 10% or more. It is bracketed when the minimum is not at either end of the buildable
// grid; otherwise the note says which end, and r_opt is that end (a bound, not an optimum).
//
// Li et al. 2026 derive r* in closed form from L = a_A C_A^-p + a_E C_E^-q; their first-order
// condition is wrong (the correct one is r^(q+1) (1+r)^(p-q) proportional to C^(p-q), not a
// power law, and of the opposite sign). Minimising the fitted law itself cannot make that
// mistake: whatever law is fitted, this is its minimiser.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "moe/planner.h"
#include "scaling/csv.h"
#include "scaling/fit.h"
#include "scaling/laws.h"

namespace moe::scaling {

struct DeriveSettings {
  // Planner settings shared by every target: vocab, context, hold, convention, model switches.
  // compute, ratio, label, sparsity, top_k and n_shared_experts come from each target. Widths
  // round to multiples of 1 (not the planner's default 8), so that the law is traced over r in
  // fine steps rather than in the coarse ones GPU-friendly widths allow.
  PlanRequest base = [] {
    PlanRequest r;
    r.width_multiple = 1;
    return r;
  }();
  int64_t sweep_width_multiple = 8;  // the sweep's, for planner_mismatch
  double r_min = 0.05;
  double r_max = 20.0;
  int grid = 161;
};

struct DeriveTarget {
  double compute = 0;
  double sparsity = 0;
  std::string label;
  int64_t top_k = 2;
  int64_t n_shared_experts = 1;
  // The r the sweep ran at this (C, S) (achieved), when the table says: a derived r* outside it
  // is an extrapolation of the law, and is flagged as one.
  double r_swept_min = kNaN, r_swept_max = kNaN;
};

struct DerivedRatio {
  DeriveTarget target;
  double r_opt = kNaN;  // achieved r at the minimum
  double loss_opt = kNaN;
  double n_opt = kNaN;  // the planner's N and D there
  double d_opt = kNaN;
  bool bracketed = false;       // the minimum is inside the buildable range of r
  bool in_swept_range = false;  // and inside the r the sweep ran (target.r_swept_*)
  int n_buildable = 0;          // grid points the planner could build
  // 95% percentile interval over the law's bootstrap replicates (minimise_on each), and how
  // many replicates had a minimum inside the buildable range.
  double ci_low = kNaN, ci_high = kNaN;
  int n_replicates = 0, n_replicates_ok = 0;
  std::string note;
};

// The planner's smoothed r -> (N, D, achieved r) mapping over the grid for one target (see
// above): computed once, then any law (and each bootstrap replicate of it) is minimised on it.
struct RatioTrace {
  DeriveTarget target;
  std::vector<LossPoint> points;  // smoothed, ascending r
};

using LossPredictor = std::function<double(const LossPoint&)>;

// The law's minimiser over r at the target's (C, S). Throws moe::InputError when the planner
// can build no ratio in [r_min, r_max] for the target (naming the label and the planner's
// reason).
DerivedRatio derive_ratio(const LossPredictor& predict, const DeriveTarget& target,
                          const DeriveSettings& settings = {});
// The two halves of derive_ratio: the trace (throws as derive_ratio does) and the minimum of a
// law on it (throws moe::InputError when the law is not finite anywhere on it).
RatioTrace trace_ratio(const DeriveTarget& target, const DeriveSettings& settings);
DerivedRatio minimise_on(const RatioTrace& trace, const LossPredictor& predict);
// The interval of a derived r* from the law's bootstrap replicates, minimised on the same trace.
void add_interval(DerivedRatio& d, const RatioTrace& trace,
                  const std::vector<LossPredictor>& replicates);

// The point the law sees for the plan of (target, r): N = active non-embedding parameters,
// D = planned tokens, S and r as achieved. Throws std::invalid_argument when the planner
// cannot build it.
LossPoint planned_point(const DeriveTarget& target, double ratio, const DeriveSettings& settings);
// planned_point, or nothing when the planner cannot build the request or misses r or the held
// quantity by more than 3% (see above).
std::optional<LossPoint> faithful_point(const DeriveTarget& target, double ratio,
                                        const DeriveSettings& settings);

// A run of the sweep as the planner saw it, to check that the settings reproduce it.
struct PlannedRun {
  DeriveTarget target;
  double ratio = 0;  // requested r
  double n = 0;      // N the run reports
  double d = 0;      // D the run reports
};
// The largest relative difference between the runs' N, D and the planner's for the same
// request; NaN when no run can be planned.
double planner_mismatch(const std::vector<PlannedRun>& runs, const DeriveSettings& settings);

nlohmann::json to_json(const DerivedRatio& d);

// The (C, S) pairs of the table, ascending, each with its most frequent size label (role label)
// and its top_k / n_shared_experts from those columns when the table has them (else the given
// defaults): what --derive-ratio derives r* for.
std::vector<DeriveTarget> derive_targets(const Table& table, const RoleNames& roles, int64_t top_k,
                                         int64_t n_shared_experts);

// The runs as the planner was asked for them (C, S, label, requested r from the "ratio" column)
// with the N and D they report; empty when the table has no "ratio" column.
std::vector<PlannedRun> planned_runs(const Table& table, const RoleNames& roles, int64_t top_k,
                                     int64_t n_shared_experts);

}  // namespace moe::scaling
