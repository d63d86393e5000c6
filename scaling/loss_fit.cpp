#include "scaling/loss_fit.h"

#include <ceres/ceres.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>

#include "common/errors.h"
#include "common/parallel.h"

namespace moe::scaling {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Exponent bounds (see laws.h): each law's kNonNegative parameters are >= 0.
std::vector<double> lower_bounds(LossLaw law) {
  std::vector<double> lb(static_cast<size_t>(n_params(law)), kNaN);
  with_law(law, [&](auto l) {
    for (int i : decltype(l)::kNonNegative) lb[static_cast<size_t>(i)] = 0;
  });
  return lb;
}

ceres::CostFunction* make_cost(LossLaw law, const PreparedPoint& x) {
  return with_law(law, [&](auto l) -> ceres::CostFunction* {
    using Law = decltype(l);
    return new ceres::AutoDiffCostFunction<LogLossResidual<Law>, 1, Law::kParams>(
        new LogLossResidual<Law>(x));
  });
}

double objective_prepared(LossLaw law, const double* raw, const std::vector<PreparedPoint>& pts,
                          double delta) {
  double sum = 0;
  for (const auto& x : pts) {
    double log_hat = 0;
    if (!log_predict(law, raw, x, &log_hat) || !std::isfinite(log_hat)) return kInf;
    sum += huber(log_hat - x.log_loss, delta);
  }
  return sum;
}

// One Problem for all starts: Ceres keeps the residual blocks and only the values in the
// parameter block change between solves.
MultiStartResult solve(LossLaw law, const std::vector<LossPoint>& points, double delta,
                       const std::vector<std::vector<double>>& starts,
                       const SolveSettings& settings) {
  std::vector<PreparedPoint> pts;
  pts.reserve(points.size());
  for (const auto& p : points) pts.push_back(prepare(p));
  ceres::HuberLoss huber_loss(delta);
  ceres::Problem::Options problem_options;
  problem_options.loss_function_ownership = ceres::DO_NOT_TAKE_OWNERSHIP;
  ceres::Problem problem(problem_options);
  const int n = n_params(law);
  std::vector<double> block(static_cast<size_t>(n), 0.0);
  for (const auto& x : pts) problem.AddResidualBlock(make_cost(law, x), &huber_loss, block.data());
  return multi_start(
      problem, block.data(), n, starts,
      [&](const double* raw) { return objective_prepared(law, raw, pts, delta); }, settings,
      lower_bounds(law));
}

double median(std::vector<double> v) { return percentile(std::move(v), 0.5); }

std::vector<std::vector<double>> power_starts(const std::vector<LossPoint>& points, bool offset) {
  double log_x_mean = 0, log_y_mean = 0, y_min = kInf;
  for (const auto& p : points) {
    log_x_mean += std::log(p.n);
    log_y_mean += std::log(p.loss);
    y_min = std::min(y_min, p.loss);
  }
  log_x_mean /= static_cast<double>(points.size());
  log_y_mean /= static_cast<double>(points.size());
  const double y_gm = std::exp(log_y_mean);
  const std::vector<double> alphas = {0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0};
  std::vector<std::vector<double>> starts;
  const std::vector<double> fractions =
      offset ? std::vector<double>{0.01, 0.3, 0.6, 0.9, 0.99} : std::vector<double>{0.0};
  for (double f : fractions) {
    const double e = f * y_min;
    const double above = y_gm - e > 0 ? y_gm - e : 0.01 * y_gm;
    for (double alpha : alphas) {
      for (double shift : {-2.0, 0.0, 2.0}) {
        const double log_a = std::log(above) + alpha * log_x_mean + shift;
        if (offset) {
          starts.push_back({std::log(e), log_a, alpha});
        } else {
          starts.push_back({log_a, alpha});
        }
      }
    }
  }
  return starts;
}

std::vector<std::vector<double>> chinchilla_grid() {
  const std::vector<double> exponents = {0, 0.5, 1, 1.5, 2};
  const std::vector<double> log_e = {-1, -0.5, 0, 0.5, 1};
  const std::vector<double> log_ab = {0, 5, 10, 15, 20, 25};
  return cartesian_grid({log_e, log_ab, log_ab, exponents, exponents});
}

}  // namespace

