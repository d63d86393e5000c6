// Planted valleys: the walls fit recovers each budget's optimum and the exponent of x*(C) on
// noise-free valleys that are asymmetric and sampled off-centre, where the parabola is biased.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "common/errors.h"
#include "scaling/isoflop.h"
#include "scaling/valley.h"
#include "scaling/valley_simulation.h"

namespace sc = moe::scaling;
using sc::ValleyModel;

namespace {

// Budgets C0 * 4^i.
std::vector<double> budgets(double c0, int n) {
  std::vector<double> out;
  for (int i = 0; i < n; ++i) out.push_back(c0 * std::pow(4.0, i));
  return out;
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
  r.exponent_error = sc::fit_line(log_c, fitted).slope - sc::fit_line(log_c, true_log_x).slope;
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
    const sc::WallsFit truth = sc::planted_allocation(f.a, f.b, f.r_mid, cs);
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

// The fast version of bench/valley_coverage.sh (bench/RESULTS.md has the full tables): with
// noise, the 95% intervals of the budgets' optima cover the planted ones about 95% of the time,
// from 4 points per budget up, and a flat r*(C) is rarely called a trend.
TEST_CASE("valley intervals cover the planted optimum; a flat r* is rarely called a trend",
          "[valley][coverage]") {
  sc::SimulationSetup s;
  for (int i = 0; i < 4; ++i) s.budgets.push_back(1e15 * std::pow(4.0, i));
  s.noise = 0.002;
  s.bootstrap = 100;
  s.replicates = 40;
  for (const int points : {4, 6}) {
    s.grid.clear();
    for (int j = 0; j < points; ++j) s.grid.push_back(0.2 * std::pow(18.0, j / (points - 1.0)));
    s.truth = sc::planted_allocation(0.3, 0.4, 0.8, s.budgets);
    const sc::SimulationResult tilted = sc::simulate_valleys(s);
    INFO(points << " points: " << tilted.budget_covered << " of " << tilted.budget_intervals);
    CHECK(tilted.budget_intervals >= 150);
    CHECK(tilted.coverage() >= 0.88);
    CHECK(tilted.coverage() <= 0.99);
    CHECK(std::fabs(tilted.mean_log_error) < 0.03);                // no bias beyond the noise
    s.truth = sc::planted_allocation(0.35, 0.35, 1.0, s.budgets);  // r* flat in C
    const sc::SimulationResult flat = sc::simulate_valleys(s);
    CHECK(flat.exponent_fits >= 38);
    CHECK(flat.trend_claims <= 3);
  }
}

TEST_CASE("replicated seeds give the pure error and test the valleys' lack of fit", "[valley]") {
  std::vector<double> cs;
  for (int i = 0; i < 3; ++i) cs.push_back(1e15 * std::pow(4.0, i));
  const sc::WallsFit truth = sc::planted_allocation(0.3, 0.4, 0.8, cs);
  const std::vector<double> grid = {0.2, 0.4, 0.8, 1.6, 3.2};
  auto sweep = [&](int seeds, double bump, uint64_t seed) {
    sc::Rng rng(seed);
    std::vector<sc::IsoflopPoint> points;
    for (size_t i = 0; i < cs.size(); ++i) {
      for (double x : grid) {
        for (int s = 0; s < seeds; ++s) {
          const double u = std::log(x);
          points.push_back(
              {cs[i], x, truth.value(i, u) + bump * std::sin(4 * u) + 0.002 * rng.normal()});
        }
      }
    }
    sc::IsoflopOptions options;
    options.bootstrap = 0;
    return sc::fit_isoflop(points, options).lack_of_fit;
  };
  const sc::LackOfFit fits = sweep(3, 0.0, 5);
  REQUIRE(fits.tested);
  CHECK(fits.replicated_cells == 15);
  CHECK(fits.df_pure == 30);
  CHECK(fits.df_lack == 15 - 11);  // 15 cell means, 11 parameters
  CHECK(fits.pure_error_sd == Approx(0.002).epsilon(0.3));
  CHECK(fits.p_value > 0.01);
  // A wiggle the walls cannot follow, five times the seeds' noise: rejected.
  const sc::LackOfFit bumpy = sweep(3, 0.01, 5);
  REQUIRE(bumpy.tested);
  CHECK(bumpy.p_value < 1e-4);
  // One seed per cell: nothing to test against.
  const sc::LackOfFit single = sweep(1, 0.0, 5);
  CHECK_FALSE(single.tested);
  CHECK(single.replicated_cells == 0);
}
