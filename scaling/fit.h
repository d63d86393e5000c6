// The fitting machinery every law shares: the Huber function, multi-start Ceres solves, a
// seeded bootstrap and percentile intervals.
//
// Objective. The loss laws are fitted in log space, as Chinchilla's approach 3 (Hoffmann et al.
// 2022, "Training Compute-Optimal Large Language Models", appendix D.2):
//   objective(theta) = SUM_i Huber_delta(log Lhat_i(theta) - log L_i),
//   Huber_delta(u) = u^2 / 2 for |u| <= delta, delta * (|u| - delta / 2) otherwise,
// delta = 1e-3 by default. Ceres minimises 1/2 SUM rho(u^2) with HuberLoss(delta):
// rho(s) = s for s <= delta^2 and 2 delta sqrt(s) - delta^2 otherwise, so 1/2 rho(u^2) is
// exactly Huber_delta(u) above: the residual form with HuberLoss at AddResidualBlock minimises
// the same objective that SciPy's L-BFGS-B minimises in the reference implementations. The
// objective reported is recomputed from the residuals with huber() below, not read from Ceres.
//
// Multi-start. Each start is solved by Levenberg-Marquardt (dense QR on the small normal
// system); the solution with the lowest objective wins. With many starts (Chinchilla's grid
// has 4500) most of the time goes into starts that end far from the best: so, unless
// `exhaustive` is set, every start first runs `screen_iterations` iterations, and only the best
// end points (by objective) are solved to convergence: the best 2% of them, and at least 20. The
// screened search reaches the same optimum as the exhaustive one on the benchmark data
// (bench/RESULTS.md) at a fraction of the cost; `moescale fit --exhaustive` solves every start to
// convergence. A solution counts as converged when Ceres reports CONVERGENCE and the objective is
// finite. The result counts the solved starts that reached the best objective; when the screened
// search found it only once, the search is redone from every start (`escalated`).
//
// Bootstrap. Points are resampled with replacement (n of n), and each resample searches from the
// starts the full fit solved to convergence (its screened starts) and from its distinct local
// optima, every one solved to convergence (starting from the best alone would keep every
// replicate in its basin); resamples are drawn in order and solved in parallel. The interval is
// the 2.5 and 97.5 percentiles of the refitted values (linear interpolation between order
// statistics); resamples with no finite objective are dropped and counted. The generator is a
// 64-bit SplitMix seeded by --seed, so a seed gives the same intervals on every machine.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <utility>
#include <vector>

// Only the .cpp files include <ceres/ceres.h>: it brings glog, whose CHECK macro would replace
// Catch's in the tests and clash in any program with its own CHECK.
namespace ceres {
class Problem;
}  // namespace ceres

namespace moe::scaling {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kChinchillaHuberDelta = 1e-3;
constexpr int kDefaultBootstrap = 200;

double huber(double u, double delta);

// A fitted number and its bootstrap interval (NaN when there was no bootstrap).
struct Estimate {
  double value = kNaN;
  double ci_low = kNaN;
  double ci_high = kNaN;
  bool has_ci() const { return ci_low == ci_low && ci_high == ci_high; }
};

// [low, high] as a JSON array (nulls without a CI).
nlohmann::json ci_to_json(const Estimate& e);
// A number, or null when it is not finite (NaN marks "no value" in memory; JSON has no NaN).
nlohmann::json finite_or_null(double v);

// SplitMix64: small, fast, and the same sequence everywhere for a seed.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next();
  // Uniform in [0, n).
  size_t index(size_t n);
  double uniform();  // [0, 1)
  double normal();   // standard normal (Box-Muller)

 private:
  uint64_t state_;
};

// Bootstrap replicates as --bootstrap gives them: throws moe::InputError unless n >= 0.
void check_bootstrap(int n);

// n indices drawn uniformly with replacement from [0, n).
std::vector<size_t> resample_indices(size_t n, Rng& rng);

// Percentile q in [0, 1] of the samples (linear interpolation between order statistics, as
// numpy's default); NaN for no samples. Non-finite samples are ignored.
double percentile(std::vector<double> samples, double q);
// The central `level` interval of the samples.
std::pair<double, double> percentile_interval(const std::vector<double>& samples,
                                              double level = 0.95);

// Sample standard deviation (n - 1); NaN for fewer than 2 values.
double sample_sd(const std::vector<double>& values);

// Least-squares line y = intercept + slope x; NaNs with fewer than 2 distinct x.
struct Line {
  double intercept = kNaN, slope = kNaN;
};
Line fit_line(const std::vector<double>& x, const std::vector<double>& y);

// Every combination of the axes' values (the first axis varies slowest).
std::vector<std::vector<double>> cartesian_grid(const std::vector<std::vector<double>>& axes);

struct SolveSettings {
  int max_iterations = 200;
  double function_tolerance = 1e-10;
  double gradient_tolerance = 1e-14;
  double parameter_tolerance = 1e-12;
  bool exhaustive = false;        // every start to convergence
  int screen_iterations = 5;      // iterations every start gets before the screening
  double polish_fraction = 0.02;  // of the screened end points, solved to convergence
  int polish_min = 20;            // but at least this many
};

struct LocalOptimum {
  std::vector<double> params;
  double objective = kNaN;
  bool converged = false;
};

struct MultiStartResult {
  LocalOptimum best;
  // Distinct local optima, best first (at most 8; the best is the first).
  std::vector<LocalOptimum> distinct;
  int n_starts = 0;
  int n_solved = 0;     // solved to convergence (all starts when exhaustive or few)
  int n_converged = 0;  // of those, how many converged
  // Solved starts that reached the best objective (within 1e-6 relative): one alone means the
  // search barely found it; the screened search then escalates to solving every start.
  int n_at_best = 0;
  bool escalated = false;  // the screened search found the best once only and was redone whole
  // The starts that were solved to convergence (after screening, when there was screening):
  // where a bootstrap replicate of the same problem searches from.
  std::vector<std::vector<double>> solved_from;
};

// Solves `problem`, whose residual blocks all act on the single parameter block `block`
// (n_params values), from each start as described above, and returns the solution with the
// lowest `objective` (evaluated on the solved parameters); the best is finally polished with
// tolerances 100x tighter. Solutions whose objective is not finite are skipped. Throws
// std::runtime_error when no start gives a finite objective. `lower_bounds` (empty, or one
// value per parameter, NaN for none) are set on the block; starts are clamped to them.
MultiStartResult multi_start(ceres::Problem& problem, double* block, int n_params,
                             const std::vector<std::vector<double>>& starts,
                             const std::function<double(const double*)>& objective,
                             const SolveSettings& settings = {},
                             const std::vector<double>& lower_bounds = {});

// Role -> column name, for messages that name the column a user can fix ("D (column tokens)").
using RoleNames = std::map<std::string, std::string>;
std::string describe_role(const RoleNames& roles, const std::string& role);

// Throws moe::InputError when fewer than `minimum` distinct values are present, naming the role
// (and its column) and what the law needs it for.
void require_distinct(const std::vector<double>& values, size_t minimum, const std::string& law,
                      const std::string& role, const RoleNames& roles, const std::string& why);

}  // namespace moe::scaling