std::vector<std::vector<double>> extended_starts(
    LossLaw law, const std::vector<LossPoint>& points,
    const std::vector<std::vector<double>>& chinchilla_optima) {
  std::vector<double> loss, log_n, log_1ms, share;
  for (const auto& p : points) {
    const PreparedPoint x = prepare(p);
    loss.push_back(p.loss);
    log_n.push_back(x.log_n);
    log_1ms.push_back(x.log_1ms);
    share.push_back(1.0 - x.expert_share);
  }
  const double l_med = median(loss);
  const double log_n_med = median(log_n);
  const double log_1ms_med = median(log_1ms);
  const double attention_share_med = median(share);

  std::vector<std::vector<double>> starts;
  const size_t n_bases = std::min<size_t>(2, chinchilla_optima.size());
  for (size_t i = 0; i < n_bases; ++i) {
    const auto& c = chinchilla_optima[i];  // log E, log A, log B, alpha, beta
    const double log_e = c[0], log_a = c[1], log_b = c[2], alpha = c[3], beta = c[4];
    for (double frac : {0.01, 0.1}) {
      const double log_size = std::log(frac * l_med);
      switch (law) {
        case LossLaw::kWang:
          if (frac != 0.01) break;  // wang has no extra term to size
          for (double gamma : {-0.5, -0.25, 0.0, 0.25, 0.5}) {
            starts.push_back({log_a, alpha, gamma, log_b, beta, log_e});
          }
          break;
        case LossLaw::kMoe:
          for (double gamma : {-0.5, 0.0, 0.5}) {
            for (double lambda : {0.0, 0.25, 0.5}) {
              for (double d : {-0.05, 0.0, 0.05}) {
                const double log_c =
                    log_size - attention_share_med - gamma * log_1ms_med + lambda * log_n_med;
                starts.push_back(
                    {log_a, alpha, log_b, beta, log_c, gamma, lambda, d * l_med, log_e});
              }
            }
          }
          break;
        case LossLaw::kAbnar:
          for (double lambda : {0.0, 0.5}) {
            for (double frac_d : {0.01, 0.1}) {
              for (double delta_exp : {0.0, 0.5}) {
                for (double gamma : {0.0, 0.5}) {
                  const double log_c = log_size + lambda * log_1ms_med;
                  const double log_d =
                      std::log(frac_d * l_med) + delta_exp * log_1ms_med + gamma * log_n_med;
                  starts.push_back(
                      {log_a, alpha, log_b, beta, log_c, lambda, log_d, delta_exp, gamma, log_e});
                }
              }
            }
          }
          break;
        default:
          throw std::logic_error("extended starts are for moe, wang and abnar");
      }
    }
  }
  return starts;
}

const Estimate& LawFit::param(const std::string& name) const {
  const auto& names = law_info(law).params;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return params[i];
  }
  throw std::invalid_argument(fmt::format("law {} has no parameter {}", law_info(law).name, name));
}

void check_points(LossLaw law, const std::vector<LossPoint>& points, const RoleNames& roles) {
  const LawInfo& info = law_info(law);
  const int k = n_params(law);
  const bool power = law == LossLaw::kPower || law == LossLaw::kPowerNoOffset;
  const std::string x_role = power ? "x" : "N";
  if (static_cast<int>(points.size()) < k) {
    throw InputError(fmt::format("{}: {} point{} but the law has {} parameters; give at least {}",
                                 info.name, points.size(), points.size() == 1 ? "" : "s", k, k));
  }
  const bool uses_d = !power;
  const bool uses_s = law == LossLaw::kMoe || law == LossLaw::kWang || law == LossLaw::kAbnar;
  const bool uses_r = law == LossLaw::kMoe;
  std::vector<double> n, d, s, r;
  for (const auto& p : points) {
    auto bad = [&](const std::string& role, double v, const std::string& need) {
      throw InputError(
          fmt::format("{}: {} = {} {}", info.name, describe_role(roles, role), v, need));
    };
    if (!(std::isfinite(p.loss) && p.loss > 0)) {
      bad("loss", p.loss, "must be a finite number > 0 (its logarithm is taken)");
    }
    if (!(std::isfinite(p.n) && p.n > 0)) {
      bad(x_role, p.n, "must be a finite number > 0 (its logarithm is taken)");
    }
    if (uses_d && !(std::isfinite(p.d) && p.d > 0)) {
      bad("D", p.d, "must be a finite number > 0 (its logarithm is taken)");
    }
    if (uses_s && !(std::isfinite(p.s) && p.s >= 0 && p.s < 1)) {
      bad("S", p.s, "must lie in [0, 1) (log(1 - S) is taken)");
    }
    if (uses_r && !(std::isfinite(p.r) && p.r > 0)) bad("r", p.r, "must be a finite number > 0");
    n.push_back(p.n);
    d.push_back(p.d);
    s.push_back(p.s);
    r.push_back(p.r);
  }
  require_distinct(n, law == LossLaw::kPower ? 3 : 2, info.name, x_role, roles,
                   "its exponent is fitted");
  if (uses_d) require_distinct(d, 2, info.name, "D", roles, "its exponent is fitted");
  if (uses_s) require_distinct(s, 2, info.name, "S", roles, "the sparsity exponents are fitted");
  if (uses_r) require_distinct(r, 2, info.name, "r", roles, "the r terms are fitted");
}

