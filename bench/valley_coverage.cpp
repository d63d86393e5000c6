// Bias, spread and interval coverage of the valley estimators on planted allocation valleys
// with noise (scaling/valley_simulation.h). One line per setting; bench/valley_coverage.sh runs
// the grid of settings whose table is in bench/RESULTS.md.
//   valley_coverage VALLEY POINTS NOISE REPLICATES BOOTSTRAP A B R_MID
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "scaling/valley_simulation.h"

int main(int argc, char** argv) {
  if (argc != 9) {
    std::fprintf(stderr,
                 "usage: valley_coverage VALLEY POINTS NOISE REPLICATES BOOTSTRAP A B R_MID\n");
    return 2;
  }
  namespace sc = moe::scaling;
  sc::SimulationSetup s;
  s.valley = sc::parse_valley_model(argv[1]);
  const int points = std::atoi(argv[2]);
  s.noise = std::atof(argv[3]);
  s.replicates = std::atoi(argv[4]);
  s.bootstrap = std::atoi(argv[5]);
  for (int i = 0; i < 4; ++i) s.budgets.push_back(1e15 * std::pow(4.0, i));
  s.truth =
      sc::planted_allocation(std::atof(argv[6]), std::atof(argv[7]), std::atof(argv[8]), s.budgets);
  for (int j = 0; j < points; ++j) s.grid.push_back(0.2 * std::pow(3.6 / 0.2, j / (points - 1.0)));
  const sc::SimulationResult r = sc::simulate_valleys(s);
  std::printf(
      "%-10s points %d noise %.4f a %s b %s r_mid %s | bias %+.2f%% rms %.2f%% | coverage %.1f%% "
      "(%d/%d) | exponent coverage %d/%d, trend claimed %d/%d\n",
      argv[1], points, s.noise, argv[6], argv[7], argv[8], 100 * r.mean_log_error,
      100 * r.rms_log_error, 100 * r.coverage(), r.budget_covered, r.budget_intervals,
      r.exponent_covered, r.exponent_fits, r.trend_claims, r.exponent_fits);
  return 0;
}
