#include "scaling/isoflop.h"

#include <fmt/format.h>

#include <Eigen/Dense>
#include <algorithm>
#include <boost/math/distributions/fisher_f.hpp>
#include <boost/math/distributions/students_t.hpp>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "common/errors.h"
#include "scaling/csv.h"

namespace moe::scaling {

namespace {

// The vertex of a budget's parabola in ln x, NaN when it has none (not fitted or c2 <= 0).
double vertex_or_nan(const Parabola& p) {
  if (!p.ok || !(p.c[2] > 0)) return kNaN;
  return p.vertex_log_x();
}

}  // namespace

Parabola fit_parabola(const std::vector<double>& log_x, const std::vector<double>& loss) {
  Parabola p;
  if (std::set<double>(log_x.begin(), log_x.end()).size() < 3) return p;
  const size_t n = log_x.size();
  double center = 0;
  for (double v : log_x) center += v / static_cast<double>(n);
  // Centring u keeps the 3 columns of the design well conditioned whatever the scale of x.
  Eigen::MatrixXd design(n, 3);
  Eigen::VectorXd y(n);
  for (size_t i = 0; i < n; ++i) {
    const double u = log_x[i] - center;
    design(static_cast<Eigen::Index>(i), 0) = 1;
    design(static_cast<Eigen::Index>(i), 1) = u;
    design(static_cast<Eigen::Index>(i), 2) = u * u;
    y(static_cast<Eigen::Index>(i)) = loss[i];
  }
  const Eigen::Vector3d c = design.colPivHouseholderQr().solve(y);
  p.c = {c(0), c(1), c(2)};
  p.center = center;
  p.ok = std::isfinite(c(0)) && std::isfinite(c(1)) && std::isfinite(c(2));
  return p;
}

double IsoflopFit::x_opt_at(double compute) const {
  if (!power_law.fitted) return kNaN;
  return power_law.k.value * std::pow(compute, power_law.a.value);
}

namespace {

void check_points(const std::vector<IsoflopPoint>& points, const IsoflopOptions& options) {
  for (const auto& p : points) {
    if (!(std::isfinite(p.compute) && p.compute > 0)) {
      throw InputError(fmt::format("isoflop: {} = {} must be a finite number > 0",
                                   describe_role(options.roles, "C"), p.compute));
    }
    if (!(std::isfinite(p.x) && p.x > 0)) {
      throw InputError(fmt::format("isoflop: {} = {} must be > 0 (its logarithm is taken)",
                                   describe_role(options.roles, "x"), p.x));
    }
    if (!std::isfinite(p.loss)) {
      throw InputError(fmt::format("isoflop: {} = {} must be a finite number",
                                   describe_role(options.roles, "loss"), p.loss));
    }
  }
}

}  // namespace

std::vector<std::vector<IsoflopPoint>> group_by_budget(const std::vector<IsoflopPoint>& points) {
  std::vector<IsoflopPoint> sorted = points;
  std::stable_sort(sorted.begin(), sorted.end(), [](const IsoflopPoint& a, const IsoflopPoint& b) {
    return a.compute < b.compute;
  });
  std::vector<std::vector<IsoflopPoint>> budgets;
  for (const auto& p : sorted) {
    if (budgets.empty() || !same_group(budgets.back().front().compute, p.compute)) {
      budgets.emplace_back();
    }
    budgets.back().push_back(p);
  }
  return budgets;
}

namespace {

// kCurvePoints (x, loss) over the swept range, log-spaced, of a valley given as loss(ln x).
template <typename Valley>
std::vector<std::array<double, 2>> sample_curve(const BudgetOptimum& o, Valley valley) {
  std::vector<std::array<double, 2>> out;
  const double lo = std::log(o.x_min), hi = std::log(o.x_max);
  for (int j = 0; j < kCurvePoints; ++j) {
    const double u = lo + (hi - lo) * j / (kCurvePoints - 1);
    out.push_back({std::exp(u), valley(u)});
  }
  return out;
}

// One budget's parabola in log x and its vertex, when the swept range brackets it.
BudgetOptimum budget_optimum(const std::vector<IsoflopPoint>& group,
                             const IsoflopOptions& options) {
  BudgetOptimum o;
  o.compute = group.front().compute;
  o.n_points = static_cast<int>(group.size());
  std::vector<double> log_x, loss;
  o.x_min = INFINITY;
  o.x_max = 0;
  for (const auto& p : group) {
    log_x.push_back(std::log(p.x));
    loss.push_back(p.loss);
    o.x_min = std::min(o.x_min, p.x);
    o.x_max = std::max(o.x_max, p.x);
  }
  o.parabola = fit_parabola(log_x, loss);
  if (o.parabola.ok) o.curve = sample_curve(o, [&](double u) { return o.parabola.value(u); });
  if (!o.parabola.ok) {
    o.note = fmt::format("fewer than 3 distinct {} values: no parabola",
                         describe_role(options.roles, "x"));
  } else {
    const double v = vertex_or_nan(o.parabola);
    if (std::isnan(v)) {
      o.note = "no minimum: the fitted parabola opens downward";
    } else if (!(v > std::log(o.x_min) && v < std::log(o.x_max))) {
      o.note = fmt::format("minimum {} the swept range [{:.4g}, {:.4g}]: extend the sweep",
                           v <= std::log(o.x_min) ? "below" : "above", o.x_min, o.x_max);
    } else {
      o.bracketed = true;
      o.x_opt = std::exp(v);
      o.x_opt_parabola = o.x_opt;
      o.loss_opt = o.parabola.value(v);
    }
  }
  return o;
}

// Stratified bootstrap: one replicate resamples every budget; fills each optimum's interval.
void bootstrap_optima(const std::vector<std::vector<IsoflopPoint>>& budgets,
                      const IsoflopOptions& options, IsoflopFit& fit) {
  Rng rng(options.seed);
  std::vector<std::vector<double>> samples(budgets.size());
  for (int b = 0; b < options.bootstrap; ++b) {
    std::vector<double> rep(budgets.size(), kNaN);
    for (size_t i = 0; i < budgets.size(); ++i) {
      const auto& group = budgets[i];
      const auto idx = resample_indices(group.size(), rng);
      // Three points fit a parabola exactly: every resample with a vertex has the same one, a
      // zero-width interval that would claim certainty the data do not hold.
      if (group.size() <= 3) continue;
      std::vector<double> log_x, loss;
      for (size_t k : idx) {
        log_x.push_back(std::log(group[k].x));
        loss.push_back(group[k].loss);
      }
      const double v = vertex_or_nan(fit_parabola(log_x, loss));
      if (std::isnan(v)) continue;
      rep[i] = std::exp(v);
      samples[i].push_back(rep[i]);
    }
    fit.replicate_x_opt.push_back(rep);
  }
  for (size_t i = 0; i < budgets.size(); ++i) {
    BudgetOptimum& o = fit.optima[i];
    o.n_bootstrap_ok = static_cast<int>(samples[i].size());
    if (o.bracketed && !samples[i].empty()) {
      std::tie(o.ci_low, o.ci_high) = percentile_interval(samples[i]);
    } else if (o.bracketed && options.bootstrap > 0 && budgets[i].size() <= 3) {
      o.note = "3 points fit the parabola exactly: no residual to bootstrap a CI from";
    }
  }
}

// The budgets the walls model can fit (3 distinct x), as log x and loss.
struct WallsData {
  std::vector<size_t> budget;  // index into the budgets
  std::vector<std::vector<double>> log_x, loss;
};

WallsData walls_data(const std::vector<std::vector<IsoflopPoint>>& budgets, const IsoflopFit& fit) {
  WallsData d;
  for (size_t i = 0; i < budgets.size(); ++i) {
    if (!fit.optima[i].parabola.ok) continue;
    d.budget.push_back(i);
    d.log_x.emplace_back();
    d.loss.emplace_back();
    for (const auto& p : budgets[i]) {
      d.log_x.back().push_back(std::log(p.x));
      d.loss.back().push_back(p.loss);
    }
  }
  return d;
}

// Each budget's minimum under a walls fit: ln x*, NaN when none inside its swept range.
std::vector<double> walls_minima(const WallsFit& walls, const WallsData& d) {
  std::vector<double> out;
  for (size_t k = 0; k < d.budget.size(); ++k) {
    const auto [lo, hi] = std::minmax_element(d.log_x[k].begin(), d.log_x[k].end());
    out.push_back(walls.argmin(k, *lo, *hi));
  }
  return out;
}

// The optima from the walls model fitted to every budget at once (valley.h).
void apply_walls(const WallsData& d, const IsoflopOptions& options, IsoflopFit& fit) {
  fit.walls = fit_walls(options.valley, d.log_x, d.loss);
  fit.valley = options.valley;
  auto at_bound = [](double e) {
    return e <= kMinExponent * (1 + 1e-6) || e >= kMaxExponent * (1 - 1e-6);
  };
  if (at_bound(fit.walls.a) || at_bound(fit.walls.b)) {
    fit.valley_note = fmt::format(
        "the walls' exponents reached the search bounds (a = {:.3g}, b = {:.3g}): these "
        "valleys barely curve, so r* is poorly determined",
        fit.walls.a, fit.walls.b);
  }
  const std::vector<double> minima = walls_minima(fit.walls, d);
  for (size_t k = 0; k < d.budget.size(); ++k) {
    BudgetOptimum& o = fit.optima[d.budget[k]];
    o.bracketed = std::isfinite(minima[k]);
    o.x_opt = o.bracketed ? std::exp(minima[k]) : kNaN;
    o.loss_opt = o.bracketed ? fit.walls.value(k, minima[k]) : kNaN;
    o.curve = sample_curve(o, [&](double u) { return fit.walls.value(k, u); });
    if (o.bracketed) {
      o.note.clear();
    } else {
      const bool below =
          fit.walls.value(k, std::log(o.x_min)) < fit.walls.value(k, std::log(o.x_max));
      o.note = fmt::format("minimum {} the swept range [{:.4g}, {:.4g}]: extend the sweep",
                           below ? "below" : "above", o.x_min, o.x_max);
    }
  }
}

// Pure error from replicated runs (same budget, same x within the grouping rule) and the F test
// of the walls fit's lack of fit against it.
LackOfFit lack_of_fit(const WallsData& d, const WallsFit& walls) {
  LackOfFit out;
  double ss_pure = 0;
  for (size_t k = 0; k < d.log_x.size(); ++k) {
    std::vector<bool> seen(d.log_x[k].size(), false);
    for (size_t j = 0; j < d.log_x[k].size(); ++j) {
      if (seen[j]) continue;
      std::vector<double> cell;
      for (size_t m = j; m < d.log_x[k].size(); ++m) {
        if (!seen[m] && same_group(std::exp(d.log_x[k][m]), std::exp(d.log_x[k][j]))) {
          seen[m] = true;
          cell.push_back(d.loss[k][m]);
        }
      }
      if (cell.size() < 2) continue;
      ++out.replicated_cells;
      double mean = 0;
      for (double y : cell) mean += y / static_cast<double>(cell.size());
      for (double y : cell) ss_pure += (y - mean) * (y - mean);
      out.df_pure += static_cast<int>(cell.size()) - 1;
    }
  }
  if (out.df_pure == 0) return out;
  out.pure_error_sd = std::sqrt(ss_pure / out.df_pure);
  out.df_lack = walls.n_points - walls.n_params() - out.df_pure;
  if (out.df_lack < 1 || !(ss_pure > 0)) return out;
  out.tested = true;
  out.f = std::max(0.0, walls.sse - ss_pure) / out.df_lack / (ss_pure / out.df_pure);
  out.p_value = boost::math::cdf(
      boost::math::complement(boost::math::fisher_f(out.df_lack, out.df_pure), out.f));
  return out;
}

// Parametric bootstrap of the walls fit: the fitted valleys plus normal noise whose scale is
// itself drawn, sigma*^2 = s^2 df / chi2(df) with s^2 = SSE / df, so that the few residual
// degrees of freedom of a small sweep widen the intervals as a t quantile would (resampling
// the residuals alone treats s as exact and under-covers: 85% with 4 points per budget).
void bootstrap_walls(const WallsData& d, const IsoflopOptions& options, IsoflopFit& fit) {
  const int df = fit.walls.n_points - fit.walls.n_params();
  if (df < 1) {
    fit.interval_note = "as many parameters as points: no residual to give intervals from";
    return;
  }
  const double s = std::sqrt(fit.walls.sse / df);
  Rng rng(options.seed);
  std::vector<std::vector<double>> samples(fit.optima.size());
  for (int b = 0; b < options.bootstrap; ++b) {
    double chi2 = 0;
    for (int k = 0; k < df; ++k) chi2 += std::pow(rng.normal(), 2);
    const double sigma = s * std::sqrt(df / std::max(chi2, 1e-12));
    std::vector<std::vector<double>> loss = d.loss;
    for (size_t k = 0; k < loss.size(); ++k) {
      for (size_t j = 0; j < loss[k].size(); ++j) {
        loss[k][j] = fit.walls.value(k, d.log_x[k][j]) + sigma * rng.normal();
      }
    }
    std::vector<double> rep(fit.optima.size(), kNaN);
    const std::vector<double> minima = walls_minima(fit_walls(options.valley, d.log_x, loss), d);
    for (size_t k = 0; k < d.budget.size(); ++k) {
      if (!std::isfinite(minima[k])) continue;
      rep[d.budget[k]] = std::exp(minima[k]);
      samples[d.budget[k]].push_back(rep[d.budget[k]]);
    }
    fit.replicate_x_opt.push_back(rep);
  }
  for (size_t i = 0; i < fit.optima.size(); ++i) {
    BudgetOptimum& o = fit.optima[i];
    o.n_bootstrap_ok = static_cast<int>(samples[i].size());
    if (o.bracketed && !samples[i].empty()) {
      std::tie(o.ci_low, o.ci_high) = percentile_interval(samples[i]);
      if (!(o.ci_low <= o.x_opt && o.x_opt <= o.ci_high)) {
        o.note = "the estimate lies outside its bootstrap interval: poorly determined here";
      }
    }
  }
}

// The optima scatter about the line by more than their own uncertainty when the power law is
// only approximate (or seeds move whole budgets): the exponent's interval is widened to the
// t interval of the line's own least-squares slope when that is wider (3 or more budgets).
void widen_for_scatter(const std::vector<double>& log_c, const std::vector<double>& log_x,
                       const Line& line, IsoflopPowerLaw& law) {
  const size_t k = log_c.size();
  if (k < 3) {
    law.note =
        "2 budgets: the interval holds the optima's own uncertainty, not their scatter "
        "about the law";
    return;
  }
  double mean = 0, sxx = 0, sse = 0;
  for (double c : log_c) mean += c / static_cast<double>(k);
  for (size_t i = 0; i < k; ++i) {
    sxx += (log_c[i] - mean) * (log_c[i] - mean);
    const double r = log_x[i] - (line.intercept + line.slope * log_c[i]);
    sse += r * r;
  }
  const double se = std::sqrt(sse / static_cast<double>(k - 2) / sxx);
  const double t = boost::math::quantile(
      boost::math::complement(boost::math::students_t(static_cast<double>(k - 2)), 0.025));
  law.a.ci_low = std::min(law.a.ci_low, line.slope - t * se);
  law.a.ci_high = std::max(law.a.ci_high, line.slope + t * se);
  // The line's own prediction band: s sqrt(1/k + (ln C - mean)^2 / Sxx), in ln x*.
  const double s = std::sqrt(sse / static_cast<double>(k - 2));
  for (BandPoint& b : law.band) {
    const double u = std::log(b.compute);
    const double half =
        t * s * std::sqrt(1.0 / static_cast<double>(k) + (u - mean) * (u - mean) / sxx);
    const double centre = line.intercept + line.slope * u;
    b.lo = std::min(b.lo, std::exp(centre - half));
    b.hi = std::max(b.hi, std::exp(centre + half));
  }
}

// The replicate lines' 2.5/97.5 percentiles of x*(C) over the budgets' range, 1.5x each way.
std::vector<BandPoint> replicate_band(const std::vector<double>& log_c,
                                      const std::vector<Line>& lines) {
  const auto [lo, hi] = std::minmax_element(log_c.begin(), log_c.end());
  const double from = *lo - std::log(1.5), to = *hi + std::log(1.5);
  std::vector<BandPoint> band;
  for (int j = 0; j < kCurvePoints; ++j) {
    const double u = from + (to - from) * j / (kCurvePoints - 1);
    std::vector<double> x;
    for (const Line& l : lines) x.push_back(std::exp(l.intercept + l.slope * u));
    BandPoint b;
    b.compute = std::exp(u);
    std::tie(b.lo, b.hi) = percentile_interval(x);
    band.push_back(b);
  }
  return band;
}

// x* = k C^a across bracketed budgets, with intervals from the same replicates.
void fit_power_law(IsoflopFit& fit) {
  std::vector<size_t> used;
  for (size_t i = 0; i < fit.optima.size(); ++i) {
    if (fit.optima[i].bracketed) used.push_back(i);
  }
  IsoflopPowerLaw& law = fit.power_law;
  law.n_budgets = static_cast<int>(used.size());
  if (used.size() >= 2) {
    std::vector<double> log_c, log_x;
    for (size_t i : used) {
      log_c.push_back(std::log(fit.optima[i].compute));
      log_x.push_back(std::log(fit.optima[i].x_opt));
    }
    const Line line = fit_line(log_c, log_x);
    law.fitted = std::isfinite(line.slope);
    law.a.value = line.slope;
    law.k.value = std::exp(line.intercept);
    std::vector<double> a_samples, k_samples;
    std::vector<Line> lines;
    for (const auto& rep : fit.replicate_x_opt) {
      std::vector<double> lc, lx;
      for (size_t i : used) {
        if (std::isnan(rep[i])) continue;
        lc.push_back(std::log(fit.optima[i].compute));
        lx.push_back(std::log(rep[i]));
      }
      const Line l = fit_line(lc, lx);
      if (!std::isfinite(l.slope)) continue;
      a_samples.push_back(l.slope);
      k_samples.push_back(std::exp(l.intercept));
      lines.push_back(l);
    }
    law.n_bootstrap_ok = static_cast<int>(a_samples.size());
    if (!a_samples.empty()) {
      std::tie(law.a.ci_low, law.a.ci_high) = percentile_interval(a_samples);
      std::tie(law.k.ci_low, law.k.ci_high) = percentile_interval(k_samples);
      law.band = replicate_band(log_c, lines);
      widen_for_scatter(log_c, log_x, line, law);
    }
  }
}

}  // namespace

IsoflopFit fit_isoflop(const std::vector<IsoflopPoint>& points, const IsoflopOptions& options) {
  check_bootstrap(options.bootstrap);
  check_points(points, options);
  const auto budgets = group_by_budget(points);
  IsoflopFit fit;
  fit.n_points = static_cast<int>(points.size());
  fit.n_bootstrap = options.bootstrap;
  fit.seed = options.seed;
  bool any_parabola = false;
  for (const auto& group : budgets) {
    fit.optima.push_back(budget_optimum(group, options));
    any_parabola = any_parabola || fit.optima.back().parabola.ok;
  }
  if (!any_parabola) {
    throw InputError(fmt::format(
        "isoflop: no compute budget ({}) has 3 distinct values of {}: a parabola needs 3",
        describe_role(options.roles, "C"), describe_role(options.roles, "x")));
  }
  bool walls = false;
  if (options.valley != ValleyModel::kParabola) {
    const WallsData d = walls_data(budgets, fit);
    try {
      apply_walls(d, options, fit);
      fit.lack_of_fit = lack_of_fit(d, fit.walls);
      bootstrap_walls(d, options, fit);
      walls = true;
    } catch (const InputError& e) {
      fit.valley_note = fmt::format("the {} valley could not be fitted ({}): parabola vertices",
                                    to_string(options.valley), e.what());
    }
  }
  if (!walls) {
    fit.valley = ValleyModel::kParabola;
    bootstrap_optima(budgets, options, fit);
  }
  fit_power_law(fit);
  return fit;
}

std::string describe_seed_noise(const LackOfFit& l) {
  if (l.replicated_cells == 0) {
    return "one run per budget and x (no replicated seeds): run-to-run noise enters the "
           "intervals only as the valleys' scatter; add seeds to the grid to measure it";
  }
  std::string s = fmt::format("{} replicated cells: run-to-run sd of the loss {:.3g} ({} df)",
                              l.replicated_cells, l.pure_error_sd, l.df_pure);
  if (!l.tested) return s + "; no residual degrees beyond them to test the valleys' fit";
  return s + fmt::format("; lack of fit of the valleys F = {:.3g} ({}, {} df), p = {:.3g}{}", l.f,
                         l.df_lack, l.df_pure, l.p_value,
                         l.p_value < 0.05 ? ": the valleys miss more than seed noise explains, "
                                            "and the intervals, from the residuals, include it"
                                          : "");
}

nlohmann::json to_json(const BudgetOptimum& o) {
  // The parabola in plain coefficients of u = ln x: loss = a u^2 + b u + k.
  const auto& c = o.parabola.c;
  const double m = o.parabola.center;
  const nlohmann::json coef =
      o.parabola.ok
          ? nlohmann::json::array({c[2], c[1] - 2 * c[2] * m, c[0] - c[1] * m + c[2] * m * m})
          : nlohmann::json(nullptr);
  return {{"C", o.compute},
          {"x_opt", finite_or_null(o.x_opt)},
          {"ci_low", finite_or_null(o.ci_low)},
          {"ci_high", finite_or_null(o.ci_high)},
          {"bracketed", o.bracketed},
          {"n_points", o.n_points},
          {"x_min", o.x_min},
          {"x_max", o.x_max},
          {"loss_opt", finite_or_null(o.loss_opt)},
          {"x_opt_parabola", finite_or_null(o.x_opt_parabola)},
          {"coef", coef},
          {"curve", o.curve},
          {"bootstrap_ok", o.n_bootstrap_ok},
          {"note", o.note}};
}

nlohmann::json to_json(const IsoflopPowerLaw& p) {
  if (!p.fitted) return nullptr;
  nlohmann::json band = nlohmann::json::array();
  for (const BandPoint& b : p.band) band.push_back({b.compute, b.lo, b.hi});
  return {{"k", p.k.value},
          {"a", p.a.value},
          {"a_ci_low", finite_or_null(p.a.ci_low)},
          {"a_ci_high", finite_or_null(p.a.ci_high)},
          {"k_ci_low", finite_or_null(p.k.ci_low)},
          {"k_ci_high", finite_or_null(p.k.ci_high)},
          {"n_budgets", p.n_budgets},
          {"bootstrap_ok", p.n_bootstrap_ok},
          {"note", p.note},
          {"band", band}};
}

nlohmann::json to_json(const IsoflopFit& fit) {
  nlohmann::json optima = nlohmann::json::array();
  for (const auto& o : fit.optima) optima.push_back(to_json(o));
  nlohmann::json walls = nullptr;
  if (fit.valley != ValleyModel::kParabola) {
    walls = {{"a", fit.walls.a},
             {"b", fit.walls.b},
             {"sse", fit.walls.sse},
             {"n_points", fit.walls.n_points},
             {"n_params", fit.walls.n_params()}};
  }
  const LackOfFit& l = fit.lack_of_fit;
  const nlohmann::json lof = {{"tested", l.tested},
                              {"replicated_cells", l.replicated_cells},
                              {"pure_error_sd", finite_or_null(l.pure_error_sd)},
                              {"df_pure", l.df_pure},
                              {"df_lack", l.df_lack},
                              {"F", finite_or_null(l.f)},
                              {"p_value", finite_or_null(l.p_value)},
                              {"summary", describe_seed_noise(l)}};
  return {{"valley", to_string(fit.valley)},
          {"lack_of_fit", lof},
          {"valley_note", fit.valley_note},
          {"interval_note", fit.interval_note},
          {"walls", walls},
          {"optima", optima},
          {"power_law", to_json(fit.power_law)},
          {"n_points", fit.n_points},
          {"bootstrap", {{"replicates", fit.n_bootstrap}, {"seed", fit.seed}}}};
}

}  // namespace moe::scaling
