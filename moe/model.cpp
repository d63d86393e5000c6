#include "moe/model.h"

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <ATen/ops/_grouped_mm.h>
#include <ATen/ops/scaled_dot_product_attention.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/autograd.h>
#include <torch/nn/init.h>

#include <cmath>
#include <limits>

#include "moe/device.h"

namespace moe {

namespace {

// fp32 for low-precision inputs (bf16/fp16 under autocast), fp64 kept for gradient checks.
at::ScalarType at_least_float(const at::Tensor& x) {
  return x.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
}

void init_normal(const at::Tensor& t, double std) {
  torch::NoGradGuard no_grad;
  t.normal_(0.0, std);
}

// Std of the matrices that write into the residual stream (see model.h, Initialisation).
double residual_out_std(const ModelConfig& c) {
  return c.init_std / std::sqrt(2.0 * static_cast<double>(c.n_layers));
}

// Rotate-half rotary embedding of x (B, H, T, Dh) with cos/sin (T, Dh/2).
at::Tensor apply_rotary(const at::Tensor& x, const at::Tensor& cos_TR, const at::Tensor& sin_TR) {
  const int64_t half = x.size(-1) / 2;
  const int64_t t = x.size(2);
  const at::Tensor cos = cos_TR.narrow(0, 0, t);
  const at::Tensor sin = sin_TR.narrow(0, 0, t);
  const at::Tensor x1 = x.narrow(-1, 0, half);
  const at::Tensor x2 = x.narrow(-1, half, half);
  return at::cat({x1 * cos - x2 * sin, x1 * sin + x2 * cos}, -1).to(x.scalar_type());
}

at::Tensor swiglu(const at::Tensor& x, const at::Tensor& w_gate, const at::Tensor& w_up,
                  const at::Tensor& w_down) {
  return (at::silu(x.matmul(w_gate)) * x.matmul(w_up)).matmul(w_down);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
NormImpl::NormImpl(int64_t dim, NormKind kind, double eps) : dim_(dim), kind_(kind), eps_(eps) {
  reset();
}

void NormImpl::reset() {
  weight = register_parameter("weight", at::ones({dim_}));
  if (kind_ == NormKind::kLayerNorm) bias = register_parameter("bias", at::zeros({dim_}));
}

void NormImpl::reset_parameters() {
  torch::NoGradGuard no_grad;
  weight.fill_(1.0);
  if (bias.defined()) bias.zero_();
}

at::Tensor NormImpl::forward(const at::Tensor& x) {
  const at::Tensor xf = x.to(at_least_float(x));
  if (kind_ == NormKind::kLayerNorm) {
    return at::layer_norm(xf, {dim_}, weight, bias, eps_).to(x.scalar_type());
  }
  return (xf * at::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps_) * weight).to(x.scalar_type());
}

void NormImpl::pretty_print(std::ostream& stream) const {
  stream << "moe::Norm(" << to_string(kind_) << ", " << dim_ << ")";
}

// ---------------------------------------------------------------------------------------------
AttentionImpl::AttentionImpl(const ModelConfig& config, const RuntimeOptions& runtime)
    : config_(config), runtime_(runtime) {
  reset();
}

void AttentionImpl::reset() {
  const int64_t d = config_.d_model;
  const int64_t q_width = config_.n_heads * config_.head_dim;
  const int64_t kv_width = config_.n_kv_heads * config_.head_dim;
  using torch::nn::LinearOptions;
  wq = register_module("wq", torch::nn::Linear(LinearOptions(d, q_width).bias(false)));
  wk = register_module("wk", torch::nn::Linear(LinearOptions(d, kv_width).bias(false)));
  wv = register_module("wv", torch::nn::Linear(LinearOptions(d, kv_width).bias(false)));
  wo = register_module("wo", torch::nn::Linear(LinearOptions(q_width, d).bias(false)));
  if (config_.positions == PositionEncoding::kRotary) {
    const int64_t half = config_.head_dim / 2;
    // inv_freq_r = theta^(-2r / Dh), angle_{t,r} = t * inv_freq_r
    const at::Tensor r = at::arange(half, at::kDouble);
    const at::Tensor inv_freq =
        at::pow(config_.rope_theta, -2.0 * r / static_cast<double>(config_.head_dim));
    const at::Tensor angle = at::outer(at::arange(config_.context, at::kDouble), inv_freq);
    rope_cos_TR = register_buffer("rope_cos", angle.cos().to(at::kFloat));
    rope_sin_TR = register_buffer("rope_sin", angle.sin().to(at::kFloat));
  }
  reset_parameters();
}

void AttentionImpl::reset_parameters() {
  init_normal(wq->weight, config_.init_std);
  init_normal(wk->weight, config_.init_std);
  init_normal(wv->weight, config_.init_std);
  init_normal(wo->weight, residual_out_std(config_));
}

at::Tensor AttentionImpl::forward(const at::Tensor& x_BTD) {
  const int64_t b = x_BTD.size(0), t = x_BTD.size(1);
  const int64_t h = config_.n_heads, g = config_.n_kv_heads, dh = config_.head_dim;
  TORCH_CHECK(t <= config_.context, "attention: sequence length ", t, " exceeds context ",
              config_.context);
  at::Tensor q_BHTd = wq(x_BTD).view({b, t, h, dh}).transpose(1, 2);
  at::Tensor k_BGTd = wk(x_BTD).view({b, t, g, dh}).transpose(1, 2);
  at::Tensor v_BGTd = wv(x_BTD).view({b, t, g, dh}).transpose(1, 2);
  if (config_.positions == PositionEncoding::kRotary) {
    q_BHTd = apply_rotary(q_BHTd, rope_cos_TR, rope_sin_TR);
    k_BGTd = apply_rotary(k_BGTd, rope_cos_TR, rope_sin_TR);
  }
  at::Tensor y_BHTd;
  if (runtime_.manual_attention) {
    if (g < h) {  // GQA: each K/V head serves h/g query heads
      k_BGTd = k_BGTd.repeat_interleave(h / g, /*dim=*/1);
      v_BGTd = v_BGTd.repeat_interleave(h / g, /*dim=*/1);
    }
    at::Tensor att_BHTT = q_BHTd.matmul(k_BGTd.transpose(-2, -1)) / std::sqrt(double(dh));
    const at::Tensor future_TT =
        at::ones({t, t}, at::TensorOptions().dtype(at::kBool).device(x_BTD.device())).triu(1);
    att_BHTT = att_BHTT.masked_fill(future_TT, -std::numeric_limits<float>::infinity());
    y_BHTd = at::softmax(att_BHTT, -1).to(v_BGTd.scalar_type()).matmul(v_BGTd);
  } else {
    // enable_gqa lets the kernel read each K/V head for its h/g query heads without a copy.
    y_BHTd = at::scaled_dot_product_attention(q_BHTd, k_BGTd, v_BGTd, {}, 0.0, /*is_causal=*/true,
                                              /*scale=*/std::nullopt, /*enable_gqa=*/g < h);
  }
  return wo(y_BHTd.transpose(1, 2).reshape({b, t, h * dh}));
}

void AttentionImpl::pretty_print(std::ostream& stream) const {
  stream << "moe::Attention(heads=" << config_.n_heads << ", kv_heads=" << config_.n_kv_heads
         << ", head_dim=" << config_.head_dim << ", " << to_string(config_.positions) << ")";
}

// ---------------------------------------------------------------------------------------------
FeedForwardImpl::FeedForwardImpl(int64_t d_model, int64_t width, double init_std, double out_std)
    : d_model_(d_model), width_(width), init_std_(init_std), out_std_(out_std) {
  reset();
}

void FeedForwardImpl::reset() {
  w_gate_DW = register_parameter("w_gate", at::empty({d_model_, width_}));
  w_up_DW = register_parameter("w_up", at::empty({d_model_, width_}));
  w_down_WD = register_parameter("w_down", at::empty({width_, d_model_}));
  reset_parameters();
}

void FeedForwardImpl::reset_parameters() {
  init_normal(w_gate_DW, init_std_);
  init_normal(w_up_DW, init_std_);
  init_normal(w_down_WD, out_std_);
}

at::Tensor FeedForwardImpl::forward(const at::Tensor& x_ND) {
  return swiglu(x_ND, w_gate_DW, w_up_DW, w_down_WD);
}

void FeedForwardImpl::pretty_print(std::ostream& stream) const {
  stream << "moe::FeedForward(SwiGLU " << d_model_ << " -> " << width_ << " -> " << d_model_ << ")";
}

// ---------------------------------------------------------------------------------------------
MoELayerImpl::MoELayerImpl(const ModelConfig& config, const RuntimeOptions& runtime)
    : config_(config), runtime_(runtime) {
  reset();
}

void MoELayerImpl::reset() {
  const int64_t e = config_.n_experts, d = config_.d_model, f = config_.d_expert;
  router_ED = register_parameter("router", at::empty({e, d}));
  w_gate_EDF = register_parameter("w_gate", at::empty({e, d, f}));
  w_up_EDF = register_parameter("w_up", at::empty({e, d, f}));
  w_down_EFD = register_parameter("w_down", at::empty({e, f, d}));
  if (config_.n_shared_experts > 0) {
    shared = register_module("shared", FeedForward(d, config_.n_shared_experts * f,
                                                   config_.init_std, residual_out_std(config_)));
  }
  reset_parameters();
}

void MoELayerImpl::reset_parameters() {
  init_normal(router_ED, config_.init_std);
  init_normal(w_gate_EDF, config_.init_std);
  init_normal(w_up_EDF, config_.init_std);
  init_normal(w_down_EFD, residual_out_std(config_));
  if (!shared.is_empty()) shared->reset_parameters();
}

bool experts_grouped(const ModelConfig& config, const RuntimeOptions& runtime,
                     const c10::Device& device, bool bf16) {
  if (!config.is_moe()) return true;
  if (runtime.grouped_gemm == GroupedGemm::kOff) return false;
  // The CUDA kernel takes bf16 with 16-byte rows; the CPU kernel any dtype and width.
  const bool cuda_layout = bf16 && config.d_model % 8 == 0 && config.d_expert % 8 == 0;
  if (runtime.grouped_gemm == GroupedGemm::kOn) return !device.is_cuda() || cuda_layout;
  return device.is_cuda() && cuda_layout && grouped_gemm_known_good(device);  // kAuto
}

bool MoELayerImpl::use_grouped_gemm(const at::Tensor& x_PD) const {
  return experts_grouped(config_, runtime_, x_PD.device(), bf16_autocast_enabled());
}

at::Tensor MoELayerImpl::run_experts(const at::Tensor& x_sorted_PD, const at::Tensor& counts_E) {
  if (use_grouped_gemm(x_sorted_PD)) {
    // One grouped GEMM per matrix; offs are the cumulative row ends of each expert's slice and
    // stay on the device (no host synchronisation). Under bf16 autocast the fp32 weights are
    // cast through autocast's cache, once per optimizer step rather than once per forward.
    const at::Tensor offs_E = counts_E.cumsum(0).to(at::kInt);
    const c10::DeviceType device = x_sorted_PD.device().type();
    const bool bf16 = bf16_autocast_enabled(device);
    auto cast = [&](const at::Tensor& w) {
      return bf16 ? at::autocast::cached_cast(at::kBFloat16, w, device) : w;
    };
    const at::Tensor x = bf16 ? x_sorted_PD.to(at::kBFloat16) : x_sorted_PD;
    const at::Tensor gate = at::_grouped_mm(x, cast(w_gate_EDF), offs_E);
    const at::Tensor up = at::_grouped_mm(x, cast(w_up_EDF), offs_E);
    return at::_grouped_mm(at::silu(gate) * up, cast(w_down_EFD), offs_E);
  }
  // The loop's one host synchronisation per layer: slice boundaries need the counts.
  const at::Tensor counts_cpu = counts_E.to(at::kCPU);
  const int64_t* counts = counts_cpu.data_ptr<int64_t>();
  // unbind, not w[e]: its backward stacks all experts' gradients in one tensor, where E
  // separate selects would each fill and add a whole (E, D, F) gradient.
  const std::vector<at::Tensor> w_gate = w_gate_EDF.unbind(0), w_up = w_up_EDF.unbind(0),
                                w_down = w_down_EFD.unbind(0);
  // Likewise split_with_sizes, not narrow: one backward concatenation instead of E zero-filled
  // (P, D) gradients.
  const std::vector<at::Tensor> x_E =
      x_sorted_PD.split_with_sizes(std::vector<int64_t>(counts, counts + config_.n_experts), 0);
  std::vector<at::Tensor> outs;
  outs.reserve(static_cast<size_t>(config_.n_experts));
  for (int64_t e = 0; e < config_.n_experts; ++e) {
    if (counts[e] > 0) outs.push_back(swiglu(x_E[e], w_gate[e], w_up[e], w_down[e]));
  }
  if (outs.empty()) return at::zeros_like(x_sorted_PD);
  return at::cat(outs, 0);
}

at::Tensor MoELayerImpl::forward(const at::Tensor& x_ND, LayerRouting* routing) {
  const int64_t n = x_ND.size(0), e = config_.n_experts, k = config_.top_k;
  // 1. Router in fp32, outside autocast: small logit errors flip top-k choices.
  at::Tensor logits_NE;
  {
    c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
    const at::ScalarType dtype = at_least_float(x_ND);
    logits_NE = x_ND.to(dtype).matmul(router_ED.to(dtype).t());
  }
  const bool softmax = config_.router_score == RouterScore::kSoftmax;
  const at::Tensor scores_NE = softmax ? at::softmax(logits_NE, -1) : at::sigmoid(logits_NE);
  auto [gates_NK, experts_NK] = scores_NE.topk(k, -1);
  if (config_.renormalize_gates) gates_NK = gates_NK / gates_NK.sum(-1, /*keepdim=*/true);

  // 2. Sort the (token, expert) pairs by expert; pair p = n * K + j belongs to token p / K.
  const at::Tensor experts_P = experts_NK.reshape({-1});
  const at::Tensor order_P = std::get<1>(at::sort(experts_P, /*stable=*/true, 0, false));
  const at::Tensor token_P = order_P.div(k, "floor");
  const at::Tensor gate_P = gates_NK.reshape({-1}).index_select(0, order_P);
  // Counted by index_add, not bincount: CUDA's bincount reads its input's min and max on the host.
  const at::Tensor counts_E =
      at::zeros({e}, experts_P.options()).index_add_(0, experts_P, at::ones_like(experts_P));
  const at::Tensor x_sorted_PD = x_ND.index_select(0, token_P);

  // 3-4. Experts on contiguous slices, gate, scatter back.
  at::Tensor y_sorted_PD = run_experts(x_sorted_PD, counts_E);
  y_sorted_PD = y_sorted_PD * gate_P.unsqueeze(1).to(y_sorted_PD.scalar_type());
  at::Tensor y_ND =
      at::zeros({n, x_ND.size(1)}, y_sorted_PD.options()).index_add(0, token_P, y_sorted_PD);
  if (!shared.is_empty()) y_ND = y_ND + shared(x_ND);

  if (routing) {
    const at::Tensor probs_NE = softmax ? scores_NE : scores_NE / scores_NE.sum(-1, true);
    const at::Tensor fraction_E = counts_E.to(logits_NE.scalar_type()) / static_cast<double>(n * k);
    routing->aux_loss = static_cast<double>(e) * (fraction_E * probs_NE.mean(0)).sum();
    routing->z_loss = at::logsumexp(logits_NE, -1).pow(2).mean();
    routing->tokens_per_expert = counts_E;
  }
  return y_ND;
}

void MoELayerImpl::pretty_print(std::ostream& stream) const {
  stream << "moe::MoELayer(experts=" << config_.n_experts << ", top_k=" << config_.top_k
         << ", shared=" << config_.n_shared_experts << ", d_expert=" << config_.d_expert << ", "
         << to_string(config_.router_score) << ")";
}

// ---------------------------------------------------------------------------------------------
BlockImpl::BlockImpl(const ModelConfig& config, const RuntimeOptions& runtime, int64_t layer)
    : config_(config), runtime_(runtime), layer_(layer) {
  reset();
}

void BlockImpl::reset() {
  attn_norm = register_module("attn_norm", Norm(config_.d_model, config_.norm, config_.norm_eps));
  attn = register_module("attn", Attention(config_, runtime_));
  ffn_norm = register_module("ffn_norm", Norm(config_.d_model, config_.norm, config_.norm_eps));
  if (config_.layer_is_moe(layer_)) {
    moe = register_module("moe", MoELayer(config_, runtime_));
  } else {
    dense = register_module("ffn", FeedForward(config_.d_model, config_.dense_ffn_width(),
                                               config_.init_std, residual_out_std(config_)));
  }
}

at::Tensor BlockImpl::forward(const at::Tensor& x_BTD, LayerRouting* routing) {
  at::Tensor x = x_BTD + attn(attn_norm(x_BTD));
  const at::Tensor h_ND = ffn_norm(x).reshape({-1, config_.d_model});
  const at::Tensor y_ND = is_moe() ? moe->forward(h_ND, routing) : dense(h_ND);
  return x + y_ND.view(x.sizes());
}

// ---------------------------------------------------------------------------------------------
MoETransformerImpl::MoETransformerImpl(const ModelConfig& config, const RuntimeOptions& runtime)
    : config_(config), runtime_(runtime) {
  config_.validate();
  reset();
}

void MoETransformerImpl::reset() {
  tok_emb = register_module("tok_emb", torch::nn::Embedding(config_.vocab_size, config_.d_model));
  if (config_.positions == PositionEncoding::kLearned) {
    pos_emb = register_module("pos_emb", torch::nn::Embedding(config_.context, config_.d_model));
  }
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t l = 0; l < config_.n_layers; ++l) blocks->push_back(Block(config_, runtime_, l));
  final_norm = register_module("final_norm", Norm(config_.d_model, config_.norm, config_.norm_eps));
  if (!config_.tie_embeddings) {
    lm_head = register_module(
        "lm_head", torch::nn::Linear(
                       torch::nn::LinearOptions(config_.d_model, config_.vocab_size).bias(false)));
  }
  reset_parameters();
}

void MoETransformerImpl::reset_parameters() {
  init_normal(tok_emb->weight, config_.init_std);
  if (!pos_emb.is_empty()) init_normal(pos_emb->weight, config_.init_std);
  if (!lm_head.is_empty()) init_normal(lm_head->weight, config_.init_std);
  // Blocks initialise themselves in their constructors; re-run for an explicit reset.
  for (const auto& block : *blocks) {
    auto b = block->as<BlockImpl>();
    b->attn_norm->reset_parameters();
    b->ffn_norm->reset_parameters();
    b->attn->reset_parameters();
    if (b->is_moe()) {
      b->moe->reset_parameters();
    } else {
      b->dense->reset_parameters();
    }
  }
  final_norm->reset_parameters();
}

namespace {

// A block run without keeping its activations (RuntimeOptions::checkpoint_activations). Outputs
// the block's output and, for an MoE block, its balancing and z losses and expert counts (not
// differentiable). The backward runs the block again on the saved input with gradients and the
// forward's autocast, and backpropagates the outputs' gradients through it: the parameters'
// gradients accumulate there, the input's is returned.
class CheckpointedBlock : public torch::autograd::Function<CheckpointedBlock> {
 public:
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx,
                                                const at::Tensor& x_BTD, BlockImpl* block) {
    ctx->saved_data["block"] = reinterpret_cast<int64_t>(block);
    ctx->saved_data["bf16"] = bf16_autocast_enabled(x_BTD.device().type());
    ctx->save_for_backward({x_BTD});
    LayerRouting routing;
    at::Tensor y_BTD;
    {
      const at::NoGradGuard no_grad;
      y_BTD = block->forward(x_BTD, block->is_moe() ? &routing : nullptr);
    }
    if (!block->is_moe()) return {y_BTD};
    ctx->mark_non_differentiable({routing.tokens_per_expert});
    return {y_BTD, routing.aux_loss, routing.z_loss, routing.tokens_per_expert};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto* block = reinterpret_cast<BlockImpl*>(ctx->saved_data["block"].toInt());
    const at::Tensor x_BTD = ctx->get_saved_variables()[0].detach().requires_grad_(true);
    std::vector<at::Tensor> outputs, output_grads;
    {
      const at::AutoGradMode grad_mode(true);
      const AutocastScope autocast(ctx->saved_data["bf16"].toBool(), x_BTD.device().type());
      LayerRouting routing;
      outputs.push_back(block->forward(x_BTD, block->is_moe() ? &routing : nullptr));
      if (block->is_moe()) {
        outputs.push_back(routing.aux_loss);
        outputs.push_back(routing.z_loss);
      }
    }
    std::vector<at::Tensor> used;
    for (size_t i = 0; i < outputs.size(); ++i) {
      if (grads[i].defined() && outputs[i].requires_grad()) {
        used.push_back(outputs[i]);
        output_grads.push_back(grads[i]);
      }
    }
    torch::autograd::backward(used, output_grads);
    return {x_BTD.grad(), at::Tensor()};
  }
};

}  // namespace

