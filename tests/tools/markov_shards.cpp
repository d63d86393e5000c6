// Writes a small synthetic corpus for tests that run the programs: OUTDIR/train.bin and
// OUTDIR/val.bin drawn from one first-order Markov source over 48 symbols (3 successors each),
// and OUTDIR/meta.json. Deterministic: the same arguments give the same bytes.
//
//   markov_shards OUTDIR [train_tokens=200000] [val_tokens=20000]
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "moe/io.h"
#include "moe/shards.h"

namespace {

std::vector<uint32_t> markov(size_t n, uint32_t seed) {
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

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: markov_shards OUTDIR [train_tokens] [val_tokens]\n");
    return 2;
  }
  const std::string out = argv[1];
  const size_t n_train = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 200000;
  const size_t n_val = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 20000;
  std::filesystem::create_directories(out);
  moe::write_shard(out + "/train.bin", markov(n_train, 1), moe::kShardVersionU16);
  moe::write_shard(out + "/val.bin", markov(n_val, 2), moe::kShardVersionU16);
  moe::write_json_atomic(out + "/meta.json", {{"vocab_size", 64}, {"tokenizer", "markov-test"}});
  return 0;
}
