#include "scaling/fit.h"

#include <ceres/ceres.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "common/errors.h"
#include "common/hashing.h"

namespace moe::scaling {

double huber(double u, double delta) {
  const double a = std::fabs(u);
  return a <= delta ? 0.5 * u * u : delta * (a - 0.5 * delta);
}

nlohmann::json ci_to_json(const Estimate& e) {
  if (!e.has_ci()) return nlohmann::json::array({nullptr, nullptr});
  return nlohmann::json::array({e.ci_low, e.ci_high});
}

nlohmann::json finite_or_null(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

uint64_t Rng::next() { return mix64(state_ += 0x9E3779B97F4A7C15ULL); }

size_t Rng::index(size_t n) {
  // Lemire's multiply-shift with rejection: exactly uniform, no modulo bias.
  const uint64_t range = n;
  while (true) {
    const unsigned __int128 m = static_cast<unsigned __int128>(next()) * range;
    const uint64_t low = static_cast<uint64_t>(m);
    if (low >= (-range) % range) return static_cast<size_t>(m >> 64);
  }
}

double Rng::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

double Rng::normal() {
  const double u1 = 1.0 - uniform();  // (0, 1]: log is finite
  const double u2 = uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

void check_bootstrap(int n) {
  if (n < 0) {
    throw InputError(fmt::format("--bootstrap {} must be >= 0 (0 disables intervals)", n));
  }
}

double sample_sd(const std::vector<double>& values) {
  if (values.size() < 2) return kNaN;
  double mean = 0, ss = 0;
  for (double v : values) mean += v / static_cast<double>(values.size());
  for (double v : values) ss += (v - mean) * (v - mean);
  return std::sqrt(ss / static_cast<double>(values.size() - 1));
}

Line fit_line(const std::vector<double>& x, const std::vector<double>& y) {
  Line l;
  if (x.size() < 2) return l;
  const double n = static_cast<double>(x.size());
  double mx = 0, my = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    mx += x[i] / n;
    my += y[i] / n;
  }
  double sxx = 0, sxy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sxx += (x[i] - mx) * (x[i] - mx);
    sxy += (x[i] - mx) * (y[i] - my);
  }
  if (!(sxx > 0)) return l;
  l.slope = sxy / sxx;
  l.intercept = my - l.slope * mx;
  return l;
}

std::vector<size_t> resample_indices(size_t n, Rng& rng) {
  std::vector<size_t> idx(n);
  for (auto& i : idx) i = rng.index(n);
  return idx;
}

double percentile(std::vector<double> samples, double q) {
  samples.erase(
      std::remove_if(samples.begin(), samples.end(), [](double v) { return !std::isfinite(v); }),
      samples.end());
  if (samples.empty()) return kNaN;
  std::sort(samples.begin(), samples.end());
  const double pos = q * static_cast<double>(samples.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, samples.size() - 1);
  return samples[lo] + (pos - static_cast<double>(lo)) * (samples[hi] - samples[lo]);
}

std::pair<double, double> percentile_interval(const std::vector<double>& samples, double level) {
  const double tail = 0.5 * (1.0 - level);
  return {percentile(samples, tail), percentile(samples, 1.0 - tail)};
}

std::vector<std::vector<double>> cartesian_grid(const std::vector<std::vector<double>>& axes) {
  std::vector<std::vector<double>> out = {{}};
  for (const auto& axis : axes) {
    std::vector<std::vector<double>> next;
    next.reserve(out.size() * axis.size());
    for (const auto& prefix : out) {
      for (double v : axis) {
        next.push_back(prefix);
        next.back().push_back(v);
      }
    }
    out = std::move(next);
  }
  return out;
}

namespace {

// Two optima are the same when every raw parameter agrees to 1e-2 (relative above 1): flat
// valleys (log A against alpha) leave converged solves of one optimum that far apart.
bool same_optimum(const std::vector<double>& a, const std::vector<double>& b) {
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::fabs(a[i] - b[i]) > 1e-2 * std::max(1.0, std::fabs(a[i]))) return false;
  }
  return true;
}

}  // namespace

