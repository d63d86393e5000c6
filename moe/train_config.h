// TrainConfig: everything one training run needs, resolved. It is written to RUNDIR/config.json
// and read back by `moescale train --config FILE`; the sweep builds it from a grid entry.
// No torch here, so the sweep and the planner can compute run ids without LibTorch.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "moe/config.h"

namespace moe {

enum class Schedule { kCosine, kWsd, kConstant };
std::string to_string(Schedule s);
Schedule parse_schedule(const std::string& s);

struct TrainConfig {
  ModelConfig model;
  nlohmann::json plan = nlohmann::json::object();  // the planner's JSON (label, compute, r...)

  // Data: a directory, a shard file or a glob (see data/shards.h). val_data defaults to data.
  std::string data;
  std::string val_data;

  std::string device = "cpu";  // cpu | cuda | cuda:i
  std::string dtype = "fp32";  // fp32 | bf16 (bf16 autocast on CUDA or CPU)
  int threads = 0;             // torch intra-op threads; 0 leaves LibTorch's default
  GroupedGemm grouped_gemm = GroupedGemm::kAuto;  // experts' GEMMs (moe/model.h)
  Toggle fused_adamw = Toggle::kAuto;             // one fused AdamW kernel (auto: on CUDA)
  Toggle cuda_graph = Toggle::kAuto;    // the step captured in a CUDA graph (auto: CUDA, grouped)
  int64_t nproc_per_node = 1;           // data-parallel ranks started on this node
  bool checkpoint_activations = false;  // recompute each layer in the backward
  double device_memory = 0;             // bytes of one device (0: unknown / the GPU's own)

  int64_t batch_size = 16;       // sequences per optimizer step
  int64_t micro_batch_size = 0;  // sequences per forward/backward; 0 = batch_size
  int64_t tokens = 0;            // training tokens D; steps = tokens / (batch_size * context)

  // AdamW (0.9, 0.95), decoupled weight decay on matrices only, global-norm clipping.
  double lr = 2e-3;
  double min_lr_ratio = 0.1;  // final LR = lr * min_lr_ratio (cosine and WSD)
  int64_t warmup_steps = -1;  // -1: 2% of the steps, at least 1 (linear from 0)
  Schedule schedule = Schedule::kCosine;
  double decay_fraction = 0.2;  // WSD: the last 20% of steps decay linearly
  double weight_decay = 0.1;
  double beta1 = 0.9, beta2 = 0.95, adam_eps = 1e-8;
  double clip = 1.0;  // 0 disables

  int64_t eval_every = 0;       // steps between validation evals; 0: 4 evals over the run
  int64_t eval_tokens = 65536;  // size of the fixed held-out set (first tokens of val data)
  uint64_t seed = 0;            // initialisation and data order

  int64_t log_every = 10;            // steps between metrics.jsonl lines
  double checkpoint_minutes = 10.0;  // wall-clock checkpoint cadence (and at the end)
  int64_t checkpoint_every = 0;      // also every N steps when > 0
  int64_t stop_at_step = -1;         // stop after this step with a checkpoint, as on SIGINT
  int64_t inject_nan_at_step = -1;   // testing: the loss becomes NaN at this step
  std::string profile;               // a Chrome trace of steps kProfileFrom.. to this file

  int64_t steps() const;  // 0 unless batch_size and model.context are positive
  int64_t micro_batch() const { return micro_batch_size > 0 ? micro_batch_size : batch_size; }
  // Over several ranks the batch is split: each rank runs whole micro-batches of its share,
  // the whole share by default. Sets micro_batch_size to batch_size / ranks when it is 0, so
  // that the run's identity says what it computes (as the same micro-batches accumulated in
  // one process would: the balancing loss is per micro-batch).
  void split_across(int64_t ranks);
  int64_t resolved_warmup() const;
  int64_t resolved_eval_every() const;
  double lr_at(int64_t step) const;  // step counts from 0

  // Throws std::invalid_argument naming the field (and its flag) and what to change.
  void validate() const;
};

void to_json(nlohmann::json& j, const TrainConfig& c);
// Missing keys keep their defaults. Throws std::invalid_argument for an unknown key or a value of
// the wrong JSON type or out of the field's range (see moe/json_fields.h).
void from_json(const nlohmann::json& j, TrainConfig& c);

// Reads a config file as `moescale train --config FILE` does (read_json, then from_json). Throws
// moe::InputError naming the file when it is unreadable, not JSON, or has a bad field. The
// result is not validated: flags may still override fields.
TrainConfig read_train_config(const std::string& path);

// The fields that define the experiment: the model, optimisation, tokens, seed, eval set size,
// precision, and micro-batches when they split the batch (the settings table marks each setting,
// Setting::identity). Device, threads, grouped GEMM, data paths, logging and checkpoint cadence
// and test hooks are excluded: they change how a run is carried out, not what it computes.
nlohmann::json run_identity(const TrainConfig& c);
// A stable 12-hex-digit id: FNV-1a 64 of run_identity's canonical dump.
std::string run_id(const TrainConfig& c);

// The first key path at which two JSON values differ ("" when equal), e.g. "model.d_expert".
std::string first_difference(const nlohmann::json& a, const nlohmann::json& b);

}  // namespace moe
