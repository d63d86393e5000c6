#include <catch2/catch.hpp>
#include <cmath>

#include "common/errors.h"
#include "scaling/chinchilla.h"
#include "scaling/loss_fit.h"
#include "scaling/moe_law.h"
#include "tests/scaling/synthetic.h"

namespace sc = moe::scaling;
using sc::LossLaw;

namespace {

// x from 1e15 to 1e20, loss from `law`, 0.3% noise, every 9th point 10% high.
std::vector<sc::LossPoint> power_points(LossLaw law, const std::vector<double>& natural) {
  const auto raw = sc::to_raw(law, natural);
  sc::Rng rng(3);
  std::vector<sc::LossPoint> out;
  for (int i = 0; i < 36; ++i) {
    sc::LossPoint p;
    p.n = std::pow(10.0, 15 + 5.0 * i / 35);
    p.loss = sc::predict(law, raw, p) * std::exp(0.003 * rng.normal());
    if (i % 9 == 8) p.loss *= 1.10;
    out.push_back(p);
  }
  return out;
}

// The MoE law's own form with known parameters on a random (N, D, S, r) design. gamma = -0.5
// makes the sparsity term move by a factor of 2.7 across the four sparsities.
const std::vector<double> kMoeTruth = {400, 0.34, 400, 0.28, 0.3, -0.5, 0.1, 0.12, 1.6};
const double kSparsities[] = {0.8235, 0.9091, 0.9538, 0.9767};

std::vector<sc::LossPoint> moe_points(int n, uint64_t seed) {
  const auto raw = sc::to_raw(LossLaw::kMoe, kMoeTruth);
  sc::Rng rng(seed);
  std::vector<sc::LossPoint> out;
  for (int i = 0; i < n; ++i) {
    sc::LossPoint p;
    p.n = std::pow(10.0, 6 + 3 * rng.uniform());
    p.d = std::pow(10.0, 8 + 3 * rng.uniform());
    p.s = kSparsities[i % 4];
    p.r = std::exp(std::log(0.2) + std::log(7.5) * rng.uniform());
    p.loss = sc::predict(LossLaw::kMoe, raw, p) * std::exp(0.002 * rng.normal());
    if (i % 41 == 40) p.loss *= 1.10;
    out.push_back(p);
  }
  return out;
}

}  // namespace

TEST_CASE("each law's functor, its reported names and its formula agree", "[laws]") {
  // Parameter counts: the functor's against the names the JSON and tables report.
  for (LossLaw law : {LossLaw::kPower, LossLaw::kPowerNoOffset, LossLaw::kChinchilla, LossLaw::kMoe,
                      LossLaw::kWang, LossLaw::kAbnar}) {
    CHECK(static_cast<size_t>(sc::n_params(law)) == sc::law_info(law).params.size());
  }
  // predict() evaluates the functor: values computed by hand from the header's formulas.
  sc::LossPoint x;
  x.n = 1e6;
  x.d = 1e9;
  x.s = 0.9;
  x.r = 3;
  CHECK(sc::predict(LossLaw::kPower, sc::to_raw(LossLaw::kPower, {1.5, 20, 0.25}), x) ==
        Approx(1.5 + 20 * std::pow(1e6, -0.25)));
  CHECK(sc::predict(LossLaw::kChinchilla,
                    sc::to_raw(LossLaw::kChinchilla, {1.69, 406.4, 410.7, 0.34, 0.28}),
                    x) == Approx(1.69 + 406.4 / std::pow(1e6, 0.34) + 410.7 / std::pow(1e9, 0.28)));
  // moe: a/N^alpha + b/D^beta + c e^R (1-S)^gamma / N^lambda + d r/(r+1) + tau, R = 1/(1+r).
  const double moe = 400 / std::pow(1e6, 0.34) + 400 / std::pow(1e9, 0.28) +
                     0.3 * std::exp(0.25) * std::pow(0.1, -0.5) / std::pow(1e6, 0.1) + 0.12 * 0.75 +
                     1.6;
  CHECK(sc::predict(LossLaw::kMoe, sc::to_raw(LossLaw::kMoe, kMoeTruth), x) == Approx(moe));
  // abnar: a/N^alpha + b/D^beta + c/(1-S)^lambda + d/((1-S)^delta N^gamma) + tau.
  const double abnar = 2 / std::pow(1e6, 0.3) + 3 / std::pow(1e9, 0.2) + 0.5 / std::pow(0.1, 0.1) +
                       0.7 / (std::pow(0.1, 0.2) * std::pow(1e6, 0.05)) + 1.2;
  CHECK(sc::predict(LossLaw::kAbnar,
                    sc::to_raw(LossLaw::kAbnar, {2, 0.3, 3, 0.2, 0.5, 0.1, 0.7, 0.2, 0.05, 1.2}),
                    x) == Approx(abnar));
}

