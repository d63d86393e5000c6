#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/cuda.h>
#include <torch/nn/module.h>
#include <torch/optim/adam.h>

#include <cmath>
#include <set>

#include "moe/accounting.h"
#include "moe/device.h"
#include "moe/model.h"
#include "tests/tiny_model.h"

#if MOESCALE_TORCH_CUDA
#include <c10/cuda/CUDAFunctions.h>
#endif

// Catch after every header that may bring glog's CHECK macro, so that Catch's CHECK wins (and
// counts).
#include <catch2/catch.hpp>

using moe::ModelConfig;

namespace {

ModelConfig tiny_config() { return moe::testing::tiny_model_config(); }

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

at::Tensor swiglu_ref(const at::Tensor& x, const at::Tensor& wg, const at::Tensor& wu,
                      const at::Tensor& wd) {
  return (at::silu(x.matmul(wg)) * x.matmul(wu)).matmul(wd);
}

// Every expert on every token, weighted by a dense (N, E) gate matrix: the reference the
// sorted dispatch must equal.
at::Tensor dense_moe_reference(moe::MoELayerImpl& layer, const ModelConfig& c,
                               const at::Tensor& x_ND) {
  const at::Tensor logits = x_ND.matmul(layer.router_ED.t());
  const at::Tensor scores = at::softmax(logits, -1);
  auto [gates, idx] = scores.topk(c.top_k, -1);
  gates = gates / gates.sum(-1, true);
  const at::Tensor gate_NE = at::zeros_like(scores).scatter(1, idx, gates);
  at::Tensor y = at::zeros_like(x_ND);
  for (int64_t e = 0; e < c.n_experts; ++e) {
    y = y + gate_NE.select(1, e).unsqueeze(1) *
                swiglu_ref(x_ND, layer.w_gate_EDF[e], layer.w_up_EDF[e], layer.w_down_EFD[e]);
  }
  if (!layer.shared.is_empty()) y = y + layer.shared->forward(x_ND);
  return y;
}

// Two MoE layers with the same weights, one per way of running the experts, and an input that
// routes no token to experts 0 and 3: x > 0 and their router rows < 0, so their logits are the
// lowest of every token.
struct GroupedVsLoop {
  ModelConfig c;
  moe::MoELayer loop{nullptr}, grouped{nullptr};
  at::Tensor x_ND;
  GroupedVsLoop(const at::Device& device, int64_t n_tokens) {
    torch::manual_seed(11);
    c = tiny_config();
    c.n_experts = 6;
    c.d_model = 32;
    c.d_expert = 24;
    moe::RuntimeOptions loop_options, grouped_options;
    loop_options.grouped_gemm = moe::GroupedGemm::kOff;
    grouped_options.grouped_gemm = moe::GroupedGemm::kOn;
    loop = moe::MoELayer(c, loop_options);
    grouped = moe::MoELayer(c, grouped_options);
    {
      torch::NoGradGuard no_grad;
      loop->router_ED[0].fill_(-1.0);
      loop->router_ED[3].fill_(-1.0);
      const auto from = loop->named_parameters();
      for (auto& p : grouped->named_parameters()) p.value().copy_(from[p.key()]);
    }
    loop->to(device);
    grouped->to(device);
    x_ND = at::randn({n_tokens, c.d_model}).abs().to(device);
  }
};

}  // namespace

