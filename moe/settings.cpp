#include "moe/settings.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <type_traits>

#include "moe/memory.h"

namespace moe {

template <typename T>
T parse_setting_value(const std::string& where, const std::string& text) {
  auto fail = [&](const char* what) {
    throw std::invalid_argument(fmt::format("{} '{}' {}", where, text, what));
  };
  if constexpr (std::is_same_v<T, bool>) {
    if (text == "true" || text == "1" || text == "yes" || text == "on") return true;
    if (text == "false" || text == "0" || text == "no" || text == "off") return false;
    fail("is not true/false: give true or false");
  } else {
    // A non-negative count is never written with a minus sign (from_chars would reject it too,
    // but an istream would read "-1" as 2^64 - 1).
    if (std::is_unsigned_v<T> && text.find('-') != std::string::npos) {
      fail("must be a non-negative integer, e.g. 0");
    }
    T value{};
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec != std::errc() || ptr != end) {
      fail(std::is_integral_v<T> ? "is not a number: give an integer, e.g. 16"
                                 : "is not a number: give one such as 0.5 or 1e15");
    }
    if constexpr (std::is_floating_point_v<T>) {
      if (!std::isfinite(value)) fail("must be a finite number, e.g. 1e15");
    }
    return value;
  }
  return T{};
}

ComputeLaw parse_compute_law(const std::string& where, const std::string& text) {
  const auto comma = text.find(',');
  if (comma == std::string::npos || text.find(',', comma + 1) != std::string::npos) {
    throw std::invalid_argument(
        fmt::format("{} '{}' must be two numbers K,A for K C^A, e.g. 0.04368,0.5437", where, text));
  }
  const double k = parse_setting_value<double>(where, text.substr(0, comma));
  const double a = parse_setting_value<double>(where, text.substr(comma + 1));
  if (!(k > 0)) throw std::invalid_argument(fmt::format("{} '{}': K must be > 0", where, text));
  return {k, a};
}

template int parse_setting_value<int>(const std::string&, const std::string&);
template int64_t parse_setting_value<int64_t>(const std::string&, const std::string&);
template uint64_t parse_setting_value<uint64_t>(const std::string&, const std::string&);
template double parse_setting_value<double>(const std::string&, const std::string&);
template bool parse_setting_value<bool>(const std::string&, const std::string&);

