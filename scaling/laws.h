// Loss laws: their formulas, sources, parametrisations and the Ceres residual functor.
//
// Every law is fitted in log space (see fit.h): residual_i = log Lhat(x_i; theta) - log L_i.
// Positive coefficients are fitted as logarithms (so they stay positive and the grid of starts
// spans orders of magnitude); the JSON and tables report the natural values. The i-th raw
// parameter is the logarithm of the i-th reported parameter when law_info(law).log_params[i].
//
// Bounds: a scaling term a / N^alpha with alpha < 0 grows with N; left free, a fit can bend such
// a term into a hockey stick that rises at the last point and fits one outlier exactly (it
// lowers the Huber sum). So alpha of power and the N and D exponents (alpha, beta) of moe, wang
// and abnar are constrained to >= 0, and so is moe's lambda. Chinchilla's five parameters stay
// unbounded, exactly as in Hoffmann et al.'s approach 3.
//
// Variables: N parameters (we use active non-embedding parameters), D training tokens,
// S sparsity (E - E_act) / E in [0, 1), r = C_E / C_A (expert over attention FLOPs per token).
//
//   power        L = E + A * x^-alpha                      raw (log E, log A, alpha)
//   power (no E) L = A * x^-alpha                          raw (log A, alpha)
//       The classic saturating power law (Kaplan et al. 2020, "Scaling Laws for Neural
//       Language Models"; Hoffmann et al. 2022 with a single variable).
//   chinchilla   L = E + A / N^alpha + B / D^beta           raw (log E, log A, log B, alpha, beta)
//       Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models", Eq. 2 and
//       approach 3: log L = LSE(log A - alpha log N, log B - beta log D, log E).
//   moe          L = a / N^alpha + b / D^beta + c * e^R * (1-S)^gamma / N^lambda
//                    + d * r / (r + 1) + tau
//                raw (log a, alpha, log b, beta, log c, gamma, lambda, d, log tau)
//       Li et al. 2026, "Optimal Expert-Attention Allocation in Mixture-of-Experts", Eq. 2. The
//       paper never defines R. We take R = 1 / (1 + r) = C_A / (C_A + C_E), the attention share
//       of per-token FLOPs: the law then has one term in the attention share (c e^R, bounded in
//       [c, c e]) and one in the expert share (d r/(r+1) = d (1 - R)), so at fixed N, D and S
//       the loss has an interior minimum in r exactly when both pull in opposite directions
//       (c > 0, d > 0 and d within the reachable slope), which is the valley the paper observes.
//       d is fitted with its sign free; the other coefficients are positive. lambda >= 0 (the
//       sparsity term fades with N rather than growing); c and d are nearly collinear over a
//       narrow r range, so their intervals are wide there.
//   wang         L = a / (N^alpha * E^gamma) + b / D^beta + tau
//                raw (log a, alpha, gamma, log b, beta, log tau)
//       Wang et al. 2024 as quoted by Li et al. 2026. E is the expert count; with a fixed number
//       of active experts E_act, E = E_act / (1 - S), and E_act^gamma folds into a, so we use
//       E = 1 / (1 - S) (the same fit, a rescaled).
//   abnar        L = a / N^alpha + b / D^beta + c / (1-S)^lambda + d / ((1-S)^delta * N^gamma)
//                    + tau
//                raw (log a, alpha, log b, beta, log c, lambda, log d, delta, gamma, log tau)
//       Abnar et al. 2025, "Parameters vs FLOPs: Scaling Laws for Optimal Sparsity for MoE
//       Language Models". Li et al. print the same letter gamma for the exponents of (1 - S) in
//       the third term and of N in the fourth; Abnar et al. use separate exponents, and so do
//       we (lambda for the third term).
#pragma once

#include <ceres/jet.h>

#include <array>
#include <cmath>
#include <string>
#include <vector>

