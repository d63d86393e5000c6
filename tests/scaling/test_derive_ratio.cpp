#include <catch2/catch.hpp>
#include <cmath>

#include "common/errors.h"
#include "experiments/derive_ratio.h"
#include "scaling/dataset.h"
#include "scaling/isoflop.h"
#include "scaling/loss_fit.h"

namespace sc = moe::scaling;

namespace {

sc::DeriveTarget target(double compute, double sparsity, const std::string& label) {
  sc::DeriveTarget t;
  t.compute = compute;
  t.sparsity = sparsity;
  t.label = label;
  return t;
}

}  // namespace

TEST_CASE("derived r* matches the closed form of a law that depends on r alone", "[derive]") {
  // With a, b ~ 0 and gamma = lambda = 0 the MoE law is L = c e^R + d (1 - R) + tau with
  // R = 1/(1+r); dL/dR = c e^R - d = 0 gives R* = ln(d / c). With d / c = e^0.5, R* = 0.5 and
  // r* = 1/R* - 1 = 1, whatever N and D the planner picks.
  const auto raw = sc::to_raw(sc::LossLaw::kMoe,
                              {1e-30, 0.3, 1e-30, 0.3, 0.1, 0.0, 0.0, 0.1 * std::exp(0.5), 1.0});
  const auto law = [&](const sc::LossPoint& p) { return sc::predict(sc::LossLaw::kMoe, raw, p); };
  for (const char* label : {"1M", "10M", "55M"}) {
    INFO(label);
    const sc::DerivedRatio d = sc::derive_ratio(law, target(1e19, 0.9091, label));
    CHECK(d.bracketed);
    CHECK(d.r_opt == Approx(1.0).epsilon(0.02));
    CHECK(d.n_buildable > 50);
  }
  // d / c = e^0.25: R* = 0.25, r* = 3.
  const auto raw3 = sc::to_raw(sc::LossLaw::kMoe,
                               {1e-30, 0.3, 1e-30, 0.3, 0.1, 0.0, 0.0, 0.1 * std::exp(0.25), 1.0});
  const auto law3 = [&](const sc::LossPoint& p) { return sc::predict(sc::LossLaw::kMoe, raw3, p); };
  CHECK(sc::derive_ratio(law3, target(1e19, 0.9091, "10M")).r_opt == Approx(3.0).epsilon(0.03));
}

TEST_CASE("derived r* is the minimiser of the law through the planner's N(r) and D(r)",
          "[derive]") {
  // The MoE law in N, D and r: with hold = flops, raising r moves parameters from attention to
  // experts (N grows) while d r/(r+1) penalises it; the planner's mapping sets the balance.
  const auto raw = sc::to_raw(sc::LossLaw::kMoe, {400, 0.34, 400, 0.28, 1e-30, 0, 0, 0.5, 1.7});
  const auto law = [&](const sc::LossPoint& p) { return sc::predict(sc::LossLaw::kMoe, raw, p); };
  const sc::DeriveTarget t = target(1e20, 0.9091, "55M");
  const sc::DerivedRatio d = sc::derive_ratio(law, t);
  REQUIRE(d.bracketed);
  // Independently: the law on the planner's raw (rounded) points of a 10x finer grid, and a
  // parabola in ln r through them over a factor of 3 either side of its lowest point.
  std::vector<double> log_r, loss;
  double lowest_r = 0, lowest = INFINITY;
  for (int i = 0; i <= 2000; ++i) {
    const auto p = sc::faithful_point(t, 0.05 * std::pow(400.0, i / 2000.0), {});
    if (!p) continue;
    log_r.push_back(std::log(p->r));
    loss.push_back(law(*p));
    if (loss.back() < lowest) {
      lowest = loss.back();
      lowest_r = p->r;
    }
  }
  std::vector<double> near_r, near_loss;
  for (size_t i = 0; i < log_r.size(); ++i) {
    if (std::fabs(log_r[i] - std::log(lowest_r)) > std::log(3.0)) continue;
    near_r.push_back(log_r[i]);
    near_loss.push_back(loss[i]);
  }
  const sc::Parabola valley = sc::fit_parabola(near_r, near_loss);
  REQUIRE(valley.c[2] > 0);
  const double r_valley = std::exp(valley.vertex_log_x());
  INFO("derived " << d.r_opt << ", parabola through the raw points " << r_valley
                  << ", lowest raw point " << lowest_r);
  CHECK(r_valley > 0.3);
  CHECK(r_valley < 3);
  CHECK(d.r_opt == Approx(r_valley).epsilon(0.15));
  // The derived loss is the smooth law, within the rounding teeth (0.5%) of the lowest point.
  CHECK(d.loss_opt == Approx(lowest).epsilon(0.005));
}

