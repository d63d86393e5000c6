// FLOPs and parameter accounting: the one place where both are defined. The planner, the
// trainer's MFU, results.csv and the fitter all call these two functions.
//
// FLOPs follow paper 1 (Li et al. 2026, "Optimal Expert-Attention Allocation in MoE"), which
// uses the Megatron convention: matmuls only, 2 FLOPs per multiply-add, forward pass, here per
// token (the paper writes them per sequence of n = T tokens; divide by n). Per layer, with
// D = d_model, A = n_heads * head_dim, K = n_kv_heads * head_dim, F = d_expert, T = context:
//
//   attention projections   Q: 2*D*A   K,V: 2 * 2*D*K   O: 2*A*D
//   attention context       QK^T: 2*T*A   AV: 2*T*A            (paper's full-T convention)
//                           with kCausal, T is replaced by (T+1)/2: the exact mean number of
//                           unmasked keys per query under a causal mask (paper 2 halves it).
//   router (MoE layers)     2*D*E_r            E_r = routed experts actually scored
//   experts                 3 * 2*D*F * (top_k + n_shared)    SwiGLU: gate, up, down
//   dense FFN layers        3 * 2*D*F_dense
//   logits (once)           2*D*V
//
// C_A = sum of attention terms, C_E = router + experts (paper 1 counts the router as expert
// FLOPs), r = C_E / C_A. Logits and embeddings are reported apart and excluded from C_A, C_E.
// One difference from the paper, for exactness: its router term is 2*D*E with E counting the
// shared expert too; the router here scores only the routed experts, so we count 2*D*E_r.
// Training FLOPs = 3 x forward (backward = 2 x forward), logits included.
//
// Parameters: the tensors the model in model.h builds, counted exactly (a test checks
// count_params(c).total() == numel of the built model). Paper 2's triad (Wan et al. 2026):
// M = training FLOPs per token without logits, N_a = active non-embedding parameters,
// N = total non-embedding parameters. Embedding, learned positions and LM head are the
// "embedding" parameters; norms and the router are non-embedding.
#pragma once

#include <cstdint>

#include "moe/config.h"

namespace moe {

enum class ContextConvention { kFull, kCausal };

// Forward FLOPs per token for the whole model (all layers).
struct FlopsPerToken {
  double attn_projections = 0;  // Q, K, V, O
  double attn_context = 0;      // QK^T and AV
  double router = 0;
  double experts = 0;  // SwiGLU matmuls of active experts and of dense FFN layers
  double logits = 0;

  double attention() const { return attn_projections + attn_context; }  // C_A
  double expert() const { return router + experts; }                    // C_E
  double ratio() const { return expert() / attention(); }               // r
  double forward() const { return attention() + expert(); }             // paper's C_token
  double forward_with_logits() const { return forward() + logits; }
  double training() const { return 3.0 * forward_with_logits(); }     // per trained token
  double training_without_logits() const { return 3.0 * forward(); }  // paper 2's M
};

FlopsPerToken flops_per_token(const ModelConfig& c,
                              ContextConvention convention = ContextConvention::kFull);

struct ParamCounts {
  int64_t embedding = 0;  // token embedding + learned positions
  int64_t lm_head = 0;    // 0 when tied to the embedding
  int64_t attention = 0;  // Q, K, V, O of all layers
  int64_t norms = 0;      // every norm, final norm included
  int64_t router = 0;
  int64_t experts_total = 0;   // every expert and dense-FFN weight
  int64_t experts_active = 0;  // the expert weights one token uses

  int64_t active_nonembedding() const { return attention + norms + router + experts_active; }
  int64_t total_nonembedding() const { return attention + norms + router + experts_total; }
  int64_t total() const { return embedding + lm_head + total_nonembedding(); }  // == numel
};

// Exact; throws std::invalid_argument naming the shape when a count, or a sum the accessors
// form, does not fit in int64. Constant time (no loop over layers), like flops_per_token.
ParamCounts count_params(const ModelConfig& c);

}  // namespace moe
