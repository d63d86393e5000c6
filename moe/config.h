// ModelConfig: every shape and switch of the MoE Transformer, in one validated struct.
//
// No torch here: the planner, the FLOPs/params accounting, the sweep and the fitter all read
// this struct without linking LibTorch.
//
// Widths are independent, which is the point of the study:
//   d_model                 residual stream width D
//   n_heads x head_dim      attention width (query heads); need not equal d_model
//   n_kv_heads x head_dim   key/value width (GQA when n_kv_heads < n_heads)
//   d_expert                hidden width F of every SwiGLU expert, shared and routed alike
// Experts: n_experts routed (top_k chosen per token) + n_shared_experts always on.
// n_experts == 0 makes every FFN a dense SwiGLU of width d_expert (the dense baseline).
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

namespace moe {

enum class PositionEncoding { kRotary, kLearned, kNone };
enum class NormKind { kRMSNorm, kLayerNorm };
enum class RouterScore { kSoftmax, kSigmoid };
// A run switch whose default depends on the device: auto, on or off.
enum class Toggle { kAuto, kOn, kOff };
// How the experts' GEMMs run (moe/model.h, RuntimeOptions): a run setting, not a shape.
using GroupedGemm = Toggle;

struct ModelConfig {
  int64_t vocab_size = 8192;
  int64_t context = 256;  // tokens per sequence, T
  int64_t d_model = 128;
  int64_t n_layers = 4;
  int64_t n_heads = 4;
  int64_t n_kv_heads = 4;  // == n_heads: plain multi-head attention
  int64_t head_dim = 32;
  int64_t d_expert = 256;
  int64_t n_experts = 8;         // routed experts E_r; 0 = dense FFN of width d_expert
  int64_t top_k = 2;             // routed experts per token
  int64_t n_shared_experts = 0;  // always-on experts, width d_expert each
  int64_t n_dense_layers = 0;    // the first n layers use a dense FFN of width d_dense, or
                                 // (top_k + n_shared_experts) * d_expert (same active FLOPs)
  int64_t d_dense = 0;           // width of those dense FFNs (paper 2: 3 d_model); 0: the above
  PositionEncoding positions = PositionEncoding::kRotary;
  double rope_theta = 10000.0;
  NormKind norm = NormKind::kRMSNorm;
  double norm_eps = 1e-5;
  bool tie_embeddings = false;
  RouterScore router_score = RouterScore::kSoftmax;
  // top-k gates renormalised to sum to 1. Refused with top_k = 1 (the gate would be exactly 1
  // and the router would get no gradient from the loss); the planner turns it off there.
  bool renormalize_gates = true;
  double aux_loss_coef = 0.01;  // Switch-style load-balancing loss
  double z_loss_coef = 0.001;   // router z-loss (ST-MoE)
  double init_std = 0.02;       // base std of weight init (see model.h)

  bool is_moe() const { return n_experts > 0; }
  // Every expert in a layer, shared ones included (the paper's E).
  int64_t experts_total() const { return n_experts + n_shared_experts; }
  // Experts a token runs through (the paper's E_act).
  int64_t experts_active() const { return is_moe() ? top_k + n_shared_experts : 1; }
  // Sparsity S = (E - E_act) / E with E counting shared experts (paper 1); 0 for dense.
  double sparsity() const;
  // Width of the dense FFN used by dense layers: d_dense when set, else the active experts'
  // width; d_expert for the whole model when n_experts == 0 (d_dense must then be 0).
  int64_t dense_ffn_width() const;
  bool layer_is_moe(int64_t layer) const { return is_moe() && layer >= n_dense_layers; }

  // Throws std::invalid_argument naming the field, its value and what to change, or the shape
  // when its parameter count does not fit in 64 bits (so that every count in accounting.h and
  // experts_total(), experts_active() and dense_ffn_width() fit).
  void validate() const;
};

void to_json(nlohmann::json& j, const ModelConfig& c);
// Missing keys keep their defaults; unknown keys are an error (a config from another version).
void from_json(const nlohmann::json& j, ModelConfig& c);

std::string to_string(PositionEncoding p);
std::string to_string(NormKind n);
std::string to_string(RouterScore s);
PositionEncoding parse_position_encoding(const std::string& s);
NormKind parse_norm_kind(const std::string& s);
RouterScore parse_router_score(const std::string& s);
std::string to_string(Toggle g);
// "auto", "on" or "off"; else std::invalid_argument naming `flag`.
Toggle parse_toggle(const std::string& flag, const std::string& s);
GroupedGemm parse_grouped_gemm(const std::string& s);  // --grouped-gemm
Toggle parse_fused_adamw(const std::string& s);        // --fused-adamw
Toggle parse_cuda_graph(const std::string& s);         // --cuda-graph

// A device name as --device and --devices take it: "cpu", "cuda" or "cuda:<index>" (the index
// at most 3 digits). The CUDA index, 0 for "cuda", -1 for "cpu"; nullopt when it is no device.
std::optional<int> parse_device_name(const std::string& spec);

}  // namespace moe
