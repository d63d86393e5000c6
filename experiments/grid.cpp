#include "experiments/grid.h"

#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <cmath>
#include <sstream>
#include <unordered_map>

#include "common/errors.h"
#include "common/io.h"
#include "moe/settings.h"

namespace moe::experiments {

namespace po = boost::program_options;

namespace {

using Strings = std::vector<std::string>;

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
  try {
    return parse_setting_value<T>(key + " =", text);
  } catch (const std::invalid_argument& e) {
    throw InputError(fmt::format("grid {}: {}", grid, e.what()));
  }
}

template <typename T>
std::vector<T> numbers(const std::string& grid, const std::string& key, const Strings& items) {
  std::vector<T> out;
  for (const auto& item : items) out.push_back(parse_number<T>(grid, key, item));
  return out;
}

}  // namespace

Grid parse_grid(const std::string& text, const std::string& name) {
  // Axes are lists (repeated lines compose); shared settings take one value.
  po::options_description desc;
  for (const Setting& s : settings()) {
    if (s.use == SettingUse::kAxis) {
      desc.add_options()(s.key.c_str(), po::value<Strings>()->composing());
    } else if (s.use == SettingUse::kShared) {
      desc.add_options()(s.key.c_str(), po::value<std::string>());
    }
  }
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

  for (const Setting& s : settings()) {
    if (s.use != SettingUse::kShared || !vm.count(s.key)) continue;
    const std::string& v = vm[s.key].as<std::string>();
    if (v.empty()) throw InputError(fmt::format("grid {}: {} has no value", name, s.key));
    try {
      s.apply(s.key + " =", v, g.shared);
    } catch (const std::invalid_argument& e) {
      throw InputError("grid " + name + ": " + e.what());
    }
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
            PlanRequest req = g.shared.plan;
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
              run.config = train_config_for(run.plan, g.shared);
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
