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
       "<= 15 minutes",
       std::nullopt},
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
       "bpe", 8192, true, false, "5 budgets x 3 sparsities x 6 ratios on one GPU", std::nullopt},
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
       "bpe", 8192, true, true, "the paper's grid: 5 budgets x 4 sparsities x 7 ratios",
       std::nullopt},
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
       "byte", 0, false, false, "3 budgets x 3 ratios in seconds (tests)", std::nullopt},
      {"holistic-cpu",
       R"(# moescale reproduce --preset holistic-cpu: paper 2's system end to end on a 2-core CPU.
# 2 heads x 32 at context 256: the attention's context term is a large share of M, as at the
# paper's 8192 with wider models, so M/N_a moves layers against width as it does there.
label = 100K
kv-heads = 1            # GQA 2:1, as the paper
experts = 8
top-k = 1
shared = 1              # N/N_a ranges over (1, 4.5): 1 + (N_e - K)/(K + N_s)
m-law = 0.5,0.5437      # M = K C^A: the paper's exponent; 1.7e6 FLOPs/token at 1e12
convention = causal     # paper 2 counts the context term causal-halved
width-multiple = 1
batch-size = 8          # 130..290 steps per run
eval-tokens = 32768
log-every = 20
)",
       "byte", 0, false, false,
       "paper 2's system: 3 budgets x 20 triads, the rank check, Phase 2's d sweeps, the laws "
       "and the end-to-end plan; bytes, 2-core CPU, <= 20 minutes",
       HolisticStudy{{"2.5e11", "5e11", "1e12"},
                     {7, 7.5, 8.25, 9.5, 11.5},
                     {1.2, 1.5, 2.1, 3},
                     {0.15, 0.85},
                     {0.1, 0.3, 0.5, 0.7, 0.9},
                     {2e12, 1e13},
                     "A test of the machinery: models of 1e4..1e5 active parameters trained for a "
                     "few hundred steps on bytes, one seed each. Every step of paper 2 runs and "
                     "every number below is what these runs give; at this scale the loss "
                     "differences between triads are near the seed noise (about 0.03 nats), so "
                     "the laws' exponents carry wide intervals and say nothing about large "
                     "models."}},
      {"holistic-paper",
       R"(# moescale reproduce --preset holistic-paper: paper 2's six budgets and Table 4's settings.
experts = 288
top-k = 8
shared = 1
m-law = 0.04368,0.5437  # the paper's compute-optimal M
convention = causal
dtype = bf16
eval-tokens = 4194304
log-every = 50
checkpoint-minutes = 30
)",
       "bpe", 8192, true, true,
       "paper 2's grid: 6 budgets (1e18..3e20) x 42 triads, the rank check at 1e18, Phase 2 at "
       "9 d each",
       HolisticStudy{{"1e18@p2-1e18", "3e18@p2-3e18", "1e19@p2-1e19", "3e19@p2-3e19",
                      "1e20@p2-1e20", "3e20@p2-3e20"},
                     {7, 7.5, 8, 9, 11, 14, 17},
                     {12, 16, 20, 22, 26, 30},
                     {0.1, 0.3, 0.7, 0.9},
                     {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9},
                     {1e21, 1e22},
                     "The paper's scale: its budgets, grid, experts and attention shapes (its "
                     "vocabulary of 152064 is replaced by the preset's BPE)."}},
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
