// Writes a small synthetic corpus for tests that run the programs: OUTDIR/train.bin and
// OUTDIR/val.bin drawn from one first-order Markov source over 48 symbols (3 successors each),
// and OUTDIR/meta.json. Deterministic: the same arguments give the same bytes.
//
//   markov_shards OUTDIR [train_tokens=200000] [val_tokens=20000]
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "common/io.h"
#include "data/shards.h"
#include "tests/markov.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: markov_shards OUTDIR [train_tokens] [val_tokens]\n");
    return 2;
  }
  const std::string out = argv[1];
  const size_t n_train = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 200000;
  const size_t n_val = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 20000;
  std::filesystem::create_directories(out);
  moe::write_shard(out + "/train.bin", moe::testing::markov_tokens(n_train, 1),
                   moe::kShardVersionU16);
  moe::write_shard(out + "/val.bin", moe::testing::markov_tokens(n_val, 2), moe::kShardVersionU16);
  moe::write_json_atomic(out + "/meta.json", {{"vocab_size", 64}, {"tokenizer", "markov-test"}});
  return 0;
}
