// The memory estimate (moe/memory.h) against counts made by hand from its stated terms, and the
// decisions made from it: the largest micro-batch, the remedy, the sizes a user types.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <stdexcept>

#include "moe/accounting.h"
#include "moe/memory.h"
#include "moe/train_config.h"
#include "tests/tiny_model.h"

namespace {

moe::ModelConfig small() { return moe::testing::tiny_model_config(); }

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

}  // namespace

TEST_CASE("each part of the estimate equals its hand count", "[memory]") {
  const moe::ModelConfig c = small();
  const double n = static_cast<double>(moe::count_params(c).total());
  moe::MemoryOptions o;
  o.micro_batch = 3;  // 48 tokens
  const moe::MemoryEstimate e = moe::estimate_memory(c, o);
  CHECK(e.weights == 4 * n);
  CHECK(e.gradients == 4 * n);
  CHECK(e.optimizer == 8 * n);
  CHECK(e.weight_casts == 0);
  CHECK(e.buckets == 0);
  CHECK(e.runtime == 0.5 * kGiB);
  // Per token and MoE layer, elements: fp32 2D + 2D + 2E = 136; compute 2(H + 2H_kv)d_h + H d_h
  // = 160 and k(2D + 4F) + 4sF + D = 448. Two layers, 4 bytes each, and 3 x 4 x D around them.
  const double per_token = 2 * 4 * (136 + 160 + 448) + 12 * 32;
  CHECK(e.activations == Approx(1.4 * 48 * per_token));
  CHECK(e.logits == Approx(1.4 * 48 * 64 * (4 + 4 + 4)));
  CHECK(e.total() ==
        Approx(e.weights + e.gradients + e.optimizer + e.activations + e.logits + e.runtime));

  SECTION("bf16: casts of the weights, and the compute part in 2 bytes") {
    o.bf16 = true;
    const moe::MemoryEstimate b = moe::estimate_memory(c, o);
    CHECK(b.weight_casts == 2 * n);
    CHECK(b.activations == Approx(1.4 * 48 * (2 * (4 * 136 + 2 * (160 + 448)) + 12 * 32)));
    CHECK(b.logits == Approx(1.4 * 48 * 64 * (2 + 4 + 4)));
  }
  SECTION("ranks: gradients and AdamW's state sharded, two gradient buckets") {
    o.ranks = 4;
    const moe::MemoryEstimate r = moe::estimate_memory(c, o);
    CHECK(r.optimizer == 8 * n / 4);
    CHECK(r.gradients == 4 * n / 4);
    CHECK(r.weights == 4 * n);  // whole on every rank
    CHECK(r.buckets == 4 * n);  // a small model: all its gradients in one bucket
    o.shard_states = false;
    CHECK(moe::estimate_memory(c, o).optimizer == 8 * n);
    CHECK(moe::estimate_memory(c, o).gradients == 4 * n);
  }
  SECTION("checkpointed: the layers' inputs and one layer's activations") {
    o.checkpoint_activations = true;
    const double kept = 4 * 32 * 2 + 4 * (136 + 160 + 448) + 12 * 32;
    CHECK(moe::estimate_memory(c, o).activations == Approx(1.4 * 48 * kept));
  }
  SECTION("a dense layer: no router, the dense FFN's width") {
    moe::ModelConfig d = c;
    d.n_dense_layers = 1;  // width (k + s) x F = 72
    const double dense = 4 * (128 + 160 + 4 * 72 + 32), moe_layer = 4 * (136 + 160 + 448);
    CHECK(moe::estimate_memory(d, o).activations ==
          Approx(1.4 * 48 * (dense + moe_layer + 12 * 32)));
  }
}

