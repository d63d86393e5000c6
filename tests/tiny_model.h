// The small MoE shape the model and memory tests share: 2 layers of d_model 32, 4 query heads of
// 8 (2 kv heads), 4 routed experts of width 24 (top-2) + 1 shared, vocabulary 64, context 16.
// The memory test's hand counts are written for exactly these numbers.
#pragma once

#include "moe/config.h"

namespace moe::testing {

inline ModelConfig tiny_model_config() {
  ModelConfig c;
  c.vocab_size = 64;
  c.context = 16;
  c.d_model = 32;
  c.n_layers = 2;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.head_dim = 8;
  c.d_expert = 24;
  c.n_experts = 4;
  c.top_k = 2;
  c.n_shared_experts = 1;
  return c;
}

}  // namespace moe::testing
