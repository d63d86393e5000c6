#include "moe/memory.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "moe/accounting.h"

namespace moe {

namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
constexpr double kBucketBytes = 32.0 * 1024 * 1024;
// What autograd keeps beyond the count below (the backward's gradient buffers, kernels'
// workspaces, the allocator's slack), measured: peak RSS over the count of activations and
// logits was 1.29-1.45 on five CPU runs (bench/RESULTS.md "Memory estimate"); 1.4 errs high.
constexpr double kAutogradSlack = 1.4;

// Elements autograd keeps per token for one layer (see memory.h), split into the fp32 part
// (norm inputs, router) and the part in the compute dtype.
struct LayerKeep {
  double fp32 = 0, compute = 0;
};

LayerKeep layer_keep(const ModelConfig& c, int64_t layer) {
  const double d = static_cast<double>(c.d_model), hd = static_cast<double>(c.head_dim);
  const double h = static_cast<double>(c.n_heads), kv = static_cast<double>(c.n_kv_heads);
  LayerKeep keep;
  keep.fp32 += 2 * d;                              // attention's norm: input and output
  keep.compute += 2 * (h + 2 * kv) * hd + h * hd;  // q, k, v twice; SDPA's output
  keep.fp32 += 2 * d;                              // the FFN's norm
  if (c.layer_is_moe(layer)) {
    const double f = static_cast<double>(c.d_expert), k = static_cast<double>(c.top_k);
    keep.fp32 += 2 * static_cast<double>(c.n_experts);  // router logits and scores
    keep.compute += k * (2 * d + 4 * f) + static_cast<double>(c.n_shared_experts) * 4 * f + d;
  } else {
    keep.compute += 4 * static_cast<double>(c.dense_ffn_width()) + d;
  }
  return keep;
}

}  // namespace

MemoryEstimate estimate_memory(const ModelConfig& c, const MemoryOptions& o) {
  const ParamCounts params = count_params(c);
  const double n = static_cast<double>(params.total());
  const double ranks = static_cast<double>(std::max<int64_t>(1, o.ranks));
  const double tokens = static_cast<double>(o.micro_batch) * static_cast<double>(c.context);
  const double act_bytes = o.bf16 ? 2 : 4;
  MemoryEstimate e;
  e.weights = 4 * n;
  const double shards = o.shard_states ? ranks : 1.0;
  e.gradients = 4 * n / shards;
  e.optimizer = 8 * n / shards;
  e.weight_casts = o.bf16 ? 2 * n : 0;
  e.buckets = ranks > 1 ? std::min(4 * n, 2 * kBucketBytes) : 0;
  double per_token = 0, largest_layer = 0;
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const LayerKeep keep = layer_keep(c, l);
    const double bytes = 4 * keep.fp32 + act_bytes * keep.compute;
    per_token += bytes;
    largest_layer = std::max(largest_layer, bytes);
  }
  if (o.checkpoint_activations) {
    per_token =
        4.0 * static_cast<double>(c.d_model) * static_cast<double>(c.n_layers) + largest_layer;
  }
  per_token += 3 * 4.0 * static_cast<double>(c.d_model);  // embedding output, final norm
  e.activations = kAutogradSlack * tokens * per_token;
  e.logits = kAutogradSlack * tokens * static_cast<double>(c.vocab_size) * (act_bytes + 4 + 4);
  e.runtime = 0.5 * kGiB;
  return e;
}

int64_t largest_micro_batch(const ModelConfig& model, MemoryOptions options, int64_t per_rank_batch,
                            double device_bytes) {
  for (int64_t m = per_rank_batch; m >= 1; --m) {
    if (per_rank_batch % m != 0) continue;
    options.micro_batch = m;
    if (estimate_memory(model, options).total() <= device_bytes) return m;
  }
  return 0;
}

