// The MoE loss law of Li et al. 2026 beside the baselines it was compared with, fitted to the
// same points and scored in-sample and on held-out points (laws.h has the formulas):
//
//   moe         L = a/N^alpha + b/D^beta + c e^R (1-S)^gamma / N^lambda + d r/(r+1) + tau
//   wang        L = a / (N^alpha E^gamma) + b / D^beta + tau          (Wang et al. 2024)
//   abnar       L = a/N^alpha + b/D^beta + c/(1-S)^lambda + d/((1-S)^delta N^gamma) + tau
//                                                                      (Abnar et al. 2025)
//   chinchilla  L = E + A/N^alpha + B/D^beta   (no MoE terms: the reference every law must beat)
//
// Each law is fitted as in loss_fit.h (log space, SUM of Huber(delta), multi-start, bootstrap);
// one Chinchilla fit of the training points seeds the starts of the other three. Scores: RMSE
// of L and mean absolute percentage error of L, in-sample (training points) and held out. Li et
// al. held out every run of their highest sparsity; hold_out_highest_sparsity does the same.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <utility>
#include <vector>

#include "scaling/loss_fit.h"

namespace moe::scaling {

struct LawComparison {
  LawFit fit;
  ErrorFigures in_sample;
  ErrorFigures held_out;  // n_points == 0 without held-out points
};

struct MoeLawComparison {
  std::vector<LawComparison> laws;  // moe, wang, abnar, chinchilla
  std::string holdout;              // what was held out ("sparsity = 0.9767"), empty for none
  int n_train = 0;
  int n_held_out = 0;

  // Throws std::invalid_argument for a law not in the comparison.
  const LawComparison& law(LossLaw law) const;
};

// Fits the four laws to `train` and scores them on `train` and `held_out`. Throws
// moe::InputError when the training points cannot determine a law (check_points).
MoeLawComparison fit_moe_laws(const std::vector<LossPoint>& train,
                              const std::vector<LossPoint>& held_out,
                              const LawFitOptions& options = {},
                              const std::string& holdout_description = "");

// {first: points below the highest sparsity, second: points at it} (sparsities equal within a
// relative 1e-3).
std::pair<std::vector<LossPoint>, std::vector<LossPoint>> hold_out_highest_sparsity(
    const std::vector<LossPoint>& points);

// {"holdout", "n_train", "n_held_out", "laws": [{law fit JSON (loss_fit.h), "in_sample":
//  {"rmse", "mape_percent", "n_points"}, "held_out": {...} or null}]}
nlohmann::json to_json(const MoeLawComparison& comparison);

}  // namespace moe::scaling