namespace {

// A setting's flag (and grid key) and, for training settings, its config.json key.
struct Keys {
  Keys(const char* flag) : flag(flag) {}  // NOLINT: a plan setting, not in config.json
  Keys(const char* flag, const char* json) : flag(flag), json(json) {}
  std::string flag, json;
};

template <typename T>
constexpr bool kIsOptional = false;
template <typename T>
constexpr bool kIsOptional<std::optional<T>> = true;

Setting entry(const Keys& keys, SettingUse use, SettingGroup group, std::string help) {
  Setting s;
  s.key = keys.flag;
  s.use = use;
  s.group = group;
  s.help = std::move(help);
  s.json_key = keys.json;
  if (!s.json_key.empty()) s.identity = [](const TrainConfig&) { return true; };
  return s;
}

// Micro-batches change the objective (the balancing loss is computed per micro-batch), so a
// batch split into micro-batches is part of the identity; unsplit (the default), it is not, and
// the ids of runs made before this rule stay the same.
Setting split_batch(Setting s) {
  s.identity = [](const TrainConfig& c) { return c.micro_batch() != c.batch_size; };
  return s;
}

// A training setting the plan's memory estimate reads: `moescale plan` takes it too.
Setting sized(Setting s) {
  s.plan_reads = true;
  return s;
}

// How a run is carried out, not what it computes: outside the run's identity.
Setting how(Setting s) {
  s.identity = nullptr;
  return s;
}

// config.json: the field as it is, read back strictly.
template <typename Field>
void json_as_is(Setting& s, Field field) {
  using T = std::decay_t<decltype(field(std::declval<RunSettings&>()))>;
  if constexpr (!kIsOptional<T>) {
    if (s.json_key.empty()) return;
    s.to_json = [field](const RunSettings& r) {
      return nlohmann::json(field(const_cast<RunSettings&>(r)));
    };
    s.from_json = [field, key = s.json_key](const JsonFields& f, RunSettings& r) {
      f.get(key.c_str(), field(r));
    };
  }
}

// The range of the field's own values: ok(value), else "--<key> <value> <rule>".
template <typename Field, typename Ok>
void add_check(Setting& s, Field field, Ok ok, const char* rule) {
  if constexpr (!std::is_same_v<Ok, std::nullptr_t>) {
    s.check = [field, ok, rule, key = s.key](const RunSettings& r) {
      const auto& v = field(const_cast<RunSettings&>(r));
      if (!ok(v)) throw std::invalid_argument(fmt::format("--{} {} {}", key, v, rule));
    };
  }
}

// Builders of table entries. `field` returns a reference to what the setting writes; `ok` and
// `rule`, when given, its range.
template <typename T, typename Field, typename Ok = std::nullptr_t>
Setting value(const Keys& keys, SettingUse use, SettingGroup group, std::string help, Field field,
              Ok ok = nullptr, const char* rule = "") {
  Setting s = entry(keys, use, group, std::move(help));
  s.apply = [field](const std::string& where, const std::string& text, RunSettings& r) {
    field(r) = parse_setting_value<T>(where, text);
  };
  s.show = [field](const RunSettings& r) {
    return fmt::format("{}", field(const_cast<RunSettings&>(r)));
  };
  json_as_is(s, field);
  add_check(s, field, ok, rule);
  return s;
}

// A number whose default is derived (the label's, the data's) or unset; the help text says which.
template <typename T, typename Field, typename Ok = std::nullptr_t>
Setting derived(const Keys& keys, SettingUse use, SettingGroup group, std::string help, Field field,
                Ok ok = nullptr, const char* rule = "") {
  Setting s = entry(keys, use, group, std::move(help));
  s.apply = [field](const std::string& where, const std::string& text, RunSettings& r) {
    field(r) = parse_setting_value<T>(where, text);
  };
  s.show = [](const RunSettings&) { return std::string(); };
  json_as_is(s, field);
  add_check(s, field, ok, rule);
  return s;
}

template <typename Ok = std::nullptr_t>
Setting text(const Keys& keys, SettingUse use, SettingGroup group, std::string help,
             std::function<std::string&(RunSettings&)> field, Ok ok = nullptr,
             const char* rule = "") {
  Setting s = entry(keys, use, group, std::move(help));
  s.apply = [field](const std::string&, const std::string& text, RunSettings& r) {
    field(r) = text;
  };
  s.show = [field](const RunSettings& r) { return field(const_cast<RunSettings&>(r)); };
  json_as_is(s, field);
  add_check(s, field, ok, rule);
  return s;
}

// An enumeration with its own parse and to_string (their messages name the values); written
// to config.json by name.
template <typename E, typename Field>
Setting choice(const Keys& keys, SettingUse use, SettingGroup group, std::string help, Field field,
               E (*parse)(const std::string&), std::string (*show)(E)) {
  Setting s = entry(keys, use, group, std::move(help));
  s.apply = [field, parse](const std::string&, const std::string& text, RunSettings& r) {
    field(r) = parse(text);
  };
  s.show = [field, show](const RunSettings& r) { return show(field(const_cast<RunSettings&>(r))); };
  if (!s.json_key.empty()) {
    s.to_json = [field, show](const RunSettings& r) {
      return nlohmann::json(show(field(const_cast<RunSettings&>(r))));
    };
    s.from_json = [field, parse, key = s.json_key](const JsonFields& f, RunSettings& r) {
      if (!f.has(key.c_str())) return;
      std::string name;
      f.get(key.c_str(), name);
      field(r) = parse(name);
    };
  }
  return s;
}

// A switch of the plan: present on the command line means true; true/false in grids.
template <typename Field>
Setting flag(const Keys& keys, std::string help, Field field) {
  Setting s = entry(keys, SettingUse::kShared, SettingGroup::kPlan, std::move(help));
  s.is_switch = true;
  s.apply = [field](const std::string& where, const std::string& text, RunSettings& r) {
    field(r) = parse_setting_value<bool>(where, text);
  };
  s.show = [](const RunSettings&) { return std::string(); };
  return s;
}

// A switch of the run (config.json's true/false): how it is carried out, not its identity.
template <typename Field>
Setting train_flag(const Keys& keys, std::string help, Field field) {
  Setting s = how(entry(keys, SettingUse::kShared, SettingGroup::kTrain, std::move(help)));
  s.is_switch = true;
  s.apply = [field](const std::string& where, const std::string& text, RunSettings& r) {
    field(r) = parse_setting_value<bool>(where, text);
  };
  s.show = [](const RunSettings&) { return std::string(); };
  json_as_is(s, field);
  return s;
}

// A device's memory, "80GB" or "80GiB" (moe/memory.h), as bytes; 0 for none given.
Setting device_memory() {
  Setting s =
      how(entry({"device-memory", "device_memory"}, SettingUse::kShared, SettingGroup::kTrain,
                "memory of one device, e.g. 80GB (80e9 bytes) or 80GiB: plans and dry "
                "runs say whether each run fits and the largest micro-batch that does; "
                "a sweep refuses runs that cannot fit (default: the GPU's own, where "
                "visible)"));
  s.apply = [](const std::string& where, const std::string& text, RunSettings& r) {
    r.train.device_memory = parse_memory_size(where, text);
  };
  s.show = [](const RunSettings& r) {
    return r.train.device_memory > 0 ? format_bytes(r.train.device_memory) : std::string();
  };
  json_as_is(s, [](RunSettings& r) -> double& { return r.train.device_memory; });
  return s;
}

// The three settings that write more than one field or invert theirs.
Setting no_renormalize() {
  Setting s = entry("no-renormalize", SettingUse::kShared, SettingGroup::kPlan,
                    "do not renormalise the top-k gates to sum to 1");
  s.is_switch = true;
  s.apply = [](const std::string& where, const std::string& text, RunSettings& r) {
    r.plan.base.renormalize_gates = !parse_setting_value<bool>(where, text);
  };
  s.show = [](const RunSettings&) { return std::string(); };
  return s;
}

// The planner counts steps with it; in config.json it is the run's batch.
Setting batch_size() {
  Setting s = entry({"batch-size", "batch_size"}, SettingUse::kShared, SettingGroup::kPlanAndTrain,
                    "sequences per optimizer step (default: the label's)");
  s.apply = [](const std::string& where, const std::string& text, RunSettings& r) {
    r.plan.batch_size = parse_setting_value<int64_t>(where, text);
    r.train.batch_size = *r.plan.batch_size;
  };
  s.show = [](const RunSettings&) { return std::string(); };
  json_as_is(s, [](RunSettings& r) -> int64_t& { return r.train.batch_size; });
  add_check(
      s, [](RunSettings& r) -> int64_t& { return r.train.batch_size; },
      [](int64_t v) { return v > 0; }, "must be > 0");
  return s;
}

// Paper 2's M per budget, "K,A" for M = K C^A.
Setting m_law() {
  Setting s =
      entry("m-law", SettingUse::kShared, SettingGroup::kPlan,
            "paper 2: the triad's M (training FLOPs/token) = K C^A, as K,A (default: 3x the "
            "label's forward FLOPs; the paper's is 0.04368,0.5437)");
  s.apply = [](const std::string& where, const std::string& text, RunSettings& r) {
    r.plan.m_law = parse_compute_law(where, text);
  };
  s.show = [](const RunSettings&) { return std::string(); };
  return s;
}

// Given, it replaces the label's learning rate.
Setting learning_rate() {
  Setting s = entry({"lr", "lr"}, SettingUse::kShared, SettingGroup::kTrain,
                    "peak learning rate (default: the label's)");
  s.apply = [](const std::string& where, const std::string& text, RunSettings& r) {
    r.train.lr = parse_setting_value<double>(where, text);
    r.lr_given = true;
  };
  s.show = [](const RunSettings&) { return std::string(); };
  json_as_is(s, [](RunSettings& r) -> double& { return r.train.lr; });
  add_check(
      s, [](RunSettings& r) -> double& { return r.train.lr; },
      [](double v) { return std::isfinite(v) && v > 0; }, "must be > 0");
  return s;
}

constexpr SettingUse kAxis = SettingUse::kAxis, kShared = SettingUse::kShared,
                     kCommand = SettingUse::kCommand;
constexpr SettingGroup kPlan = SettingGroup::kPlan, kTrain = SettingGroup::kTrain,
                       kBoth = SettingGroup::kPlanAndTrain;

using S = RunSettings;

// What a plan is made from: the budget, r, the label and the model's shape.
std::vector<Setting> plan_settings() {
  // clang-format off
  return {
    value<double>("compute", kAxis, kPlan, "total training FLOPs C, e.g. 1e15",
                  [](S& s) -> double& { return s.plan.compute; }),
    value<double>("ratio", kAxis, kPlan, "target r = expert FLOPs / attention FLOPs",
                  [](S& s) -> double& { return s.plan.ratio; }),
    text("label", kAxis, kPlan,
         "size label: tiny 100K 1M 2M 5M 10M (CPU, context 128/256) or the paper's 20M 30M 55M "
         "100M 200M", [](S& s) -> std::string& { return s.plan.label; }),
    derived<double>("sparsity", kAxis, kPlan,
                     "S = (E - E_act)/E, E counting shared experts; picks --experts",
                     [](S& s) -> std::optional<double>& { return s.plan.sparsity; }),
    derived<int64_t>("experts", kAxis, kPlan,
                      "routed experts per layer (default 16: S = 82.35% with k=2, s=1)",
                      [](S& s) -> std::optional<int64_t>& { return s.plan.n_experts; }),
    derived<double>("m-over-na", kAxis, kPlan,
                     "paper 2's M/N_a: plan its triad at the label's FLOPs instead of a ratio "
                     "(with --n-over-na)",
                     [](S& s) -> std::optional<double>& { return s.plan.m_over_na; }),
    derived<double>("n-over-na", kAxis, kPlan, "paper 2's N/N_a (with --m-over-na)",
                     [](S& s) -> std::optional<double>& { return s.plan.n_over_na; }),
    value<int64_t>("top-k", kShared, kPlan, "routed experts per token",
                   [](S& s) -> int64_t& { return s.plan.top_k; }),
    value<int64_t>("shared", kShared, kPlan, "shared (always-on) experts per layer",
                   [](S& s) -> int64_t& { return s.plan.n_shared_experts; }),
    derived<int64_t>("context", kShared, kPlan, "tokens per sequence (default: the label's)",
                      [](S& s) -> std::optional<int64_t>& { return s.plan.context; }),
    value<int64_t>("vocab", kShared, kPlan,
                   "vocabulary size, must cover the data (train: the data's meta.json when given)",
                   [](S& s) -> int64_t& { return s.plan.vocab_size; }),
    derived<int64_t>("d-model", kAxis, kPlan,
                     "residual width d (default: the label's; with --m-over-na, paper 2's d, "
                     "default its proxy)",
                      [](S& s) -> std::optional<int64_t>& { return s.plan.d_model; }),
    derived<double>("d-position", kAxis, kPlan,
                     "paper 2: d at this fraction of its feasible interval, 0..1 (0: all layers "
                     "but one dense, 1: none; the proxy is near 0.5), instead of --d-model",
                     [](S& s) -> std::optional<double>& { return s.plan.d_position; }),
    m_law(),
    derived<int64_t>("kv-heads", kShared, kPlan,
                      "key/value heads for GQA (default: the label's heads)",
                      [](S& s) -> std::optional<int64_t>& { return s.plan.n_kv_heads; }),
    value<int64_t>("width-multiple", kShared, kPlan,
                   "head_dim and d_expert are multiples of this (8 suits GPU kernels; 1 tracks r "
                   "most closely)", [](S& s) -> int64_t& { return s.plan.width_multiple; }),
    derived<int64_t>("head-dim-multiple", kShared, kPlan,
                      "head_dim is also a multiple of this, e.g. 64 (default: --width-multiple)",
                      [](S& s) -> int64_t& { return s.plan.head_dim_multiple; }),
    choice("hold", kShared, kPlan,
           "what stays fixed while r moves: flops (per-token FLOPs, paper 1) or active (N_a, "
           "paper 2)", [](S& s) -> Hold& { return s.plan.hold; }, &parse_hold,
           static_cast<std::string (*)(Hold)>(&to_string)),
    choice("convention", kShared, kPlan,
           "attention context FLOPs: full (paper 1, n_ctx keys) or causal ((n_ctx+1)/2 keys)",
           [](S& s) -> ContextConvention& { return s.plan.convention; }, &parse_convention,
           static_cast<std::string (*)(ContextConvention)>(&to_string)),
    choice("positions", kShared, kPlan, "rotary, learned or none",
           [](S& s) -> PositionEncoding& { return s.plan.base.positions; },
           &parse_position_encoding, static_cast<std::string (*)(PositionEncoding)>(&to_string)),
    choice("norm", kShared, kPlan, "rmsnorm or layernorm",
           [](S& s) -> NormKind& { return s.plan.base.norm; }, &parse_norm_kind,
           static_cast<std::string (*)(NormKind)>(&to_string)),
    choice("router-score", kShared, kPlan, "softmax or sigmoid",
           [](S& s) -> RouterScore& { return s.plan.base.router_score; }, &parse_router_score,
           static_cast<std::string (*)(RouterScore)>(&to_string)),
    no_renormalize(),
    flag("tie-embeddings", "share the token embedding with the LM head",
         [](S& s) -> bool& { return s.plan.base.tie_embeddings; }),
    value<double>("aux-loss", kShared, kPlan, "load-balancing loss coefficient",
                  [](S& s) -> double& { return s.plan.base.aux_loss_coef; }),
    value<double>("z-loss", kShared, kPlan, "router z-loss coefficient",
                  [](S& s) -> double& { return s.plan.base.z_loss_coef; }),
    value<int64_t>("dense-layers", kShared, kPlan,
                   "the first N layers use a dense FFN of the same active width",
                   [](S& s) -> int64_t& { return s.plan.base.n_dense_layers; }),
    batch_size(),
  };
  // clang-format on
}

// How a run trains: seed, device, precision, schedule, evaluation and checkpoints.
std::vector<Setting> train_settings() {
  // clang-format off
  return {
    value<uint64_t>({"seed", "seed"}, kAxis, kTrain, "initialisation and data-order seed",
                    [](S& s) -> uint64_t& { return s.train.seed; }),
    how(text({"device", "device"}, kCommand, kTrain, "cpu, cuda or cuda:<i>",
         [](S& s) -> std::string& { return s.train.device; },
         [](const std::string& v) { return parse_device_name(v).has_value(); },
         "is not a device: use cpu, cuda or cuda:<index>")),
    sized(text({"dtype", "dtype"}, kShared, kTrain,
         "fp32 or bf16 (bf16 autocast on CUDA or CPU: matmuls in bf16, fp32 weights)",
         [](S& s) -> std::string& { return s.train.dtype; },
         [](const std::string& v) { return v == "fp32" || v == "bf16"; },
         "is unknown: use fp32 or bf16")),
    how(derived<int>({"threads", "threads"}, kCommand, kTrain,
                 "torch intra-op threads (default: all cores)",
                  [](S& s) -> int& { return s.train.threads; },
                  [](int v) { return v >= 0; },
                  "must be >= 0")),
    how(choice({"grouped-gemm", "grouped_gemm"}, kShared, kTrain,
           "experts as one grouped GEMM per matrix: auto (CUDA compute capability 9.x + bf16), "
           "on (wherever the kernel runs, CPU too) or off (a loop over experts)",
           [](S& s) -> GroupedGemm& { return s.train.grouped_gemm; }, &parse_grouped_gemm,
           static_cast<std::string (*)(GroupedGemm)>(&to_string))),
    how(choice({"fused-adamw", "fused_adamw"}, kShared, kTrain,
           "the AdamW update as one fused kernel per parameter group (at::_fused_adamw_): auto "
           "(on CUDA), on (CPU too) or off (LibTorch's per-parameter loop); the same update up "
           "to float rounding",
           [](S& s) -> Toggle& { return s.train.fused_adamw; }, &parse_fused_adamw,
           static_cast<std::string (*)(Toggle)>(&to_string))),
    how(choice({"cuda-graph", "cuda_graph"}, kShared, kTrain,
           "the whole step (forward, backward, clip, AdamW) captured once in a CUDA graph and "
           "replayed: auto (CUDA with grouped experts and fused AdamW), on (CUDA: try, and say "
           "why when a step cannot be captured) or off; the same update up to float rounding",
           [](S& s) -> Toggle& { return s.train.cuda_graph; }, &parse_cuda_graph,
           static_cast<std::string (*)(Toggle)>(&to_string))),
    sized(how(value<int64_t>({"nproc-per-node", "nproc_per_node"}, kShared, kTrain,
                       "data-parallel ranks started on this node, one per GPU (or CPU "
                       "processes): gradients summed, then sharded with AdamW's state (ZeRO-2); "
                       "the batch is split across them (under srun, each task is a rank instead)",
                       [](S& s) -> int64_t& { return s.train.nproc_per_node; },
                       [](int64_t v) { return v >= 1 && v <= 1024; }, "must be in 1..1024"))),
    sized(train_flag({"checkpoint-activations", "checkpoint_activations"},
               "keep only each layer's input for the backward and recompute the layer there: "
               "activation memory of about one layer, for a third more compute",
               [](S& s) -> bool& { return s.train.checkpoint_activations; })),
    sized(device_memory()),
    sized(split_batch(derived<int64_t>({"micro-batch", "micro_batch_size"}, kShared, kTrain,
                      "sequences per forward/backward; must divide --batch-size (default: all)",
                      [](S& s) -> int64_t& { return s.train.micro_batch_size; },
                      [](int64_t v) { return v >= 0; },
                      "must be >= 0"))),
    derived<int64_t>({"tokens", "tokens"}, kCommand, kTrain,
                      "training tokens (default: the plan's D = C / FLOPs per token)",
                      [](S& s) -> int64_t& { return s.train.tokens; },
                      [](int64_t v) { return v > 0; },
                      "must be > 0"),
    learning_rate(),
    value<double>({"min-lr-ratio", "min_lr_ratio"}, kShared, kTrain, "final LR / peak LR",
                  [](S& s) -> double& { return s.train.min_lr_ratio; },
                  [](double v) { return v >= 0 && v <= 1; },
                  "must be in [0, 1]"),
    derived<int64_t>({"warmup", "warmup_steps"}, kShared, kTrain,
                     "linear warmup steps (default: 2% of the steps)",
                      [](S& s) -> int64_t& { return s.train.warmup_steps; },
                      [](int64_t v) { return v >= -1; },
                      "must be >= 0 (or -1: 2% of the steps)"),
    choice({"schedule", "schedule"}, kShared, kTrain,
           "cosine, wsd (warmup-stable-decay) or constant",
           [](S& s) -> Schedule& { return s.train.schedule; }, &parse_schedule,
           static_cast<std::string (*)(Schedule)>(&to_string)),
    value<double>({"decay-fraction", "decay_fraction"}, kShared, kTrain,
                  "WSD: fraction of steps in the final decay",
                  [](S& s) -> double& { return s.train.decay_fraction; },
                  [](double v) { return v >= 0 && v <= 1; },
                  "must be in [0, 1]"),
    value<double>({"weight-decay", "weight_decay"}, kShared, kTrain,
                  "AdamW decoupled weight decay on matrices",
                  [](S& s) -> double& { return s.train.weight_decay; },
                  [](double v) { return std::isfinite(v) && v >= 0; },
                  "must be >= 0"),
    value<double>({"clip", "clip"}, kShared, kTrain, "global gradient-norm clip, 0 disables",
                  [](S& s) -> double& { return s.train.clip; },
                  [](double v) { return std::isfinite(v) && v >= 0; },
                  "must be >= 0 (0 disables)"),
    derived<int64_t>({"eval-every", "eval_every"}, kShared, kTrain,
                      "steps between validation evals (default: 4 evals per run)",
                      [](S& s) -> int64_t& { return s.train.eval_every; },
                      [](int64_t v) { return v >= 0; },
                      "must be >= 0"),
    value<int64_t>({"eval-tokens", "eval_tokens"}, kShared, kTrain,
                   "tokens in the fixed held-out set",
                   [](S& s) -> int64_t& { return s.train.eval_tokens; }),
    how(value<int64_t>({"log-every", "log_every"}, kShared, kTrain,
                   "steps between metrics.jsonl lines",
                   [](S& s) -> int64_t& { return s.train.log_every; },
                   [](int64_t v) { return v > 0; },
                   "must be > 0")),
    how(value<double>({"checkpoint-minutes", "checkpoint_minutes"}, kShared, kTrain,
                  "wall-clock minutes between checkpoints",
                  [](S& s) -> double& { return s.train.checkpoint_minutes; },
                  [](double v) { return std::isfinite(v) && v > 0; },
                  "must be > 0")),
    how(derived<int64_t>({"checkpoint-every", "checkpoint_every"}, kShared, kTrain,
                     "also checkpoint every N steps",
                      [](S& s) -> int64_t& { return s.train.checkpoint_every; },
                      [](int64_t v) { return v >= 0; },
                      "must be >= 0")),
    how(derived<int64_t>({"stop-at-step", "stop_at_step"}, kCommand, kTrain,
                      "stop after this step with a checkpoint, as on SIGINT",
                      [](S& s) -> int64_t& { return s.train.stop_at_step; })),
    how(derived<int64_t>({"inject-nan-at", "inject_nan_at_step"}, kCommand, kTrain,
                     "testing: make the loss NaN at this step",
                      [](S& s) -> int64_t& { return s.train.inject_nan_at_step; })),
    how(text({"profile", "profile"}, kCommand, kTrain,
             "write a Chrome trace of training steps 5..14 (LibTorch's profiler; forward, "
             "backward, clip and optimizer scoped) to this file (bench/profile_step.sh)",
             [](S& s) -> std::string& { return s.train.profile; })),
  };
  // clang-format on
}

}  // namespace

const std::vector<Setting>& settings() {
  static const std::vector<Setting> all = [] {
    std::vector<Setting> table = plan_settings();
    for (auto& setting : train_settings()) table.push_back(std::move(setting));
    return table;
  }();
  return all;
}

const Setting* find_setting(const std::string& key) {
  for (const auto& s : settings()) {
    if (s.key == key) return &s;
  }
  return nullptr;
}

TrainConfig train_config_for(const Plan& plan, const RunSettings& shared) {
  TrainConfig c = shared.train;
  c.model = plan.model;
  c.plan = plan_to_json(plan);
  c.batch_size = plan.batch_size;
  if (!shared.lr_given) c.lr = plan.lr;
  c.tokens = static_cast<int64_t>(plan.tokens);
  c.split_across(c.nproc_per_node);
  return c;
}

}  // namespace moe
