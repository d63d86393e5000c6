// The presets of `moescale reproduce`: a grid, a tokenizer vocabulary and a device each.
//
//   cpu-tiny   the default: the "tiny" label (2 layers, d_model 128, context 128) with 8 routed
//              experts, top-1 + 1 shared (S = 77.8%), 3 budgets (5e11..2e12) x 2 seeds on a
//              byte tokenizer; the ratios start at the paper's 0.2..1.2 and the sweep brackets
//              each valley and refines it. A 2-core CPU in under 15 minutes including the corpus.
//   gpu-small  one GPU, 1e15..1e17 FLOPs, the paper's sparsity range scaled down (E = 9, 17, 33
//              with 2 routed + 1 shared active: S = 66.7%, 82.4%, 90.9%), 6 ratios in
//              [0.2, 1.5], labels 5M..20M at context 1024, bf16; BPE vocabulary 8192.
//   paper      the paper's grid: labels 20M..200M (one per budget, 1e17..1e21 FLOPs), E = 17,
//              33, 65, 129 with 2 routed + 1 shared, 7 ratios in [0.2, 1.5], context 4096,
//              bf16. Thousands of GPU-hours: `reproduce` prints the estimate and needs --yes.
//   smoke      seconds-scale, for tests: the tiny label at context 32 on a byte tokenizer.
//   holistic-cpu    paper 2's whole system (experiments/holistic.h) on a 2-core CPU in under 20
//                   minutes: 3 budgets, a 4 x 3 triad grid, the rank check, Phase 2, the laws
//                   and the end-to-end plan; bytes. A test of the machinery: its laws at this
//                   scale are what they are.
//   holistic-paper  paper 2's grid: its six budgets 1e18..3e20 with Table 4's heads and batch
//                   sizes, 288 routed + 1 shared experts, top-8, context 8192; needs --yes.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "experiments/holistic.h"

namespace moe::experiments {

struct Preset {
  std::string name;
  std::string grid;       // grid-file text (experiments/grid.h)
  std::string tokenizer;  // bpe | byte
  int vocab_size;         // BPE vocabulary (ignored for byte)
  bool gpu;               // trains on CUDA (bf16)
  bool needs_confirmation;
  std::string summary;
  // Paper 2's presets: `grid` holds the shared settings, this the phases' axes.
  std::optional<HolisticStudy> holistic;
};

const std::vector<Preset>& presets();
// Throws std::invalid_argument listing the presets.
const Preset& find_preset(const std::string& name);

}  // namespace moe::experiments
