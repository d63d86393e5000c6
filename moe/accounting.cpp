#include "moe/accounting.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace moe {

namespace {

// Layers with an MoE FFN and layers with a dense one, counted without a loop over the layers:
// the first n_dense_layers are dense (clamped to [0, n_layers]), every layer is dense without
// routed experts.
std::pair<int64_t, int64_t> moe_and_dense_layers(const ModelConfig& c) {
  const int64_t layers = std::max<int64_t>(0, c.n_layers);
  const int64_t moe_layers =
      c.is_moe() ? layers - std::clamp<int64_t>(c.n_dense_layers, 0, layers) : 0;
  return {moe_layers, layers - moe_layers};
}

// Exact int64 arithmetic for parameter counts: a shape whose count does not fit is refused.
class Checked {
 public:
  explicit Checked(const ModelConfig& c) : c_(c) {}
  int64_t mul(int64_t a, int64_t b) const {
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r)) overflow();
    return r;
  }
  int64_t mul(int64_t a, int64_t b, int64_t d) const { return mul(mul(a, b), d); }
  int64_t add(int64_t a, int64_t b) const {
    int64_t r;
    if (__builtin_add_overflow(a, b, &r)) overflow();
    return r;
  }

 private:
  [[noreturn]] void overflow() const {
    throw std::invalid_argument(fmt::format(
        "model config: the parameter count of d_model = {}, n_layers = {}, vocab_size = {}, "
        "head_dim = {}, d_expert = {}, n_experts = {} does not fit in 64 bits; use a smaller shape",
        c_.d_model, c_.n_layers, c_.vocab_size, c_.head_dim, c_.d_expert, c_.n_experts));
  }
  const ModelConfig& c_;
};

}  // namespace

FlopsPerToken flops_per_token(const ModelConfig& c, ContextConvention convention) {
  // In double from the start: products of int64 fields may not fit int64.
  const double d = static_cast<double>(c.d_model);
  const double head_dim = static_cast<double>(c.head_dim);
  const double attn_width = static_cast<double>(c.n_heads) * head_dim;   // A
  const double kv_width = static_cast<double>(c.n_kv_heads) * head_dim;  // K
  const double keys = convention == ContextConvention::kFull
                          ? static_cast<double>(c.context)
                          : (static_cast<double>(c.context) + 1.0) / 2.0;
  const double f = static_cast<double>(c.d_expert);
  const double active = static_cast<double>(c.top_k) + static_cast<double>(c.n_shared_experts);
  const double dense_width = static_cast<double>(c.dense_ffn_width());
  const auto [moe_layers, dense_layers] = moe_and_dense_layers(c);
  const double layers = static_cast<double>(moe_layers + dense_layers);

  FlopsPerToken out;
  out.attn_projections =
      layers * (2 * d * attn_width + 2 * (2 * d * kv_width) + 2 * attn_width * d);
  out.attn_context = layers * (2 * keys * attn_width + 2 * keys * attn_width);
  out.router = static_cast<double>(moe_layers) * (2 * d * static_cast<double>(c.n_experts));
  out.experts = static_cast<double>(moe_layers) * (3 * 2 * d * f * active) +
                static_cast<double>(dense_layers) * (3 * 2 * d * dense_width);
  out.logits = 2 * d * static_cast<double>(c.vocab_size);
  return out;
}

ParamCounts count_params(const ModelConfig& c) {
  const Checked k(c);
  const int64_t d = c.d_model;
  const int64_t swiglu = k.mul(3, d, c.d_expert);  // gate, up, down of one expert
  const int64_t norm = c.norm == NormKind::kRMSNorm ? d : k.mul(2, d);  // LayerNorm has a bias
  const auto [moe_layers, dense_layers] = moe_and_dense_layers(c);
  const int64_t layers = moe_layers + dense_layers;
  const int64_t active = k.add(c.top_k, c.n_shared_experts);

  ParamCounts p;
  p.embedding = k.mul(c.vocab_size, d);
  if (c.positions == PositionEncoding::kLearned)
    p.embedding = k.add(p.embedding, k.mul(c.context, d));
  p.lm_head = c.tie_embeddings ? 0 : k.mul(c.vocab_size, d);
  p.attention = k.mul(layers, k.add(k.mul(d, c.n_heads, k.mul(c.head_dim, 2)),
                                    k.mul(d, c.n_kv_heads, k.mul(c.head_dim, 2))));
  p.norms = k.add(k.mul(layers, k.mul(2, norm)), norm);  // two per layer + the final norm
  p.router = k.mul(moe_layers, k.mul(d, c.n_experts));
  const int64_t dense_width = c.d_dense > 0 ? c.d_dense
                              : c.is_moe()  ? k.mul(active, c.d_expert)
                                            : c.d_expert;
  const int64_t dense_ffn = k.mul(3, d, dense_width);  // one dense layer
  p.experts_total = k.add(k.mul(moe_layers, k.mul(swiglu, k.add(c.n_experts, c.n_shared_experts))),
                          k.mul(dense_layers, dense_ffn));
  p.experts_active =
      k.add(k.mul(moe_layers, k.mul(swiglu, active)), k.mul(dense_layers, dense_ffn));
  // The sums ParamCounts' accessors form must fit too (in their order of evaluation).
  const int64_t base = k.add(k.add(p.attention, p.norms), p.router);
  k.add(base, p.experts_active);
  k.add(k.add(p.embedding, p.lm_head), k.add(base, p.experts_total));
  return p;
}

}  // namespace moe
