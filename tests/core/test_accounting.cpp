#include <catch2/catch.hpp>

#include "moe/accounting.h"

using moe::ContextConvention;
using moe::ModelConfig;

namespace {

// d=8, 2 heads x 4 (A=8), 1 kv head (K=4), T=16, F=6, 4 routed + 1 shared, top-2, V=32, 2 layers.
ModelConfig small_config() {
  ModelConfig c;
  c.d_model = 8;
  c.n_heads = 2;
  c.head_dim = 4;
  c.n_kv_heads = 1;
  c.context = 16;
  c.d_expert = 6;
  c.n_experts = 4;
  c.n_shared_experts = 1;
  c.top_k = 2;
  c.vocab_size = 32;
  c.n_layers = 2;
  return c;
}

}  // namespace

TEST_CASE("FLOPs of a hand-written config equal the paper's formulas computed by hand",
          "[accounting]") {
  const auto f = moe::flops_per_token(small_config());
  // Per layer: Q 2*8*8 = 128, K+V 2*(2*8*4) = 128, O 2*8*8 = 128; two layers.
  CHECK(f.attn_projections == 768);
  // Per layer: QK^T 2*16*8 = 256 and AV 256; two layers.
  CHECK(f.attn_context == 1024);
  CHECK(f.router == 2 * (2 * 8 * 4));           // 128
  CHECK(f.experts == 2 * (3 * 2 * 8 * 6 * 3));  // 1728: top-2 + 1 shared SwiGLU
  CHECK(f.logits == 2 * 8 * 32);
  CHECK(f.attention() == 1792);
  CHECK(f.expert() == 1856);
  CHECK(f.ratio() == Approx(1856.0 / 1792.0));
  CHECK(f.forward() == 3648);
  CHECK(f.training() == 3 * (3648 + 512));
  CHECK(f.training_without_logits() == 3 * 3648);
}

TEST_CASE("the causal convention counts (T+1)/2 keys per query", "[accounting]") {
  const auto f = moe::flops_per_token(small_config(), ContextConvention::kCausal);
  CHECK(f.attn_context == 2 * 4 * 8.5 * 8);  // 544
  CHECK(f.attn_projections == 768);
}

TEST_CASE("parameters of a hand-written config", "[accounting]") {
  const auto p = moe::count_params(small_config());
  CHECK(p.embedding == 256);
  CHECK(p.lm_head == 256);
  CHECK(p.attention == 2 * (8 * 8 * 2 + 8 * 4 * 2));  // 384
  CHECK(p.norms == 2 * 2 * 8 + 8);                    // two per layer + final
  CHECK(p.router == 2 * 8 * 4);
  CHECK(p.experts_total == 2 * 5 * (3 * 8 * 6));   // 1440
  CHECK(p.experts_active == 2 * 3 * (3 * 8 * 6));  // 864
  CHECK(p.active_nonembedding() == 384 + 40 + 64 + 864);
  CHECK(p.total_nonembedding() == 384 + 40 + 64 + 1440);
  CHECK(p.total() == 256 + 256 + 384 + 40 + 64 + 1440);

  auto tied = small_config();
  tied.tie_embeddings = true;
  tied.positions = moe::PositionEncoding::kLearned;
  tied.norm = moe::NormKind::kLayerNorm;
  const auto q = moe::count_params(tied);
  CHECK(q.lm_head == 0);
  CHECK(q.embedding == 256 + 16 * 8);
  CHECK(q.norms == 2 * (2 * 2 * 8 + 8));
}

TEST_CASE("dense layers and dense models are accounted as one FFN of the active width",
          "[accounting]") {
  auto c = small_config();
  c.n_dense_layers = 1;
  const auto f = moe::flops_per_token(c);
  CHECK(f.router == 2 * 8 * 4);                 // one MoE layer left
  CHECK(f.experts == 2 * (3 * 2 * 8 * 6 * 3));  // dense width (2 + 1) * 6: same FLOPs
  auto dense = small_config();
  dense.n_experts = 0;
  dense.n_shared_experts = 0;
  dense.d_expert = 18;
  const auto g = moe::flops_per_token(dense);
  CHECK(g.router == 0);
  CHECK(g.experts == 2 * (3 * 2 * 8 * 18));
  CHECK(dense.sparsity() == 0);
  CHECK(moe::count_params(dense).experts_total == 2 * 3 * 8 * 18);
}

TEST_CASE("dense layers of their own width (d_dense, paper 2's 3 d)", "[accounting]") {
  auto c = small_config();
  c.n_dense_layers = 1;
  c.d_dense = 24;  // 3 d_model
  CHECK(c.dense_ffn_width() == 24);
  const auto f = moe::flops_per_token(c);
  CHECK(f.experts == 3 * 2 * 8 * 6 * 3 + 3 * 2 * 8 * 24);  // one MoE layer, one dense
  const auto p = moe::count_params(c);
  const auto without = moe::count_params(small_config());
  CHECK(p.experts_active == 3 * 8 * 6 * 3 + 3 * 8 * 24);
  CHECK(p.router == without.router / 2);
  auto dense = small_config();
  dense.n_experts = 0;
  dense.n_shared_experts = 0;
  dense.d_dense = 24;
  CHECK_THROWS_WITH(dense.validate(),
                    "model config: d_dense = 24 is invalid: applies to the dense layers of an MoE "
                    "model; a dense model's width is d_expert");
}

TEST_CASE("sparsity matches the paper's four values for E = 17, 33, 65, 129", "[accounting]") {
  ModelConfig c;
  c.top_k = 2;
  c.n_shared_experts = 1;
  const std::pair<int, double> cases[] = {{17, 0.8235}, {33, 0.9091}, {65, 0.9538}, {129, 0.9767}};
  for (const auto& [e, s] : cases) {
    c.n_experts = e - 1;  // routed; E counts the shared expert
    CHECK(c.experts_total() == e);
    CHECK(c.experts_active() == 3);
    CHECK(c.sparsity() == Approx(s).margin(5e-5));
  }
}

TEST_CASE("config validation names the field and the value", "[config]") {
  auto c = small_config();
  c.top_k = 5;
  CHECK_THROWS_WITH(c.validate(), Catch::Contains("top_k = 5") && Catch::Contains("4 routed"));
  c = small_config();
  c.n_kv_heads = 3;
  CHECK_THROWS_WITH(c.validate(), Catch::Contains("n_kv_heads = 3"));
  c = small_config();
  c.head_dim = 5;
  CHECK_THROWS_WITH(c.validate(), Catch::Contains("even head_dim"));
  c = small_config();
  c.d_model = 0;
  CHECK_THROWS_WITH(c.validate(), Catch::Contains("d_model = 0"));
  CHECK_NOTHROW(small_config().validate());
}
