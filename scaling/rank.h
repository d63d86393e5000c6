// Rank preservation: how well one loss ranks configurations as another does. Paper 2 ("Holistic
// Scaling Laws for Optimal MoE Architecture Optimization") justifies its proxy (each triad's loss
// at the middle of d's feasible interval, instead of the best loss over d) by these four
// numbers over its configurations: at 1e18, 10 configurations and 144 runs, Pearson 0.979,
// Spearman 0.976, Kendall 0.911, R^2 0.959.
//
//   Pearson   the linear correlation of the two losses
//   Spearman  Pearson's of their ranks (tied values share their mean rank)
//   Kendall   tau-b: (concordant - discordant pairs) / sqrt((n0 - ties in x)(n0 - ties in y)),
//             n0 = n (n - 1) / 2
//   R^2       of the least-squares line of one loss on the other (= Pearson^2)
//
// Intervals: configurations resampled with replacement (n of n); the 2.5/97.5 percentiles of
// each statistic over the replicates; replicates in which a loss is constant (no correlation
// defined) are dropped and counted.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <vector>

#include "scaling/fit.h"

namespace moe::scaling {

double pearson(const std::vector<double>& x, const std::vector<double>& y);
double spearman(const std::vector<double>& x, const std::vector<double>& y);
double kendall_tau_b(const std::vector<double>& x, const std::vector<double>& y);
// Mean ranks, 1-based (ties share their mean).
std::vector<double> ranks(const std::vector<double>& v);

struct RankAgreement {
  int n = 0;
  Estimate pearson, spearman, kendall, r2;
  int bootstrap = 0, dropped = 0;
  uint64_t seed = 0;
};

// Throws moe::InputError for fewer than 3 configurations, lengths that differ, non-finite
// values, or a loss that is constant.
RankAgreement rank_agreement(const std::vector<double>& proxy, const std::vector<double>& best,
                             int bootstrap = kDefaultBootstrap, uint64_t seed = 0);

nlohmann::json to_json(const RankAgreement& r);

}  // namespace moe::scaling
