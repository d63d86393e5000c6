// Fitting a loss law (laws.h) to observations: multi-start Huber fit in log space with
// bootstrap intervals (the procedure of fit.h).
//
// Starts (raw parameters, see laws.h):
//   chinchilla  Hoffmann et al.'s grid: alpha, beta in {0, 0.5, ..., 2}, log E in
//               {-1, -0.5, ..., 1}, log A, log B in {0, 5, ..., 25}: 4500 starts.
//   power       alpha in {0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1, 1.5, 2}; E in {0.01, 0.3, 0.6,
//               0.9, 0.99} x min L; A such that the curve passes through the geometric means of
//               x and L (when L_gm > E), times {e^-2, 1, e^2}: 135 starts (27 without E).
//   moe, wang, abnar
//               nested: the two best distinct Chinchilla optima of the same points carry
//               (E, A, B, alpha, beta) over to (tau, a, b, alpha, beta), and the extra terms
//               start from a small grid: each extra term sized at {1%, 10%} of the median loss
//               at the median point; wang: gamma in {-0.5, -0.25, 0, 0.25, 0.5} (10 starts);
//               moe: gamma in {-0.5, 0, 0.5}, lambda in {0, 0.25, 0.5}, d in {-5%, 0, 5%} of
//               the median loss (108); abnar: lambda, delta, gamma in {0, 0.5} (64). Li et
//               al.'s own grid (log a, b, c, d in {0, 10, 20}, six exponents in {0, 0.25, ...,
//               1.25}) has 10^5 starts per fit; nesting reaches the same optima from ~100.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "scaling/fit.h"
#include "scaling/laws.h"

namespace moe::scaling {

struct LawFitOptions {
  double huber_delta = kChinchillaHuberDelta;
  int bootstrap = kDefaultBootstrap;  // replicates; 0: no intervals
  uint64_t seed = 0;
  // Raw starts; empty: the law's default starts (above).
  std::vector<std::vector<double>> starts;
  RoleNames roles;  // role -> column, for error messages
  SolveSettings solve;
};

struct LawFit {
  LossLaw law = LossLaw::kChinchilla;
  std::vector<double> raw;       // best raw parameters
  std::vector<Estimate> params;  // reported values with percentile intervals, law_info order
  double objective = kNaN;       // SUM Huber_delta(log Lhat - log L) at the best parameters
  double huber_delta = kChinchillaHuberDelta;
  int n_points = 0;
  int n_starts = 0;
  int n_solved = 0;  // starts solved to convergence (see fit.h, screening)
  int n_converged = 0;
  int n_bootstrap = 0;            // replicates asked for
  int n_bootstrap_ok = 0;         // replicates that gave a finite fit (the intervals use these)
  int n_bootstrap_dropped = 0;    // replicates with no finite objective from any start
  int n_bootstrap_escalated = 0;  // replicates whose screened search was redone from every start
  int n_at_best = 0;              // solved starts of the full fit that reached its best
  bool escalated = false;         // the full fit's screened search was redone from every start
  uint64_t seed = 0;
  std::vector<std::vector<double>> bootstrap_raw;  // raw parameters of each good replicate
  std::vector<std::vector<double>> local_optima;   // distinct raw optima, best first

  // Throws std::invalid_argument for a name the law does not have.
  const Estimate& param(const std::string& name) const;
  double predict(const LossPoint& point) const { return scaling::predict(law, raw, point); }
};

// Throws moe::InputError when the points cannot determine the law: fewer points than
// parameters, a value where a logarithm is taken that is not positive and finite, S outside
// [0, 1), or too few distinct values of a variable that carries an exponent.
void check_points(LossLaw law, const std::vector<LossPoint>& points, const RoleNames& roles = {});

std::vector<std::vector<double>> default_starts(LossLaw law, const std::vector<LossPoint>& points,
                                                double huber_delta = kChinchillaHuberDelta);
// The starts of moe, wang or abnar from given Chinchilla optima (raw, best first), so that one
// Chinchilla fit can seed all three.
std::vector<std::vector<double>> extended_starts(
    LossLaw law, const std::vector<LossPoint>& points,
    const std::vector<std::vector<double>>& chinchilla_optima);

// The objective SUM Huber_delta(log Lhat - log L) at raw parameters (infinite where the law
// is not positive).
double log_huber_objective(LossLaw law, const std::vector<double>& raw,
                           const std::vector<LossPoint>& points, double huber_delta);

// The cost Ceres minimises for these residuals, 1/2 SUM rho(u_i^2) with HuberLoss(delta),
// evaluated by Ceres itself: equal to log_huber_objective (see fit.h), which a test checks.
double ceres_cost(LossLaw law, const std::vector<double>& raw, const std::vector<LossPoint>& points,
                  double huber_delta);

// Fits the law; checks the points first (check_points). Deterministic for a seed.
LawFit fit_loss_law(LossLaw law, const std::vector<LossPoint>& points,
                    const LawFitOptions& options = {});

// {"law", "formula", "source", "params": {name: value}, "ci": {name: [low, high]},
//  "objective", "huber_delta", "n_points", "n_starts", "n_solved", "n_converged",
//  "bootstrap": {"replicates", "ok", "seed"}}
nlohmann::json to_json(const LawFit& fit);

// Error figures of a law on points: RMSE of L and mean absolute percentage error of L.
struct ErrorFigures {
  double rmse = kNaN;
  double mape = kNaN;  // percent
  int n_points = 0;
};
ErrorFigures error_figures(const LawFit& fit, const std::vector<LossPoint>& points);
nlohmann::json to_json(const ErrorFigures& e);

}  // namespace moe::scaling
