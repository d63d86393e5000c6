// Planted valleys: the walls fit recovers each budget's optimum and the exponent of x*(C) on
// noise-free valleys that are asymmetric and sampled off-centre, where the parabola is biased.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "common/errors.h"
#include "scaling/isoflop.h"
#include "scaling/valley.h"

namespace sc = moe::scaling;
using sc::ValleyModel;

namespace {

// Budgets C0 * 4^i.
std::vector<double> budgets(double c0, int n) {
  std::vector<double> out;
  for (int i = 0; i < n; ++i) out.push_back(c0 * std::pow(4.0, i));
  return out;
}

// Paper 1's allocation model L = E + A C_A^-a + B C_E^-b as a WallsFit (its exact valleys),
// with B chosen so that r*(C) at the middle budget is `r_mid`.
sc::WallsFit allocation_truth(double a, double b, double r_mid, const std::vector<double>& cs) {
  sc::WallsFit t;
  t.model = ValleyModel::kAllocation;
  t.a = a;
  t.b = b;
  const double c_mid = std::sqrt(cs.front() * cs.back());
  double lo = -80, hi = 80;  // ln B
  for (int it = 0; it < 200; ++it) {
    const double mid = 0.5 * (lo + hi);
    t.coef = {{2.0, std::pow(c_mid, -a), std::exp(mid) * std::pow(c_mid, -b)}};
    (std::exp(t.argmin(0, -30, 30)) > r_mid ? hi : lo) = mid;
  }
  const double big_b = std::exp(0.5 * (lo + hi));
  t.coef.clear();
  for (double c : cs) t.coef.push_back({2.0, std::pow(c, -a), big_b * std::pow(c, -b)});
  return t;
}

// Chinchilla's surface E + A / N^alpha + B / D^beta at fixed C = 6 N D, swept over N.
sc::WallsFit chinchilla_truth(double alpha, double beta, const std::vector<double>& cs) {
  sc::WallsFit t;
  t.model = ValleyModel::kPower;
  t.a = alpha;
  t.b = beta;
  for (double c : cs) t.coef.push_back({1.69, 406.4, 410.7 * std::pow(c / 6, -beta)});
  return t;
}

struct Recovery {
  double worst_budget_error = 0;  // max |x_hat / x_true - 1|
  double exponent_error = 0;      // fitted minus planted exponent of x*(C)
};

double line_slope(const std::vector<double>& x, const std::vector<double>& y) {
  double mx = 0, my = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    mx += x[i] / x.size();
    my += y[i] / y.size();
  }
  double sxy = 0, sxx = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
  }
  return sxy / sxx;
}

// Samples the truth's valleys on `grid` at every budget and fits them with `valley`.
Recovery recover(const sc::WallsFit& truth, const std::vector<double>& cs,
                 const std::vector<double>& grid, ValleyModel valley) {
  std::vector<sc::IsoflopPoint> points;
  std::vector<double> true_log_x, log_c;
  for (size_t i = 0; i < cs.size(); ++i) {
    for (double x : grid) points.push_back({cs[i], x, truth.value(i, std::log(x))});
    true_log_x.push_back(truth.argmin(i, -40, 40));
    REQUIRE(std::exp(true_log_x.back()) > grid.front());  // the valley is inside the sweep
    REQUIRE(std::exp(true_log_x.back()) < grid.back());
    log_c.push_back(std::log(cs[i]));
  }
  sc::IsoflopOptions options;
  options.bootstrap = 0;
  options.valley = valley;
  const sc::IsoflopFit fit = sc::fit_isoflop(points, options);
  Recovery r;
  std::vector<double> fitted;
  for (size_t i = 0; i < cs.size(); ++i) {
    const auto& o = fit.optima[i];
    if (!o.bracketed) return {INFINITY, INFINITY};
    r.worst_budget_error =
        std::max(r.worst_budget_error, std::fabs(o.x_opt / std::exp(true_log_x[i]) - 1));
    fitted.push_back(std::log(o.x_opt));
  }
  r.exponent_error = line_slope(log_c, fitted) - line_slope(log_c, true_log_x);
  return r;
}

const std::vector<std::vector<double>> kRatioGrids = {
    {0.1, 0.2, 0.4, 0.8, 1.6, 3.6},                // the paper's kind of list
    {0.25, 0.5, 1, 2, 4},                          // wide, 5 points
    {0.2, 0.35, 0.6, 1.0, 1.5},                    // narrow, off-centre for low r*
    {0.25, 0.37, 0.55, 0.8, 1.2, 1.8, 2.7, 4, 6},  // 9 points
};

}  // namespace

TEST_CASE("the allocation valley recovers planted optima the parabola misses", "[valley]") {
  const auto cs = budgets(1e15, 4);
  // Asymmetric (a != b), r* rising, falling and flat in C, at several positions in the sweep.
  struct Family {
    double a, b, r_mid;
  };
  double worst_parabola = 0;
  for (const Family f : {Family{0.3, 0.4, 0.8}, Family{0.25, 0.5, 1.0}, Family{0.5, 0.2, 0.6},
                         Family{0.35, 0.35, 1.2}, Family{0.2, 0.6, 0.5}}) {
    const sc::WallsFit truth = allocation_truth(f.a, f.b, f.r_mid, cs);
    for (const auto& grid : kRatioGrids) {
      INFO("a " << f.a << " b " << f.b << " r_mid " << f.r_mid << " grid of " << grid.size());
      const Recovery walls = recover(truth, cs, grid, ValleyModel::kAllocation);
      CHECK(walls.worst_budget_error <= 0.01);
      CHECK(std::fabs(walls.exponent_error) <= 0.005);
      const Recovery parabola = recover(truth, cs, grid, ValleyModel::kParabola);
      worst_parabola = std::max(worst_parabola, parabola.worst_budget_error);
    }
  }
  // The bias this estimator exists to remove is real on these valleys.
  CHECK(worst_parabola > 0.10);
}

TEST_CASE("the power valley recovers Chinchilla's compute-optimal N", "[valley]") {
  const auto cs = budgets(1e18, 4);
  const sc::WallsFit truth = chinchilla_truth(0.34, 0.28, cs);
  for (double lo : {3e6, 1e7, 2e7}) {  // the N grid slides: optima off-centre both ways
    std::vector<double> grid;
    for (int j = 0; j < 7; ++j) grid.push_back(lo * std::pow(2.5, j));
    INFO("N grid from " << lo);
    const Recovery walls = recover(truth, cs, grid, ValleyModel::kPower);
    CHECK(walls.worst_budget_error <= 0.01);
    CHECK(std::fabs(walls.exponent_error) <= 0.005);
  }
}

TEST_CASE("the walls fit says what it cannot fit", "[valley]") {
  CHECK_THROWS_AS(sc::parse_valley_model("spline"), moe::InputError);
  CHECK(sc::to_string(sc::parse_valley_model("power")) == "power");
  // Two budgets of 3 points: 6 points for 8 parameters.
  const std::vector<std::vector<double>> u = {{-1, 0, 1}, {-1, 0, 1}};
  const std::vector<std::vector<double>> l = {{3, 2.5, 3.2}, {2.9, 2.4, 3.0}};
  CHECK_THROWS_WITH(sc::fit_walls(ValleyModel::kAllocation, u, l),
                    Catch::Contains("6 points for the allocation valley's 8 parameters"));
  // A valley that only falls has no interior minimum.
  sc::WallsFit down;
  down.model = ValleyModel::kAllocation;
  down.a = 0.3;
  down.b = 0.3;
  down.coef = {{2, -1, 1}};
  CHECK(std::isnan(down.argmin(0, -2, 2)));
}
