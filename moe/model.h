// The GPT-style decoder-only MoE Transformer, LibTorch C++ frontend.
//
// Shape legend (suffixes on tensor names):
//   B batch, T time (context), D d_model, H query heads, G kv heads, Dh head_dim,
//   F d_expert, E routed experts, K top_k, V vocab, N = B*T tokens,
//   P = N*K (token, expert) pairs.
//
// Block (pre-norm):  x = x + Attention(Norm(x));  x = x + FFN(Norm(x))
// FFN is an MoE layer (routed + shared SwiGLU experts) or, for dense layers and for
// n_experts == 0, one SwiGLU of width ModelConfig::dense_ffn_width().
//
// Attention: Q = x Wq (H heads of Dh), K, V = x Wk, x Wv (G heads of Dh); rotary positions on
// Q and K (rotate-half convention, theta = rope_theta); causal softmax(QK^T / sqrt(Dh)) V
// through at::scaled_dot_product_attention (flash/memory-efficient kernels on CUDA; GQA through
// its enable_gqa, without copying K/V) or, with RuntimeOptions::manual_attention, an explicit
// reference implementation that repeats each K/V head H/G times.
//
// MoE dispatch (dropless, no token is ever dropped):
//   1. router logits (N, E) = x W_r^T, in fp32 even under autocast;
//      scores = softmax(logits) (or sigmoid); gates, experts = top-K of scores;
//      gates renormalised to sum to 1 when renormalize_gates.
//   2. sort the P = N*K (token, expert) pairs by expert (stable), gather their token rows
//      into x_sorted (P, D); count the pairs per expert (E) on the device.
//   3. run each expert on its contiguous slice: SwiGLU(x) = (silu(x W_gate) * (x W_up)) W_down
//      with the experts' weights stacked as (E, D, F), (E, D, F), (E, F, D). Either one grouped
//      GEMM (at::_grouped_mm) per matrix, whose offsets stay on the device, or a loop over the
//      experts, which copies the counts to the host once per layer (RuntimeOptions).
//   4. scale each pair's output by its gate and index_add the rows back to their tokens.
//   Shared experts run on every token; the s shared experts of width F are stored as one SwiGLU
//   of width s*F, which is the same function with the same parameters (a sum of SwiGLUs over
//   disjoint hidden units).
//
// Auxiliary losses, averaged over MoE layers:
//   load balance (Switch Transformer, Fedus et al. 2021, with top-K):
//     aux = E * sum_e f_e * P_e,  f_e = (pairs routed to e) / (N*K),  P_e = mean_n p_{n,e},
//     p = router probabilities (softmax; sigmoid scores normalised to sum to 1). It equals 1
//     for perfectly uniform routing, its minimum.
//   z-loss (ST-MoE, Zoph et al. 2022): z = mean_n (logsumexp_e logits_{n,e})^2.
//
// Initialisation (reset_parameters): every weight matrix and embedding ~ N(0, init_std^2);
// the matrices that write into the residual stream (attention output Wo, every W_down) use
// init_std / sqrt(2 * n_layers) so the residual variance does not grow with depth (GPT-2);
// norm weights 1, norm biases 0.
#pragma once

#include <torch/nn/cloneable.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <vector>

#include "moe/config.h"

namespace moe {

// How to compute, not what: these never change the model's function beyond rounding.
struct RuntimeOptions {
  bool manual_attention = false;  // reference attention instead of SDPA
  // The experts as one at::_grouped_mm per matrix instead of a loop over experts. kAuto: only
  // where it is known good (CUDA compute capability 9.x, bf16 autocast, d_model and d_expert
  // multiples of 8); kOn: wherever the kernel takes the layout (also on the CPU, any dtype);
  // kOff: always the loop.
  GroupedGemm grouped_gemm = GroupedGemm::kAuto;
  // Activation checkpointing: in training, each block keeps only its input; its backward runs
  // the block again (with the forward's autocast) and backpropagates through that. The same
  // gradients; about one block's activations alive instead of all of them.
  bool checkpoint_activations = false;
};

// Whether the experts run as grouped GEMMs on `device` (under bf16 autocast when bf16): the
// dispatch's shapes then stay on the device, a training step has no host synchronisation and
// can be captured in a CUDA graph. A dense model (no experts) has none to run: true.
bool experts_grouped(const ModelConfig& config, const RuntimeOptions& runtime,
                     const c10::Device& device, bool bf16);

// RMSNorm (weight) or LayerNorm (weight, bias) over the last dimension, computed in fp32.
class NormImpl : public torch::nn::Cloneable<NormImpl> {
 public:
  NormImpl(int64_t dim, NormKind kind, double eps);
  void reset() override;
  void reset_parameters();
  at::Tensor forward(const at::Tensor& x);
  void pretty_print(std::ostream& stream) const override;

  at::Tensor weight;  // (D)
  at::Tensor bias;    // (D), LayerNorm only

 private:
  int64_t dim_;
  NormKind kind_;
  double eps_;
};
TORCH_MODULE(Norm);

class AttentionImpl : public torch::nn::Cloneable<AttentionImpl> {
 public:
  AttentionImpl(const ModelConfig& config, const RuntimeOptions& runtime);
  void reset() override;
  void reset_parameters();
  at::Tensor forward(const at::Tensor& x_BTD);
  void pretty_print(std::ostream& stream) const override;

