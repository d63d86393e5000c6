// The loss valley of each compute budget, and its minimum, from a model of what the valley is
// made of rather than a parabola.
//
// At a fixed budget, sweeping x trades one resource for another, and the loss is a constant plus
// two walls that rise on either side:
//   allocation (x = r = C_E / C_A, paper 1's allocation model, Li et al. 2026 App. A):
//       L = E + A C_A^-a + B C_E^-b with C_A = C / (1 + r), C_E = C r / (1 + r), so at budget i
//       L_i(u) = E_i + A_i (1 + e^u)^a + B_i (1 + e^-u)^b,            u = ln r;
//   power (x = N or D at fixed C = 6 N D, Hoffmann et al.'s approach 3 surface):
//       L_i(u) = E_i + A_i e^(-a u) + B_i e^(b u),                      u = ln x.
// The exponents a, b are shared by the budgets fitted together (one sparsity); E_i, A_i, B_i
// belong to each budget. Given (a, b) the rest is linear least squares (variable projection), so
// the fit searches only the two exponents: a grid over [kMinExponent, kMaxExponent]^2 in log
// steps, then a pattern search from the best cell. A budget's optimum is the minimum of its
// fitted valley; it is bracketed when A_i, B_i > 0 and the minimum lies strictly inside the
// swept range (nothing is extrapolated).
//
// Why not the parabola: a parabola in ln x is symmetric, real valleys are not, and a fixed grid
// that is off-centre at some budgets turns the asymmetry into a bias that drifts with C (Xu,
// Elmatad, Wang and Held 2026, "Problems with Chinchilla Approach 2"). On valleys planted from
// the allocation model (tests/scaling/test_valley.cpp, bench/RESULTS.md) the vertex misses by up
// to 28% and the exponent of r*(C) by up to 0.07; the walls fit recovers both.
#pragma once

#include <array>
#include <string>
#include <vector>

namespace moe::scaling {

enum class ValleyModel { kAllocation, kPower, kParabola };
ValleyModel parse_valley_model(const std::string& s);  // throws moe::InputError
std::string to_string(ValleyModel m);

constexpr double kMinExponent = 0.01, kMaxExponent = 3.0;

// The valleys of several budgets fitted together. log_x[i] and loss[i] are budget i's points.
struct WallsFit {
  ValleyModel model = ValleyModel::kAllocation;
  double a = 0, b = 0;                      // shared wall exponents
  std::vector<std::array<double, 3>> coef;  // per budget: E_i, A_i, B_i
  double sse = 0;
  int n_points = 0;
  int n_params() const { return static_cast<int>(3 * coef.size()) + 2; }

  double value(size_t budget, double u) const;
  // The minimum of budget i's fitted valley over [u_lo, u_hi]: its u, or NaN when the valley
  // has no interior minimum there (a wall with a non-positive coefficient, or the minimum at an
  // end of the range).
  double argmin(size_t budget, double u_lo, double u_hi) const;
};

// The two walls at u for exponents (a, b).
std::array<double, 2> walls(ValleyModel model, double a, double b, double u);

// Least squares over (a, b) and every budget's (E, A, B). Each budget needs 3 distinct x and all
// budgets together more points than parameters (3 per budget + 2); throws moe::InputError
// otherwise. model must not be kParabola.
WallsFit fit_walls(ValleyModel model, const std::vector<std::vector<double>>& log_x,
                   const std::vector<std::vector<double>>& loss);

}  // namespace moe::scaling