double parse_memory_size(const std::string& flag, const std::string& text) {
  size_t end = 0;
  double value = 0;
  try {
    value = std::stod(text, &end);
  } catch (const std::exception&) {
    end = 0;
  }
  std::string unit = text.substr(end);
  std::transform(unit.begin(), unit.end(), unit.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
  double scale = 0;
  if (unit.empty() || unit == "B") scale = 1;
  if (unit == "GB") scale = 1e9;
  if (unit == "G" || unit == "GIB") scale = kGiB;
  if (unit == "MB") scale = 1e6;
  if (unit == "M" || unit == "MIB") scale = 1024.0 * 1024.0;
  if (unit == "TB") scale = 1e12;
  if (end == 0 || scale == 0 || !std::isfinite(value) || value <= 0) {
    throw std::invalid_argument(fmt::format(
        "{} '{}' must be a size such as {} 80GB (80e9 bytes), 80GiB or 8e10", flag, text, flag));
  }
  return value * scale;
}

std::string format_bytes(double bytes) {
  if (bytes >= kGiB) return fmt::format("{:.1f} GiB", bytes / kGiB);
  return fmt::format("{:.0f} MiB", bytes / (1024.0 * 1024.0));
}

bool MemoryReport::fits() const { return !device_bytes || sharded.total() <= *device_bytes; }

std::string MemoryReport::remedy(const ModelConfig& model) const {
  if (fits()) return "";
  const double device = *device_bytes;
  std::vector<std::string> ways;
  if (largest_micro_batch > 0) ways.push_back(fmt::format("--micro-batch {}", largest_micro_batch));
  int64_t micro = 0;
  if (const int64_t ranks = ranks_needed(model, options, batch_size, device, &micro);
      ranks > options.ranks) {
    ways.push_back(
        fmt::format("{} data-parallel ranks (--nproc-per-node, or srun tasks) at --micro-batch {}",
                    ranks, micro));
  }
  if (!options.checkpoint_activations) {
    MemoryOptions ckpt = options;
    ckpt.checkpoint_activations = true;
    if (const int64_t m = moe::largest_micro_batch(
            model, ckpt, batch_size / std::max<int64_t>(1, options.ranks), device);
        m > 0) {
      ways.push_back(fmt::format("--checkpoint-activations at --micro-batch {}", m));
    }
  }
  if (ways.empty()) {
    return fmt::format(
        "the weights{} with the runtime's 0.5 GiB take {} on every rank (ranks shard the "
        "gradients and AdamW's state, not the weights): a device with more memory or a smaller "
        "model",
        sharded.weight_casts > 0 ? " and their bf16 casts" : "",
        format_bytes(sharded.weights + sharded.weight_casts + sharded.runtime));
  }
  std::string out = ways.front();
  for (size_t i = 1; i < ways.size(); ++i) out += (i + 1 == ways.size() ? " or " : ", ") + ways[i];
  return out;
}

int64_t ranks_needed(const ModelConfig& model, MemoryOptions options, int64_t batch_size,
                     double device_bytes, int64_t* micro_batch) {
  options.shard_states = true;
  for (int64_t ranks = std::max<int64_t>(1, options.ranks); ranks <= batch_size && ranks <= 4096;
       ++ranks) {
    if (batch_size % ranks != 0) continue;
    options.ranks = ranks;
    if (const int64_t m = largest_micro_batch(model, options, batch_size / ranks, device_bytes);
        m > 0) {
      if (micro_batch != nullptr) *micro_batch = m;
      return ranks;
    }
  }
  return 0;
}

MemoryReport memory_report(const ModelConfig& model, const MemoryOptions& options,
                           int64_t batch_size, std::optional<double> device_bytes) {
  MemoryReport r;
  r.options = options;
  r.batch_size = batch_size;
  MemoryOptions sharded = options, unsharded = options;
  sharded.shard_states = true;
  unsharded.shard_states = false;
  r.sharded = estimate_memory(model, sharded);
  r.unsharded = estimate_memory(model, unsharded);
  r.device_bytes = device_bytes;
  if (device_bytes) {
    r.largest_micro_batch = moe::largest_micro_batch(
        model, sharded, batch_size / std::max<int64_t>(1, options.ranks), *device_bytes);
  }
  return r;
}

nlohmann::json to_json(const MemoryReport& r) {
  auto parts = [](const MemoryEstimate& e) {
    return nlohmann::json{{"weights", e.weights},     {"gradients", e.gradients},
                          {"optimizer", e.optimizer}, {"weight_casts", e.weight_casts},
                          {"buckets", e.buckets},     {"activations", e.activations},
                          {"logits", e.logits},       {"runtime", e.runtime},
                          {"total", e.total()}};
  };
  nlohmann::json j = {{"micro_batch", r.options.micro_batch},
                      {"ranks", r.options.ranks},
                      {"checkpoint_activations", r.options.checkpoint_activations},
                      {"bytes_per_rank", parts(r.sharded)},
                      {"bytes_per_rank_unsharded", parts(r.unsharded)}};
  if (r.device_bytes) {
    j["device_bytes"] = *r.device_bytes;
    j["fits"] = r.fits();
    j["largest_micro_batch"] = r.largest_micro_batch;
  }
  return j;
}

MemoryReport memory_report(const TrainConfig& run, std::optional<double> visible) {
  MemoryOptions o;
  o.ranks = std::max<int64_t>(1, run.nproc_per_node);
  const int64_t per_rank = std::max<int64_t>(1, run.batch_size / o.ranks);
  o.micro_batch = run.micro_batch_size > 0 ? std::min(run.micro_batch_size, per_rank) : per_rank;
  o.bf16 = run.dtype == "bf16";
  o.checkpoint_activations = run.checkpoint_activations;
  std::optional<double> device = visible;
  if (run.device_memory > 0) device = run.device_memory;
  return memory_report(run.model, o, run.batch_size, device);
}

std::string format_memory(const MemoryReport& r, const ModelConfig& model) {
  const MemoryEstimate& e = r.sharded;
  auto gib = [](double b) { return fmt::format("{:.2f}", b / kGiB); };
  std::string s = fmt::format(
      "  {:<28} {} at micro-batch {}{}{} (weights {}, gradients {}, AdamW {}, activations {}, "
      "logits {}, runtime {} GiB{})\n",
      "memory / rank (estimate)", format_bytes(e.total()), r.options.micro_batch,
      r.options.ranks > 1 ? fmt::format(" on each of {} ranks", r.options.ranks) : "",
      r.options.checkpoint_activations ? ", layers checkpointed" : "", gib(e.weights),
      gib(e.gradients), gib(e.optimizer), gib(e.activations), gib(e.logits), gib(e.runtime),
      r.options.ranks > 1 ? fmt::format("; gradients and AdamW sharded: {} without",
                                        format_bytes(r.unsharded.total()))
                          : "");
  if (r.device_bytes) {
    s += fmt::format(
        "  {:<28} {}\n", fmt::format("device memory {:.4g} GB", *r.device_bytes / 1e9),
        r.fits() ? fmt::format("fits; the largest micro-batch that does: {}", r.largest_micro_batch)
                 : "does not fit: " + r.remedy(model));
  }
  return s;
}

}  // namespace moe