std::vector<std::vector<double>> default_starts(LossLaw law, const std::vector<LossPoint>& points,
                                                double huber_delta) {
  switch (law) {
    case LossLaw::kPower:
      return power_starts(points, true);
    case LossLaw::kPowerNoOffset:
      return power_starts(points, false);
    case LossLaw::kChinchilla:
      return chinchilla_grid();
    case LossLaw::kMoe:
    case LossLaw::kWang:
    case LossLaw::kAbnar: {
      const MultiStartResult base =
          solve(LossLaw::kChinchilla, points, huber_delta, chinchilla_grid(), SolveSettings{});
      std::vector<std::vector<double>> optima;
      for (const auto& o : base.distinct) optima.push_back(o.params);
      return extended_starts(law, points, optima);
    }
  }
  throw std::logic_error("unknown law");
}

double log_huber_objective(LossLaw law, const std::vector<double>& raw,
                           const std::vector<LossPoint>& points, double huber_delta) {
  std::vector<PreparedPoint> pts;
  for (const auto& p : points) pts.push_back(prepare(p));
  return objective_prepared(law, raw.data(), pts, huber_delta);
}

double ceres_cost(LossLaw law, const std::vector<double>& raw, const std::vector<LossPoint>& points,
                  double huber_delta) {
  ceres::HuberLoss huber_loss(huber_delta);
  ceres::Problem::Options problem_options;
  problem_options.loss_function_ownership = ceres::DO_NOT_TAKE_OWNERSHIP;
  ceres::Problem problem(problem_options);
  std::vector<double> block = raw;
  for (const auto& p : points) {
    problem.AddResidualBlock(make_cost(law, prepare(p)), &huber_loss, block.data());
  }
  double cost = 0;
  problem.Evaluate(ceres::Problem::EvaluateOptions(), &cost, nullptr, nullptr, nullptr);
  return cost;
}

