// The MoE FFN (fwd+bwd) against a dense SwiGLU FFN of the same active FLOPs, on the same tokens.
//
//   bench_moe_ffn [--tokens 4096] [--d-model 256] [--d-expert 512] [--experts 8] [--top-k 2]
//                 [--iters 20]
//
// MoE: E routed experts of width F, top-k, no shared expert (router included in its time).
// Dense: one SwiGLU of width k*F: the same expert FLOPs per token. Prints the median of
// --iters timed iterations after 3 warm-up ones, and the ratio MoE / dense.
#include <ATen/ATen.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "moe/model.h"

namespace {

int64_t arg(int argc, char** argv, const char* name, int64_t fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (!std::strcmp(argv[i], name)) return std::atoll(argv[i + 1]);
  }
  return fallback;
}

template <typename F>
double median_seconds(int iters, F&& body) {
  for (int i = 0; i < 3; ++i) body();
  std::vector<double> t;
  for (int i = 0; i < iters; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    body();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t n = arg(argc, argv, "--tokens", 4096);
  moe::ModelConfig c;
  c.d_model = arg(argc, argv, "--d-model", 256);
  c.d_expert = arg(argc, argv, "--d-expert", 512);
  c.n_experts = arg(argc, argv, "--experts", 8);
  c.top_k = arg(argc, argv, "--top-k", 2);
  c.n_shared_experts = 0;
  const int iters = static_cast<int>(arg(argc, argv, "--iters", 20));
  torch::manual_seed(0);
  moe::MoELayer moe_layer(c, moe::RuntimeOptions{});
  moe::FeedForward dense(c.d_model, c.top_k * c.d_expert, 0.02, 0.02);
  const at::Tensor x = at::randn({n, c.d_model});

  auto step = [&](auto&& forward) {
    const at::Tensor xi = x.detach().requires_grad_(true);
    forward(xi).sum().backward();
  };
  const double t_moe = median_seconds(iters, [&] {
    moe_layer->zero_grad();
    step([&](const at::Tensor& xi) { return moe_layer->forward(xi); });
  });
  const double t_dense = median_seconds(iters, [&] {
    dense->zero_grad();
    step([&](const at::Tensor& xi) { return dense->forward(xi); });
  });
  // Expert FLOPs, fwd + bwd (3x forward): 3 matmuls of 2*D*F per active expert per token.
  const double flops = 3.0 * n * c.top_k * 6.0 * c.d_model * c.d_expert;
  std::printf(
      "torch %d.%d, %lld threads | tokens %lld, d_model %lld, %lld experts x %lld, top-%lld\n",
      TORCH_VERSION_MAJOR, TORCH_VERSION_MINOR, (long long)at::get_num_threads(), (long long)n,
      (long long)c.d_model, (long long)c.n_experts, (long long)c.d_expert, (long long)c.top_k);
  std::printf("dense SwiGLU (width %lld): %8.2f ms  %6.1f GFLOP/s\n",
              (long long)(c.top_k * c.d_expert), 1e3 * t_dense, flops / t_dense / 1e9);
  std::printf("MoE FFN (dropless)      : %8.2f ms  %6.1f GFLOP/s\n", 1e3 * t_moe,
              flops / t_moe / 1e9);
  std::printf("MoE / dense             : %8.3f  (target <= 1.3)\n", t_moe / t_dense);
  return 0;
}
