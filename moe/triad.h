// Architectures for a triad (M, N_a, N), as "Holistic Scaling Laws for Optimal Mixture-of-Experts
// Architecture Optimization" (paper 2) defines them in its App. A. Its accounting, beside paper
// 1's (accounting.h), with L = L_d + L_m layers (L_d leading dense ones):
//
//   attention, per layer   2 d d_qkv (N_q + N_kv)          Q, O with N_q heads; K, V with N_kv
//   dense FFN, per layer   3 d d_d,  d_d = 3 d by default  SwiGLU
//   MoE layer, active      3 d d_m (K + N_s)               K routed + N_s shared experts
//   N_a = 2 d d_qkv (N_q + N_kv) L + 3 d d_d L_d + 3 d d_m (K + N_s) L_m
//   N   = N_a + 3 d d_m (N_e - K) L_m                      N_e routed experts in all
//   M   = 6 N_a + 6 S N_q d_qkv L                          S = context (causal-halved term)
//
// Router, norms, embeddings and the LM head are not counted; M is training FLOPs per token.
//
// Solving: M and N_a fix L = (M - 6 N_a) / (6 S N_q d_qkv); N - N_a fixes L_m d_m, and with it
// the MoE layers' active parameters, independently of d; what N_a leaves (attention + dense
// FFN) fixes L_d for a given d. So one degree of freedom remains, the hidden size d, within a
// feasible interval: at its top the attention alone takes what is left (L_d = 0), at its
// bottom all layers but one are dense (L_m = 1). Layers are integers and widths multiples of
// `width_multiple` (the paper: 2^3..2^5), so the achieved triad differs from the target; the
// paper accepts 5%.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "moe/config.h"

namespace moe {

struct Triad {
  double M = 0;    // training FLOPs per token
  double N_a = 0;  // active non-embedding parameters
  double N = 0;    // total non-embedding parameters
};

// Everything but d and the layer split: the attention shape, the experts, the context and the
// rounding. Defaults: the paper's experts and context, its 1e19 attention shape.
struct TriadShape {
  int64_t n_heads = 8;  // N_q
  int64_t n_kv_heads = 4;
  int64_t head_dim = 64;       // d_qkv
  int64_t n_experts = 288;     // routed, N_e
  int64_t top_k = 8;           // K
  int64_t n_shared = 1;        // N_s
  int64_t context = 8192;      // S
  int64_t dense_factor = 3;    // d_d = dense_factor * d
  int64_t width_multiple = 8;  // d and d_m are multiples of this
};

struct TriadArch {
  TriadShape shape;
  int64_t d_model = 0, n_layers = 0, n_dense_layers = 0, d_expert = 0, d_dense = 0;
  double d_low = 0, d_high = 0;  // the feasible interval of d at these n_layers (solve_triad)
  int64_t n_moe_layers() const { return n_layers - n_dense_layers; }
};

// Paper 2's count of an architecture.
Triad count_triad(const TriadArch& a);

// The interval of d (real-valued) in which the target can be met with n_layers layers.
struct FeasibleD {
  int64_t n_layers = 0;
  double low = 0, high = 0;
};
// Throws std::invalid_argument naming the constraint no d can meet (M <= 6 N_a, N <= N_a, N/N_a
// above 1 + (N_e - K)/(K + N_s), or a shape that does not make sense).
FeasibleD feasible_d(const Triad& target, const TriadShape& shape);

// The architecture for `target` at hidden size `d_model`, with integer layers. Default d: the
// middle of the feasible interval (the paper's proxy), moved to the nearest d at which the
// dense layers come out whole when one lies within a quarter of the interval's width (one dense
// layer is 3 f d^2 parameters: rounding their count at an arbitrary d misses N_a by up to half
// of that), rounded to the width multiple. At a d where d_d = f d misses the target by more
// than `tolerance` (small models, where one dense layer is a large share of N_a), the dense FFN
// width is what N_a leaves instead: the same dense layers (at least one), each of width
// (N_a - MoE active - attention) / (3 d L_d); d_dense says which. Throws
// std::invalid_argument with one line when d lies outside the feasible interval, or when the
// achieved M, N_a or N differs from the target by more than `tolerance` (relative), naming which
// and by how much.
TriadArch solve_triad(const Triad& target, const TriadShape& shape,
                      std::optional<int64_t> d_model = std::nullopt, double tolerance = 0.05);

// The model that trains this architecture (moe/config.h): dense layers of width d_dense, the
// routed and shared experts of width d_expert. Its own accounting (accounting.h) counts the same
// N_a and N plus the router and norms, and M with the router's FLOPs and (S + 1)/2 keys per
// query instead of S/2 (tests/core/test_triad.cpp checks both, exactly).
ModelConfig triad_model(const TriadArch& a, int64_t vocab_size);

// y = k C^a.
struct ComputeLaw {
  double k = 0, a = 0;
  double at(double compute) const;
};

// Paper 2's end to end: C -> (M, D) from the compute-optimal law (D = C / M), N_a from the
// M/N_a law, N from N/N_a, d from its law (or the proxy: near the middle of the feasible
// interval) -> layers and widths.
struct HolisticLaws {
  ComputeLaw m{0.04368, 0.5437};  // M_opt, the paper's (raw units: FLOPs per token)
  // M/N_a at the optimum: fitted here, ln-linear, to the paper's Phase 1 optima (10.9, 9.9, 9.3,
  // 8.7, 8.35, 8.2 at 1e18..3e20, read from its figure); it publishes no coefficients.
  ComputeLaw m_over_na{83.43, -0.04983};
  double n_over_na = 20;        // flat over about 18..25 in the paper: no law in C
  std::optional<ComputeLaw> d;  // the paper's d law is in figures only
};

struct HolisticPlan {
  double compute = 0, tokens = 0;
  Triad target;
  TriadArch arch;
};

// Throws std::invalid_argument naming the law or the constraint (as solve_triad).
HolisticPlan plan_holistic(double compute, const HolisticLaws& laws, const TriadShape& shape);

// "M 2.67e+08 (-1.2%), N_a 2.45e+07 (+0.4%), N 5.39e+08 (+0.1%)": the achieved triad against a
// target.
std::string describe_triad(const Triad& achieved, const Triad& target);

}  // namespace moe
