#include "moe/triad.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>
#include <vector>

namespace moe {

namespace {

// No hidden size beyond this is a model (and it keeps every width in int64), nor below the other.
constexpr double kLargestWidth = 1e7;
constexpr double kSmallestWidth = 8;

void check_shape(const TriadShape& s) {
  auto positive = [](const char* flag, int64_t v) {
    if (v < 1) throw std::invalid_argument(fmt::format("{} {} must be >= 1", flag, v));
  };
  positive("--heads", s.n_heads);
  positive("--kv-heads", s.n_kv_heads);
  positive("--head-dim", s.head_dim);
  positive("--experts", s.n_experts);
  positive("--top-k", s.top_k);
  positive("--context", s.context);
  positive("--dense-factor", s.dense_factor);
  positive("--width-multiple", s.width_multiple);
  if (s.n_shared < 0)
    throw std::invalid_argument(fmt::format("--shared {} must be >= 0", s.n_shared));
  if (s.n_heads % s.n_kv_heads != 0) {
    throw std::invalid_argument(fmt::format(
        "--kv-heads {} must divide --heads {} (each key/value head serves a group of queries)",
        s.n_kv_heads, s.n_heads));
  }
  if (s.top_k >= s.n_experts) {
    throw std::invalid_argument(fmt::format(
        "--top-k {} must be below --experts {}: with every routed expert active N = N_a", s.top_k,
        s.n_experts));
  }
}

void check_target(const Triad& t) {
  for (const auto& [name, v] :
       {std::pair<const char*, double>{"M", t.M}, {"N_a", t.N_a}, {"N", t.N}}) {
    if (!(std::isfinite(v) && v > 0)) {
      throw std::invalid_argument(
          fmt::format("--triad: {} = {} must be a positive number", name, v));
    }
  }
  if (t.M <= 6 * t.N_a) {
    throw std::invalid_argument(fmt::format(
        "--triad: M/N_a = {:.4g} must exceed 6 (M = 6 N_a + the attention context term)",
        t.M / t.N_a));
  }
  if (t.N <= t.N_a) {
    throw std::invalid_argument(fmt::format(
        "--triad: N = {:.4g} must exceed N_a = {:.4g} (N adds the routed experts a token skips)",
        t.N, t.N_a));
  }
}

// What the target fixes before d: the MoE layers' parameters.
struct Budget {
  double inactive = 0;    // N - N_a = 3 d d_m (N_e - K) L_m
  double moe_active = 0;  // 3 d d_m (K + N_s) L_m, the same for every d
  double rest = 0;        // N_a - moe_active: attention + dense FFN
};

Budget budget(const Triad& t, const TriadShape& s) {
  Budget b;
  b.inactive = t.N - t.N_a;
  b.moe_active = b.inactive * static_cast<double>(s.top_k + s.n_shared) /
                 static_cast<double>(s.n_experts - s.top_k);
  b.rest = t.N_a - b.moe_active;
  if (b.rest <= 0) {
    const double most = 1.0 + static_cast<double>(s.n_experts - s.top_k) /
                                  static_cast<double>(s.top_k + s.n_shared);
    throw std::invalid_argument(fmt::format(
        "--triad: N/N_a = {:.4g} must be below {:.4g} = 1 + (N_e - K)/(K + N_s) for {} routed "
        "experts, top-{} and {} shared: the experts alone would exceed N_a; lower N or use more "
        "routed experts",
        t.N / t.N_a, most, s.n_experts, s.top_k, s.n_shared));
  }
  return b;
}

double attention_per_d(const TriadShape& s, int64_t n_layers) {  // attention params / d
  return 2.0 * static_cast<double>(s.head_dim * (s.n_heads + s.n_kv_heads) * n_layers);
}

double layers_real(const Triad& t, const TriadShape& s) {
  return (t.M - 6 * t.N_a) / (6.0 * static_cast<double>(s.context * s.n_heads * s.head_dim));
}

FeasibleD feasible_for_layers(const Budget& b, const TriadShape& s, int64_t n_layers) {
  // L_d(d) = (rest - A d) / (3 f d^2) with A = attention params per d: L_d = 0 at the top,
  // L_d = L - 1 at the bottom.
  const double a = attention_per_d(s, n_layers);
  const double q = 3.0 * static_cast<double>(s.dense_factor * (n_layers - 1));
  FeasibleD f;
  f.n_layers = n_layers;
  f.high = b.rest / a;
  f.low = q > 0 ? (-a + std::sqrt(a * a + 4 * q * b.rest)) / (2 * q) : f.high;
  return f;
}

// The hidden size at which the dense FFN takes exactly n_dense layers (real-valued): the root of
// 3 f n_dense d^2 + A d = rest. Integer layer splits only meet N_a at these points.
double d_for_dense_layers(const Budget& b, const TriadShape& s, int64_t n_layers, int64_t n_dense) {
  const double a = attention_per_d(s, n_layers);
  const double q = 3.0 * static_cast<double>(s.dense_factor * n_dense);
  return q > 0 ? (-a + std::sqrt(a * a + 4 * q * b.rest)) / (2 * q) : b.rest / a;
}

// The default d: the middle of the feasible interval (the paper's proxy for the best d), moved
// to the nearest point where the layer split is exact when one lies within a quarter of the
// interval's width of it (the paper's scale: many layers, exact points close together); else
// the middle itself, where the dense FFN takes the width N_a leaves (few layers).
double default_d(const Budget& b, const TriadShape& s, const FeasibleD& f) {
  const double middle = (f.low + f.high) / 2;
  double best = middle, best_distance = 0.25 * (f.high - f.low);
  for (int64_t n_dense = 0; n_dense < f.n_layers; ++n_dense) {
    const double d = d_for_dense_layers(b, s, f.n_layers, n_dense);
    if (std::abs(d - middle) <= best_distance) {
      best = d;
      best_distance = std::abs(d - middle);
    }
  }
  return best;
}

int64_t round_to(double x, int64_t multiple) {
  return std::max<int64_t>(multiple, std::llround(x / static_cast<double>(multiple)) * multiple);
}

TriadArch build(const Budget& b, const TriadShape& s, int64_t n_layers, int64_t d) {
  TriadArch a;
  a.shape = s;
  a.d_model = d;
  a.n_layers = n_layers;
  a.d_dense = s.dense_factor * d;
  const double dd = static_cast<double>(d);
  const double dense = b.rest - attention_per_d(s, n_layers) * dd;
  const double dense_layers = dense / (3.0 * dd * static_cast<double>(a.d_dense));
  a.n_dense_layers = std::clamp<int64_t>(std::llround(dense_layers), 0, n_layers - 1);
  a.d_expert = round_to(b.inactive / (3.0 * dd * static_cast<double>(s.n_experts - s.top_k) *
                                      static_cast<double>(a.n_moe_layers())),
                        s.width_multiple);
  return a;
}

double worst_error(const Triad& got, const Triad& want) {
  return std::max({std::abs(got.M / want.M - 1), std::abs(got.N_a / want.N_a - 1),
                   std::abs(got.N / want.N - 1)});
}

// At a d between the points where the dense layers come out whole with d_d = f d, the dense FFN
// takes its width from what N_a leaves instead: as many dense layers as at d_d = f d (at least
// one while anything is left), each of width (rest - A d) / (3 d L_d).
TriadArch build_free_dense(const Budget& b, const TriadShape& s, int64_t n_layers, int64_t d) {
  TriadArch a = build(b, s, n_layers, d);
  const double dd = static_cast<double>(d);
  const double dense = b.rest - attention_per_d(s, n_layers) * dd;
  if (dense <= 0) return a;
  a.n_dense_layers = std::clamp<int64_t>(a.n_dense_layers, 1, n_layers - 1);
  a.d_dense =
      std::max<int64_t>(1, std::llround(dense / (3.0 * dd * static_cast<double>(a.n_dense_layers)) /
                                        static_cast<double>(s.width_multiple)) *
                               s.width_multiple);
  a.d_expert = round_to(b.inactive / (3.0 * dd * static_cast<double>(s.n_experts - s.top_k) *
                                      static_cast<double>(a.n_moe_layers())),
                        s.width_multiple);
  return a;
}

}  // namespace

Triad count_triad(const TriadArch& a) {
  const TriadShape& s = a.shape;
  const double d = static_cast<double>(a.d_model);
  const double moe_layers = static_cast<double>(a.n_moe_layers());
  Triad t;
  t.N_a = attention_per_d(s, a.n_layers) * d +
          3.0 * d * static_cast<double>(a.d_dense * a.n_dense_layers) +
          3.0 * d * static_cast<double>(a.d_expert * (s.top_k + s.n_shared)) * moe_layers;
  t.N = t.N_a + 3.0 * d * static_cast<double>(a.d_expert * (s.n_experts - s.top_k)) * moe_layers;
  t.M = 6 * t.N_a + 6.0 * static_cast<double>(s.context * s.n_heads * s.head_dim * a.n_layers);
  return t;
}

FeasibleD feasible_d(const Triad& target, const TriadShape& shape) {
  check_shape(shape);
  check_target(target);
  const Budget b = budget(target, shape);
  const int64_t n_layers = std::max<int64_t>(1, std::llround(layers_real(target, shape)));
  return feasible_for_layers(b, shape, n_layers);
}

namespace {

// The architecture at d with n_layers layers (d_d = f d, or the freed dense width where that
// meets the target more closely than the paper's split misses it), with its worst relative
// error; nullopt when no model has that many layers or d lies outside its interval.
std::optional<std::pair<TriadArch, double>> candidate(const Triad& target, const Budget& b,
                                                      const TriadShape& shape, int64_t n_layers,
                                                      std::optional<int64_t> d_model,
                                                      double tolerance) {
  const FeasibleD f = feasible_for_layers(b, shape, n_layers);
  // no model that size
  if (!(f.high < kLargestWidth && f.high >= kSmallestWidth && f.low <= f.high)) return {};
  const int64_t m = shape.width_multiple;
  const int64_t lo = static_cast<int64_t>(std::floor(f.low / m)) * m;
  const int64_t hi = static_cast<int64_t>(std::ceil(f.high / m)) * m;
  const int64_t d = d_model ? *d_model : round_to(default_d(b, shape, f), m);
  if (d < lo || d > hi) return {};
  TriadArch a = build(b, shape, n_layers, d);
  double error = worst_error(count_triad(a), target);
  if (error > tolerance && n_layers > 1) {
    const TriadArch freed = build_free_dense(b, shape, n_layers, d);
    const double freed_error = worst_error(count_triad(freed), target);
    if (freed_error < error) {
      a = freed;
      error = freed_error;
    }
  }
  a.d_low = f.low;
  a.d_high = f.high;
  return std::make_pair(a, error);
}

// Why no candidate exists: d below any width, no width the triad allows, or d outside the
// interval.
[[noreturn]] void throw_no_candidate(const Triad& target, const Budget& b, const TriadShape& shape,
                                     double l_real, std::optional<int64_t> d_model) {
  const FeasibleD f = feasible_for_layers(b, shape, std::max<int64_t>(1, std::llround(l_real)));
  if (d_model && static_cast<double>(*d_model) < kSmallestWidth) {
    throw std::invalid_argument(
        fmt::format("--d-model {} must be at least {:g}", *d_model, kSmallestWidth));
  }
  if (!(f.high >= kSmallestWidth)) {
    throw std::invalid_argument(fmt::format(
        "--triad: N/N_a = {:.4g} leaves the attention and dense layers so few parameters that "
        "d would be at most {:.3g}, below {:g}; lower N/N_a or raise M/N_a",
        target.N / target.N_a, f.high, kSmallestWidth));
  }
  if (!(f.high < kLargestWidth)) {
    throw std::invalid_argument(fmt::format(
        "--triad: M {:.4g}, N_a {:.4g}, N {:.4g} need d of {:.3g} or more, beyond any model (at "
        "most {:g}); check the triad or the laws it came from",
        target.M, target.N_a, target.N, f.low, kLargestWidth));
  }
  throw std::invalid_argument(fmt::format(
      "--d-model {} is outside the feasible interval [{:.0f}, {:.0f}] of this triad ({} layers: "
      "from all but one layer dense to no dense layer)",
      d_model.value_or(0), f.low, f.high, f.n_layers));
}

}  // namespace

TriadArch solve_triad(const Triad& target, const TriadShape& shape, std::optional<int64_t> d_model,
                      double tolerance) {
  check_shape(shape);
  check_target(target);
  const Budget b = budget(target, shape);
  // Both integer layer counts around the real one: whichever meets the triad more closely.
  const double l_real = layers_real(target, shape);
  std::vector<int64_t> layer_counts = {std::max<int64_t>(1, static_cast<int64_t>(l_real))};
  if (static_cast<double>(layer_counts[0]) < l_real) layer_counts.push_back(layer_counts[0] + 1);
  std::optional<std::pair<TriadArch, double>> best;
  for (int64_t n_layers : layer_counts) {
    const auto c = candidate(target, b, shape, n_layers, d_model, tolerance);
    if (c && (!best || c->second < best->second)) best = c;
  }
  if (!best) throw_no_candidate(target, b, shape, l_real, d_model);
  const TriadArch& a = best->first;
  if (best->second > tolerance) {
    throw std::invalid_argument(fmt::format(
        "--triad: no architecture with integer layers meets the target within {:.0f}%: at d = "
        "{} ({} layers: {} dense + {} MoE, d_m {}) it has {}; try another --d-model in "
        "[{:.0f}, {:.0f}]",
        100 * tolerance, a.d_model, a.n_layers, a.n_dense_layers, a.n_moe_layers(), a.d_expert,
        describe_triad(count_triad(a), target), a.d_low, a.d_high));
  }
  return a;
}

ModelConfig triad_model(const TriadArch& a, int64_t vocab_size) {
  ModelConfig c;
  c.vocab_size = vocab_size;
  c.context = a.shape.context;
  c.d_model = a.d_model;
  c.n_layers = a.n_layers;
  c.n_dense_layers = a.n_dense_layers;
  c.d_dense = a.d_dense;
  c.n_heads = a.shape.n_heads;
  c.n_kv_heads = a.shape.n_kv_heads;
  c.head_dim = a.shape.head_dim;
  c.d_expert = a.d_expert;
  c.n_experts = a.shape.n_experts;
  c.top_k = a.shape.top_k;
  c.n_shared_experts = a.shape.n_shared;
  c.renormalize_gates = a.shape.top_k > 1;
  c.validate();
  return c;
}

double ComputeLaw::at(double compute) const { return k * std::pow(compute, a); }

HolisticPlan plan_holistic(double compute, const HolisticLaws& laws, const TriadShape& shape) {
  if (!(std::isfinite(compute) && compute > 0)) {
    throw std::invalid_argument(fmt::format("--holistic {} must be a compute budget > 0", compute));
  }
  HolisticPlan p;
  p.compute = compute;
  p.target.M = laws.m.at(compute);
  p.target.N_a = p.target.M / laws.m_over_na.at(compute);
  p.target.N = p.target.N_a * laws.n_over_na;
  p.tokens = compute / p.target.M;
  std::optional<int64_t> d;
  if (laws.d) {
    const double m = static_cast<double>(shape.width_multiple);
    d = static_cast<int64_t>(std::llround(laws.d->at(compute) / m)) * shape.width_multiple;
  }
  p.arch = solve_triad(p.target, shape, d);
  return p;
}

std::string describe_triad(const Triad& got, const Triad& want) {
  auto one = [](const char* name, double g, double w) {
    return fmt::format("{} {:.4g} ({:+.1f}%)", name, g, 100 * (g / w - 1));
  };
  return one("M", got.M, want.M) + ", " + one("N_a", got.N_a, want.N_a) + ", " +
         one("N", got.N, want.N);
}

}  // namespace moe
