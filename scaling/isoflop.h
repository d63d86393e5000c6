// IsoFLOP analysis: per compute budget, the x that minimises the loss; then x*(C) = k C^a.
//
// Hoffmann et al. 2022 ("Training Compute-Optimal Large Language Models", approach 2) fit a
// parabola to loss against log N on each isoFLOP profile and read N*(C) off its vertex; Li et
// al. 2026 do the same with x = r = C_E / C_A to get r*(C) (they took the argmin of the observed
// losses instead; the vertex uses every point of the valley and is not tied to the grid).
//
// Per budget C (points whose C agree within a relative 1e-3), the valley's minimum, by default
// from the walls model of valley.h fitted to every budget with 3 distinct x at once (shared
// wall exponents; --valley allocation for x = r, power for x = N or D). When the budgets hold
// too few points for it (3 per budget + 2), the parabola is used and the fit says so. The
// parabola (--valley parabola, and always computed for comparison):
//   loss = c0 + c1 u + c2 u^2,  u = ln x,   least squares;   x*(C) = exp(-c1 / (2 c2)).
// A budget is bracketed when its valley has a minimum strictly inside the swept range
// [min x, max x]; otherwise it is reported (with the side its minimum lies on) and excluded:
// x* is not extrapolated. A budget with fewer than 3 distinct x is reported and excluded too.
//
// Bootstrap, walls model: parametric. The fitted valleys plus normal noise of scale sigma*,
// itself drawn as sigma*^2 = s^2 df / chi2(df) (s^2 = SSE / df, df = points - parameters), are
// refitted; the CI of x* is the 2.5/97.5 percentiles of the replicates' minima. Drawing sigma
// widens the intervals of small sweeps as a t quantile would; with no residual degrees of
// freedom there is no interval, and the fit says why. Parabola: points
// are resampled within each budget (stratified); a budget of only 3 points has no CI (the
// parabola passes through them exactly). Replicates without a minimum are left out and counted.
//
// Across budgets: ln x* = ln k + a ln C by least squares over the bracketed budgets (at least
// 2). The CI of a (and of k) comes from refitting the line to each bootstrap replicate's
// optima, budgets without one in that replicate left out (a replicate keeping fewer than 2
// budgets is skipped). With 3 or more budgets the CI of a is widened to the line's own t
// interval (its residual scatter, K - 2 degrees of freedom) when that is wider: optima that
// scatter about the law more than their own intervals say widen the exponent's.
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "scaling/fit.h"
#include "scaling/valley.h"

