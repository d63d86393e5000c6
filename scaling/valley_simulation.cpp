#include "scaling/valley_simulation.h"

#include <cmath>

#include "scaling/fit.h"
#include "scaling/isoflop.h"

namespace moe::scaling {

WallsFit planted_allocation(double a, double b, double r_mid, const std::vector<double>& budgets) {
  WallsFit t;
  t.model = ValleyModel::kAllocation;
  t.a = a;
  t.b = b;
  // Walls of order 0.1 nats at the first budget (C measured in units of it), so that the valley
  // is as deep as those of small trained models.
  const double c0 = budgets.front();
  const double c_mid = std::sqrt(budgets.front() * budgets.back()) / c0;
  double lo = -40, hi = 40;  // ln B: a stronger expert wall moves r* up
  for (int it = 0; it < 200; ++it) {
    const double mid = 0.5 * (lo + hi);
    t.coef = {{2.0, 0.1 * std::pow(c_mid, -a), std::exp(mid) * std::pow(c_mid, -b)}};
    (std::exp(t.argmin(0, -30, 30)) > r_mid ? hi : lo) = mid;
  }
  const double big_b = std::exp(0.5 * (lo + hi));
  t.coef.clear();
  for (double c : budgets) {
    t.coef.push_back({2.0, 0.1 * std::pow(c / c0, -a), big_b * std::pow(c / c0, -b)});
  }
  return t;
}

SimulationResult simulate_valleys(const SimulationSetup& setup) {
  std::vector<double> true_log_x, log_c;
  for (size_t i = 0; i < setup.budgets.size(); ++i) {
    true_log_x.push_back(setup.truth.argmin(i, -40, 40));
    log_c.push_back(std::log(setup.budgets[i]));
  }
  const double true_exponent = fit_line(log_c, true_log_x).slope;
  Rng rng(setup.seed);
  SimulationResult out;
  double sum = 0, sum_sq = 0;
  for (int r = 0; r < setup.replicates; ++r) {
    std::vector<IsoflopPoint> points;
    for (size_t i = 0; i < setup.budgets.size(); ++i) {
      for (double x : setup.grid) {
        const double loss = setup.truth.value(i, std::log(x)) + setup.noise * rng.normal();
        points.push_back({setup.budgets[i], x, loss});
      }
    }
    IsoflopOptions options;
    options.valley = setup.valley;
    options.bootstrap = setup.bootstrap;
    options.seed = setup.seed * 1000003 + static_cast<uint64_t>(r);
    const IsoflopFit fit = fit_isoflop(points, options);
    ++out.replicates;
    for (size_t i = 0; i < fit.optima.size(); ++i) {
      const BudgetOptimum& o = fit.optima[i];
      if (!o.bracketed) continue;
      ++out.budget_estimates;
      const double e = std::log(o.x_opt) - true_log_x[i];
      sum += e;
      sum_sq += e * e;
      if (std::isfinite(o.ci_low) && std::isfinite(o.ci_high)) {
        ++out.budget_intervals;
        const double x_true = std::exp(true_log_x[i]);
        out.budget_covered += o.ci_low <= x_true && x_true <= o.ci_high;
      }
    }
    const IsoflopPowerLaw& law = fit.power_law;
    if (law.fitted && law.a.has_ci()) {
      ++out.exponent_fits;
      out.exponent_covered += law.a.ci_low <= true_exponent && true_exponent <= law.a.ci_high;
      out.trend_claims += law.a.ci_low > 0 || law.a.ci_high < 0;
    }
  }
  if (out.budget_estimates > 0) {
    out.mean_log_error = sum / out.budget_estimates;
    out.rms_log_error = std::sqrt(sum_sq / out.budget_estimates);
  }
  return out;
}

}  // namespace moe::scaling
