#include "experiments/presets.h"

#include <stdexcept>

namespace moe::experiments {

const std::vector<Preset>& presets() {
  static const std::vector<Preset> all = {
      {"cpu-tiny",
       R"(# moescale reproduce --preset cpu-tiny: a CPU demo that finds the valley by itself.
# Bytes, not BPE pieces: a model that cannot look back cannot predict the next byte, so
# attention earns its FLOPs even in 2-layer models trained on under a million tokens.
label = tiny
compute = 5e11 1e12 2e12
ratio = 0.2 0.5 1.2     # the paper's range; bracketing extends it until the valley is inside
bracket = yes
bracket-steps = 4
bracket-margin = 0.05   # a wall is 0.05 nats above the lowest: the seeds' noise is ~0.035
refine = 2              # then two more ratios around each minimum
seed = 0 1              # two seeds: the report measures their noise
experts = 8
top-k = 1
shared = 1
width-multiple = 1      # widths of a few units: round for r, not for GPU kernels
eval-tokens = 32768
log-every = 10
)",
       "byte", 0, false, false,
       "3 budgets x 2 seeds, ratios bracketed from 0.2..1.2, tiny label, bytes, 2-core CPU, "
       "<= 15 minutes"},
      {"gpu-small",
       R"(# moescale reproduce --preset gpu-small: one GPU, 1e15..1e17 FLOPs.
compute = 1e15@5M 3e15@5M 1e16@10M 3e16@10M 1e17@20M
sparsity = 0.6667 0.8235 0.9091
ratio = 0.2 0.35 0.5 0.75 1.0 1.5
bracket = yes           # a valley outside [0.2, 1.5] is followed, up to 3 ratios each way
bracket-steps = 3
top-k = 2
shared = 1
context = 1024
batch-size = 32
dtype = bf16
eval-tokens = 262144
log-every = 20
)",
       "bpe", 8192, true, false, "5 budgets x 3 sparsities x 6 ratios on one GPU"},
      {"paper",
       R"(# moescale reproduce --preset paper: the paper's labels, sparsities and ratios.
compute = 1e17@20M 1e18@30M 1e19@55M 1e20@100M 1e21@200M
experts = 16 32 64 128
ratio = 0.2 0.3 0.5 0.75 1.0 1.25 1.5
top-k = 2
shared = 1
context = 4096
dtype = bf16
eval-tokens = 4194304
log-every = 50
checkpoint-minutes = 30
)",
       "bpe", 8192, true, true, "the paper's grid: 5 budgets x 4 sparsities x 7 ratios"},
      {"smoke",
       R"(# moescale reproduce --preset smoke: seconds-scale end-to-end check.
label = tiny
context = 32
batch-size = 8
compute = 2e9 4e9 8e9
ratio = 0.3 0.6 1.2
experts = 4
top-k = 1
shared = 1
width-multiple = 1
eval-tokens = 4096
log-every = 5
)",
       "byte", 0, false, false, "3 budgets x 3 ratios in seconds (tests)"},
  };
  return all;
}

const Preset& find_preset(const std::string& name) {
  std::string known;
  for (const auto& p : presets()) {
    if (p.name == name) return p;
    known += (known.empty() ? "" : ", ") + p.name;
  }
  throw std::invalid_argument("--preset " + name + " is unknown: use one of " + known);
}

}  // namespace moe::experiments
