// Rank agreement (scaling/rank.h): the four statistics on hand-counted examples, ties included,
// and intervals that cover the population values of a planted bivariate normal.
#include <catch2/catch.hpp>
#include <cmath>

#include "common/errors.h"
#include "scaling/rank.h"

namespace sc = moe::scaling;

TEST_CASE("the four statistics on hand-counted examples", "[rank]") {
  // Two swapped neighbour pairs: 8 of 10 pairs concordant.
  const std::vector<double> x = {1, 2, 3, 4, 5}, y = {2, 1, 4, 3, 5};
  CHECK(sc::pearson(x, y) == Approx(0.8).epsilon(1e-12));
  CHECK(sc::spearman(x, y) == Approx(0.8).epsilon(1e-12));
  CHECK(sc::kendall_tau_b(x, y) == Approx(0.6).epsilon(1e-12));
  // Ties: x ranks (1, 2.5, 2.5, 4), y ranks (1, 2, 3.5, 3.5); 4 concordant pairs, one tie in
  // each: tau-b = 4 / sqrt(5 * 5); Spearman = 3.75 / 4.5.
  const std::vector<double> tx = {1, 2, 2, 3}, ty = {1, 2, 3, 3};
  CHECK(sc::ranks(tx) == std::vector<double>{1, 2.5, 2.5, 4});
  CHECK(sc::kendall_tau_b(tx, ty) == Approx(0.8).epsilon(1e-12));
  CHECK(sc::spearman(tx, ty) == Approx(3.75 / 4.5).epsilon(1e-12));
  // A monotone but curved relation: ranks agree fully, the line does not.
  std::vector<double> cx, cy;
  for (int i = 1; i <= 10; ++i) {
    cx.push_back(i);
    cy.push_back(std::exp(i));
  }
  CHECK(sc::spearman(cx, cy) == Approx(1));
  CHECK(sc::kendall_tau_b(cx, cy) == Approx(1));
  CHECK(sc::pearson(cx, cy) < 0.8);
  const sc::RankAgreement r = sc::rank_agreement(x, y, 0);
  CHECK(r.r2.value == Approx(0.64).epsilon(1e-12));
  CHECK_FALSE(r.r2.has_ci());
}

TEST_CASE("intervals cover a planted bivariate normal's population values", "[rank]") {
  // rho = 0.9: Spearman (6/pi) asin(rho/2) = 0.8915, Kendall (2/pi) asin(rho) = 0.7129.
  const double rho = 0.9;
  sc::Rng rng(21);
  std::vector<double> x, y;
  for (int i = 0; i < 300; ++i) {
    const double a = rng.normal(), b = rng.normal();
    x.push_back(a);
    y.push_back(rho * a + std::sqrt(1 - rho * rho) * b);
  }
  const sc::RankAgreement r = sc::rank_agreement(x, y, 400, 5);
  const double spearman_pop = 6 / M_PI * std::asin(rho / 2);
  const double kendall_pop = 2 / M_PI * std::asin(rho);
  CHECK(r.pearson.ci_low <= rho);
  CHECK(rho <= r.pearson.ci_high);
  CHECK(r.spearman.ci_low <= spearman_pop);
  CHECK(spearman_pop <= r.spearman.ci_high);
  CHECK(r.kendall.ci_low <= kendall_pop);
  CHECK(kendall_pop <= r.kendall.ci_high);
  CHECK(r.r2.ci_low <= rho * rho);
  CHECK(rho * rho <= r.r2.ci_high);
  CHECK(r.pearson.ci_high - r.pearson.ci_low < 0.06);
  CHECK(r.dropped == 0);
}

TEST_CASE("rank agreement refuses what it cannot measure", "[rank]") {
  CHECK_THROWS_WITH(sc::rank_agreement({1, 2}, {1, 2}),
                    "rank: 2 configurations; rank agreement needs at least 3");
  CHECK_THROWS_WITH(sc::rank_agreement({1, 2, 3}, {1, 2}),
                    "rank: 3 proxy losses but 2 best losses");
  CHECK_THROWS_WITH(sc::rank_agreement({1, 2, 3}, {4, 4, 4}),
                    "rank: one of the two losses is the same for every configuration");
}
