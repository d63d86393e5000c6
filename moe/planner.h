// The architecture planner: (compute budget C, sparsity S, ratio r, size label) -> a model
// shape and a token count.
//
// A size label fixes depth L, query heads H, d_model and the training defaults (batch, LR).
// Paper 1's labels (20M..200M active parameters) carry the layers, heads, batch sizes and
// learning rates of its table; it does not state d_model, so ours is chosen so that the
// label's active parameters at r = 1 are close to its name at context 4096. The small labels
// (100K..10M) are for CPUs, at context 256; "tiny" (2 layers, d_model 128, context 128) is the
// CPU demo's (moescale reproduce --preset cpu-tiny). Paper 2's labels p2-1e18 .. p2-3e20 carry
// its Table 4 per budget: N_q heads of d_qkv (d_model = N_q d_qkv), N_kv = N_q / 2, context 8192,
// batch and LR; their layers are the optimal configurations' where the paper gives them (9 at
// 1e18, 16 at 3e20) and between those otherwise (they matter for ratio plans only: a triad
// solves its own layers).
//
// The label's per-token forward FLOPs budget is F = 2 * C_A(reference), the attention FLOPs of
// the reference shape (head_dim = d_model / n_heads, at the requested context) counted twice:
// the reference sits at r = 1. For a ratio r:
//
//   hold = flops  (paper 1): C_A = F / (1 + r), C_E = r * C_A_achieved. head_dim solves C_A
//                 (C_A is linear in head_dim), then d_expert solves C_E (linear in d_expert).
//   hold = active (paper 2's critique of FLOPs-matched comparisons): active non-embedding
//                 parameters N_a stay at the label's value at r = 1, and FLOPs per token move
//                 with r. With p = attention params per unit head_dim and a = attention FLOPs
//                 per unit head_dim (per layer), router params R and FLOPs 2R:
//                   N_a' = L*hd*p + L*3*D*F*(k+s)           (N_a' = N_a - norms - R)
//                   r * L*hd*a = 2R + L*6*D*F*(k+s)
//                 => hd = 2*(N_a' + R) / (L * (r*a + 2*p)), then F from the second line.
//
// Widths round to multiples of the largest power of two <= 64 that is at most 1/64 of the
// width (so rounding moves a width by < 0.8%), and never to less than the request's
// width_multiple (default 8: tensor cores, flash attention and the grouped GEMM's 16-byte bf16
// rows want multiples of 8) or, for head_dim, head_dim_multiple (e.g. 64); head_dim stays even
// for rotary positions. The achieved r and FLOPs are reported exactly; what rounding costs is
// their distance from the request (`moescale plan` prints it).
// Tokens D = C / (training FLOPs per token, logits included); steps = D / (batch * T).
//
// With --m-over-na and --n-over-na the plan is paper 2's instead (PlanRequest::m_over_na).
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "moe/accounting.h"
#include "moe/config.h"
#include "moe/triad.h"

namespace moe {

// Every count and width the planner takes or solves for (context, vocab, d_model, kv-heads,
// experts, top-k, shared, head_dim, d_expert) is at most 2^31 - 1, so that its integer
// arithmetic cannot overflow; the tokens a budget buys are at most 1e18.
constexpr int64_t kMaxPlanValue = (int64_t{1} << 31) - 1;

struct SizeLabel {
  std::string name;
  int64_t n_layers;
  int64_t n_heads;
  int64_t d_model;
  int64_t context;         // default context for the label
  int64_t batch_size;      // sequences per optimizer step
  double lr;               // peak learning rate
  int64_t n_kv_heads = 0;  // GQA's key/value heads (0: n_heads)
};

const std::vector<SizeLabel>& size_labels();
// Throws std::invalid_argument listing the known labels.
const SizeLabel& find_label(const std::string& name);

enum class Hold { kFlops, kActive };
std::string to_string(Hold h);
Hold parse_hold(const std::string& s);
std::string to_string(ContextConvention c);
ContextConvention parse_convention(const std::string& s);

struct PlanRequest {
  double compute = 0;  // total training FLOPs C
  double ratio = 1;    // target r = C_E / C_A
  std::string label = "1M";
  std::optional<double> sparsity;    // chooses n_experts when set
  std::optional<int64_t> n_experts;  // routed experts; default 16 (S = 82.35% with k=2, s=1)
  int64_t top_k = 2;
  int64_t n_shared_experts = 1;
  std::optional<int64_t> context;  // default: the label's
  int64_t vocab_size = 8192;
  std::optional<int64_t> d_model;     // default: the label's
  std::optional<int64_t> n_kv_heads;  // default: n_heads (no GQA)
  std::optional<int64_t> batch_size;  // default: the label's
  int64_t width_multiple = 8;         // head_dim and d_expert are multiples of this
  int64_t head_dim_multiple = 0;      // head_dim is a multiple of this too (0: width_multiple)
  Hold hold = Hold::kFlops;
  ContextConvention convention = ContextConvention::kFull;
  // Paper 2's triad instead of a ratio (both or neither): M = 3 x the label's forward FLOPs
  // budget, N_a = M / m_over_na, N = N_a * n_over_na; moe/triad.h solves the layers (dense and
  // MoE), d (d_model, default its proxy) and the expert width at the label's heads and head
  // width (d_model / n_heads). The plan's ratio is then what that architecture gives.
  std::optional<double> m_over_na, n_over_na;
  // With a triad: M = k C^a instead of the label's (paper 2's compute-optimal M per budget), and
  // d at this fraction of its feasible interval instead of --d-model (0: all layers but one
  // dense, 1: none; the paper's proxy is the middle).
  std::optional<ComputeLaw> m_law;
  std::optional<double> d_position;
  ModelConfig base;  // switches copied into the plan (positions, norm, router, losses, ...)
};

struct Plan {
  PlanRequest request;
  SizeLabel label;
  ModelConfig model;
  FlopsPerToken flops;  // achieved, under request.convention
  ParamCounts params;
  double target_forward_flops = 0;    // F the label asks for (hold = flops)
  int64_t target_active_params = 0;   // N_a the label asks for (hold = active)
  std::optional<Triad> triad_target;  // paper 2's plans: the (M, N_a, N) asked for
  double tokens = 0;                  // D = C / flops.training()
  int64_t batch_size = 0;
  double lr = 0;
  int64_t steps = 0;  // floor(D / (batch * T))
};

// Throws std::invalid_argument naming the flag to change for impossible requests.
Plan make_plan(const PlanRequest& request);

// The planner's JSON (keys documented in the README, "moescale plan").
nlohmann::json plan_to_json(const Plan& plan);

}  // namespace moe
