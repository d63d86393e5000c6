#include <catch2/catch.hpp>
#include <cmath>

#include "common/errors.h"
#include "scaling/ratio_law.h"

namespace sc = moe::scaling;

namespace {

const double kSparsities[] = {0.8235, 0.9091, 0.9538, 0.9767};
const double kBudgets[] = {1e17, 1e18, 1e19, 1e20, 1e21};

// Runs whose loss valley in ln r sits at the law's r*(C, S): r swept over [0.1, 4].
std::vector<sc::RatioRun> runs_from(const sc::RatioLawParams& law, double noise, uint64_t seed) {
  sc::Rng rng(seed);
  std::vector<sc::RatioRun> out;
  for (double s : kSparsities) {
    for (double c : kBudgets) {
      const double r_opt = sc::ratio_law(law, c, s);
      for (int i = 0; i < 11; ++i) {
        const double r = 0.1 * std::pow(40.0, i / 10.0);
        const double u = std::log(r) - std::log(r_opt);
        out.push_back({c, s, r, 3.0 - 0.05 * std::log10(c) + 0.06 * u * u + noise * rng.normal()});
      }
    }
  }
  return out;
}

}  // namespace

TEST_CASE("the published law evaluates as printed", "[ratio]") {
  // r* = 6.7e-5 (1-S)^-1.23 C^(0.24 (1-S)^0.21), evaluated by hand (a calculator, not this code)
  // at three of the paper's (C, S) points.
  CHECK(sc::ratio_law(sc::kPublishedRatioLaw, 1e19, 0.9091) == Approx(0.729357).epsilon(1e-5));
  CHECK(sc::ratio_law(sc::kPublishedRatioLaw, 1e17, 0.8235) == Approx(0.386438).epsilon(1e-5));
  CHECK(sc::ratio_law(sc::kPublishedRatioLaw, 1e21, 0.9767) == Approx(1.32695).epsilon(1e-5));
}

TEST_CASE("the ratio law recovers alpha0, p, beta0, q from r* valleys", "[ratio]") {
  const sc::RatioLawParams truth{6e-4, -1.0, 0.2, 0.3};  // r* from 0.3 to 1.1
  sc::RatioLawOptions options;
  options.valley = sc::ValleyModel::kParabola;  // the valleys are planted as parabolas
  options.bootstrap = 100;
  options.seed = 4;
  const sc::RatioLawFit fit = sc::fit_ratio_law(runs_from(truth, 0.001, 8), options);
  CHECK(fit.n_points == 20);
  CHECK(fit.weighted);
  CHECK(fit.p.value == Approx(-1.0).margin(0.15));
  CHECK(fit.beta0.value == Approx(0.2).margin(0.02));
  CHECK(fit.q.value == Approx(0.3).margin(0.1));
  CHECK(std::log(fit.alpha0.value) == Approx(std::log(6e-4)).margin(0.6));
  // The interval brackets the estimate and is tight enough to separate the published 0.24.
  CHECK(fit.beta0.ci_low < fit.beta0.value);
  CHECK(fit.beta0.ci_high > fit.beta0.value);
  CHECK(fit.beta0.ci_high < 0.24);
  CHECK(std::fabs(fit.beta0.value - 0.2) < 2 * (fit.beta0.ci_high - fit.beta0.ci_low));
  CHECK(fit.in_sample.mape < 3.0);
  // Every fold predicts its held-out sparsity from the other three.
  REQUIRE(fit.folds.size() == 4);
  for (const auto& f : fit.folds) {
    INFO("S = " << f.sparsity);
    CHECK(f.fitted);
    CHECK(f.held_out.n_points == 5);
    CHECK(f.held_out.mape < 10.0);
  }
  CHECK(fit.loso.n_points == 20);
  // The published coefficients describe other data: scored here, they are far off.
  CHECK(fit.published_errors.mape > 5 * fit.in_sample.mape);
}

TEST_CASE("data drawn from the published law is described by it", "[ratio]") {
  sc::RatioLawOptions options;
  options.valley = sc::ValleyModel::kParabola;  // the valleys are planted as parabolas
  options.bootstrap = 0;
  const sc::RatioLawFit fit =
      sc::fit_ratio_law(runs_from(sc::kPublishedRatioLaw, 0.0005, 2), options);
  CHECK_FALSE(fit.weighted);
  CHECK(fit.published_errors.n_points == 20);
  CHECK(fit.published_errors.mape < 3.0);
  CHECK(fit.beta0.value == Approx(0.24).margin(0.02));
  CHECK(fit.p.value == Approx(-1.23).margin(0.15));
  CHECK(std::isnan(fit.beta0.ci_low));
}

TEST_CASE("the ratio law needs r* at two sparsities and two budgets", "[ratio]") {
  auto runs = runs_from(sc::kPublishedRatioLaw, 0.0, 1);
  std::vector<sc::RatioRun> one_sparsity;
  for (const auto& r : runs) {
    if (r.sparsity == 0.9091) one_sparsity.push_back(r);
  }
  sc::RatioLawOptions options;
  options.valley = sc::ValleyModel::kParabola;  // the valleys are planted as parabolas
  options.bootstrap = 0;
  CHECK_THROWS_WITH(sc::fit_ratio_law(one_sparsity, options),
                    Catch::Contains("over 1 sparsity and 5 budgets") &&
                        Catch::Contains("needs >= 4 estimates spanning >= 2 sparsities"));
  runs[0].sparsity = 1.2;
  CHECK_THROWS_AS(sc::fit_ratio_law(runs, options), moe::InputError);
}