TEST_CASE("power law with E recovers E, A, alpha despite noise and outliers", "[laws]") {
  const auto points = power_points(LossLaw::kPower, {1.8, 2e5, 0.3});
  sc::LawFitOptions options;
  options.bootstrap = 0;
  const sc::LawFit fit = sc::fit_loss_law(LossLaw::kPower, points, options);
  CHECK(fit.n_starts == 135);
  CHECK(fit.param("E").value == Approx(1.8).epsilon(0.01));
  CHECK(fit.param("alpha").value == Approx(0.3).margin(0.01));
  CHECK(std::log(fit.param("A").value) == Approx(std::log(2e5)).margin(0.3));
  // The outliers sit at their 10% above the fit: Huber did not bend the curve towards them.
  CHECK(points[8].loss / fit.predict(points[8]) == Approx(1.10).epsilon(0.01));
}

TEST_CASE("power law without E recovers A and alpha", "[laws]") {
  const auto points = power_points(LossLaw::kPowerNoOffset, {3e3, 0.2});
  sc::LawFitOptions options;
  options.bootstrap = 0;
  const sc::LawFit fit = sc::fit_loss_law(LossLaw::kPowerNoOffset, points, options);
  CHECK(fit.params.size() == 2);
  CHECK(fit.param("alpha").value == Approx(0.2).margin(0.002));
  CHECK(fit.param("A").value == Approx(3e3).epsilon(0.1));
}

TEST_CASE("chinchilla recovers the published law and its compute-optimal exponents", "[laws]") {
  const auto truth = sc::to_raw(LossLaw::kChinchilla, sc::testing::kChinchillaTruth);
  const auto points = sc::testing::isoflop_design(LossLaw::kChinchilla, truth, 8, 15, 0.003, 23, 1);
  sc::LawFitOptions options;
  options.bootstrap = 30;
  const sc::ChinchillaFit fit = sc::fit_chinchilla(points, options, {1e21});
  CHECK(fit.law.param("E").value == Approx(1.69).epsilon(0.03));
  CHECK(fit.law.param("alpha").value == Approx(0.34).margin(0.02));
  CHECK(fit.law.param("beta").value == Approx(0.28).margin(0.01));
  // a = beta / (alpha + beta) = 0.4516 for the truth.
  CHECK(fit.a.value == Approx(0.28 / 0.62).margin(0.02));
  CHECK(fit.a.ci_low < fit.a.value);
  CHECK(fit.a.ci_high > fit.a.value);
  CHECK(fit.a.value + fit.b.value == Approx(1.0));
  // N_opt D_opt = C / 6 by construction.
  const auto& at = fit.optimal.front();
  CHECK(at.n_opt.value * at.d_opt.value == Approx(1e21 / 6));
  const sc::Allocation truth_allocation = sc::compute_optimal(406.4, 410.7, 0.34, 0.28);
  CHECK(std::log(at.n_opt.value) ==
        Approx(std::log(sc::n_opt(truth_allocation, 1e21))).margin(0.25));
}