TEST_CASE("the largest micro-batch that fits, and what would fit when none does", "[memory]") {
  const moe::ModelConfig c = small();
  moe::MemoryOptions o;
  o.micro_batch = 1;
  const double one = moe::estimate_memory(c, o).total();
  o.micro_batch = 2;
  const double per_sequence = moe::estimate_memory(c, o).total() - one;
  // Room for 5 sequences: among the divisors of 12, 4 is the largest that fits.
  const double device = one + 4.5 * per_sequence;
  CHECK(moe::largest_micro_batch(c, o, 12, device) == 4);
  CHECK(moe::largest_micro_batch(c, o, 12, one - 1) == 0);

  moe::TrainConfig run;
  run.model = c;
  run.batch_size = 12;
  run.device_memory = device;
  moe::MemoryReport r = moe::memory_report(run);
  CHECK_FALSE(r.fits());  // the whole batch of 12 at once
  CHECK(r.largest_micro_batch == 4);
  CHECK(r.remedy(c).rfind("--micro-batch 4", 0) == 0);
  run.micro_batch_size = 4;
  CHECK(moe::memory_report(run).fits());
  run.device_memory = 0;  // no device memory known: nothing to refuse
  run.micro_batch_size = 0;
  CHECK(moe::memory_report(run).fits());
  CHECK(moe::memory_report(run, 1.0).device_bytes == 1.0);  // the GPU's own, when visible
}

TEST_CASE("a paper-scale run fits 80 GB GPUs with enough ranks, and not by ranks alone",
          "[memory]") {
  // A paper-scale shape: 24 layers of 128 experts (top-2 + 1 shared), 1.2e10 parameters.
  moe::ModelConfig c;
  c.vocab_size = 8192;
  c.context = 4096;
  c.d_model = 1024;
  c.n_layers = 24;
  c.n_heads = 16;
  c.n_kv_heads = 16;
  c.head_dim = 64;
  c.n_experts = 128;
  c.top_k = 2;
  c.n_shared_experts = 1;
  c.d_expert = 1280;
  const double n = static_cast<double>(moe::count_params(c).total());
  REQUIRE(n > 1e10);
  moe::MemoryOptions o;
  o.micro_batch = 1;
  const moe::MemoryReport r = moe::memory_report(c, o, 512, 80e9);
  CHECK(r.sharded.weights + r.sharded.gradients + r.sharded.optimizer == 16 * n);
  CHECK_FALSE(r.fits());
  // 4 N of weights stay on every rank; gradients and AdamW's 12 N shrink with ranks.
  int64_t micro = 0;
  const int64_t ranks = moe::ranks_needed(c, o, 512, 80e9, &micro);
  CHECK(ranks > 1);
  o.ranks = ranks;
  o.micro_batch = micro;
  CHECK(moe::estimate_memory(c, o).total() <= 80e9);
  CHECK(r.remedy(c).find(fmt::format("{} data-parallel ranks", ranks)) != std::string::npos);
  // Weights alone beyond the device: no rank count helps, and the remedy says why.
  const moe::MemoryReport none = moe::memory_report(c, o, 512, 4 * n);
  CHECK(none.remedy(c).find("not the weights") != std::string::npos);
}

TEST_CASE("memory sizes as a user types them", "[memory]") {
  CHECK(moe::parse_memory_size("--device-memory", "80GB") == 80e9);
  CHECK(moe::parse_memory_size("--device-memory", "80GiB") == 80 * kGiB);
  CHECK(moe::parse_memory_size("--device-memory", "1.5g") == 1.5 * kGiB);
  CHECK(moe::parse_memory_size("--device-memory", "8e10") == 8e10);
  CHECK(moe::parse_memory_size("--device-memory", "512MB") == 512e6);
  for (const char* bad : {"lots", "80XB", "-1GB", "0", "GB", "nan"}) {
    INFO(bad);
    try {
      moe::parse_memory_size("--device-memory", bad);
      FAIL("accepted");
    } catch (const std::invalid_argument& e) {
      CHECK(std::string(e.what()).find("--device-memory 80GB") != std::string::npos);
    }
  }
  CHECK(moe::format_bytes(3.5 * kGiB) == "3.5 GiB");
  CHECK(moe::format_bytes(100 * 1024 * 1024) == "100 MiB");
}