LawFit fit_loss_law(LossLaw law, const std::vector<LossPoint>& points,
                    const LawFitOptions& options) {
  check_points(law, points, options.roles);
  check_bootstrap(options.bootstrap);
  if (!(options.huber_delta > 0)) {
    throw InputError(fmt::format("--huber-delta {} must be > 0", options.huber_delta));
  }
  const std::vector<std::vector<double>> starts =
      options.starts.empty() ? default_starts(law, points, options.huber_delta) : options.starts;
  const MultiStartResult full = solve(law, points, options.huber_delta, starts, options.solve);

  LawFit fit;
  fit.law = law;
  fit.raw = full.best.params;
  fit.objective = full.best.objective;
  fit.huber_delta = options.huber_delta;
  fit.n_points = static_cast<int>(points.size());
  fit.n_starts = full.n_starts;
  fit.n_solved = full.n_solved;
  fit.n_converged = full.n_converged;
  fit.n_bootstrap = options.bootstrap;
  fit.seed = options.seed;
  for (const auto& opt : full.distinct) fit.local_optima.push_back(opt.params);

  fit.n_at_best = full.n_at_best;
  fit.escalated = full.escalated;

  // Bootstrap: each resample searches from the starts the full fit's screening kept (every
  // start when it did not screen) and from the full fit's distinct optima, each solved to
  // convergence: starting only from the best would keep every replicate in its basin and
  // narrow the intervals. A resample with no finite objective anywhere is dropped and counted.
  std::vector<std::vector<double>> replicate_starts = full.solved_from;
  replicate_starts.insert(replicate_starts.end(), fit.local_optima.begin(), fit.local_optima.end());
  SolveSettings replicate_solve = options.solve;
  replicate_solve.exhaustive = true;
  // The resamples are drawn in order (same seed, same intervals) and solved in parallel.
  Rng rng(options.seed);
  std::vector<std::vector<size_t>> draws;
  for (int b = 0; b < options.bootstrap; ++b) draws.push_back(resample_indices(points.size(), rng));
  std::vector<std::optional<MultiStartResult>> reps(draws.size());
  parallel_for(draws.size(), 0, [&](size_t b) {
    std::vector<LossPoint> sample;
    for (size_t i : draws[b]) sample.push_back(points[i]);
    try {
      reps[b] = solve(law, sample, options.huber_delta, replicate_starts, replicate_solve);
    } catch (const std::runtime_error&) {
      // no finite objective from any start: dropped, counted below
    }
  });
  for (const auto& rep : reps) {
    if (!rep) {
      ++fit.n_bootstrap_dropped;
      continue;
    }
    fit.bootstrap_raw.push_back(rep->best.params);
    fit.n_bootstrap_escalated += rep->escalated ? 1 : 0;
  }
  fit.n_bootstrap_ok = static_cast<int>(fit.bootstrap_raw.size());

  const std::vector<double> natural = to_natural(law, fit.raw);
  fit.params.resize(natural.size());
  for (size_t i = 0; i < natural.size(); ++i) {
    fit.params[i].value = natural[i];
    if (fit.bootstrap_raw.empty()) continue;
    std::vector<double> samples;
    for (const auto& raw : fit.bootstrap_raw) samples.push_back(to_natural(law, raw)[i]);
    std::tie(fit.params[i].ci_low, fit.params[i].ci_high) = percentile_interval(samples);
  }
  return fit;
}

nlohmann::json to_json(const LawFit& fit) {
  const LawInfo& info = law_info(fit.law);
  nlohmann::json params = nlohmann::json::object(), ci = nlohmann::json::object();
  for (size_t i = 0; i < info.params.size(); ++i) {
    params[info.params[i]] = fit.params[i].value;
    ci[info.params[i]] = ci_to_json(fit.params[i]);
  }
  return {
      {"law", info.name},
      {"formula", info.formula},
      {"source", info.source},
      {"params", params},
      {"ci", ci},
      {"objective", fit.objective},
      {"huber_delta", fit.huber_delta},
      {"n_points", fit.n_points},
      {"n_starts", fit.n_starts},
      {"n_solved", fit.n_solved},
      {"n_converged", fit.n_converged},
      {"n_at_best", fit.n_at_best},
      {"escalated_to_every_start", fit.escalated},
      {"bootstrap",
       {{"replicates", fit.n_bootstrap},
        {"ok", fit.n_bootstrap_ok},
        {"dropped", fit.n_bootstrap_dropped},
        {"escalated", fit.n_bootstrap_escalated},
        {"seed", fit.seed}}},
  };
}

ErrorFigures error_figures(const LawFit& fit, const std::vector<LossPoint>& points) {
  ErrorFigures e;
  e.n_points = static_cast<int>(points.size());
  if (points.empty()) return e;
  double se = 0, ape = 0;
  for (const auto& p : points) {
    const double hat = fit.predict(p);
    se += (hat - p.loss) * (hat - p.loss);
    ape += std::fabs(hat - p.loss) / p.loss;
  }
  e.rmse = std::sqrt(se / static_cast<double>(points.size()));
  e.mape = 100.0 * ape / static_cast<double>(points.size());
  return e;
}

nlohmann::json to_json(const ErrorFigures& e) {
  return {{"rmse", e.rmse}, {"mape_percent", e.mape}, {"n_points", e.n_points}};
}

}  // namespace moe::scaling