namespace moe::scaling {

// One observation of a loss law. Laws read only what they use: power reads n as its variable
// x; chinchilla reads n and d; wang and abnar add s; moe adds r.
struct LossPoint {
  double n = 0;     // N (for power: x)
  double d = 0;     // D, training tokens
  double s = 0;     // sparsity S in [0, 1)
  double r = 0;     // r = C_E / C_A
  double loss = 0;  // observed loss L (> 0)
};

enum class LossLaw { kPower, kPowerNoOffset, kChinchilla, kMoe, kWang, kAbnar };

struct LawInfo {
  std::string name;                 // as on the command line ("power", "chinchilla", "moe", ...)
  std::string formula;              // one line
  std::string source;               // citation
  std::vector<std::string> params;  // reported names, in raw order
  std::vector<bool> log_params;     // raw parameter i is log(params[i])
};

const LawInfo& law_info(LossLaw law);
int n_params(LossLaw law);
// Raw (fitted) parameters -> reported values.
std::vector<double> to_natural(LossLaw law, const std::vector<double>& raw);
// Reported values -> raw (throws std::invalid_argument for a non-positive log parameter).
std::vector<double> to_raw(LossLaw law, const std::vector<double>& natural);
// Lhat(point) for raw parameters; NaN when the law's value is not positive.
double predict(LossLaw law, const std::vector<double>& raw, const LossPoint& point);

// What the functors read, with the logarithms taken once.
struct PreparedPoint {
  double log_n = 0;
  double log_d = 0;
  double log_1ms = 0;       // log(1 - S)
  double expert_share = 0;  // r / (r + 1)
  double log_loss = 0;
};
PreparedPoint prepare(const LossPoint& p);

namespace detail {

// log(exp(t0) + ... + exp(t_{n-1}) + extra) with the largest exponent factored out, so that
// the terms never overflow; false when the sum is not positive. `extra` may be negative.
template <typename T, int kTerms>
bool log_sum_exp(const T (&t)[kTerms], const T& extra, T* out) {
  using std::exp;
  using std::log;
  T m = t[0];
  for (int i = 1; i < kTerms; ++i) {
    if (t[i] > m) m = t[i];
  }
  T sum = T(0);
  for (int i = 0; i < kTerms; ++i) sum += exp(t[i] - m);
  sum += extra * exp(-m);
  if (!(sum > T(0))) return false;
  *out = m + log(sum);
  return true;
}

}  // namespace detail

// One functor per law, Ceres' style: log Lhat(x; raw) templated for ceres::Jet, the parameter
// count, and the raw parameters bounded below by 0 (the exponents named above). Parameter order
// as in the header. The fit's residuals, its objective and predict() all evaluate these.
struct PowerLaw {
  static constexpr int kParams = 3;
  static constexpr std::array kNonNegative{2};  // alpha
  template <typename T>
  static bool log_value(const T* p, const PreparedPoint& x, T* out) {
    const T t[2] = {p[0], p[1] - p[2] * x.log_n};
    return detail::log_sum_exp(t, T(0), out);
  }
};

struct PowerNoOffsetLaw {
  static constexpr int kParams = 2;
  static constexpr std::array kNonNegative{1};  // alpha
  template <typename T>
  static bool log_value(const T* p, const PreparedPoint& x, T* out) {
    *out = p[0] - p[1] * x.log_n;
    return true;
  }
};

struct ChinchillaLaw {
  static constexpr int kParams = 5;
  static constexpr std::array<int, 0> kNonNegative{};  // unbounded, as in Hoffmann et al.
  template <typename T>
  static bool log_value(const T* p, const PreparedPoint& x, T* out) {
    const T t[3] = {p[1] - p[3] * x.log_n, p[2] - p[4] * x.log_d, p[0]};
    return detail::log_sum_exp(t, T(0), out);
  }
};

struct MoeLaw {
  static constexpr int kParams = 9;
  static constexpr std::array kNonNegative{1, 3, 6};  // alpha, beta, lambda
  template <typename T>
  static bool log_value(const T* p, const PreparedPoint& x, T* out) {
    const double attention_share = 1.0 - x.expert_share;  // R = 1 / (1 + r)
    const T t[4] = {p[0] - p[1] * x.log_n, p[2] - p[3] * x.log_d,
                    p[4] + attention_share + p[5] * x.log_1ms - p[6] * x.log_n, p[8]};
    return detail::log_sum_exp(t, p[7] * x.expert_share, out);
  }
};

struct WangLaw {
  static constexpr int kParams = 6;
  static constexpr std::array kNonNegative{1, 4};  // alpha, beta
  // E = 1 / (1 - S): a / (N^alpha E^gamma) = exp(log a - alpha log N + gamma log(1 - S)).
  template <typename T>
  static bool log_value(const T* p, const PreparedPoint& x, T* out) {
    const T t[3] = {p[0] - p[1] * x.log_n + p[2] * x.log_1ms, p[3] - p[4] * x.log_d, p[5]};
    return detail::log_sum_exp(t, T(0), out);
  }
};

struct AbnarLaw {
  static constexpr int kParams = 10;
  static constexpr std::array kNonNegative{1, 3};  // alpha, beta
  template <typename T>
  static bool log_value(const T* p, const PreparedPoint& x, T* out) {
    const T t[5] = {p[0] - p[1] * x.log_n, p[2] - p[3] * x.log_d, p[4] - p[5] * x.log_1ms,
                    p[6] - p[7] * x.log_1ms - p[8] * x.log_n, p[9]};
    return detail::log_sum_exp(t, T(0), out);
  }
};

// Calls f(Law{}) with the functor type of `law`.
template <typename F>
decltype(auto) with_law(LossLaw law, F&& f) {
  switch (law) {
    case LossLaw::kPower:
      return f(PowerLaw{});
    case LossLaw::kPowerNoOffset:
      return f(PowerNoOffsetLaw{});
    case LossLaw::kChinchilla:
      return f(ChinchillaLaw{});
    case LossLaw::kMoe:
      return f(MoeLaw{});
    case LossLaw::kWang:
      return f(WangLaw{});
    case LossLaw::kAbnar:
      break;
  }
  return f(AbnarLaw{});
}

template <typename T>
bool log_predict(LossLaw law, const T* p, const PreparedPoint& x, T* out) {
  return with_law(law, [&](auto l) { return decltype(l)::log_value(p, x, out); });
}

// The residual log Lhat - log L of one point under Law: one residual block.
template <typename Law>
struct LogLossResidual {
  explicit LogLossResidual(const PreparedPoint& point) : point_(point) {}
  template <typename T>
  bool operator()(const T* p, T* residual) const {
    T log_hat;
    if (!Law::log_value(p, point_, &log_hat)) return false;
    residual[0] = log_hat - point_.log_loss;
    using ceres::isfinite;  // a start whose prediction overflows fails quietly (see fit.h)
    using std::isfinite;
    return isfinite(residual[0]);
  }
  PreparedPoint point_;
};

}  // namespace moe::scaling
