// Synthetic loss grids with known parameters, noise and outliers, for the scaling tests.
#pragma once

#include <cmath>
#include <vector>

#include "scaling/fit.h"
#include "scaling/laws.h"

namespace moe::scaling::testing {

// Chinchilla's published law (Hoffmann et al. 2022): E, A, B, alpha, beta.
inline const std::vector<double> kChinchillaTruth = {1.69, 406.4, 410.7, 0.34, 0.28};

// IsoFLOP-style design: `budgets` compute budgets from 1e18 by half decades, `per_budget`
// model sizes each, D = C / (6 N); loss from `law` with raw parameters `raw`, multiplied by
// exp(noise * normal), and every `outlier_every`-th point (0: none) raised by 10%.
inline std::vector<LossPoint> isoflop_design(LossLaw law, const std::vector<double>& raw,
                                             int budgets, int per_budget, double noise,
                                             int outlier_every, uint64_t seed) {
  Rng rng(seed);
  std::vector<LossPoint> out;
  int k = 0;
  for (int c = 0; c < budgets; ++c) {
    const double compute = std::pow(10.0, 18 + 0.5 * c);
    for (int i = 0; i < per_budget; ++i, ++k) {
      LossPoint p;
      p.n = std::pow(10.0, 7.5 + 0.25 * c + 2.5 * i / (per_budget - 1));
      p.d = compute / (6 * p.n);
      p.loss = predict(law, raw, p) * std::exp(noise * rng.normal());
      if (outlier_every > 0 && k % outlier_every == outlier_every - 1) p.loss *= 1.10;
      out.push_back(p);
    }
  }
  return out;
}

}  // namespace moe::scaling::testing