  torch::nn::Linear wq{nullptr};        // (H*Dh, D)
  torch::nn::Linear wk{nullptr};        // (G*Dh, D)
  torch::nn::Linear wv{nullptr};        // (G*Dh, D)
  torch::nn::Linear wo{nullptr};        // (D, H*Dh)
  at::Tensor rope_cos_TR, rope_sin_TR;  // (T, Dh/2) buffers, rotary only

 private:
  ModelConfig config_;
  RuntimeOptions runtime_;
};
TORCH_MODULE(Attention);

// One SwiGLU feed-forward block of hidden width `width`: dense FFN and the fused shared experts.
class FeedForwardImpl : public torch::nn::Cloneable<FeedForwardImpl> {
 public:
  FeedForwardImpl(int64_t d_model, int64_t width, double init_std, double out_std);
  void reset() override;
  void reset_parameters();
  at::Tensor forward(const at::Tensor& x_ND);
  void pretty_print(std::ostream& stream) const override;

  at::Tensor w_gate_DW, w_up_DW;  // (D, W)
  at::Tensor w_down_WD;           // (W, D)

 private:
  int64_t d_model_, width_;
  double init_std_, out_std_;
};
TORCH_MODULE(FeedForward);

// What an MoE layer reports about its routing of one batch.
struct LayerRouting {
  at::Tensor aux_loss;           // scalar
  at::Tensor z_loss;             // scalar
  at::Tensor tokens_per_expert;  // (E) int64: pairs routed to each expert
};

class MoELayerImpl : public torch::nn::Cloneable<MoELayerImpl> {
 public:
  MoELayerImpl(const ModelConfig& config, const RuntimeOptions& runtime);
  void reset() override;
  void reset_parameters();
  // y (N, D); routing statistics into *routing when given.
  at::Tensor forward(const at::Tensor& x_ND, LayerRouting* routing = nullptr);
  void pretty_print(std::ostream& stream) const override;

  at::Tensor router_ED;             // (E, D)
  at::Tensor w_gate_EDF, w_up_EDF;  // (E, D, F)
  at::Tensor w_down_EFD;            // (E, F, D)
  FeedForward shared{nullptr};      // width n_shared * F; empty without shared experts

 private:
  bool use_grouped_gemm(const at::Tensor& x_PD) const;
  at::Tensor run_experts(const at::Tensor& x_sorted_PD, const at::Tensor& counts_E);
  ModelConfig config_;
  RuntimeOptions runtime_;
};
TORCH_MODULE(MoELayer);

class BlockImpl : public torch::nn::Cloneable<BlockImpl> {
 public:
  BlockImpl(const ModelConfig& config, const RuntimeOptions& runtime, int64_t layer);
  void reset() override;
  at::Tensor forward(const at::Tensor& x_BTD, LayerRouting* routing);
  bool is_moe() const { return !moe.is_empty(); }

  Norm attn_norm{nullptr}, ffn_norm{nullptr};
  Attention attn{nullptr};
  MoELayer moe{nullptr};       // MoE layers
  FeedForward dense{nullptr};  // dense layers

 private:
  ModelConfig config_;
  RuntimeOptions runtime_;
  int64_t layer_;
};
TORCH_MODULE(Block);

struct ModelOutput {
  at::Tensor logits_BTV;
  at::Tensor aux_loss;                        // mean over MoE layers (0 without MoE layers)
  at::Tensor z_loss;                          // mean over MoE layers
  std::vector<at::Tensor> tokens_per_expert;  // one (E) int64 tensor per MoE layer
};

class MoETransformerImpl : public torch::nn::Cloneable<MoETransformerImpl> {
 public:
  explicit MoETransformerImpl(const ModelConfig& config, const RuntimeOptions& runtime = {});
  void reset() override;
  void reset_parameters();
  ModelOutput forward(const at::Tensor& idx_BT);
  const ModelConfig& config() const { return config_; }

  torch::nn::Embedding tok_emb{nullptr};  // (V, D)
  torch::nn::Embedding pos_emb{nullptr};  // (T, D), learned positions only
  torch::nn::ModuleList blocks{nullptr};
  Norm final_norm{nullptr};
  torch::nn::Linear lm_head{nullptr};  // (V, D); empty when tied to tok_emb

 private:
  ModelConfig config_;
  RuntimeOptions runtime_;
};
TORCH_MODULE(MoETransformer);

struct LossParts {
  at::Tensor total;  // ce + aux_loss_coef * aux + z_loss_coef * z: what is minimised
  at::Tensor ce;     // mean next-token cross-entropy, nats
  at::Tensor aux;
  at::Tensor z;
};

// targets_BT are the next tokens (idx shifted by one).
LossParts compute_loss(const ModelOutput& out, const at::Tensor& targets_BT,
                       const ModelConfig& config);

// Sum of numel over parameters whose name matches, for accounting checks.
int64_t count_model_parameters(const torch::nn::Module& model);

}  // namespace moe