TEST_CASE("a law falling monotonically in r gives a bound, not an optimum", "[derive]") {
  const auto raw =
      sc::to_raw(sc::LossLaw::kMoe, {1e-30, 0.3, 1e-30, 0.3, 0.1, 0.0, 0.0, -0.05, 1.0});
  const auto law = [&](const sc::LossPoint& p) { return sc::predict(sc::LossLaw::kMoe, raw, p); };
  sc::DeriveSettings settings;
  settings.r_min = 0.2;
  settings.r_max = 2.0;
  const sc::DerivedRatio d = sc::derive_ratio(law, target(1e19, 0.9091, "10M"), settings);
  CHECK_FALSE(d.bracketed);
  CHECK(d.note.find("at or above") != std::string::npos);
  CHECK(d.r_opt == Approx(2.0).epsilon(0.03));
}

TEST_CASE("derive_ratio reports what the planner cannot build", "[derive]") {
  const auto law = [](const sc::LossPoint&) { return 1.0; };
  CHECK_THROWS_WITH(sc::derive_ratio(law, target(1e19, 0.9091, "7B")),
                    Catch::Contains("--derive-ratio: the planner builds no ratio") &&
                        Catch::Contains("--label 7B is unknown"));
  sc::DeriveSettings settings;
  settings.r_min = 2;
  settings.r_max = 1;
  CHECK_THROWS_AS(sc::derive_ratio(law, target(1e19, 0.9091, "1M"), settings), moe::InputError);
}

TEST_CASE("the planner check reproduces a planned run exactly", "[derive]") {
  const sc::DeriveTarget t = target(1e18, 0.9538, "5M");
  const sc::LossPoint p = sc::planned_point(t, 0.75, {});  // planned at width multiple 1
  sc::PlannedRun run{t, 0.75, p.n, p.d};
  sc::DeriveSettings swept;
  swept.sweep_width_multiple = 1;
  CHECK(sc::planner_mismatch({run}, swept) == Approx(0.0).margin(1e-12));
  run.n *= 1.05;
  CHECK(sc::planner_mismatch({run}, swept) == Approx(1 - 1 / 1.05));
  // The same run checked against a sweep planned at multiples of 8: the planner says it differs.
  run.n = p.n;
  CHECK(sc::planner_mismatch({run}, {}) > 1e-3);
}

TEST_CASE("an integer cell too large for int64 is refused rather than converted", "[derive]") {
  const moe::scaling::Table t =
      moe::scaling::Table::parse("compute,sparsity,label,top_k\n1e18,0.5,20M,1e300\n", "big.csv");
  CHECK_THROWS_WITH(moe::scaling::derive_targets(t, moe::scaling::default_columns(), 2, 1),
                    "big.csv: line 2, column top_k: '1e300' is not a non-negative integer");
  const moe::scaling::Table ok =
      moe::scaling::Table::parse("compute,sparsity,label,top_k\n1e18,0.5,20M,4\n", "ok.csv");
  CHECK(moe::scaling::derive_targets(ok, moe::scaling::default_columns(), 2, 1).at(0).top_k == 4);
}
