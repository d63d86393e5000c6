#include <ceres/ceres.h>

#include <catch2/catch.hpp>
#include <cmath>

#include "scaling/fit.h"
#include "scaling/loss_fit.h"
#include "tests/scaling/synthetic.h"

namespace sc = moe::scaling;

TEST_CASE("Huber is quadratic inside delta and linear outside", "[fit]") {
  CHECK(sc::huber(0.0005, 1e-3) == Approx(0.5 * 0.0005 * 0.0005));
  CHECK(sc::huber(-0.0005, 1e-3) == Approx(1.25e-7));
  CHECK(sc::huber(0.01, 1e-3) == Approx(1e-3 * (0.01 - 0.0005)));
  CHECK(sc::huber(-2.0, 0.5) == Approx(0.5 * (2.0 - 0.25)));
  CHECK(sc::huber(1e-3, 1e-3) == Approx(5e-7));  // both branches meet at delta
}

TEST_CASE("the objective equals the hand-computed sum on a 3-point case, and Ceres agrees",
          "[fit]") {
  // E = 1, A = B = 100, alpha = beta = 0.5:
  //   N = D = 1e2: Lhat = 1 + 10 + 10 = 21;   observed 21             residual 0
  //   N = D = 1e4: Lhat = 1 + 1 + 1 = 3;      observed 3 e^0.0005     residual -0.0005
  //   N = D = 1e6: Lhat = 1 + 0.1 + 0.1 = 1.2; observed 1.2 e^-0.01   residual +0.01
  // SUM Huber_1e-3 = 0 + 0.5 * 0.0005^2 + 1e-3 * (0.01 - 0.0005) = 1.25e-7 + 9.5e-6.
  const std::vector<sc::LossPoint> points = {{1e2, 1e2, 0, 0, 21.0},
                                             {1e4, 1e4, 0, 0, 3.0 * std::exp(0.0005)},
                                             {1e6, 1e6, 0, 0, 1.2 * std::exp(-0.01)}};
  const auto raw = sc::to_raw(sc::LossLaw::kChinchilla, {1, 100, 100, 0.5, 0.5});
  const double expected = 1.25e-7 + 9.5e-6;
  CHECK(sc::log_huber_objective(sc::LossLaw::kChinchilla, raw, points, 1e-3) ==
        Approx(expected).epsilon(1e-9));

  // Ceres' cost with HuberLoss(delta) on the residual form is the same number.
  CHECK(sc::ceres_cost(sc::LossLaw::kChinchilla, raw, points, 1e-3) ==
        Approx(expected).epsilon(1e-9));
}

TEST_CASE("multi-start finds the global optimum where a single start does not", "[fit]") {
  const auto truth = sc::to_raw(sc::LossLaw::kChinchilla, sc::testing::kChinchillaTruth);
  const auto points =
      sc::testing::isoflop_design(sc::LossLaw::kChinchilla, truth, 6, 12, 0.005, 17, 7);
  sc::LawFitOptions options;
  options.bootstrap = 0;
  const sc::LawFit grid = sc::fit_loss_law(sc::LossLaw::kChinchilla, points, options);

  // From log E = -1, log A = log B = 0, alpha = 0, beta = 0.5 LM converges, but to E ~ 0 and
  // alpha ~ 0.06: a local optimum twice as bad.
  options.starts = {{-1, 0, 0, 0, 0.5}};
  const sc::LawFit single = sc::fit_loss_law(sc::LossLaw::kChinchilla, points, options);
  CHECK(single.n_converged == 1);
  CHECK(single.objective > 2 * grid.objective);
  CHECK(single.param("E").value < 0.01);

  CHECK(grid.n_starts == 4500);
  CHECK(grid.param("E").value == Approx(1.69).epsilon(0.05));
  CHECK(grid.param("alpha").value == Approx(0.34).margin(0.03));
  CHECK(grid.param("beta").value == Approx(0.28).margin(0.02));

  // No better optimum lies near the truth either (the exhaustive search is in bench/).
  options.starts = {truth};
  const sc::LawFit from_truth = sc::fit_loss_law(sc::LossLaw::kChinchilla, points, options);
  CHECK(grid.objective <= from_truth.objective * (1 + 1e-6));
}