namespace moe::scaling {

struct IsoflopPoint {
  double compute = 0;  // C, training FLOPs of the run
  double x = 0;        // the swept variable (> 0)
  double loss = 0;
};

struct IsoflopOptions {
  // How each budget's minimum is found (valley.h): the walls of the allocation model (x = r,
  // the default), power walls (x = N or D), or the parabola in ln x.
  ValleyModel valley = ValleyModel::kAllocation;
  int bootstrap = kDefaultBootstrap;
  uint64_t seed = 0;
  RoleNames roles;  // for error messages
};

struct Parabola {
  // loss = c[0] + c[1] u + c[2] u^2 with u = ln x - center
  std::array<double, 3> c = {kNaN, kNaN, kNaN};
  double center = 0;
  bool ok = false;  // fitted (>= 3 distinct x)
  double vertex_log_x() const { return center - c[1] / (2 * c[2]); }
  double value(double log_x) const {
    const double u = log_x - center;
    return c[0] + c[1] * u + c[2] * u * u;
  }
};

// Points grouped by budget (scaling::same_group), budgets ascending.
std::vector<std::vector<IsoflopPoint>> group_by_budget(const std::vector<IsoflopPoint>& points);

// Least-squares parabola in ln x; ok = false with fewer than 3 distinct x.
Parabola fit_parabola(const std::vector<double>& log_x, const std::vector<double>& loss);

constexpr int kCurvePoints = 61;

struct BudgetOptimum {
  double compute = 0;
  int n_points = 0;
  double x_min = 0, x_max = 0;  // swept range
  Parabola parabola;
  bool bracketed = false;
  double x_opt = kNaN;           // the valley's minimum; NaN when not bracketed
  double x_opt_parabola = kNaN;  // the parabola's vertex when bracketed, for comparison
  double ci_low = kNaN, ci_high = kNaN;
  double loss_opt = kNaN;  // the parabola at the vertex
  int n_bootstrap_ok = 0;  // replicates with a vertex
  // The fitted valley (the model's, or the parabola) at kCurvePoints x over the swept range:
  // what a figure draws.
  std::vector<std::array<double, 2>> curve;
  std::string note;  // why excluded, empty when bracketed
};

// One point of the power law's 95% band: x*(C) between lo and hi.
struct BandPoint {
  double compute = 0, lo = kNaN, hi = kNaN;
};

struct IsoflopPowerLaw {
  bool fitted = false;  // at least 2 bracketed budgets
  // The law's 95% band over the bracketed budgets' range (widened 1.5x each way), kCurvePoints
  // log-spaced C: the replicate lines' 2.5/97.5 percentiles, widened like the exponent to the
  // line's own t band over 3+ budgets. Empty without bootstrap replicates.
  std::vector<BandPoint> band;
  std::string note;  // what the exponent's interval leaves out, if anything
  int n_budgets = 0;
  Estimate k;
  Estimate a;
  int n_bootstrap_ok = 0;
};

// Replicated runs (several seeds at one budget and x) give the pure run-to-run noise; the walls
// fit's residuals beyond it are lack of fit, tested by F = (SS_lof / df_lof) / (SS_pe / df_pe).
struct LackOfFit {
  bool tested = false;  // replicates exist and the fit has residual degrees beyond them
  int replicated_cells = 0;
  double pure_error_sd = kNaN;  // run-to-run standard deviation of the loss, pooled
  int df_pure = 0, df_lack = 0;
  double f = kNaN, p_value = kNaN;
};

// One sentence on run-to-run noise for reports: the pure error and the lack-of-fit test, or
// that without replicated seeds the intervals see seed noise only as the valleys' scatter.
std::string describe_seed_noise(const LackOfFit& l);

struct IsoflopFit {
  ValleyModel valley = ValleyModel::kParabola;  // the model the optima come from
  std::string valley_note;            // why the requested walls model was not used, if it was not
  std::string interval_note;          // why there are no intervals, when there could be none
  LackOfFit lack_of_fit;              // walls model: the valleys against the seeds' own noise
  WallsFit walls;                     // with a walls model: the joint fit of the bracketed budgets
  std::vector<BudgetOptimum> optima;  // ascending C
  IsoflopPowerLaw power_law;
  int n_points = 0;
  int n_bootstrap = 0;
  uint64_t seed = 0;
  // replicate_x_opt[b][i]: the vertex of budget i in replicate b (NaN without one). Callers
  // that fit laws to the optima (ratio_law.h) propagate the uncertainty through these.
  std::vector<std::vector<double>> replicate_x_opt;

  // x*(C) = k C^a; NaN when the power law was not fitted.
  double x_opt_at(double compute) const;
};

// Throws moe::InputError for points with non-positive or non-finite x or C, a non-finite
// loss, or when no budget has 3 distinct x.
IsoflopFit fit_isoflop(const std::vector<IsoflopPoint>& points, const IsoflopOptions& options = {});

// {"optima": [{"C", "x_opt", "ci_low", "ci_high", "bracketed", "n_points", "x_min", "x_max",
//   "loss_opt", "note"}], "power_law": {"k", "a", "a_ci_low", "a_ci_high", "k_ci_low",
//   "k_ci_high", "n_budgets"} or null, "n_points", "bootstrap": {"replicates", "seed"}}
// JSON of a budget's optimum (its parabola as coefficients of u = ln x), of the power law (null
// when not fitted) and of the whole fit; values that do not exist are null.
nlohmann::json to_json(const BudgetOptimum& o);
nlohmann::json to_json(const IsoflopPowerLaw& p);
nlohmann::json to_json(const IsoflopFit& fit);

}  // namespace moe::scaling
