// The trainer: one run of one model on token shards, leaving a run directory that the sweep,
// the fitter and the report read.
//
// RUNDIR/
//   config.json     the resolved TrainConfig (moe/train_config.h), written before step 0
//   metrics.jsonl   one JSON object per log step: step, tokens, flops (training FLOPs so far),
//                   train_loss (mean CE over the steps since the last line), lr, tokens_per_s,
//                   mfu, aux_loss, z_loss, grad_norm, expert_load_max_over_mean (per MoE layer);
//                   val_loss on eval steps
//   result.json     moe::RunResult (moe/run_dir.h): status done | diverged | failed |
//                   interrupted, reason, val_loss (final, on the fixed held-out set),
//                   final_train_loss, steps, tokens, wall_seconds, ...
//   checkpoints/step-NNNNNNNN/   model.pt, optimizer.pt, rng.pt, state.json (step, data
//                   position, wall time so far, FNV-1a checksums of the three .pt files and of
//                   state.json itself). The last two checkpoints are kept. Each is written
//                   under a temporary name and renamed into place.
// Every JSON file is written atomically (temp + rename); metrics.jsonl is append-only and is
// cut back to the checkpoint's step on resume.
//
// Resume: the newest checkpoint whose checksums verify is loaded (a corrupt one is reported
// and the previous one tried, else the run restarts from scratch). Model, AdamW state, data
// position and RNG are restored, so on CPU a resumed run's losses equal an uninterrupted run's
// bit for bit.
//
// Divergence: a NaN/Inf loss stops the run with status diverged and the step. On CPU every
// step is checked; on CUDA the check runs at log steps (log_every), the only host
// synchronisation besides the experts' counts.
#pragma once

#include <cstdint>
#include <string>

#include "moe/run_dir.h"
#include "moe/train_config.h"

namespace moe {

// Trains (resume: continue from RUNDIR's newest good checkpoint, or start when there is none).
// Returns what it wrote to result.json (moe/run_dir.h). Throws moe::InputError for bad input
// (data, a RUNDIR holding a different config, ...).
RunResult train(const TrainConfig& config, const std::string& run_dir, bool resume);

// SIGINT/SIGTERM handlers that ask the running train() to checkpoint and return "interrupted".
void install_stop_handlers();
// The signal that stopped the run (0 when none).
int stop_signal();

}  // namespace moe