TEST_CASE("percentiles interpolate like numpy and ignore non-finite samples", "[fit]") {
  CHECK(sc::percentile({1, 2, 3, 4}, 0.5) == Approx(2.5));
  CHECK(sc::percentile({4, 1, 3, 2}, 0.25) == Approx(1.75));
  CHECK(sc::percentile({1, NAN, 3}, 1.0) == Approx(3));
  CHECK(std::isnan(sc::percentile({}, 0.5)));
  std::vector<double> v;
  for (int i = 0; i <= 1000; ++i) v.push_back(i);
  const auto [lo, hi] = sc::percentile_interval(v);
  CHECK(lo == Approx(25));
  CHECK(hi == Approx(975));
}

TEST_CASE("the bootstrap generator is deterministic, uniform and seed-dependent", "[fit]") {
  sc::Rng a(42), b(42), c(43);
  const auto ia = sc::resample_indices(1000, a);
  CHECK(ia == sc::resample_indices(1000, b));
  CHECK(ia != sc::resample_indices(1000, c));
  sc::Rng r(1);
  std::vector<int> counts(10, 0);
  double sum = 0, sum2 = 0;
  for (int i = 0; i < 100000; ++i) {
    ++counts[r.index(10)];
    const double z = r.normal();
    sum += z;
    sum2 += z * z;
  }
  for (int n : counts) CHECK(std::abs(n - 10000) < 500);
  CHECK(std::fabs(sum / 1e5) < 0.02);
  CHECK(sum2 / 1e5 == Approx(1.0).epsilon(0.02));
}

TEST_CASE("bootstrap intervals are reproducible for a seed and cover the truth", "[fit]") {
  const auto truth = sc::to_raw(sc::LossLaw::kPower, {1.8, 2e5, 0.3});
  sc::Rng rng(5);
  std::vector<sc::LossPoint> points;
  for (int i = 0; i < 40; ++i) {
    sc::LossPoint p;
    p.n = std::pow(10.0, 15 + 5.0 * i / 39);
    p.loss = sc::predict(sc::LossLaw::kPower, truth, p) * std::exp(0.003 * rng.normal());
    points.push_back(p);
  }
  sc::LawFitOptions options;
  options.bootstrap = 60;
  options.seed = 11;
  const sc::LawFit a = sc::fit_loss_law(sc::LossLaw::kPower, points, options);
  const sc::LawFit b = sc::fit_loss_law(sc::LossLaw::kPower, points, options);
  options.seed = 12;
  const sc::LawFit c = sc::fit_loss_law(sc::LossLaw::kPower, points, options);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(a.params[i].ci_low == b.params[i].ci_low);
    CHECK(a.params[i].ci_high == b.params[i].ci_high);
  }
  CHECK(a.params[2].ci_low != c.params[2].ci_low);
  CHECK(a.n_bootstrap_ok == 60);
  const sc::Estimate& alpha = a.param("alpha");
  CHECK(alpha.ci_low < 0.3);
  CHECK(alpha.ci_high > 0.3);
  CHECK(alpha.ci_high - alpha.ci_low < 0.1);
}

namespace {

// Two basins: (x^2 - 1)^2 + (0.3 (x - 1))^2 is 0 at x = 1 and about 0.36 near x = -1.
struct TwoBasins {
  template <typename T>
  bool operator()(const T* x, T* r) const {
    r[0] = x[0] * x[0] - T(1);
    r[1] = T(0.3) * (x[0] - T(1));
    return true;
  }
};

}  // namespace

TEST_CASE("a screened search that finds the best once only is redone from every start", "[fit]") {
  ceres::Problem problem;
  double x = 0;
  problem.AddResidualBlock(new ceres::AutoDiffCostFunction<TwoBasins, 2, 1>(new TwoBasins), nullptr,
                           &x);
  auto objective = [](const double* v) {
    const double a = v[0] * v[0] - 1, b = 0.3 * (v[0] - 1);
    return a * a + b * b;
  };
  std::vector<std::vector<double>> starts;
  for (int i = 0; i < 40; ++i) starts.push_back({-3.0 + 2.5 * i / 39.0});  // the worse basin
  starts.push_back({2.0});                                                 // the best, once
  const auto once = sc::multi_start(problem, &x, 1, starts, objective, {}, {});
  CHECK(once.escalated);
  CHECK(once.n_at_best == 1);
  CHECK(once.best.params[0] == Approx(1.0).margin(1e-6));
  starts.push_back({1.5});  // found twice: no need to search again
  const auto twice = sc::multi_start(problem, &x, 1, starts, objective, {}, {});
  CHECK_FALSE(twice.escalated);
  CHECK(twice.n_at_best >= 2);
}
