#include <catch2/catch.hpp>
#include <cmath>

#include "common/errors.h"
#include "scaling/isoflop.h"

namespace sc = moe::scaling;

namespace {

// A valley loss = 3 - 0.1 log10(C) + kappa (ln x - ln x0)^2 swept over x in [0.2, 1.5]: a
// parabola in ln x, the parabola estimator's own model (the default walls valley is tested on
// planted asymmetric valleys in test_valley.cpp).
std::vector<sc::IsoflopPoint> valley(double compute, double x0, double noise, sc::Rng& rng,
                                     int n = 9) {
  std::vector<sc::IsoflopPoint> out;
  for (int i = 0; i < n; ++i) {
    const double x = 0.2 * std::pow(1.5 / 0.2, i / (n - 1.0));
    const double u = std::log(x) - std::log(x0);
    out.push_back(
        {compute, x, 3 - 0.1 * std::log10(compute) + 0.08 * u * u + noise * rng.normal()});
  }
  return out;
}

double truth_x0(double compute) { return 0.5 * std::pow(compute / 1e18, 0.1); }

}  // namespace

TEST_CASE("the parabola's vertex is exact on a noiseless valley", "[isoflop]") {
  std::vector<double> log_x, loss;
  for (double x : {0.2, 0.3, 0.5, 0.9, 1.5}) {
    log_x.push_back(std::log(x));
    loss.push_back(2.0 + 0.05 * std::pow(std::log(x) - std::log(0.7), 2));
  }
  const sc::Parabola p = sc::fit_parabola(log_x, loss);
  REQUIRE(p.ok);
  CHECK(std::exp(p.vertex_log_x()) == Approx(0.7).epsilon(1e-9));
  CHECK(p.value(std::log(0.7)) == Approx(2.0).epsilon(1e-12));
  CHECK(p.c[2] == Approx(0.05).epsilon(1e-9));
  CHECK_FALSE(sc::fit_parabola({0.1, 0.1, 0.2}, {1, 2, 3}).ok);  // 2 distinct x
}

TEST_CASE("isoflop finds x*(C) with bootstrap CIs and recovers x* = k C^a", "[isoflop]") {
  sc::Rng rng(17);
  std::vector<sc::IsoflopPoint> points;
  const double budgets[] = {1e17, 1e18, 1e19, 1e20, 1e21};
  for (double c : budgets) {
    for (const auto& p : valley(c, truth_x0(c), 0.002, rng)) points.push_back(p);
  }
  sc::IsoflopOptions options;
  options.valley = sc::ValleyModel::kParabola;
  options.bootstrap = 200;
  options.seed = 3;
  const sc::IsoflopFit fit = sc::fit_isoflop(points, options);
  REQUIRE(fit.optima.size() == 5);
  int covered = 0;
  for (const auto& o : fit.optima) {
    INFO("C = " << o.compute);
    CHECK(o.bracketed);
    CHECK(o.n_points == 9);
    CHECK(o.x_opt == Approx(truth_x0(o.compute)).epsilon(0.06));
    CHECK(o.ci_low < o.x_opt);
    CHECK(o.ci_high > o.x_opt);
    CHECK(o.ci_high / o.ci_low < 1.3);
    covered += o.ci_low <= truth_x0(o.compute) && truth_x0(o.compute) <= o.ci_high;
  }
  CHECK(covered >= 4);
  const auto& law = fit.power_law;
  REQUIRE(law.fitted);
  CHECK(law.n_budgets == 5);
  CHECK(law.a.value == Approx(0.1).margin(0.015));
  CHECK(law.a.ci_low < 0.1);
  CHECK(law.a.ci_high > 0.1);
  CHECK(fit.x_opt_at(1e19) == Approx(truth_x0(1e19)).epsilon(0.05));
  // Same seed, same intervals.
  const sc::IsoflopFit again = sc::fit_isoflop(points, options);
  CHECK(again.power_law.a.ci_low == law.a.ci_low);
  CHECK(again.optima[2].ci_high == fit.optima[2].ci_high);
}

TEST_CASE("a budget whose minimum is outside the sweep is reported and excluded", "[isoflop]") {
  sc::Rng rng(2);
  std::vector<sc::IsoflopPoint> points;
  for (const auto& p : valley(1e18, 0.6, 0.001, rng)) points.push_back(p);
  for (const auto& p : valley(1e19, 0.8, 0.001, rng)) points.push_back(p);
  for (const auto& p : valley(1e20, 4.0, 0.001, rng)) points.push_back(p);   // above 1.5
  for (const auto& p : valley(1e21, 0.05, 0.001, rng)) points.push_back(p);  // below 0.2
  points.push_back({1e22, 0.5, 2.0});  // one point: no parabola
  points.push_back({1e22, 0.7, 1.9});
  for (const auto valley : {sc::ValleyModel::kParabola, sc::ValleyModel::kAllocation}) {
    INFO("valley " << sc::to_string(valley));
    sc::IsoflopOptions options;
    options.valley = valley;
    options.bootstrap = 50;
    const sc::IsoflopFit fit = sc::fit_isoflop(points, options);
    CHECK(fit.valley == valley);
    REQUIRE(fit.optima.size() == 5);
    CHECK(fit.optima[0].bracketed);
    CHECK(fit.optima[1].bracketed);
    CHECK_FALSE(fit.optima[2].bracketed);
    CHECK(std::isnan(fit.optima[2].x_opt));
    CHECK(std::isnan(fit.optima[2].ci_low));
    CHECK(fit.optima[2].note.find("above the swept range") != std::string::npos);
    CHECK(fit.optima[3].note.find("below the swept range") != std::string::npos);
    CHECK(fit.optima[4].note.find("fewer than 3 distinct") != std::string::npos);
    // Only the two bracketed budgets enter the power law: a = ln(0.8/0.6) / ln 10.
    CHECK(fit.power_law.n_budgets == 2);
    CHECK(fit.power_law.a.value == Approx(std::log(0.8 / 0.6) / std::log(10.0)).margin(0.02));
  }
}

TEST_CASE("budgets too few for the walls valley fall back to the parabola, saying so",
          "[isoflop]") {
  sc::Rng rng(4);
  // One budget of 4 points: 4 points for the allocation valley's 5 parameters.
  const auto points = valley(1e18, 0.6, 0.001, rng, 4);
  sc::IsoflopOptions options;
  options.bootstrap = 0;
  const sc::IsoflopFit fit = sc::fit_isoflop(points, options);
  CHECK(fit.valley == sc::ValleyModel::kParabola);
  CHECK(fit.valley_note.find("4 points for the allocation valley's 5 parameters") !=
        std::string::npos);
  CHECK(fit.optima[0].bracketed);
}

TEST_CASE("isoflop input errors name the role", "[isoflop]") {
  sc::IsoflopOptions options;
  options.roles = {{"x", "ratio_achieved"}, {"C", "compute"}};
  CHECK_THROWS_WITH(sc::fit_isoflop({{1e18, 0.0, 3.0}}, options),
                    Catch::Contains("x (column ratio_achieved) = 0 must be > 0"));
  CHECK_THROWS_WITH(sc::fit_isoflop({{1e18, 0.5, 3.0}, {1e18, 0.7, 2.9}}, options),
                    Catch::Contains("no compute budget (C (column compute)) has 3 distinct"));
  options.bootstrap = -1;
  CHECK_THROWS_AS(sc::fit_isoflop({{1e18, 0.5, 3.0}}, options), moe::InputError);
}