TEST_CASE("check_points rejects designs that cannot determine the law", "[laws]") {
  const std::vector<sc::LossPoint> four = {
      {1e6, 1e9, 0, 0, 3}, {2e6, 2e9, 0, 0, 2.9}, {4e6, 1e9, 0, 0, 2.8}, {8e6, 4e9, 0, 0, 2.7}};
  sc::RoleNames roles = {{"D", "tokens"}, {"loss", "val_loss"}};
  CHECK_THROWS_WITH(sc::check_points(LossLaw::kChinchilla, four, roles),
                    "chinchilla: 4 points but the law has 5 parameters; give at least 5");
  auto single_d = four;
  single_d.push_back({16e6, 1e9, 0, 0, 2.6});
  for (auto& p : single_d) p.d = 1e9;
  CHECK_THROWS_WITH(
      sc::check_points(LossLaw::kChinchilla, single_d, roles),
      Catch::StartsWith("chinchilla: D (column tokens) has 1 distinct value (1e+09)"));
  auto bad_loss = single_d;
  bad_loss[2].loss = 0;
  CHECK_THROWS_WITH(sc::check_points(LossLaw::kChinchilla, bad_loss, roles),
                    Catch::Contains("loss (column val_loss) = 0 must be a finite number > 0"));
  auto moe = moe_points(12, 1);
  for (auto& p : moe) p.s = 0.9;
  CHECK_THROWS_WITH(sc::check_points(LossLaw::kMoe, moe),
                    Catch::StartsWith("moe: S has 1 distinct value"));
  moe[0].s = 1.0;
  CHECK_THROWS_WITH(sc::check_points(LossLaw::kAbnar, moe), Catch::Contains("must lie in [0, 1)"));
}

TEST_CASE("the MoE law recovers its own parameters and beats the baselines held out",
          "[laws][moe]") {
  const auto points = moe_points(160, 9);
  const auto [train, held] = sc::hold_out_highest_sparsity(points);
  REQUIRE(held.size() == 40);
  sc::LawFitOptions options;
  options.bootstrap = 0;
  const sc::MoeLawComparison c = sc::fit_moe_laws(train, held, options, "S = 0.9767");
  REQUIRE(c.laws.size() == 4);
  CHECK(c.n_train == 120);
  const sc::LawFit& moe = c.law(LossLaw::kMoe).fit;
  CHECK(moe.param("alpha").value == Approx(0.34).margin(0.03));
  CHECK(moe.param("beta").value == Approx(0.28).margin(0.03));
  CHECK(moe.param("gamma").value == Approx(-0.5).margin(0.15));
  // c e^R and d (1 - R) are nearly collinear in R, so c and d trade off; the effect of r on
  // the loss, which is what the law is for, is recovered.
  const auto truth = sc::to_raw(LossLaw::kMoe, kMoeTruth);
  sc::LossPoint low{1e8, 1e10, 0.9091, 0.2, 0}, high{1e8, 1e10, 0.9091, 1.5, 0};
  const double truth_effect =
      sc::predict(LossLaw::kMoe, truth, high) - sc::predict(LossLaw::kMoe, truth, low);
  CHECK(moe.predict(high) - moe.predict(low) == Approx(truth_effect).epsilon(0.2));
  // At the held-out sparsity the law predicts the noiseless truth within 0.5%.
  for (const auto& p : held) {
    CHECK(moe.predict(p) == Approx(sc::predict(LossLaw::kMoe, truth, p)).epsilon(0.005));
  }
  const double moe_out = c.law(LossLaw::kMoe).held_out.rmse;
  CHECK(c.law(LossLaw::kMoe).held_out.n_points == 40);
  CHECK(c.law(LossLaw::kWang).held_out.rmse > 2 * moe_out);
  CHECK(c.law(LossLaw::kAbnar).held_out.rmse > 1.5 * moe_out);
  CHECK(c.law(LossLaw::kChinchilla).held_out.rmse > 2 * moe_out);
}
