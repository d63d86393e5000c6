#include "moe/accounting.h"

namespace moe {

FlopsPerToken flops_per_token(const ModelConfig& c, ContextConvention convention) {
  const double d = static_cast<double>(c.d_model);
  const double attn_width = static_cast<double>(c.n_heads * c.head_dim);   // A
  const double kv_width = static_cast<double>(c.n_kv_heads * c.head_dim);  // K
  const double keys = convention == ContextConvention::kFull
                          ? static_cast<double>(c.context)
                          : (static_cast<double>(c.context) + 1.0) / 2.0;
  const double f = static_cast<double>(c.d_expert);

  FlopsPerToken out;
  for (int64_t layer = 0; layer < c.n_layers; ++layer) {
    out.attn_projections += 2 * d * attn_width + 2 * (2 * d * kv_width) + 2 * attn_width * d;
    out.attn_context += 2 * keys * attn_width + 2 * keys * attn_width;
    if (c.layer_is_moe(layer)) {
      out.router += 2 * d * static_cast<double>(c.n_experts);
      out.experts += 3 * 2 * d * f * static_cast<double>(c.top_k + c.n_shared_experts);
    } else {
      out.experts += 3 * 2 * d * static_cast<double>(c.dense_ffn_width());
    }
  }
  out.logits = 2 * d * static_cast<double>(c.vocab_size);
  return out;
}

ParamCounts count_params(const ModelConfig& c) {
  const int64_t d = c.d_model;
  const int64_t swiglu = 3 * d * c.d_expert;  // gate, up, down of one expert
  const int64_t norm = c.norm == NormKind::kRMSNorm ? d : 2 * d;  // LayerNorm has a bias

  ParamCounts p;
  p.embedding = c.vocab_size * d;
  if (c.positions == PositionEncoding::kLearned) p.embedding += c.context * d;
  p.lm_head = c.tie_embeddings ? 0 : c.vocab_size * d;
  for (int64_t layer = 0; layer < c.n_layers; ++layer) {
    p.attention += d * c.n_heads * c.head_dim * 2 + d * c.n_kv_heads * c.head_dim * 2;
    p.norms += 2 * norm;
    if (c.layer_is_moe(layer)) {
      p.router += d * c.n_experts;
      p.experts_total += swiglu * (c.n_experts + c.n_shared_experts);
      p.experts_active += swiglu * (c.top_k + c.n_shared_experts);
    } else {
      p.experts_total += 3 * d * c.dense_ffn_width();
      p.experts_active += 3 * d * c.dense_ffn_width();
    }
  }
  p.norms += norm;  // final norm
  return p;
}

}  // namespace moe