MultiStartResult multi_start(ceres::Problem& problem, double* block, int n_params,
                             const std::vector<std::vector<double>>& starts,
                             const std::function<double(const double*)>& objective,
                             const SolveSettings& settings,
                             const std::vector<double>& lower_bounds) {
  for (size_t i = 0; i < lower_bounds.size(); ++i) {
    if (!std::isnan(lower_bounds[i])) {
      problem.SetParameterLowerBound(block, static_cast<int>(i), lower_bounds[i]);
    }
  }
  ceres::Solver::Options options;
  options.minimizer_type = ceres::TRUST_REGION;
  options.trust_region_strategy_type = ceres::LEVENBERG_MARQUARDT;
  options.linear_solver_type = ceres::DENSE_QR;
  // The L1-like tail of the Huber objective makes LM creep along curved valleys; letting the
  // cost rise for a few steps takes ~15% fewer iterations at the same optimum.
  options.use_nonmonotonic_steps = true;
  options.max_num_iterations = settings.max_iterations;
  options.function_tolerance = settings.function_tolerance;
  options.gradient_tolerance = settings.gradient_tolerance;
  options.parameter_tolerance = settings.parameter_tolerance;
  options.logging_type = ceres::SILENT;
  options.minimizer_progress_to_stdout = false;
  options.num_threads = 1;

  auto run = [&](const std::vector<double>& from, const ceres::Solver::Options& o,
                 bool* converged) {
    std::copy(from.begin(), from.end(), block);
    for (size_t i = 0; i < lower_bounds.size(); ++i) {
      if (block[i] < lower_bounds[i]) block[i] = lower_bounds[i];
    }
    ceres::Solver::Summary summary;
    ceres::Solve(o, &problem, &summary);
    if (converged) *converged = summary.termination_type == ceres::CONVERGENCE;
    LocalOptimum opt;
    opt.params.assign(block, block + n_params);
    opt.objective = objective(block);
    return opt;
  };

  MultiStartResult result;
  result.n_starts = static_cast<int>(starts.size());
  std::vector<std::vector<double>> to_solve = starts;
  const size_t polish =
      std::max(static_cast<size_t>(settings.polish_min),
               static_cast<size_t>(
                   std::ceil(settings.polish_fraction * static_cast<double>(starts.size()))));
  const bool screen =
      !settings.exhaustive && settings.screen_iterations > 0 && starts.size() > polish;
  if (screen) {
    ceres::Solver::Options short_run = options;
    short_run.max_num_iterations = settings.screen_iterations;
    std::vector<LocalOptimum> screened;
    screened.reserve(starts.size());
    for (const auto& start : starts) {
      LocalOptimum opt = run(start, short_run, nullptr);
      if (std::isfinite(opt.objective)) screened.push_back(std::move(opt));
    }
    std::stable_sort(
        screened.begin(), screened.end(),
        [](const LocalOptimum& a, const LocalOptimum& b) { return a.objective < b.objective; });
    screened.resize(std::min(screened.size(), polish));
    to_solve.clear();
    for (auto& opt : screened) to_solve.push_back(std::move(opt.params));
  }

  result.solved_from = to_solve;
  std::vector<LocalOptimum> all;
  all.reserve(to_solve.size());
  for (const auto& start : to_solve) {
    bool converged = false;
    LocalOptimum opt = run(start, options, &converged);
    ++result.n_solved;
    if (!std::isfinite(opt.objective)) continue;
    opt.converged = converged;
    if (converged) ++result.n_converged;
    all.push_back(std::move(opt));
  }
  if (all.empty()) {
    throw std::runtime_error(fmt::format("no start of {} gave a finite objective", starts.size()));
  }
  std::stable_sort(all.begin(), all.end(), [](const LocalOptimum& a, const LocalOptimum& b) {
    return a.objective < b.objective;
  });
  const double best_objective = all.front().objective;
  result.n_at_best = static_cast<int>(std::count_if(all.begin(), all.end(), [&](const auto& o) {
    return o.objective <= best_objective + 1e-6 * std::fabs(best_objective) + 1e-12;
  }));
  if (screen && result.n_at_best < 2) {
    SolveSettings whole = settings;
    whole.exhaustive = true;
    MultiStartResult again =
        multi_start(problem, block, n_params, starts, objective, whole, lower_bounds);
    again.escalated = true;
    return again;
  }
  for (const auto& opt : all) {
    if (result.distinct.size() >= 8) break;
    bool seen = false;
    for (const auto& kept : result.distinct) seen = seen || same_optimum(kept.params, opt.params);
    if (!seen) result.distinct.push_back(opt);
  }

  ceres::Solver::Options tight = options;
  tight.max_num_iterations = 4 * settings.max_iterations;
  tight.function_tolerance = settings.function_tolerance / 100;
  tight.parameter_tolerance = settings.parameter_tolerance / 100;
  bool converged = false;
  LocalOptimum polished = run(result.distinct.front().params, tight, &converged);
  if (std::isfinite(polished.objective) &&
      polished.objective <= result.distinct.front().objective) {
    polished.converged = converged || result.distinct.front().converged;
    result.distinct.front() = polished;
  }
  result.best = result.distinct.front();
  return result;
}

std::string describe_role(const RoleNames& roles, const std::string& role) {
  const auto it = roles.find(role);
  if (it == roles.end()) return role;
  return fmt::format("{} (column {})", role, it->second);
}

void require_distinct(const std::vector<double>& values, size_t minimum, const std::string& law,
                      const std::string& role, const RoleNames& roles, const std::string& why) {
  const std::set<double> distinct(values.begin(), values.end());
  if (distinct.size() >= minimum) return;
  throw InputError(fmt::format(
      "{}: {} has {} distinct value{} ({}) but the fit needs at least {}: {}", law,
      describe_role(roles, role), distinct.size(), distinct.size() == 1 ? "" : "s",
      distinct.empty()
          ? std::string("none")
          : fmt::format("{:g}", *distinct.begin()) + (distinct.size() > 1 ? ", ..." : ""),
      minimum, why));
}

}  // namespace moe::scaling
