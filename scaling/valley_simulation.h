// Simulations that check the valley estimators against planted truths: bias and spread of each
// budget's optimum, coverage of its 95% interval, and how often a flat r*(C) is called a trend.
// Used by the ctest coverage tests (few replicates) and bench/valley_coverage (the tables of
// bench/RESULTS.md).
#pragma once

#include <cstdint>
#include <vector>

#include "scaling/valley.h"

namespace moe::scaling {

// Paper 1's allocation model L = E + A C_A^-a + B C_E^-b as exact valleys (a WallsFit), with B
// chosen so that r*(C) at the geometric middle of the budgets is r_mid.
WallsFit planted_allocation(double a, double b, double r_mid, const std::vector<double>& budgets);

struct SimulationSetup {
  WallsFit truth;               // the planted valleys, one per budget
  std::vector<double> budgets;  // C of each
  std::vector<double> grid;     // the swept x, the same at every budget
  double noise = 0.003;         // standard deviation of the loss noise (nats)
  ValleyModel valley = ValleyModel::kAllocation;
  int bootstrap = 200;
  int replicates = 100;
  uint64_t seed = 1;
};

struct SimulationResult {
  int replicates = 0;
  int budget_estimates = 0;   // bracketed budget optima over all replicates
  int budget_intervals = 0;   // of those, with an interval
  int budget_covered = 0;     // intervals containing the planted optimum
  double mean_log_error = 0;  // mean of ln(x_hat / x_true): the bias
  double rms_log_error = 0;   // its root mean square: bias and spread
  int exponent_fits = 0;      // replicates with the power law fitted and an interval
  int exponent_covered = 0;   // exponent intervals containing the planted exponent
  int trend_claims = 0;       // exponent intervals excluding 0
  double coverage() const {
    return budget_intervals ? double(budget_covered) / budget_intervals : 0;
  }
};

SimulationResult simulate_valleys(const SimulationSetup& setup);

}  // namespace moe::scaling
