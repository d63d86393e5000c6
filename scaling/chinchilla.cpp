#include "scaling/chinchilla.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

namespace moe::scaling {

Allocation compute_optimal(double A, double B, double alpha, double beta) {
  Allocation out;
  const double sum = alpha + beta;
  if (!(alpha > 0 && beta > 0 && A > 0 && B > 0)) return out;  // no interior optimum
  out.a = beta / sum;
  out.b = alpha / sum;
  out.G = std::pow(alpha * A / (beta * B), 1.0 / sum);
  return out;
}

double n_opt(const Allocation& allocation, double compute) {
  return allocation.G * std::pow(compute / 6.0, allocation.a);
}

double d_opt(const Allocation& allocation, double compute) {
  return std::pow(compute / 6.0, allocation.b) / allocation.G;
}

std::vector<double> default_budgets(const std::vector<LossPoint>& points) {
  double lo = INFINITY, hi = 0;
  for (const auto& p : points) {
    lo = std::min(lo, 6.0 * p.n * p.d);
    hi = std::max(hi, 6.0 * p.n * p.d);
  }
  std::vector<double> out;
  if (!(lo > 0) || !std::isfinite(hi)) return out;
  for (double e = std::floor(std::log10(lo)); e <= std::ceil(std::log10(hi)); e += 1) {
    out.push_back(std::pow(10.0, e));
  }
  return out;
}

ChinchillaFit fit_chinchilla(const std::vector<LossPoint>& points, const LawFitOptions& options,
                             std::vector<double> budgets) {
  ChinchillaFit fit;
  fit.law = fit_loss_law(LossLaw::kChinchilla, points, options);
  if (budgets.empty()) budgets = default_budgets(points);

  auto allocation_of = [](const std::vector<double>& raw) {
    const auto v = to_natural(LossLaw::kChinchilla, raw);  // E, A, B, alpha, beta
    return compute_optimal(v[1], v[2], v[3], v[4]);
  };
  const Allocation best = allocation_of(fit.law.raw);
  std::vector<Allocation> replicates;
  for (const auto& raw : fit.law.bootstrap_raw) {
    const Allocation r = allocation_of(raw);
    if (std::isfinite(r.a)) {
      replicates.push_back(r);
    } else {
      ++fit.n_replicates_without_allocation;
    }
  }

  auto estimate = [&](double value, const std::function<double(const Allocation&)>& f) {
    Estimate e;
    e.value = value;
    if (replicates.empty()) return e;
    std::vector<double> samples;
    for (const auto& r : replicates) samples.push_back(f(r));
    std::tie(e.ci_low, e.ci_high) = percentile_interval(samples);
    return e;
  };
  fit.a = estimate(best.a, [](const Allocation& r) { return r.a; });
  fit.b = estimate(best.b, [](const Allocation& r) { return r.b; });
  fit.G = estimate(best.G, [](const Allocation& r) { return r.G; });
  for (double c : budgets) {
    ComputeOptimalPoint p;
    p.compute = c;
    p.n_opt = estimate(n_opt(best, c), [c](const Allocation& r) { return n_opt(r, c); });
    p.d_opt = estimate(d_opt(best, c), [c](const Allocation& r) { return d_opt(r, c); });
    fit.optimal.push_back(p);
  }
  return fit;
}

nlohmann::json to_json(const ChinchillaFit& fit) {
  nlohmann::json j = to_json(fit.law);
  nlohmann::json budgets = nlohmann::json::array();
  for (const auto& p : fit.optimal) {
    budgets.push_back({{"C", p.compute},
                       {"N_opt", p.n_opt.value},
                       {"N_opt_ci", ci_to_json(p.n_opt)},
                       {"D_opt", p.d_opt.value},
                       {"D_opt_ci", ci_to_json(p.d_opt)}});
  }
  j["compute_optimal"] = {{"convention", "C = 6 N D"},
                          {"a", fit.a.value},
                          {"a_ci", ci_to_json(fit.a)},
                          {"b", fit.b.value},
                          {"b_ci", ci_to_json(fit.b)},
                          {"G", fit.G.value},
                          {"G_ci", ci_to_json(fit.G)},
                          {"budgets", budgets},
                          {"replicates_without_allocation", fit.n_replicates_without_allocation}};
  return j;
}

}  // namespace moe::scaling