TEST_CASE("the grouped expert GEMM equals the loop over experts, with experts that get no tokens",
          "[model]") {
  GroupedVsLoop s(at::kCPU, 50);
  const at::Tensor probe = at::randn({50, s.c.d_model});
  moe::LayerRouting routing;
  const at::Tensor x_loop = s.x_ND.clone().requires_grad_(true);
  const at::Tensor x_grouped = s.x_ND.clone().requires_grad_(true);
  const at::Tensor y_loop = s.loop->forward(x_loop, &routing);
  const at::Tensor y_grouped = s.grouped->forward(x_grouped);
  CHECK(routing.tokens_per_expert[0].item<int64_t>() == 0);
  CHECK(routing.tokens_per_expert[3].item<int64_t>() == 0);
  CHECK(routing.tokens_per_expert.sum().item<int64_t>() == 50 * s.c.top_k);
  CHECK(max_abs_diff(y_loop, y_grouped) < 1e-5);

  // A weighted sum, not y.sum(): the grouped kernel's backward takes no expanded gradient.
  (y_loop * probe).sum().backward();
  (y_grouped * probe).sum().backward();
  CHECK(max_abs_diff(x_loop.grad(), x_grouped.grad()) < 1e-5);
  const auto loop_params = s.loop->named_parameters();
  for (const auto& p : s.grouped->named_parameters()) {
    INFO("gradient of " << p.key());
    CHECK(max_abs_diff(p.value().grad(), loop_params[p.key()].grad()) < 1e-5);
  }
  // Experts that saw no token get exactly zero weight gradients on both paths.
  for (int64_t e : {0, 3}) {
    CHECK(s.grouped->w_gate_EDF.grad()[e].abs().max().item<double>() == 0.0);
    CHECK(s.grouped->w_down_EFD.grad()[e].abs().max().item<double>() == 0.0);
  }
  CHECK(s.grouped->w_gate_EDF.grad()[1].abs().max().item<double>() > 0.0);
}

TEST_CASE("model output shapes and routing statistics", "[model]") {
  torch::manual_seed(0);
  const ModelConfig c = tiny_config();
  moe::MoETransformer model(c);
  const at::Tensor idx = at::randint(c.vocab_size, {3, c.context}, at::kLong);
  const moe::ModelOutput out = model->forward(idx);
  CHECK(out.logits_BTV.sizes() == at::IntArrayRef({3, c.context, c.vocab_size}));
  CHECK(out.aux_loss.dim() == 0);
  CHECK(out.z_loss.dim() == 0);
  REQUIRE(out.tokens_per_expert.size() == 2);
  for (const auto& counts : out.tokens_per_expert) {
    CHECK(counts.size(0) == c.n_experts);
    // Dropless: every (token, expert) pair is processed.
    CHECK(counts.sum().item<int64_t>() == 3 * c.context * c.top_k);
  }
}

TEST_CASE("future tokens cannot change past logits", "[model]") {
  torch::manual_seed(1);
  for (auto positions : {moe::PositionEncoding::kRotary, moe::PositionEncoding::kLearned}) {
    ModelConfig c = tiny_config();
    c.positions = positions;
    moe::MoETransformer model(c);
    model->eval();
    const at::Tensor a = at::randint(c.vocab_size, {2, c.context}, at::kLong);
    at::Tensor b = a.clone();
    const int64_t cut = 9;
    b.narrow(1, cut, c.context - cut).random_(c.vocab_size);
    const at::Tensor la = model->forward(a).logits_BTV;
    const at::Tensor lb = model->forward(b).logits_BTV;
    CHECK(max_abs_diff(la.narrow(1, 0, cut), lb.narrow(1, 0, cut)) < 1e-5);
    // and the future does change: the test can fail
    CHECK(max_abs_diff(la.narrow(1, cut, c.context - cut), lb.narrow(1, cut, c.context - cut)) >
          1e-3);
  }
}

TEST_CASE("SDPA attention equals the manual reference", "[model]") {
  torch::manual_seed(2);
  const ModelConfig c = tiny_config();
  moe::RuntimeOptions manual;
  manual.manual_attention = true;
  moe::Attention sdpa(c, moe::RuntimeOptions{});
  moe::Attention ref(c, manual);
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < sdpa->parameters().size(); ++i) {
    ref->parameters()[i].copy_(sdpa->parameters()[i]);
  }
  const at::Tensor x = at::randn({2, c.context, c.d_model});
  CHECK(max_abs_diff(sdpa(x), ref(x)) < 1e-5);
}

TEST_CASE("dropless dispatch equals a dense per-expert reference, forward and gradients",
          "[model]") {
  torch::manual_seed(3);
  ModelConfig c = tiny_config();
  c.n_experts = 6;
  c.top_k = 2;
  moe::MoELayer layer(c, moe::RuntimeOptions{});
  layer->to(at::kDouble);
  const at::Tensor x = at::randn({40, c.d_model}, at::kDouble).requires_grad_(true);
  const at::Tensor probe = at::randn({40, c.d_model}, at::kDouble);

  const at::Tensor y = layer->forward(x);
  const at::Tensor y_ref = dense_moe_reference(*layer, c, x);
  CHECK(max_abs_diff(y, y_ref) < 1e-10);

  const std::vector<at::Tensor> wrt = {x, layer->router_ED, layer->w_gate_EDF, layer->w_up_EDF,
                                       layer->w_down_EFD};
  const auto g = torch::autograd::grad({(y * probe).sum()}, wrt);
  const auto g_ref = torch::autograd::grad({(y_ref * probe).sum()}, wrt);
  for (size_t i = 0; i < wrt.size(); ++i) {
    INFO("gradient " << i);
    CHECK(max_abs_diff(g[i], g_ref[i]) < 1e-10);
    CHECK(g[i].abs().sum().item<double>() > 0);
  }
}

