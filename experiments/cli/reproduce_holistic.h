// `moescale reproduce` for paper 2's presets (holistic-cpu, holistic-paper): Phase 1, the rank
// check, Phase 1's fits, Phase 2 at each optimal triad, its band fit, the end-to-end plan and
// the report, in the layout of experiments/holistic.h. Each step skips what is done.
#pragma once

#include <string>
#include <vector>

#include "experiments/grid.h"
#include "experiments/presets.h"

namespace moe::cli {

struct HolisticRun {
  std::string shared;  // the preset's shared settings with the data's vocabulary
  std::string data, out, bin, device, command;
  int workers = 0;
};

// The runs planned before any result: Phase 1's and the rank check's.
std::vector<experiments::RunSpec> holistic_planned_runs(const experiments::Preset& preset,
                                                        const std::string& shared);
// Phase 2's compute, before its triads are known: its d positions at every budget.
double holistic_phase2_compute(const experiments::Preset& preset);

// Runs steps 3..8 (the corpus and the shards are steps 1 and 2). Returns the exit status: 2
// when a step rejected its input (it printed the one error line).
int run_holistic(const experiments::Preset& preset, const HolisticRun& run);

}  // namespace moe::cli
