// Near-optimal bands: per compute budget, the optimum of a swept variable x and the interval
// (x_low, x_high) in which the loss stays within a relative band of its minimum; then power laws
// of x_opt, x_low, x_high and the band's width in C. Paper 2 ("Holistic Scaling Laws for
// Optimal MoE Architecture Optimization", Phase 2) does this for the hidden size d at each
// optimal triad: a quadratic in d per scale, d_opt at its vertex, the band where the loss is
// within 0.1% of the minimum, and d_l, d_opt, d_r as power laws of C.
//
// Per budget C (points whose C agree within a relative 1e-3): the least-squares quadratic
//   loss = c0 + c1 u + c2 u^2,   u = x (the paper's), or u = ln x (--log-x)
// x_opt at its vertex, loss_opt the curve there, and the band edges where the curve reaches
// loss_opt (1 + band): u_opt -+ sqrt(band loss_opt / c2). A budget needs 3 distinct x, a curve
// that opens upward and a vertex strictly inside the swept range (bracketed); otherwise it is
// reported with the reason and left out of the laws. Band edges outside the swept range are
// extrapolated by the quadratic, and flagged. A valley that is not a quadratic (a steeper wall on
// one side) moves the vertex towards its gentler side: on loss = L0 + k u^2 (1 + 0.6 u / d0)
// swept over 0.5..1.6 d0, by about -6 to -8%, beyond its interval (tests/scaling/test_band.cpp);
// the exponent of x_opt in C is unaffected when the valley's shape scales with d0.
//
// Bootstrap: points resampled within each budget (stratified); each replicate refits every
// budget and the laws; intervals are the 2.5/97.5 percentiles. Replicates in which a budget has
// no bracketed vertex leave that budget out (counted).
//
// Laws: ln y = ln k + a ln C by least squares over the bracketed budgets (at least 2), for y in
// x_opt, x_low, x_high and the width x_high - x_low.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "scaling/fit.h"
#include "scaling/isoflop.h"

namespace moe::scaling {

struct BandOptions {
  double band = 1e-3;  // relative: 0.001 is the paper's 0.1%
  bool log_x = false;  // the quadratic in ln x instead of x
  int bootstrap = kDefaultBootstrap;
  uint64_t seed = 0;
};

struct BandOptimum {
  double compute = 0;
  int n_points = 0;
  double x_min = 0, x_max = 0;  // swept range
  bool bracketed = false;
  std::string note;  // why not bracketed
  Estimate x_opt, x_low, x_high;
  double loss_opt = kNaN;
  bool edges_inside = false;  // both band edges within the swept range
  int replicates_used = 0;
};

struct BandLaw {  // y = k C^a
  std::string name;
  Estimate k, a;
  bool fitted = false;
};

struct BandFit {
  BandOptions options;
  std::vector<BandOptimum> optima;  // by C
  std::vector<BandLaw> laws;        // x_opt, x_low, x_high, width
  int n_budgets_used = 0;
};

// Throws moe::InputError for unusable input (no points, x <= 0 with log_x, band <= 0).
BandFit fit_band(const std::vector<IsoflopPoint>& points, const BandOptions& options);

nlohmann::json to_json(const BandFit& fit);

}  // namespace moe::scaling
