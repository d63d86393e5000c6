#include "moe/train_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "common/errors.h"
#include "common/hashing.h"
#include "common/io.h"
#include "common/json_fields.h"
#include "moe/settings.h"

namespace moe {

std::string to_string(Schedule s) {
  switch (s) {
    case Schedule::kCosine:
      return "cosine";
    case Schedule::kWsd:
      return "wsd";
    case Schedule::kConstant:
      return "constant";
  }
  return "?";
}

Schedule parse_schedule(const std::string& s) {
  if (s == "cosine") return Schedule::kCosine;
  if (s == "wsd") return Schedule::kWsd;
  if (s == "constant") return Schedule::kConstant;
  throw std::invalid_argument("--schedule " + s + " is unknown: use cosine, wsd or constant");
}

int64_t TrainConfig::steps() const {
  if (batch_size <= 0 || model.context <= 0) return 0;
  // Two divisions, not tokens / (batch_size * context): the product may not fit in int64. For
  // positive integers floor(floor(a / b) / c) == floor(a / (b * c)).
  return tokens / batch_size / model.context;
}

int64_t TrainConfig::resolved_warmup() const {
  if (warmup_steps >= 0) return warmup_steps;
  return std::max<int64_t>(1, steps() / 50);
}

int64_t TrainConfig::resolved_eval_every() const {
  if (eval_every > 0) return eval_every;
  return std::max<int64_t>(1, steps() / 4);
}

double TrainConfig::lr_at(int64_t step) const {
  const int64_t total = steps();
  const int64_t warmup = resolved_warmup();
  if (step < warmup) return lr * static_cast<double>(step + 1) / static_cast<double>(warmup);
  const double floor = lr * min_lr_ratio;
  switch (schedule) {
    case Schedule::kConstant:
      return lr;
    case Schedule::kCosine: {
      const double span = std::max<double>(1.0, static_cast<double>(total - warmup));
      const double progress = std::min(1.0, static_cast<double>(step - warmup) / span);
      return floor + 0.5 * (lr - floor) * (1.0 + std::cos(M_PI * progress));
    }
    case Schedule::kWsd: {
      const int64_t decay = static_cast<int64_t>(std::ceil(decay_fraction * total));
      const int64_t start = total - decay;
      if (step < start || decay <= 0) return lr;
      const double progress = static_cast<double>(step - start + 1) / static_cast<double>(decay);
      return lr + (floor - lr) * std::min(1.0, progress);
    }
  }
  return lr;
}

namespace {

void check(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument(message);
}

}  // namespace

void TrainConfig::split_across(int64_t ranks) {
  if (ranks > 1 && micro_batch_size == 0 && batch_size % ranks == 0) {
    micro_batch_size = batch_size / ranks;
  }
}

void TrainConfig::validate() const {
  model.validate();
  check(!data.empty(), "--data is required: a directory of token shards, a shard or a glob");
  // Each training setting's own range comes with it from the settings table.
  RunSettings s;
  s.train = *this;
  for (const Setting& setting : settings()) {
    if (setting.check && setting.group != SettingGroup::kPlan) setting.check(s);
  }
  // What needs several settings at once.
  check(batch_size % micro_batch() == 0,
        fmt::format("--micro-batch {} must divide --batch-size {}", micro_batch_size, batch_size));
  check(batch_size % (nproc_per_node * micro_batch()) == 0,
        fmt::format("--batch-size {} must split into --nproc-per-node {} ranks of whole "
                    "micro-batches of {}",
                    batch_size, nproc_per_node, micro_batch()));
  check(steps() >= 1,
        fmt::format("--tokens {} is less than one step of {} sequences x {} tokens; raise "
                    "--tokens (or --compute) or lower --batch-size",
                    tokens, batch_size, model.context));
  check(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1,
        fmt::format("AdamW betas ({}, {}) must be in [0, 1)", beta1, beta2));
  check(std::isfinite(adam_eps) && adam_eps > 0,
        fmt::format("AdamW epsilon {} must be > 0 (adam_eps)", adam_eps));
  check(cuda_graph != Toggle::kOn || device.rfind("cuda", 0) == 0,
        fmt::format("--cuda-graph on needs a CUDA device (--device is {}); use --cuda-graph "
                    "auto or off",
                    device));
  check(eval_tokens >= model.context,
        fmt::format("--eval-tokens {} must hold at least one sequence of {} tokens", eval_tokens,
                    model.context));
}

// The run settings' keys and encodings come from the settings table (moe/settings.cpp); the
// fields without a flag are written here.
void to_json(nlohmann::json& j, const TrainConfig& c) {
  j = nlohmann::json{{"model", c.model},       {"plan", c.plan},        {"data", c.data},
                     {"val_data", c.val_data}, {"steps", c.steps()},    {"beta1", c.beta1},
                     {"beta2", c.beta2},       {"adam_eps", c.adam_eps}};
  RunSettings s;
  s.train = c;
  for (const Setting& setting : settings()) {
    if (!setting.json_key.empty()) j[setting.json_key] = setting.to_json(s);
  }
}

void from_json(const nlohmann::json& j, TrainConfig& c) {
  const JsonFields f = JsonFields::of<TrainConfig>(j, "train config");
  RunSettings s;
  s.train = c;
  if (f.has("model")) from_json(f.at("model"), s.train.model);
  if (f.has("plan")) s.train.plan = f.at("plan");
  f.get("data", s.train.data);
  f.get("val_data", s.train.val_data);
  f.get("beta1", s.train.beta1);
  f.get("beta2", s.train.beta2);
  f.get("adam_eps", s.train.adam_eps);
  for (const Setting& setting : settings()) {
    if (!setting.json_key.empty()) setting.from_json(f, s);
  }
  c = s.train;
}

TrainConfig read_train_config(const std::string& path) {
  const nlohmann::json j = read_json(path);
  TrainConfig c;
  try {
    from_json(j, c);
  } catch (const std::invalid_argument& e) {
    throw InputError(path + ": " + e.what());
  }
  return c;
}

nlohmann::json run_identity(const TrainConfig& c) {
  nlohmann::json j = c;
  // The plan's record and the data's paths are not the experiment (the model, batch, tokens and
  // learning rate it yields are); each table setting says whether it is (Setting::identity).
  for (const char* key : {"plan", "data", "val_data"}) j.erase(key);
  // A dense FFN width of 0 is the model as it was before the field existed: the same run.
  if (j.contains("model") && j["model"].value("d_dense", int64_t{0}) == 0)
    j["model"].erase("d_dense");
  for (const Setting& s : settings()) {
    if (!s.json_key.empty() && !(s.identity && s.identity(c))) j.erase(s.json_key);
  }
  return j;
}

std::string run_id(const TrainConfig& c) {
  return fmt::format("{:012x}", fnv1a64(run_identity(c).dump()) >> 16);
}

std::string first_difference(const nlohmann::json& a, const nlohmann::json& b) {
  const nlohmann::json patch = nlohmann::json::diff(a, b);
  if (patch.empty()) return "";
  std::string path = patch.front().at("path").get<std::string>();  // a JSON pointer, "/a/b"
  if (path.empty()) return ".";                                    // the values themselves
  std::replace(path.begin(), path.end(), '/', '.');
  return path.substr(1);
}

}  // namespace moe
