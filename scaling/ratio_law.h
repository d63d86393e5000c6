// The optimal expert/attention ratio as a law of compute and sparsity (Li et al. 2026,
// "Optimal Expert-Attention Allocation in Mixture-of-Experts", section 4):
//
//   r*(C, S) = alpha(S) * C^beta(S),  alpha(S) = alpha0 (1-S)^p,  beta(S) = beta0 (1-S)^q.
//
// Published: alpha0 = 6.7e-5, p = -1.23, beta0 = 0.24, q = 0.21, with C the total training
// FLOPs (the only reading that puts r* inside the swept range; paper notes).
//
// Fit. For each sparsity, fit_isoflop (x = r) gives r*(C) with a bootstrap CI at every
// bracketed budget; unbracketed budgets are listed and left out. The law is fitted jointly over
// all sparsities in log space,
//   residual_i = (ln alpha0 + p ln(1-S_i) + beta0 (1-S_i)^q ln C_i - ln r*_i) / sigma_i,
// sigma_i = (ln ci_high - ln ci_low) / (2 x 1.96), the CI's width on the log scale, floored at a
// tenth of the median sigma so that one tight interval cannot carry the fit (all sigma_i = 1
// without a bootstrap). The objective is SUM residual_i^2; starts: p in {-2, -1, 0, 1},
// q in {-1, 0, 0.5, 1}, beta0 in {0.05, 0.25, 0.5}, ln alpha0 solved for each (the law is
// linear in it), plus the published values. Parameter CIs: the law refitted to each bootstrap
// replicate's r* (the isoflop replicates, stratified by budget and sparsity).
//
// Validation: leave one sparsity out (fit the others, predict the held-out r*), reporting the
// RMSE of ln r* and the mean absolute percentage error of r*; the fold needs >= 2 sparsities
// and >= 4 points left to fit. The published coefficients are scored on the same r*.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "scaling/fit.h"
#include "scaling/isoflop.h"
#include "scaling/valley.h"

namespace moe::scaling {

struct RatioLawParams {
  double alpha0 = kNaN;
  double p = kNaN;
  double beta0 = kNaN;
  double q = kNaN;
};
constexpr RatioLawParams kPublishedRatioLaw{6.7e-5, -1.23, 0.24, 0.21};

double ratio_law(const RatioLawParams& law, double compute, double sparsity);

// One run of the sweep.
struct RatioRun {
  double compute = 0;
  double sparsity = 0;
  double r = 0;  // achieved r of the run
  double loss = 0;
};

// One r*(C, S) estimate.
struct RatioOptimum {
  double compute = 0;
  double sparsity = 0;
  double r_opt = kNaN;
  double ci_low = kNaN, ci_high = kNaN;
  bool bracketed = false;
  int n_points = 0;
  double sigma = kNaN;  // the fit's sigma on ln r* (see above)
  std::string note;     // why left out
};

struct RatioErrors {
  double rmse_log = kNaN;  // RMSE of ln r*
  double mape = kNaN;      // percent, of r*
  int n_points = 0;
};

struct RatioFold {
  double sparsity = 0;  // held out
  bool fitted = false;
  std::string note;  // why the fold could not be fitted
  RatioLawParams params;
  RatioErrors held_out;
};

struct RatioLawFit {
  Estimate alpha0, p, beta0, q;
  double objective = kNaN;  // SUM ((ln rhat - ln r*) / sigma)^2
  int n_points = 0;         // r* estimates used
  bool weighted = false;    // 1 / (sigma^2 + tau^2) weights
  std::string weighting;    // how the r* were weighted, in words
  double tau = 0;           // scatter of ln r* about the law beyond each one's sd
  // r* of the law at the data's centre (the geometric-mean budget, the median sparsity): alpha0
  // is r* at C = 1 FLOP, far outside any sweep, so its interval says little; this one is where
  // the data are.
  double c_ref = kNaN, s_ref = kNaN;
  Estimate r_ref;
  int n_bootstrap_dropped = 0;       // replicates whose r* could not determine the law
  double loso_rmse_sd = kNaN;        // spread of the held-out RMSE over the folds
  std::vector<RatioOptimum> optima;  // every (C, S), used or not
  RatioErrors in_sample;
  std::vector<RatioFold> folds;  // leave one sparsity out
  RatioErrors loso;              // pooled over the folds' held-out points
  RatioErrors published_errors;  // the published coefficients on the same r*
  int n_bootstrap = 0;
  int n_bootstrap_ok = 0;
  uint64_t seed = 0;

  RatioLawParams params() const { return {alpha0.value, p.value, beta0.value, q.value}; }
};

struct RatioLawOptions {
  ValleyModel valley = ValleyModel::kAllocation;  // how each budget's r* is found (valley.h)
  int bootstrap = kDefaultBootstrap;
  uint64_t seed = 0;
  RoleNames roles;
};

// r*(C, S) with bootstrap CIs for every (C, S) of the runs (isoflop per sparsity, x = r),
// bracketed or not; sigma set from the CI. The same estimates fit_ratio_law fits.
std::vector<RatioOptimum> ratio_optima(const std::vector<RatioRun>& runs,
                                       const RatioLawOptions& options = {});

// Fits the law to raw runs. Throws moe::InputError when fewer than 4 r* are bracketed, or they
// span fewer than 2 sparsities or 2 budgets.
RatioLawFit fit_ratio_law(const std::vector<RatioRun>& runs, const RatioLawOptions& options = {});

// Fits the law to given r* estimates (sigma used as given). Throws moe::InputError as above.
RatioLawParams fit_ratio_law_to(const std::vector<RatioOptimum>& optima,
                                double* objective = nullptr);

RatioErrors ratio_errors(const RatioLawParams& law, const std::vector<RatioOptimum>& optima);

// {"params": {"alpha0", "p", "beta0", "q"}, "ci": {name: [low, high]}, "objective",
//  "n_points", "weighted", "optima": [{"C", "S", "r_opt", "ci_low", "ci_high", "bracketed",
//  "n_points", "note"}], "in_sample": {"rmse_log", "mape_percent", "n_points"},
//  "leave_one_sparsity_out": {"folds": [{"S", "fitted", "note", "params", "rmse_log",
//  "mape_percent", "n_points"}], "pooled": {...}}, "published": {"params": {...}, errors...}}
nlohmann::json to_json(const RatioLawFit& fit);

}  // namespace moe::scaling
