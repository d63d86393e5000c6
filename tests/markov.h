// A first-order Markov source over 48 symbols, each followed by one of 3 successors chosen by a
// fixed table: its conditional entropy (ln 3 = 1.10 nats) is far below its unigram entropy, so
// a model that learns shows it. The table is the same for every seed; `seed` draws the path,
// so train and validation streams come from one source.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace moe::testing {

inline std::vector<uint32_t> markov_tokens(size_t n, uint32_t seed) {
  std::mt19937 table_rng(1234);
  std::vector<uint32_t> next(48 * 3);
  for (auto& v : next) v = table_rng() % 48;
  std::mt19937 rng(seed);
  std::vector<uint32_t> out(n);
  uint32_t s = 0;
  for (auto& t : out) {
    t = s;
    s = next[s * 3 + rng() % 3];
  }
  return out;
}

}  // namespace moe::testing
