#include "scaling/band.h"

#include <fmt/format.h>

#include <Eigen/Dense>
#include <algorithm>
#include <array>
#include <cmath>
#include <nlohmann/json.hpp>
#include <tuple>

#include "common/errors.h"

namespace moe::scaling {

namespace {

// One budget's curve and band, from its points (no interval).
struct BudgetBand {
  bool bracketed = false;
  std::string note;
  double x_opt = kNaN, x_low = kNaN, x_high = kNaN, loss_opt = kNaN;
  std::array<double, 3> coefficients = {kNaN, kNaN, kNaN};  // BandOptimum::coefficients
  double center = 0;
};

std::string outside_note(double x_opt, double x_min, double x_max) {
  return fmt::format("minimum {} the swept range [{:.4g}, {:.4g}]: extend the sweep",
                     x_opt <= x_min ? "below" : "above", x_min, x_max);
}

size_t distinct_x(const std::vector<IsoflopPoint>& group) {
  std::vector<double> x;
  for (const auto& p : group) x.push_back(p.x);
  std::sort(x.begin(), x.end());
  return static_cast<size_t>(std::unique(x.begin(), x.end()) - x.begin());
}

BudgetBand quadratic_band(const std::vector<IsoflopPoint>& group, const BandOptions& o,
                          double x_min, double x_max) {
  const bool log = o.curve == BandCurve::kLogQuadratic;
  std::vector<double> u, loss;
  for (const auto& p : group) {
    u.push_back(log ? std::log(p.x) : p.x);
    loss.push_back(p.loss);
  }
  BudgetBand b;
  const Parabola q = fit_parabola(u, loss);
  b.coefficients = q.c;
  b.center = q.center;
  if (!(q.c[2] > 0)) {
    b.note = "no minimum: the fitted quadratic opens downward";
    return b;
  }
  auto to_x = [&](double w) { return log ? std::exp(w) : w; };
  const double v = q.vertex_log_x();  // the vertex in u
  if (!(to_x(v) > x_min && to_x(v) < x_max)) {
    b.note = outside_note(to_x(v), x_min, x_max);
    return b;
  }
  b.bracketed = true;
  b.loss_opt = q.value(v);
  const double half = std::sqrt(o.band * std::abs(b.loss_opt) / q.c[2]);
  b.x_opt = to_x(v);
  b.x_low = to_x(v - half);
  b.x_high = to_x(v + half);
  return b;
}

// loss = c + a/(x - lower) + b g(x), g(x) = x, or 1/(upper - x) with an upper pole.
struct PoleCurve {
  double c = kNaN, a = kNaN, b = kNaN, lower = kNaN, upper = kNaN;
  bool two_poles() const { return std::isfinite(upper); }
  double g(double x) const { return two_poles() ? 1 / (upper - x) : x; }
  double value(double x) const { return c + a / (x - lower) + b * g(x); }
};

// The x in (from, to) where the curve, monotone there, crosses `level`.
double crossing(const PoleCurve& q, double from, double to, double level) {
  const bool rising = q.value(to) > q.value(from);
  for (int i = 0; i < 200; ++i) {
    const double mid = (from + to) / 2;
    ((q.value(mid) > level) == rising ? to : from) = mid;
  }
  return (from + to) / 2;
}

BudgetBand pole_band(const std::vector<IsoflopPoint>& group, const BandOptions& o, double x_min,
                     double x_max) {
  PoleCurve q;
  q.lower = o.lower;
  q.upper = o.upper;
  Eigen::MatrixXd design(static_cast<Eigen::Index>(group.size()), 3);
  Eigen::VectorXd y(static_cast<Eigen::Index>(group.size()));
  for (size_t i = 0; i < group.size(); ++i) {
    const auto r = static_cast<Eigen::Index>(i);
    design(r, 0) = 1;
    design(r, 1) = 1 / (group[i].x - q.lower);
    design(r, 2) = q.g(group[i].x);
    y(r) = group[i].loss;
  }
  const Eigen::Vector3d coef = design.colPivHouseholderQr().solve(y);
  q.c = coef(0);
  q.a = coef(1);
  q.b = coef(2);
  BudgetBand b;
  b.coefficients = {q.c, q.a, q.b};
  if (!(q.a > 0 && q.b > 0)) {
    b.note = fmt::format(
        "no minimum: the fitted curve needs a > 0 and b > 0 (a = {:.3g}, b = {:.3g})", q.a, q.b);
    return b;
  }
  const double s = std::sqrt(q.b / q.a);
  const double x_opt = q.two_poles() ? (q.upper + s * q.lower) / (1 + s) : q.lower + 1 / s;
  if (!(x_opt > x_min && x_opt < x_max)) {
    b.note = outside_note(x_opt, x_min, x_max);
    return b;
  }
  b.bracketed = true;
  b.x_opt = x_opt;
  b.loss_opt = q.value(x_opt);
  const double level = b.loss_opt + o.band * std::abs(b.loss_opt);
  // Convex on each side of its minimum: rising to +inf at the poles, linearly without one.
  b.x_low = crossing(q, q.lower + (x_opt - q.lower) * 1e-12, x_opt, level);
  double right = q.two_poles() ? q.upper - (q.upper - x_opt) * 1e-12 : 2 * x_opt - q.lower;
  while (!q.two_poles() && q.value(right) < level) right = x_opt + 2 * (right - x_opt);
  b.x_high = crossing(q, x_opt, right, level);
  return b;
}

BudgetBand band_of(const std::vector<IsoflopPoint>& group, const BandOptions& o, double x_min,
                   double x_max) {
  if (distinct_x(group) < 3) {
    BudgetBand b;
    b.note = "fewer than 3 distinct x values: no curve";
    return b;
  }
  return o.curve == BandCurve::kPole ? pole_band(group, o, x_min, x_max)
                                     : quadratic_band(group, o, x_min, x_max);
}

Line law_of(const std::vector<double>& compute, const std::vector<double>& y) {
  std::vector<double> lc, ly;
  for (size_t i = 0; i < y.size(); ++i) {
    if (!(y[i] > 0) || !std::isfinite(y[i])) continue;
    lc.push_back(std::log(compute[i]));
    ly.push_back(std::log(y[i]));
  }
  return fit_line(lc, ly);
}

// The four quantities a law is fitted to, per budget.
std::vector<double> quantity(const std::vector<BudgetBand>& bands, int which) {
  std::vector<double> out;
  for (const auto& b : bands) {
    out.push_back(which == 0   ? b.x_opt
                  : which == 1 ? b.x_low
                  : which == 2 ? b.x_high
                               : b.x_high - b.x_low);
  }
  return out;
}

const char* const kLawNames[] = {"x_opt", "x_low", "x_high", "width"};

void check(const std::vector<IsoflopPoint>& points, const BandOptions& o) {
  if (points.empty()) throw InputError("band: no points");
  if (!(o.band > 0 && o.band < 1)) {
    throw InputError(fmt::format("--band {} must be between 0 and 1 (0.001 is 0.1%)", o.band));
  }
  const bool pole = o.curve == BandCurve::kPole;
  if (pole && !std::isfinite(o.lower)) {
    throw InputError(
        "--curve pole needs --lower, the pole below the data (6 for M/N_a, 1 for N/N_a)");
  }
  if (pole && std::isfinite(o.upper) && !(o.upper > o.lower)) {
    throw InputError(fmt::format("--upper {} must be above --lower {}", o.upper, o.lower));
  }
  if (!pole && (std::isfinite(o.lower) || std::isfinite(o.upper))) {
    throw InputError("--lower and --upper apply to --curve pole only");
  }
  for (const auto& p : points) {
    if (!(std::isfinite(p.compute) && p.compute > 0)) {
      throw InputError(fmt::format("band: C = {} must be a finite number > 0", p.compute));
    }
    if (!std::isfinite(p.loss)) {
      throw InputError(fmt::format("band: loss = {} must be a finite number", p.loss));
    }
    if (!std::isfinite(p.x) || (o.curve == BandCurve::kLogQuadratic && !(p.x > 0))) {
      throw InputError(fmt::format("band: x = {} must be finite{}", p.x,
                                   o.curve == BandCurve::kLogQuadratic
                                       ? " and > 0 (the log quadratic takes its logarithm)"
                                       : ""));
    }
    if (pole && !(p.x > o.lower && (!std::isfinite(o.upper) || p.x < o.upper))) {
      throw InputError(
          fmt::format("band: x = {} must lie {} (the curve's poles)", p.x,
                      std::isfinite(o.upper)
                          ? fmt::format("between --lower {} and --upper {}", o.lower, o.upper)
                          : fmt::format("above --lower {}", o.lower)));
    }
  }
}

}  // namespace

std::string to_string(BandCurve c) {
  switch (c) {
    case BandCurve::kLogQuadratic:
      return "log-quadratic";
    case BandCurve::kPole:
      return "pole";
    case BandCurve::kQuadratic:
      break;
  }
  return "quadratic";
}

BandCurve parse_band_curve(const std::string& s) {
  for (BandCurve c : {BandCurve::kQuadratic, BandCurve::kLogQuadratic, BandCurve::kPole}) {
    if (to_string(c) == s) return c;
  }
  throw InputError("--curve " + s + " is not a curve: use quadratic, log-quadratic or pole");
}

namespace {

// One budget's optimum and band, from its points.
BandOptimum budget_optimum(const std::vector<IsoflopPoint>& g, const BandOptions& options,
                           BudgetBand& band) {
  BandOptimum o;
  o.compute = g.front().compute;
  o.n_points = static_cast<int>(g.size());
  o.x_min = INFINITY;
  o.x_max = -INFINITY;
  for (const auto& p : g) {
    o.x_min = std::min(o.x_min, p.x);
    o.x_max = std::max(o.x_max, p.x);
  }
  band = band_of(g, options, o.x_min, o.x_max);
  o.bracketed = band.bracketed;
  o.note = band.note;
  o.x_opt.value = band.x_opt;
  o.x_low.value = band.x_low;
  o.x_high.value = band.x_high;
  o.loss_opt = band.loss_opt;
  o.coefficients = band.coefficients;
  o.center = band.center;
  o.edges_inside = band.bracketed && band.x_low >= o.x_min && band.x_high <= o.x_max;
  return o;
}

// What the replicates give: per budget (x_opt, x_low, x_high), per law (k, a) samples.
struct Replicates {
  std::vector<std::vector<std::array<double, 3>>> per_budget;
  std::array<std::array<std::vector<double>, 2>, 4> laws;
};

// Every budget resampled within itself and refitted, then the laws refitted, per replicate.
Replicates bootstrap(const std::vector<std::vector<IsoflopPoint>>& groups, const BandFit& fit,
                     const std::vector<double>& compute) {
  const BandOptions& options = fit.options;
  Replicates out;
  out.per_budget.resize(groups.size());
  Rng rng(options.seed ^ 0x62616e64ULL);  // "band"
  for (int r = 0; r < options.bootstrap; ++r) {
    std::vector<BudgetBand> rep;
    for (size_t i = 0; i < groups.size(); ++i) {
      std::vector<IsoflopPoint> g;
      for (size_t j : resample_indices(groups[i].size(), rng)) g.push_back(groups[i][j]);
      BudgetBand b = band_of(g, options, fit.optima[i].x_min, fit.optima[i].x_max);
      if (!fit.optima[i].bracketed) b = BudgetBand{};  // left out of the laws, as in the fit
      if (b.bracketed) out.per_budget[i].push_back({b.x_opt, b.x_low, b.x_high});
      rep.push_back(b);
    }
    for (size_t w = 0; w < 4; ++w) {
      const Line line = law_of(compute, quantity(rep, static_cast<int>(w)));
      if (!std::isfinite(line.slope)) continue;
      out.laws[w][0].push_back(std::exp(line.intercept));
      out.laws[w][1].push_back(line.slope);
    }
  }
  return out;
}

}  // namespace

BandFit fit_band(const std::vector<IsoflopPoint>& points, const BandOptions& options) {
  check(points, options);
  check_bootstrap(options.bootstrap);
  BandFit fit;
  fit.options = options;
  const auto groups = group_by_budget(points);
  std::vector<BudgetBand> bands(groups.size());
  std::vector<double> compute;
  for (size_t i = 0; i < groups.size(); ++i) {
    fit.optima.push_back(budget_optimum(groups[i], options, bands[i]));
    fit.n_budgets_used += bands[i].bracketed ? 1 : 0;
    compute.push_back(fit.optima[i].compute);
  }
  const Replicates reps = bootstrap(groups, fit, compute);
  for (size_t i = 0; i < groups.size(); ++i) {
    BandOptimum& o = fit.optima[i];
    o.replicates_used = static_cast<int>(reps.per_budget[i].size());
    if (!o.bracketed || reps.per_budget[i].size() < 2) continue;
    Estimate* targets[] = {&o.x_opt, &o.x_low, &o.x_high};
    for (size_t k = 0; k < 3; ++k) {
      std::vector<double> s;
      for (const auto& v : reps.per_budget[i]) s.push_back(v[k]);
      std::tie(targets[k]->ci_low, targets[k]->ci_high) = percentile_interval(s);
    }
  }
  for (size_t w = 0; w < 4; ++w) {
    BandLaw law;
    law.name = kLawNames[w];
    const Line line = law_of(compute, quantity(bands, static_cast<int>(w)));
    law.fitted = fit.n_budgets_used >= 2 && std::isfinite(line.slope);
    if (law.fitted) {
      law.k.value = std::exp(line.intercept);
      law.a.value = line.slope;
      if (reps.laws[w][1].size() >= 2) {
        std::tie(law.k.ci_low, law.k.ci_high) = percentile_interval(reps.laws[w][0]);
        std::tie(law.a.ci_low, law.a.ci_high) = percentile_interval(reps.laws[w][1]);
      }
    }
    fit.laws.push_back(law);
  }
  return fit;
}

nlohmann::json to_json(const BandFit& fit) {
  nlohmann::json optima = nlohmann::json::array();
  for (const auto& o : fit.optima) {
    optima.push_back({{"C", o.compute},
                      {"n_points", o.n_points},
                      {"x_range", {o.x_min, o.x_max}},
                      {"bracketed", o.bracketed},
                      {"note", o.note},
                      {"x_opt", finite_or_null(o.x_opt.value)},
                      {"x_opt_ci", ci_to_json(o.x_opt)},
                      {"x_low", finite_or_null(o.x_low.value)},
                      {"x_low_ci", ci_to_json(o.x_low)},
                      {"x_high", finite_or_null(o.x_high.value)},
                      {"x_high_ci", ci_to_json(o.x_high)},
                      {"loss_opt", finite_or_null(o.loss_opt)},
                      {"coefficients",
                       {finite_or_null(o.coefficients[0]), finite_or_null(o.coefficients[1]),
                        finite_or_null(o.coefficients[2])}},
                      {"center", o.center},
                      {"edges_inside", o.edges_inside},
                      {"replicates_used", o.replicates_used}});
  }
  nlohmann::json laws = nlohmann::json::object();
  for (const auto& l : fit.laws) {
    laws[l.name] = {{"fitted", l.fitted},
                    {"k", finite_or_null(l.k.value)},
                    {"k_ci", ci_to_json(l.k)},
                    {"a", finite_or_null(l.a.value)},
                    {"a_ci", ci_to_json(l.a)}};
  }
  return {{"band", fit.options.band},
          {"curve", to_string(fit.options.curve)},
          {"lower", finite_or_null(fit.options.lower)},
          {"upper", finite_or_null(fit.options.upper)},
          {"bootstrap", fit.options.bootstrap},
          {"seed", fit.options.seed},
          {"budgets_used", fit.n_budgets_used},
          {"optima", optima},
          {"laws", laws}};
}

}  // namespace moe::scaling