ModelOutput MoETransformerImpl::forward(const at::Tensor& idx_BT) {
  TORCH_CHECK(idx_BT.dim() == 2, "model: expected token ids (B, T), got ", idx_BT.sizes());
  const int64_t t = idx_BT.size(1);
  TORCH_CHECK(t <= config_.context, "model: sequence length ", t, " exceeds context ",
              config_.context);
  at::Tensor x_BTD = tok_emb(idx_BT);
  if (!pos_emb.is_empty()) {
    x_BTD = x_BTD + pos_emb(at::arange(t, idx_BT.options().dtype(at::kLong))).unsqueeze(0);
  }
  ModelOutput out;
  std::vector<at::Tensor> aux, z;
  const bool checkpoint =
      runtime_.checkpoint_activations && is_training() && at::GradMode::is_enabled();
  for (const auto& block : *blocks) {
    auto b = block->as<BlockImpl>();
    LayerRouting routing;
    if (checkpoint) {
      const auto y = CheckpointedBlock::apply(x_BTD, b);
      x_BTD = y[0];
      if (b->is_moe()) routing = {y[1], y[2], y[3]};
    } else {
      x_BTD = b->forward(x_BTD, b->is_moe() ? &routing : nullptr);
    }
    if (b->is_moe()) {
      aux.push_back(routing.aux_loss);
      z.push_back(routing.z_loss);
      out.tokens_per_expert.push_back(routing.tokens_per_expert);
    }
  }
  x_BTD = final_norm(x_BTD);
  out.logits_BTV = lm_head.is_empty() ? x_BTD.matmul(tok_emb->weight.t()) : lm_head(x_BTD);
  const auto zero = at::zeros({}, x_BTD.options().dtype(at_least_float(x_BTD)));
  out.aux_loss = aux.empty() ? zero : at::stack(aux).mean();
  out.z_loss = z.empty() ? zero : at::stack(z).mean();
  return out;
}

LossParts compute_loss(const ModelOutput& out, const at::Tensor& targets_BT,
                       const ModelConfig& config) {
  LossParts loss;
  const int64_t v = out.logits_BTV.size(-1);
  loss.ce = at::cross_entropy_loss(
      out.logits_BTV.reshape({-1, v}).to(at_least_float(out.logits_BTV)), targets_BT.reshape({-1}));
  loss.aux = out.aux_loss;
  loss.z = out.z_loss;
  loss.total = loss.ce + config.aux_loss_coef * loss.aux + config.z_loss_coef * loss.z;
  return loss;
}

int64_t count_model_parameters(const torch::nn::Module& model) {
  int64_t n = 0;
  for (const auto& p : model.parameters()) n += p.numel();
  return n;
}

}  // namespace moe