TEST_CASE("one expert with k = 1 and gate 1 equals a dense SwiGLU FFN", "[model]") {
  torch::manual_seed(4);
  ModelConfig c = tiny_config();
  c.n_experts = 1;
  c.top_k = 1;
  c.renormalize_gates = false;  // one expert: its probability is 1 anyway
  c.n_shared_experts = 0;
  moe::MoELayer layer(c, moe::RuntimeOptions{});
  moe::FeedForward dense(c.d_model, c.d_expert, 0.02, 0.02);
  {
    torch::NoGradGuard no_grad;
    dense->w_gate_DW.copy_(layer->w_gate_EDF[0]);
    dense->w_up_DW.copy_(layer->w_up_EDF[0]);
    dense->w_down_WD.copy_(layer->w_down_EFD[0]);
  }
  const at::Tensor x = at::randn({25, c.d_model});
  CHECK(max_abs_diff(layer->forward(x), dense(x)) < 1e-6);
}

TEST_CASE("load-balancing loss equals its formula and is minimal (1) for uniform routing",
          "[model]") {
  ModelConfig c = tiny_config();
  c.d_model = 4;
  c.n_experts = 4;
  c.top_k = 1;
  c.renormalize_gates = false;
  c.n_shared_experts = 0;
  moe::MoELayer layer(c, moe::RuntimeOptions{});
  torch::NoGradGuard no_grad;
  // Router = identity: token n's logits are its own features.
  layer->router_ED.copy_(at::eye(4));

  SECTION("uniform routing: each expert gets one token with the same probability profile") {
    const at::Tensor x = 3.0 * at::eye(4);  // token n prefers expert n
    moe::LayerRouting routing;
    layer->forward(x, &routing);
    // f_e = 1/4; P_e = mean over tokens of softmax(3 e_n)_e is the same for all e.
    CHECK(routing.aux_loss.item<double>() == Approx(1.0).epsilon(1e-6));
    CHECK(routing.tokens_per_expert.equal(at::ones({4}, at::kLong)));
  }
  SECTION("skewed routing: a hand-computed value above 1") {
    // Three tokens prefer expert 0, one prefers expert 1.
    const at::Tensor x = at::tensor({2.0f, 0.0f, 0.0f, 0.0f, 2.0f, 0.0f, 0.0f, 0.0f, 2.0f, 0.0f,
                                     0.0f, 0.0f, 0.0f, 2.0f, 0.0f, 0.0f})
                             .view({4, 4});
    moe::LayerRouting routing;
    layer->forward(x, &routing);
    const double hi = std::exp(2.0) / (std::exp(2.0) + 3.0), lo = 1.0 / (std::exp(2.0) + 3.0);
    // f = (3/4, 1/4, 0, 0); P_0 = (3 hi + lo)/4, P_1 = (3 lo + hi)/4.
    const double expected = 4.0 * (0.75 * (3 * hi + lo) / 4 + 0.25 * (3 * lo + hi) / 4);
    CHECK(routing.aux_loss.item<double>() == Approx(expected).epsilon(1e-5));
    CHECK(expected > 1.5);
  }
}

