// Near-optimal bands: per compute budget, the optimum of a swept variable x and the interval
// (x_low, x_high) in which the loss stays within a relative band of its minimum; then power laws
// of x_opt, x_low, x_high and the band's width in C. Paper 2 ("Holistic Scaling Laws for
// Optimal MoE Architecture Optimization") does this twice:
//   Phase 2, x = the hidden size d at each optimal triad: a quadratic in d per scale, d_opt at
//     its vertex, the band where the loss is within 0.1% of the minimum, d_l, d_opt, d_r as
//     power laws of C (curve kQuadratic);
//   Phase 1, x = M/N_a and x = N/N_a: L = a/(x - 6) + b x + c, and L = a/(x - C1) + b/(C2 - x) + c
//     with C1 = 1, C2 = (N_e + 1)/(K + 1) the ends of N/N_a's range; their optima per scale,
//     then laws in C (curve kPole with lower = 6, or lower = C1 and upper = C2).
// Every curve is linear in its coefficients (least squares, no starts):
//   kQuadratic      loss = c0 + c1 x + c2 x^2          x_opt = -c1 / (2 c2)       (c2 > 0)
//   kLogQuadratic   the same in u = ln x
//   kPole           loss = c + a/(x - lower) + b x     x_opt = lower + sqrt(a/b)  (a, b > 0)
//                   loss = c + a/(x - lower) + b/(upper - x)
//                                  x_opt = (upper + s lower)/(1 + s), s = sqrt(b/a)
// Per budget C (points whose C agree within a relative 1e-3): the curve, x_opt and loss_opt at
// its minimum, and the band edges where the curve reaches loss_opt (1 + band) (closed form for
// the quadratics, bisection on each convex side for the poles). A budget needs 3 distinct x, a
// curve with a minimum, and that minimum strictly inside the swept range (bracketed); otherwise
// it is reported with the reason and left out of the laws. Band edges outside the swept range
// are extrapolated by the curve, and flagged. A valley whose walls differ from the curve's moves
// the optimum: the quadratic leans towards the gentler side of a valley with one steep wall (on
// loss = L0 + k u^2 (1 + 0.6 u / d0) swept over 0.5..1.6 d0, by about -6 to -8%, beyond its
// interval: tests/scaling/test_band.cpp); the exponent of x_opt in C is unaffected when the
// valley's shape scales with d0.
//
// Bootstrap: points resampled within each budget (stratified); each replicate refits every
// budget and the laws; intervals are the 2.5/97.5 percentiles. Replicates in which a budget has
// no bracketed minimum leave that budget out (counted).
//
// Laws: ln y = ln k + a ln C by least squares over the bracketed budgets (at least 2), for y in
// x_opt, x_low, x_high and the width x_high - x_low.
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "scaling/fit.h"
#include "scaling/isoflop.h"

namespace moe::scaling {

enum class BandCurve { kQuadratic, kLogQuadratic, kPole };
std::string to_string(BandCurve c);
// quadratic | log-quadratic | pole; throws moe::InputError otherwise.
BandCurve parse_band_curve(const std::string& s);

struct BandOptions {
  double band = 1e-3;  // relative: 0.001 is the paper's 0.1%
  BandCurve curve = BandCurve::kQuadratic;
  double lower = kNaN;  // kPole: the pole below the data (required)
  double upper = kNaN;  // kPole: the pole above it (NaN: the b x term instead)
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
  // The fitted curve (drawn by the reports): the quadratics' loss = c0 + c1 v + c2 v^2 with
  // v = x - center (or ln x - center); the poles' loss = c0 + c1/(x - lower) + c2 x (or
  // + c2/(upper - x)), center 0. NaN when fewer than 3 distinct x.
  std::array<double, 3> coefficients = {kNaN, kNaN, kNaN};
  double center = 0;
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

// Throws moe::InputError for unusable input (no points, band outside (0, 1), x <= 0 for the log
// quadratic, x outside (lower, upper) for the poles), naming the value.
BandFit fit_band(const std::vector<IsoflopPoint>& points, const BandOptions& options);

nlohmann::json to_json(const BandFit& fit);

}  // namespace moe::scaling
