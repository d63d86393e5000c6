// The peak memory of one training run per rank, estimated from its shape before it starts:
// what `moescale plan`, `sweep --dry-run` and the sweep's refusal print, and what `train`
// compares with the device it got.
//
// Per rank, in bytes:
//   weights      4 N            fp32 master weights (every rank holds all of them)
//   gradients    4 N / shards   fp32, one per weight; over R data-parallel ranks each keeps only
//                               those of the weights it updates (ZeRO-2), once summed
//   optimizer    8 N / shards   AdamW's two moments, of the weights each rank updates
//   weight casts 2 N            bf16 only: autocast's copy of the weights, kept for a step
//   buckets      <= 2 x 32 MiB  data parallel only: the flat buckets gradients are reduced in
//   activations  1.4 m T x (what autograd keeps per token, summed over the layers; below)
//   logits       1.4 m T V x (bytes of the logits, their fp32 log-softmax and its gradient)
//   runtime      0.5 GiB: the CUDA context and cuBLAS workspaces, or a CPU process with
//                LibTorch loaded
// with m the micro-batch and T the context. Kept per token and layer (elements; norms and the
// router in fp32, the rest in the compute dtype): attention 2 D (norm) + 2 (H + 2 H_kv) d_h
// (q, k, v before and after rotary) + H d_h (SDPA's output); an MoE FFN 2 D + 2 E (router)
// + k (2 D + 4 F) (dispatched rows, gate, up, their product, the expert outputs) + s 4 F + D; a
// dense FFN 2 D + 4 F_dense + D. With activation checkpointing a layer keeps only its input (D,
// fp32) and one layer's full set is alive during its recomputation. The 1.4 is measured (peak
// RSS of CPU runs over this count, bench/RESULTS.md): the backward's own buffers and slack.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

#include "moe/config.h"
#include "moe/train_config.h"

namespace moe {

struct MemoryOptions {
  int64_t micro_batch = 1;   // sequences per forward/backward on one rank
  bool bf16 = false;         // --dtype bf16 (autocast)
  int64_t ranks = 1;         // data-parallel ranks
  bool shard_states = true;  // ZeRO-2 across the ranks: AdamW's state and the gradients
  bool checkpoint_activations = false;
};

struct MemoryEstimate {
  double weights = 0, gradients = 0, optimizer = 0, weight_casts = 0, buckets = 0;
  double activations = 0, logits = 0, runtime = 0;
  double total() const {
    return weights + gradients + optimizer + weight_casts + buckets + activations + logits +
           runtime;
  }
};

MemoryEstimate estimate_memory(const ModelConfig& model, const MemoryOptions& options);

// The largest micro-batch that divides per_rank_batch and fits in device_bytes (0: none does,
// not even 1 sequence).
int64_t largest_micro_batch(const ModelConfig& model, MemoryOptions options, int64_t per_rank_batch,
                            double device_bytes);

// "80GB" (80e9 bytes), "80GiB" (80 x 2^30), "141G" (GiB), "8.5e10" (bytes). Throws
// std::invalid_argument "<flag> '<text>' ..." with an example.
double parse_memory_size(const std::string& flag, const std::string& text);
std::string format_bytes(double bytes);  // "12.3 GiB", "850 MiB"

// What a run needs and whether it fits: the estimate at its micro-batch with and without the
// optimizer sharded, and, given the device memory, the largest micro-batch that fits and the
// fewest ranks whose sharding lets it fit. The plan's and dry run's one report of memory.
struct MemoryReport {
  MemoryOptions options;  // as asked (shard_states: as the run would train)
  int64_t batch_size = 0;
  MemoryEstimate unsharded, sharded;
  std::optional<double> device_bytes;
  int64_t largest_micro_batch = 0;  // with device_bytes: at the run's ranks, sharded
  bool fits() const;                // true without device_bytes
  // One line of what would fit: more ranks, a smaller micro-batch, activation checkpointing.
  std::string remedy(const ModelConfig& model) const;
};
MemoryReport memory_report(const ModelConfig& model, const MemoryOptions& options,
                           int64_t batch_size, std::optional<double> device_bytes);
// The fewest data-parallel ranks (at least options.ranks, dividing batch_size, at most 4096)
// at which some micro-batch fits device_bytes with gradients and AdamW's state sharded; 0 when
// none does.
// With it, the largest micro-batch there.
int64_t ranks_needed(const ModelConfig& model, MemoryOptions options, int64_t batch_size,
                     double device_bytes, int64_t* micro_batch = nullptr);
nlohmann::json to_json(const MemoryReport& r);

// A run as configured: its ranks (--nproc-per-node), micro-batch per rank, dtype, activation
// checkpointing, and its --device-memory, else `visible` (the GPU's own, where one is seen).
MemoryReport memory_report(const TrainConfig& run, std::optional<double> visible = {});
// Two lines for the plan's table ("  <key>  <value>"): the estimate with its parts, and with
// a device memory whether it fits and what would.
std::string format_memory(const MemoryReport& r, const ModelConfig& model);

}  // namespace moe
