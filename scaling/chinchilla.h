// Chinchilla's approach 3 and the compute-optimal allocation it implies.
//
// Fit: L(N, D) = E + A / N^alpha + B / D^beta by fit_loss_law(LossLaw::kChinchilla, ...):
// log-sum-exp parametrisation, SUM of Huber(delta = 1e-3) of log-residuals, the full grid of
// 4500 starts, the best objective wins (Hoffmann et al. 2022, appendix D.2; see loss_fit.h).
//
// Compute-optimal allocation under Chinchilla's convention C = 6 N D (Hoffmann et al. 2022,
// Eq. 4): minimising L at fixed C gives
//   N_opt(C) = G (C/6)^a,  D_opt(C) = G^-1 (C/6)^b,
//   a = beta / (alpha + beta),  b = alpha / (alpha + beta),  G = (alpha A / (beta
//   B))^(1/(alpha+beta)).
// Every derived number gets its interval from the same bootstrap replicates as the parameters.
// Our runs spend C = (training FLOPs per token) x D rather than 6 N D; the convention here is
// Chinchilla's, so that the exponents compare with theirs.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <vector>

#include "scaling/loss_fit.h"

namespace moe::scaling {

struct ComputeOptimalPoint {
  double compute = 0;
  Estimate n_opt;
  Estimate d_opt;
};

struct ChinchillaFit {
  LawFit law;
  Estimate a;  // N_opt ~ C^a
  Estimate b;  // D_opt ~ C^b
  Estimate G;
  std::vector<ComputeOptimalPoint> optimal;  // at the requested budgets
  // Bootstrap replicates with no compute-optimal allocation (alpha or beta <= 0: the loss does
  // not fall in N or D): they are left out of the allocation's intervals, and counted here.
  int n_replicates_without_allocation = 0;
};

// a, b, G and N_opt, D_opt at `budgets` from Chinchilla parameters (E, A, B, alpha, beta).
struct Allocation {
  double a = kNaN, b = kNaN, G = kNaN;
};
Allocation compute_optimal(double A, double B, double alpha, double beta);
double n_opt(const Allocation& allocation, double compute);
double d_opt(const Allocation& allocation, double compute);

// Decades spanning the data's 6 N D, e.g. {1e17, 1e18, 1e19}.
std::vector<double> default_budgets(const std::vector<LossPoint>& points);

// Fits the law and derives the allocation at `budgets` (default_budgets when empty).
ChinchillaFit fit_chinchilla(const std::vector<LossPoint>& points,
                             const LawFitOptions& options = {}, std::vector<double> budgets = {});

// to_json(LawFit) plus "compute_optimal": {"convention": "C = 6 N D", "a", "a_ci", "b", "b_ci",
// "G", "G_ci", "budgets": [{"C", "N_opt", "N_opt_ci", "D_opt", "D_opt_ci"}]}.
nlohmann::json to_json(const ChinchillaFit& fit);

}  // namespace moe::scaling