TEST_CASE("the router learns from the loss at top-1 and at top-2", "[model]") {
  // Only the cross-entropy: no balancing or z-loss to train the router instead.
  for (const int64_t k : {1, 2}) {
    INFO("top_k " << k);
    torch::manual_seed(11);
    ModelConfig c = tiny_config();
    c.top_k = k;
    c.renormalize_gates = k > 1;
    c.aux_loss_coef = 0;
    c.z_loss_coef = 0;
    moe::MoETransformer model(c);
    const at::Tensor idx = at::randint(0, c.vocab_size, {4, c.context + 1}, at::kLong);
    const moe::ModelOutput out = model->forward(idx.slice(1, 0, c.context));
    moe::compute_loss(out, idx.slice(1, 1), c).total.backward();
    int routers = 0;
    for (const auto& item : model->named_parameters()) {
      if (item.key().find("router") == std::string::npos) continue;
      INFO(item.key());
      const at::Tensor grad = item.value().grad();
      REQUIRE(grad.defined());
      CHECK(grad.abs().sum().item<double>() > 1e-6);
      ++routers;
    }
    CHECK(routers == c.n_layers);
  }
  // Why top-1 may not renormalise: the single gate is then exactly 1 and no gradient reaches the
  // router; the config refuses it.
  ModelConfig bad = tiny_config();
  bad.top_k = 1;
  bad.renormalize_gates = true;
  CHECK_THROWS_WITH(bad.validate(), Catch::Contains("router learns nothing from the loss"));
}

TEST_CASE("z-loss gradient matches finite differences", "[model]") {
  torch::manual_seed(5);
  ModelConfig c = tiny_config();
  moe::MoELayer layer(c, moe::RuntimeOptions{});
  layer->to(at::kDouble);
  const at::Tensor x = at::randn({12, c.d_model}, at::kDouble);
  auto z_of = [&] {
    moe::LayerRouting routing;
    layer->forward(x, &routing);
    return routing.z_loss;
  };
  const at::Tensor grad = torch::autograd::grad({z_of()}, {layer->router_ED})[0];
  torch::NoGradGuard no_grad;
  const double h = 1e-6;
  for (int64_t i : {0, 5, 17, 31}) {
    auto w = layer->router_ED.view({-1});
    const double old = w[i].item<double>();
    w[i].fill_(old + h);
    const double up = z_of().item<double>();
    w[i].fill_(old - h);
    const double down = z_of().item<double>();
    w[i].fill_(old);
    const double numeric = (up - down) / (2 * h);
    INFO("router element " << i);
    CHECK(grad.view({-1})[i].item<double>() == Approx(numeric).epsilon(1e-6).margin(1e-9));
  }
}

TEST_CASE("parameter counts of the accounting module equal numel() of the built model",
          "[model][accounting]") {
  std::vector<ModelConfig> configs;
  configs.push_back(tiny_config());
  ModelConfig c = tiny_config();
  c.tie_embeddings = true;
  c.positions = moe::PositionEncoding::kLearned;
  c.norm = moe::NormKind::kLayerNorm;
  configs.push_back(c);
  c = tiny_config();
  c.n_dense_layers = 1;
  c.n_shared_experts = 2;
  configs.push_back(c);
  c.d_dense = 3 * c.d_model;  // paper 2's dense layers
  configs.push_back(c);
  c = tiny_config();
  c.n_experts = 0;
  c.n_shared_experts = 0;
  configs.push_back(c);
  for (const auto& cfg : configs) {
    moe::MoETransformer model(cfg);
    const moe::ParamCounts p = moe::count_params(cfg);
    CHECK(p.total() == moe::count_model_parameters(*model));
    // Embedding parameters by name: the rest is the non-embedding total N.
    int64_t embedding = 0, inactive = 0;
    for (const auto& item : model->named_parameters()) {
      const std::string& name = item.key();
      if (name.rfind("tok_emb", 0) == 0 || name.rfind("pos_emb", 0) == 0 ||
          name.rfind("lm_head", 0) == 0) {
        embedding += item.value().numel();
      }
      // Routed experts a token does not use: (E - k) of E stacked experts.
      if (name.find(".moe.w_") != std::string::npos) {
        inactive += item.value().numel() / cfg.n_experts * (cfg.n_experts - cfg.top_k);
      }
    }
    CHECK(p.total_nonembedding() == moe::count_model_parameters(*model) - embedding);
    CHECK(p.active_nonembedding() == p.total_nonembedding() - inactive);
  }
}

// Whether a node named `name` is on the backward graph reachable from `t`.
bool graph_has(const at::Tensor& t, const std::string& name) {
  std::vector<torch::autograd::Node*> todo = {t.grad_fn().get()};
  std::set<torch::autograd::Node*> seen;
  while (!todo.empty()) {
    torch::autograd::Node* node = todo.back();
    todo.pop_back();
    if (node == nullptr || !seen.insert(node).second) continue;
    if (node->name().find(name) != std::string::npos) return true;
    for (const auto& edge : node->next_edges()) todo.push_back(edge.function.get());
  }
  return false;
}

