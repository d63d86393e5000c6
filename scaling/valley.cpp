#include "scaling/valley.h"

#include <fmt/format.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "common/errors.h"

namespace moe::scaling {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int kGrid = 16;  // exponent grid per axis, log-spaced

struct Projection {
  double sse = 0;
  std::vector<std::array<double, 3>> coef;
};

// Given (a, b): each budget's (E, A, B) by least squares, and the total squared error. The 3x3
// normal equations are solved by a pivoted LDLT; the columns are 1 and the two walls, whose
// scales are similar at the exponents searched, so they are well enough conditioned.
Projection project(ValleyModel model, double a, double b,
                   const std::vector<std::vector<double>>& log_x,
                   const std::vector<std::vector<double>>& loss) {
  Projection p;
  for (size_t i = 0; i < log_x.size(); ++i) {
    Eigen::Matrix3d xtx = Eigen::Matrix3d::Zero();
    Eigen::Vector3d xty = Eigen::Vector3d::Zero();
    for (size_t j = 0; j < log_x[i].size(); ++j) {
      const auto w = walls(model, a, b, log_x[i][j]);
      const Eigen::Vector3d row(1, w[0], w[1]);
      const double y = loss[i][j];
      xtx += row * row.transpose();
      xty += row * y;
    }
    const Eigen::Vector3d c = xtx.ldlt().solve(xty);
    // Residuals computed directly: yty - c'X'y loses digits when the fit is close.
    double sse = 0;
    for (size_t j = 0; j < log_x[i].size(); ++j) {
      const auto w = walls(model, a, b, log_x[i][j]);
      const double r = loss[i][j] - (c(0) + c(1) * w[0] + c(2) * w[1]);
      sse += r * r;
    }
    p.sse += sse;
    p.coef.push_back({c(0), c(1), c(2)});
  }
  return p;
}

double slope(ValleyModel model, const std::array<double, 3>& c, double a, double b, double u) {
  if (model == ValleyModel::kAllocation) {
    return c[1] * a * std::pow(1 + std::exp(u), a - 1) * std::exp(u) -
           c[2] * b * std::pow(1 + std::exp(-u), b - 1) * std::exp(-u);
  }
  return -c[1] * a * std::exp(-a * u) + c[2] * b * std::exp(b * u);
}

}  // namespace

ValleyModel parse_valley_model(const std::string& s) {
  if (s == "allocation") return ValleyModel::kAllocation;
  if (s == "power") return ValleyModel::kPower;
  if (s == "parabola") return ValleyModel::kParabola;
  throw InputError(fmt::format(
      "--valley '{}' is unknown: use allocation (x = r), power (x = N or D) or parabola", s));
}

std::string to_string(ValleyModel m) {
  switch (m) {
    case ValleyModel::kAllocation:
      return "allocation";
    case ValleyModel::kPower:
      return "power";
    case ValleyModel::kParabola:
      break;
  }
  return "parabola";
}

std::array<double, 2> walls(ValleyModel model, double a, double b, double u) {
  if (model == ValleyModel::kAllocation) {
    return {std::pow(1 + std::exp(u), a), std::pow(1 + std::exp(-u), b)};
  }
  return {std::exp(-a * u), std::exp(b * u)};
}

double WallsFit::value(size_t budget, double u) const {
  const auto w = walls(model, a, b, u);
  const auto& c = coef[budget];
  return c[0] + c[1] * w[0] + c[2] * w[1];
}

double WallsFit::argmin(size_t budget, double u_lo, double u_hi) const {
  const auto& c = coef[budget];
  if (!(c[1] > 0 && c[2] > 0)) return kNaN;
  // Both walls rise away from the minimum, so the slope increases with u: bisect its sign.
  if (slope(model, c, a, b, u_lo) >= 0 || slope(model, c, a, b, u_hi) <= 0) return kNaN;
  double lo = u_lo, hi = u_hi;
  for (int it = 0; it < 200 && hi - lo > 1e-13; ++it) {
    const double mid = 0.5 * (lo + hi);
    (slope(model, c, a, b, mid) > 0 ? hi : lo) = mid;
  }
  return 0.5 * (lo + hi);
}

WallsFit fit_walls(ValleyModel model, const std::vector<std::vector<double>>& log_x,
                   const std::vector<std::vector<double>>& loss) {
  if (model == ValleyModel::kParabola) throw std::logic_error("fit_walls: not a walls model");
  int n_points = 0;
  for (size_t i = 0; i < log_x.size(); ++i) {
    if (std::set<double>(log_x[i].begin(), log_x[i].end()).size() < 3) {
      throw InputError(
          fmt::format("valley: a budget has fewer than 3 distinct values of x; the "
                      "{} valley needs 3 per budget",
                      to_string(model)));
    }
    n_points += static_cast<int>(log_x[i].size());
  }
  const int n_params = 3 * static_cast<int>(log_x.size()) + 2;
  if (n_points < n_params) {
    throw InputError(
        fmt::format("valley: {} points for the {} valley's {} parameters (3 per budget + 2 shared "
                    "exponents); add ratios or budgets, or use --valley parabola",
                    n_points, to_string(model), n_params));
  }
  auto sse = [&](double la, double lb) {
    return project(model, std::exp(la), std::exp(lb), log_x, loss).sse;
  };
  // Grid over ln a, ln b; then a pattern search from the best cell, halving its step.
  const double lmin = std::log(kMinExponent), lmax = std::log(kMaxExponent);
  const double step0 = (lmax - lmin) / (kGrid - 1);
  double best = std::numeric_limits<double>::infinity(), la = lmin, lb = lmin;
  for (int i = 0; i < kGrid; ++i) {
    for (int j = 0; j < kGrid; ++j) {
      const double s = sse(lmin + i * step0, lmin + j * step0);
      if (s < best) {
        best = s;
        la = lmin + i * step0;
        lb = lmin + j * step0;
      }
    }
  }
  for (double step = step0 / 2; step > 1e-10;) {
    bool moved = false;
    for (const auto& [da, db] :
         {std::pair{1, 0}, {-1, 0}, {0, 1}, {0, -1}, {1, 1}, {-1, -1}, {1, -1}, {-1, 1}}) {
      const double na = std::clamp(la + da * step, lmin, lmax);
      const double nb = std::clamp(lb + db * step, lmin, lmax);
      const double s = sse(na, nb);
      if (s < best) {
        best = s;
        la = na;
        lb = nb;
        moved = true;
      }
    }
    if (!moved) step /= 2;
  }
  WallsFit fit;
  fit.model = model;
  fit.a = std::exp(la);
  fit.b = std::exp(lb);
  const Projection p = project(model, fit.a, fit.b, log_x, loss);
  fit.coef = p.coef;
  fit.sse = p.sse;
  fit.n_points = n_points;
  return fit;
}

}  // namespace moe::scaling
