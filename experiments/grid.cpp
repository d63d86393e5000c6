#include "experiments/grid.h"

#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <cmath>
#include <sstream>
#include <unordered_map>

#include "moe/errors.h"
#include "moe/io.h"

namespace moe::experiments {

namespace po = boost::program_options;

namespace {

using Strings = std::vector<std::string>;

const char* const kAxisKeys[] = {"compute", "ratio", "sparsity", "experts", "label", "seed"};
const char* const kScalarKeys[] = {"top-k",
                                   "shared",
                                   "context",
                                   "vocab",
                                   "d-model",
                                   "kv-heads",
                                   "batch-size",
                                   "width-multiple",
                                   "head-dim-multiple",
                                   "hold",
                                   "convention",
                                   "positions",
                                   "norm",
                                   "router-score",
                                   "tie-embeddings",
                                   "aux-loss",
                                   "z-loss",
                                   "dense-layers",
                                   "lr",
                                   "min-lr-ratio",
                                   "warmup",
                                   "schedule",
                                   "decay-fraction",
                                   "weight-decay",
                                   "clip",
                                   "eval-every",
                                   "eval-tokens",
                                   "log-every",
                                   "checkpoint-minutes",
                                   "checkpoint-every",
                                   "dtype",
                                   "micro-batch",
                                   "grouped-gemm"};

// Splits "1e13, 3e13 1e14" into its items.
Strings split_items(const Strings& lines) {
  Strings out;
  for (const auto& line : lines) {
    std::string item;
    for (char ch : line + " ") {
      if (ch == ',' || ch == ' ' || ch == '\t') {
        if (!item.empty()) out.push_back(item);
        item.clear();
      } else {
        item += ch;
      }
    }
  }
  return out;
}

template <typename T>
T parse_number(const std::string& grid, const std::string& key, const std::string& text) {
  std::istringstream in(text);
  T value{};
  in >> value;
  // An istream reads "-1" into an unsigned integer as 2^64 - 1; a seed is never negative.
  if (std::is_unsigned_v<T> && text.find('-') != std::string::npos) {
    throw InputError(
        fmt::format("grid {}: {} = '{}' must be a non-negative integer", grid, key, text));
  }
  if (in.fail() || !in.eof()) {
    throw InputError(fmt::format("grid {}: {} = '{}' is not a number", grid, key, text));
  }
  if constexpr (std::is_floating_point_v<T>) {
    if (!std::isfinite(value)) {
      throw InputError(fmt::format("grid {}: {} = '{}' must be finite", grid, key, text));
    }
  }
  return value;
}

template <typename T>
std::vector<T> numbers(const std::string& grid, const std::string& key, const Strings& items) {
  std::vector<T> out;
  for (const auto& item : items) out.push_back(parse_number<T>(grid, key, item));
  return out;
}

bool parse_bool(const std::string& grid, const std::string& key, const std::string& v) {
  if (v == "true" || v == "1" || v == "yes" || v == "on") return true;
  if (v == "false" || v == "0" || v == "no" || v == "off") return false;
  throw InputError(fmt::format("grid {}: {} = '{}' is not true/false", grid, key, v));
}

}  // namespace

Grid parse_grid(const std::string& text, const std::string& name) {
  po::options_description desc;
  for (const char* key : kAxisKeys) desc.add_options()(key, po::value<Strings>()->composing());
  for (const char* key : kScalarKeys) desc.add_options()(key, po::value<std::string>());
  po::variables_map vm;
  std::istringstream in(text);
  try {
    po::store(po::parse_config_file(in, desc, /*allow_unregistered=*/false), vm);
  } catch (const po::unknown_option& e) {
    throw InputError(
        fmt::format("grid {}: unknown key '{}'; see the grid keys in "
                    "'moescale sweep --help'",
                    name, e.get_option_name()));
  } catch (const po::multiple_occurrences& e) {
    throw InputError(
        fmt::format("grid {}: key '{}' is given twice; keep one", name, e.get_option_name()));
  } catch (const po::error& e) {
    throw InputError(fmt::format("grid {}: {}", name, e.what()));
  }

  Grid g;
  g.name = name;
  auto axis = [&](const char* key) -> Strings {
    if (!vm.count(key)) return {};
    Strings items = split_items(vm[key].as<Strings>());
    if (items.empty()) {
      throw InputError(
          fmt::format("grid {}: {} is an empty list; give at least one value or "
                      "remove the key",
                      name, key));
    }
    return items;
  };
  for (const auto& item : axis("compute")) {
    // "1e18@30M": this budget trains the 30M label, whatever the label axis says.
    const auto at = item.find('@');
    g.compute.push_back(parse_number<double>(name, "compute", item.substr(0, at)));
    g.compute_label.push_back(at == std::string::npos ? "" : item.substr(at + 1));
    if (at != std::string::npos && g.compute_label.back().empty()) {
      throw InputError(fmt::format("grid {}: compute = '{}' names no label after '@'", name, item));
    }
  }
  g.ratio = numbers<double>(name, "ratio", axis("ratio"));
  g.sparsity = numbers<double>(name, "sparsity", axis("sparsity"));
  g.experts = numbers<int64_t>(name, "experts", axis("experts"));
  g.label = axis("label");
  g.seed = numbers<uint64_t>(name, "seed", axis("seed"));
  if (g.compute.empty()) throw InputError("grid " + name + ": compute is missing: list budgets");
  if (g.ratio.empty()) throw InputError("grid " + name + ": ratio is missing: list ratios");
  if (!g.sparsity.empty() && !g.experts.empty()) {
    throw InputError("grid " + name + ": give sparsity or experts, not both");
  }
  if (g.label.empty()) g.label = {"1M"};
  if (g.seed.empty()) g.seed = {0};

  auto scalar = [&](const char* key) -> const std::string* {
    if (!vm.count(key)) return nullptr;
    const std::string& v = vm[key].as<std::string>();
    if (v.empty()) throw InputError(fmt::format("grid {}: {} has no value", name, key));
    return &v;
  };
  PlanRequest& p = g.plan;
  TrainConfig& t = g.train;
  try {
    if (auto v = scalar("top-k")) p.top_k = parse_number<int64_t>(name, "top-k", *v);
    if (auto v = scalar("shared")) p.n_shared_experts = parse_number<int64_t>(name, "shared", *v);
    if (auto v = scalar("context")) p.context = parse_number<int64_t>(name, "context", *v);
    if (auto v = scalar("vocab")) p.vocab_size = parse_number<int64_t>(name, "vocab", *v);
    if (auto v = scalar("d-model")) p.d_model = parse_number<int64_t>(name, "d-model", *v);
    if (auto v = scalar("kv-heads")) p.n_kv_heads = parse_number<int64_t>(name, "kv-heads", *v);
    if (auto v = scalar("batch-size")) {
      p.batch_size = parse_number<int64_t>(name, "batch-size", *v);
      g.batch_given = true;
    }
    if (auto v = scalar("width-multiple")) {
      p.width_multiple = parse_number<int64_t>(name, "width-multiple", *v);
    }
    if (auto v = scalar("head-dim-multiple")) {
      p.head_dim_multiple = parse_number<int64_t>(name, "head-dim-multiple", *v);
    }
    if (auto v = scalar("hold")) p.hold = parse_hold(*v);
    if (auto v = scalar("convention")) p.convention = parse_convention(*v);
    if (auto v = scalar("positions")) p.base.positions = parse_position_encoding(*v);
    if (auto v = scalar("norm")) p.base.norm = parse_norm_kind(*v);
    if (auto v = scalar("router-score")) p.base.router_score = parse_router_score(*v);
    if (auto v = scalar("tie-embeddings")) {
      p.base.tie_embeddings = parse_bool(name, "tie-embeddings", *v);
    }
    if (auto v = scalar("aux-loss"))
      p.base.aux_loss_coef = parse_number<double>(name, "aux-loss", *v);
    if (auto v = scalar("z-loss")) p.base.z_loss_coef = parse_number<double>(name, "z-loss", *v);
    if (auto v = scalar("dense-layers")) {
      p.base.n_dense_layers = parse_number<int64_t>(name, "dense-layers", *v);
    }
    if (auto v = scalar("lr")) {
      t.lr = parse_number<double>(name, "lr", *v);
      g.lr_given = true;
    }
    if (auto v = scalar("min-lr-ratio"))
      t.min_lr_ratio = parse_number<double>(name, "min-lr-ratio", *v);
    if (auto v = scalar("warmup")) t.warmup_steps = parse_number<int64_t>(name, "warmup", *v);
    if (auto v = scalar("schedule")) t.schedule = parse_schedule(*v);
    if (auto v = scalar("decay-fraction")) {
      t.decay_fraction = parse_number<double>(name, "decay-fraction", *v);
    }
    if (auto v = scalar("weight-decay"))
      t.weight_decay = parse_number<double>(name, "weight-decay", *v);
    if (auto v = scalar("clip")) t.clip = parse_number<double>(name, "clip", *v);
    if (auto v = scalar("eval-every")) t.eval_every = parse_number<int64_t>(name, "eval-every", *v);
    if (auto v = scalar("eval-tokens"))
      t.eval_tokens = parse_number<int64_t>(name, "eval-tokens", *v);
    if (auto v = scalar("log-every")) t.log_every = parse_number<int64_t>(name, "log-every", *v);
    if (auto v = scalar("checkpoint-minutes")) {
      t.checkpoint_minutes = parse_number<double>(name, "checkpoint-minutes", *v);
    }
    if (auto v = scalar("checkpoint-every")) {
      t.checkpoint_every = parse_number<int64_t>(name, "checkpoint-every", *v);
    }
    if (auto v = scalar("dtype")) t.dtype = *v;
    if (auto v = scalar("grouped-gemm")) t.grouped_gemm = parse_grouped_gemm(*v);
    if (auto v = scalar("micro-batch"))
      t.micro_batch_size = parse_number<int64_t>(name, "micro-batch", *v);
  } catch (const std::invalid_argument& e) {
    throw InputError("grid " + name + ": " + e.what());
  }
  return g;
}

Grid load_grid(const std::string& path) { return parse_grid(read_file(path), path); }

std::string describe(const RunSpec& run) {
  const PlanRequest& r = run.plan.request;
  std::string s = fmt::format("compute={:g} ", r.compute);
  s += r.sparsity ? fmt::format("sparsity={:g} ", *r.sparsity)
                  : fmt::format("experts={} ", run.plan.model.n_experts);
  s += fmt::format("ratio={:g} label={} seed={}", r.ratio, r.label, run.config.seed);
  return s;
}

std::vector<RunSpec> expand(const Grid& g) {
  const size_t n_sparsity = std::max<size_t>(1, std::max(g.sparsity.size(), g.experts.size()));
  // A budget with its own label ("1e18@30M") runs that label only. The count in double: axes of
  // a few million values each would overflow size_t.
  double n_labels = 0;
  for (const auto& own : g.compute_label) {
    n_labels += own.empty() ? static_cast<double>(g.label.size()) : 1.0;
  }
  const double n_runs = n_labels * static_cast<double>(n_sparsity) *
                        static_cast<double>(g.ratio.size()) * static_cast<double>(g.seed.size());
  if (n_runs > static_cast<double>(kMaxGridRuns)) {
    throw InputError(fmt::format(
        "grid {}: {:.0f} runs ({} compute x {} label x {} {} x {} ratio x {} seed) exceed the "
        "limit of {} runs in one sweep; split the grid",
        g.name, n_runs, g.compute.size(), g.label.size(), n_sparsity,
        g.sparsity.empty() ? "experts" : "sparsity", g.ratio.size(), g.seed.size(), kMaxGridRuns));
  }
  std::vector<RunSpec> runs;
  std::unordered_map<std::string, size_t> index_of_id;  // finds repeated runs in linear time
  for (size_t ci = 0; ci < g.compute.size(); ++ci) {
    const double compute = g.compute[ci];
    const std::vector<std::string> labels =
        g.compute_label[ci].empty() ? g.label : std::vector<std::string>{g.compute_label[ci]};
    for (size_t si = 0; si < n_sparsity; ++si) {
      for (double ratio : g.ratio) {
        for (const auto& label : labels) {
          for (uint64_t seed : g.seed) {
            PlanRequest req = g.plan;
            req.compute = compute;
            req.ratio = ratio;
            req.label = label;
            if (!g.sparsity.empty()) req.sparsity = g.sparsity[si];
            if (!g.experts.empty()) req.n_experts = g.experts[si];
            RunSpec run;
            const std::string where =
                fmt::format("compute={:g} {} ratio={:g} label={} seed={}", compute,
                            !g.sparsity.empty()  ? fmt::format("sparsity={:g}", g.sparsity[si])
                            : !g.experts.empty() ? fmt::format("experts={}", g.experts[si])
                                                 : std::string("experts=16"),
                            ratio, label, seed);
            try {
              run.plan = make_plan(req);
              run.config = g.train;
              run.config.model = run.plan.model;
              run.config.plan = plan_to_json(run.plan);
              run.config.batch_size = run.plan.batch_size;
              if (!g.lr_given) run.config.lr = run.plan.lr;
              run.config.tokens = static_cast<int64_t>(run.plan.tokens);
              run.config.seed = seed;
              run.config.data = "(sweep data)";  // validated here, replaced by the sweep
              run.config.validate();
              run.config.data.clear();
            } catch (const std::invalid_argument& e) {
              throw InputError(
                  fmt::format("grid {}: run {} is impossible: {}", g.name, where, e.what()));
            }
            run.id = run_id(run.config);
            const auto [it, fresh] = index_of_id.emplace(run.id, runs.size());
            if (!fresh) {
              throw InputError(
                  fmt::format("grid {}: runs {} and {} are the same run; remove "
                              "the repeated value",
                              g.name, describe(runs[it->second]), where));
            }
            runs.push_back(std::move(run));
          }
        }
      }
    }
  }
  return runs;
}

}  // namespace moe::experiments