TEST_CASE("checkpointed blocks give the same loss and gradients, keeping only block inputs",
          "[model]") {
  ModelConfig c = tiny_config();
  c.n_layers = 3;
  c.n_dense_layers = 1;  // a dense block and MoE blocks
  torch::manual_seed(3);
  moe::MoETransformer plain(c);
  moe::RuntimeOptions ckpt;
  ckpt.checkpoint_activations = true;
  moe::MoETransformer checkpointed(c, ckpt);
  {
    torch::NoGradGuard no_grad;
    const auto a = plain->parameters(), b = checkpointed->parameters();
    for (size_t i = 0; i < a.size(); ++i) b[i].copy_(a[i]);
  }
  const at::Tensor idx = at::randint(c.vocab_size, {3, c.context}, at::kLong);
  auto run = [&](moe::MoETransformer& m) {
    const moe::ModelOutput out = m->forward(idx);
    const moe::LossParts loss = moe::compute_loss(out, idx, c);
    loss.total.backward();
    return std::make_pair(out, loss.total.item<double>());
  };
  const auto [out_a, loss_a] = run(plain);
  const auto [out_b, loss_b] = run(checkpointed);
  CHECK(loss_b == loss_a);
  CHECK(graph_has(out_b.logits_BTV, "CheckpointedBlock"));
  CHECK_FALSE(graph_has(out_a.logits_BTV, "CheckpointedBlock"));
  for (size_t l = 0; l < out_a.tokens_per_expert.size(); ++l) {
    CHECK(at::equal(out_a.tokens_per_expert[l], out_b.tokens_per_expert[l]));
  }
  const auto a = plain->named_parameters(), b = checkpointed->named_parameters();
  for (size_t i = 0; i < a.size(); ++i) {
    INFO(a[i].key());
    REQUIRE(b[i].value().grad().defined());
    const double scale = a[i].value().grad().abs().max().item<double>();
    CHECK(max_abs_diff(a[i].value().grad(), b[i].value().grad()) <= 1e-6 * scale + 1e-12);
  }
  // In evaluation (no gradients) the blocks run plainly.
  checkpointed->eval();
  const torch::NoGradGuard no_grad;
  CHECK_FALSE(graph_has(checkpointed->forward(idx).logits_BTV, "CheckpointedBlock"));
}

TEST_CASE("a tiny model overfits a fixed batch below 0.1 nats", "[model]") {
  torch::manual_seed(6);
  ModelConfig c = tiny_config();
  moe::MoETransformer model(c);
  torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(3e-3));
  const at::Tensor batch = at::randint(c.vocab_size, {4, c.context + 1}, at::kLong);
  const at::Tensor inputs = batch.narrow(1, 0, c.context);
  const at::Tensor targets = batch.narrow(1, 1, c.context);
  double first = 0, last = 0;
  for (int step = 0; step < 300; ++step) {
    opt.zero_grad();
    const moe::LossParts loss = moe::compute_loss(model->forward(inputs), targets, c);
    loss.total.backward();
    opt.step();
    if (step == 0) first = loss.ce.item<double>();
    last = loss.ce.item<double>();
  }
  CHECK(first > 3.5);  // about ln(64) = 4.16 at initialisation
  CHECK(last < 0.1);
}

TEST_CASE("on CUDA the grouped GEMM equals the loop under bf16, with empty experts", "[gpu]") {
  if (!torch::cuda::is_available()) {
    WARN("skipped: no CUDA device");
    return;
  }
  GroupedVsLoop s(at::kCUDA, 512);
  const at::Tensor probe = at::randn({512, s.c.d_model}).to(at::kCUDA);
  const at::Tensor x_loop = s.x_ND.clone().requires_grad_(true);
  const at::Tensor x_grouped = s.x_ND.clone().requires_grad_(true);
  at::Tensor y_loop, y_grouped;
  moe::LayerRouting routing;
  {
    moe::AutocastScope autocast(true);
    y_loop = s.loop->forward(x_loop, &routing).to(at::kFloat);
    y_grouped = s.grouped->forward(x_grouped).to(at::kFloat);
  }
  CHECK(routing.tokens_per_expert[0].item<int64_t>() == 0);
  CHECK(routing.tokens_per_expert[3].item<int64_t>() == 0);
  const double scale = y_loop.abs().max().item<double>();
  CHECK(max_abs_diff(y_loop, y_grouped) < 2e-2 * scale);  // bf16: 8 mantissa bits
  (y_loop * probe).sum().backward();
  (y_grouped * probe).sum().backward();
  const auto loop_params = s.loop->named_parameters();
  for (const auto& p : s.grouped->named_parameters()) {
    INFO("gradient of " << p.key());
    const at::Tensor want = loop_params[p.key()].grad().to(at::kFloat);
    CHECK(max_abs_diff(p.value().grad().to(at::kFloat), want) <=
          3e-2 * want.abs().max().item<double>() + 1e-6);
  }
  for (int64_t e : {0, 3}) {
    CHECK(s.grouped->w_gate_EDF.grad()[e].abs().max().item<double>() == 0.0);
    CHECK(s.grouped->w_up_EDF.grad()[e].abs().max().item<double>() == 0.0);
    CHECK(s.grouped->w_down_EFD.grad()[e].abs().max().item<double>() == 0.0);
  }
}

#if MOESCALE_TORCH_CUDA
TEST_CASE("a bf16 training step on the grouped path makes no host synchronisation", "[gpu]") {
  if (!torch::cuda::is_available()) {
    WARN("skipped: no CUDA device");
    return;
  }
  torch::manual_seed(5);
  ModelConfig c = tiny_config();
  c.d_model = 64;
  c.d_expert = 64;
  c.head_dim = 16;
  moe::RuntimeOptions runtime;
  runtime.grouped_gemm = moe::GroupedGemm::kOn;
  moe::MoETransformer model(c, runtime);
  model->to(at::kCUDA);
  const at::Tensor idx = at::randint(c.vocab_size, {4, c.context}, at::kLong).to(at::kCUDA);
  torch::cuda::synchronize();
  // Any device-to-host copy or synchronising call now throws instead of waiting.
  c10::cuda::warning_state().set_sync_debug_mode(c10::cuda::SyncDebugMode::L_ERROR);
  std::string error;
  try {
    moe::AutocastScope autocast(true);
    const moe::ModelOutput out = model->forward(idx);
    const moe::LossParts loss = moe::compute_loss(out, idx, c);
    loss.total.backward();
  } catch (const std::exception& e) {
    error = e.what();
  }
  c10::cuda::warning_state().set_sync_debug_mode(c10::cuda::SyncDebugMode::L_DISABLED);
  INFO(error);
  CHECK(error.empty());
}
#endif

TEST_CASE("CUDA bf16 autocast forward matches CPU fp32", "[gpu]") {
  if (!torch::cuda::is_available()) {
    WARN("skipped: no CUDA device");
    return;
  }
  torch::manual_seed(7);
  ModelConfig c = tiny_config();
  c.d_model = 64;
  c.d_expert = 64;
  moe::MoETransformer cpu(c);
  moe::MoETransformer gpu = std::dynamic_pointer_cast<moe::MoETransformerImpl>(cpu->clone());
  gpu->to(at::Device(at::kCUDA));
  const at::Tensor idx = at::randint(c.vocab_size, {2, c.context}, at::kLong);
  const at::Tensor want = cpu->forward(idx).logits_BTV;
  const at::Tensor fp32 = gpu->forward(idx.to(at::kCUDA)).logits_BTV.to(at::kCPU);
  CHECK(max_abs_diff(want, fp32) < 1e-3);
  moe::AutocastScope autocast(true);
  const moe::ModelOutput out = gpu->forward(idx.to(at::kCUDA));
  // bf16 has 8 mantissa bits: logits of a small random model agree to a few 1e-2.
  CHECK(max_abs_diff(want, out.logits_BTV.to(at::kCPU).to(at::kFloat)) < 5e-2);
  const moe::LossParts loss = moe::compute_loss(out, idx.to(at::kCUDA), c);
  loss.total.backward();
  for (const auto& p : gpu->parameters()) {
    CHECK(p.grad().defined());
    CHECK(std::isfinite(p.grad().abs().sum().item<double>()));
  }
}
