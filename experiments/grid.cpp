#include "experiments/grid.h"

#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <cmath>
#include <functional>
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

// The sweep keys: their help (sweep_keys()) and how each sets the grid's Bracket.
struct SweepKeyEntry {
  SweepKey doc;
  std::function<void(const std::string& where, const std::string& text, Bracket& b)> apply;
};

// A number key of Bracket within [lo, hi].
template <typename T>
SweepKeyEntry number_key(std::string key, std::string help, T Bracket::*field, T lo, T hi) {
  return {{std::move(key), std::move(help)},
          [=](const std::string& where, const std::string& text, Bracket& b) {
            const T v = parse_setting_value<T>(where, text);
            if (!(v >= lo && v <= hi)) {
              throw std::invalid_argument(
                  fmt::format("{} {} must be between {} and {}", where, text, lo, hi));
            }
            b.*field = v;
          }};
}

const std::vector<SweepKeyEntry>& sweep_key_table() {
  static const std::vector<SweepKeyEntry> table = {
      {{"bracket",
        "yes: while a cell's lowest loss lies at an end of its ratio list, add ratios beyond "
        "that end (default no)"},
       [](const std::string& where, const std::string& text, Bracket& b) {
         if (text != "yes" && text != "true" && text != "no" && text != "false") {
           throw std::invalid_argument(where + " '" + text + "' must be yes or no");
         }
         b.on = text == "yes" || text == "true";
       }},
      number_key("bracket-steps", "most ratios added beyond each end of a cell's list (default 4)",
                 &Bracket::steps, 1, 20),
      number_key("bracket-factor",
                 "each added ratio is the end's ratio times this (default: the list's own step "
                 "at that end, or 2)",
                 &Bracket::factor, 1.05, 10.0),
      number_key("bracket-min", "no ratio below this is added (default 0.01)", &Bracket::min, 1e-4,
                 1e4),
      number_key("bracket-max", "no ratio above this is added (default 100)", &Bracket::max, 1e-4,
                 1e4),
      number_key("bracket-margin",
                 "nats: an end of a cell's list is the valley's wall only when its loss is at "
                 "least this much above the lowest; else the sweep goes past it (default 0; "
                 "guards against seed noise)",
                 &Bracket::margin, 0.0, 1.0),
      number_key("refine",
                 "ratios added around a cell's minimum once it is inside the list (default 0)",
                 &Bracket::refine, 0, 10),
  };
  return table;
}

}  // namespace

const std::vector<SweepKey>& sweep_keys() {
  static const std::vector<SweepKey> keys = [] {
    std::vector<SweepKey> out;
    for (const auto& e : sweep_key_table()) out.push_back(e.doc);
    return out;
  }();
  return keys;
}

std::string to_string(RunOrigin o) {
  switch (o) {
    case RunOrigin::kBracket:
      return "bracket";
    case RunOrigin::kRefine:
      return "refine";
    case RunOrigin::kGrid:
      break;
  }
  return "grid";
}

namespace {

bool sweeps_triads(const Grid& g) { return !g.m_over_na.empty() || !g.n_over_na.empty(); }

// Which axes a grid may combine: budgets always; ratios or triads; sparsities or experts.
void check_axes(const Grid& g) {
  const std::string& name = g.name;
  if (g.compute.empty()) throw InputError("grid " + name + ": compute is missing: list budgets");
  const bool triad = sweeps_triads(g);
  if (triad && (g.m_over_na.empty() || g.n_over_na.empty())) {
    throw InputError("grid " + name + ": m-over-na and n-over-na go together: list both");
  }
  if (triad && !g.ratio.empty()) {
    throw InputError("grid " + name +
                     ": give ratio (paper 1) or m-over-na and n-over-na (paper 2), not both");
  }
  if (!triad && g.ratio.empty()) {
    throw InputError("grid " + name +
                     ": ratio is missing: list ratios (or m-over-na and n-over-na)");
  }
  if (!g.d_position.empty() && !g.d_model.empty()) {
    throw InputError("grid " + name + ": give d-model or d-position, not both");
  }
  if (!g.d_position.empty() && !triad) {
    throw InputError("grid " + name +
                     ": d-position places d in a triad's feasible interval; list m-over-na and "
                     "n-over-na too (or use d-model)");
  }
  if (!g.sparsity.empty() && !g.experts.empty()) {
    throw InputError("grid " + name + ": give sparsity or experts, not both");
  }
}

void check_bracket(const Grid& g) {
  const std::string& name = g.name;
  const bool triad = sweeps_triads(g);
  if (g.bracket.on && triad) {
    throw InputError("grid " + name +
                     ": bracket = yes extends ratio lists; this grid sweeps "
                     "m-over-na and n-over-na");
  }
  if (g.bracket.min >= g.bracket.max) {
    throw InputError(fmt::format("grid {}: bracket-min {:g} must be below bracket-max {:g}", name,
                                 g.bracket.min, g.bracket.max));
  }
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
  for (const auto& e : sweep_key_table()) {
    desc.add_options()(e.doc.key.c_str(), po::value<std::string>());
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
  g.m_over_na = numbers<double>(name, "m-over-na", axis("m-over-na"));
  g.n_over_na = numbers<double>(name, "n-over-na", axis("n-over-na"));
  g.sparsity = numbers<double>(name, "sparsity", axis("sparsity"));
  g.experts = numbers<int64_t>(name, "experts", axis("experts"));
  g.label = axis("label");
  g.d_model = numbers<int64_t>(name, "d-model", axis("d-model"));
  g.d_position = numbers<double>(name, "d-position", axis("d-position"));
  g.seed = numbers<uint64_t>(name, "seed", axis("seed"));
  check_axes(g);
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
  for (const auto& e : sweep_key_table()) {
    if (!vm.count(e.doc.key)) continue;
    try {
      e.apply(e.doc.key + " =", vm[e.doc.key].as<std::string>(), g.bracket);
    } catch (const std::invalid_argument& err) {
      throw InputError("grid " + name + ": " + err.what());
    }
  }
  check_bracket(g);
  return g;
}

Grid load_grid(const std::string& path) { return parse_grid(read_file(path), path); }

std::string describe(const RunSpec& run) {
  const PlanRequest& r = run.plan.request;
  std::string s = fmt::format("compute={:g} ", r.compute);
  s += r.sparsity ? fmt::format("sparsity={:g} ", *r.sparsity)
                  : fmt::format("experts={} ", run.plan.model.n_experts);
  s += r.m_over_na
           ? fmt::format("m-over-na={:g} n-over-na={:g} ", *r.m_over_na, r.n_over_na.value_or(0))
           : fmt::format("ratio={:g} ", r.ratio);
  s += fmt::format(
      "label={}{}{} seed={}", r.label, r.d_model ? fmt::format(" d-model={}", *r.d_model) : "",
      r.d_position ? fmt::format(" d-position={:g}", *r.d_position) : "", run.config.seed);
  return s;
}

namespace {
std::string sparsity_of(const Grid& g, const Cell& cell) {
  return !g.sparsity.empty()  ? fmt::format("sparsity={:g}", g.sparsity[cell.sparsity])
         : !g.experts.empty() ? fmt::format("experts={}", g.experts[cell.sparsity])
                              : std::string("experts=16");
}

std::string d_model_of(const Grid& g, const Cell& cell) {
  if (!g.d_position.empty()) return fmt::format(" d-position={:g}", g.d_position[cell.d_model]);
  return g.d_model.empty() ? "" : fmt::format(" d-model={}", g.d_model[cell.d_model]);
}
}  // namespace

std::string describe_cell(const Grid& g, const Cell& cell) {
  return fmt::format("compute={:g} {} label={}{}", g.compute[cell.compute], sparsity_of(g, cell),
                     cell.label, d_model_of(g, cell));
}

std::string describe(const Grid& g, const Cell& cell, const CurvePoint& point, uint64_t seed) {
  const std::string at = point.m_over_na ? fmt::format("m-over-na={:g} n-over-na={:g}",
                                                       *point.m_over_na, *point.n_over_na)
                                         : fmt::format("ratio={:g}", point.ratio);
  return fmt::format("compute={:g} {} {} label={}{} seed={}", g.compute[cell.compute],
                     sparsity_of(g, cell), at, cell.label, d_model_of(g, cell), seed);
}

std::vector<CurvePoint> curve_points(const Grid& g) {
  std::vector<CurvePoint> out;
  for (double r : g.ratio) out.push_back({r, std::nullopt, std::nullopt});
  for (double m : g.m_over_na) {
    for (double n : g.n_over_na) out.push_back({1, m, n});
  }
  return out;
}

std::vector<Cell> cells(const Grid& g) {
  const size_t n_sparsity = std::max<size_t>(1, std::max(g.sparsity.size(), g.experts.size()));
  std::vector<Cell> out;
  for (size_t ci = 0; ci < g.compute.size(); ++ci) {
    // A budget with its own label ("1e18@30M") runs that label only.
    const std::vector<std::string> labels =
        g.compute_label[ci].empty() ? g.label : std::vector<std::string>{g.compute_label[ci]};
    const size_t n_d = std::max<size_t>({1, g.d_model.size(), g.d_position.size()});
    for (size_t si = 0; si < n_sparsity; ++si) {
      for (const auto& label : labels) {
        for (size_t di = 0; di < n_d; ++di) out.push_back(Cell{ci, si, label, di});
      }
    }
  }
  return out;
}

RunSpec plan_run(const Grid& g, const Cell& cell, const CurvePoint& point, uint64_t seed) {
  PlanRequest req = g.shared.plan;
  req.compute = g.compute[cell.compute];
  req.ratio = point.ratio;
  req.m_over_na = point.m_over_na;
  req.n_over_na = point.n_over_na;
  req.label = cell.label;
  if (!g.sparsity.empty()) req.sparsity = g.sparsity[cell.sparsity];
  if (!g.experts.empty()) req.n_experts = g.experts[cell.sparsity];
  if (!g.d_model.empty()) req.d_model = g.d_model[cell.d_model];
  if (!g.d_position.empty()) req.d_position = g.d_position[cell.d_model];
  RunSpec run;
  run.plan = make_plan(req);
  run.config = train_config_for(run.plan, g.shared);
  run.config.seed = seed;
  run.config.data = "(sweep data)";  // validated here, replaced by the sweep
  run.config.validate();
  run.config.data.clear();
  run.id = run_id(run.config);
  run.cell = cell;
  return run;
}

std::vector<RunSpec> expand(const Grid& g) {
  const std::vector<Cell> all = cells(g);
  // The count in double: axes of a few million values each would overflow size_t.
  const std::vector<CurvePoint> points = curve_points(g);
  const double n_runs = static_cast<double>(all.size()) * static_cast<double>(points.size()) *
                        static_cast<double>(g.seed.size());
  if (n_runs > static_cast<double>(kMaxGridRuns)) {
    throw InputError(fmt::format(
        "grid {}: {:.0f} runs ({} compute x {} label x {} {} x {} ratio x {} seed) exceed the "
        "limit of {} runs in one sweep; split the grid",
        g.name, n_runs, g.compute.size(), g.label.size(),
        std::max<size_t>(1, std::max(g.sparsity.size(), g.experts.size())),
        g.sparsity.empty() ? "experts" : "sparsity", points.size(), g.seed.size(), kMaxGridRuns));
  }
  std::vector<RunSpec> runs;
  std::unordered_map<std::string, size_t> index_of_id;  // finds repeated runs in linear time
  // File order: compute outermost, then sparsity, ratio, label, seed.
  for (size_t first = 0; first < all.size();) {
    size_t last = first;
    while (last < all.size() && all[last].compute == all[first].compute &&
           all[last].sparsity == all[first].sparsity) {
      ++last;
    }
    for (const CurvePoint& point : points) {
      for (size_t c = first; c < last; ++c) {
        for (uint64_t seed : g.seed) {
          RunSpec run;
          try {
            run = plan_run(g, all[c], point, seed);
          } catch (const std::invalid_argument& e) {
            throw InputError(fmt::format("grid {}: run {} is impossible: {}", g.name,
                                         describe(g, all[c], point, seed), e.what()));
          }
          const auto [it, fresh] = index_of_id.emplace(run.id, runs.size());
          // Two fractions of a narrow feasible interval may round to one d: one run.
          if (!fresh && !g.d_position.empty()) continue;
          if (!fresh) {
            throw InputError(
                fmt::format("grid {}: runs {} and {} are the same run; remove "
                            "the repeated value",
                            g.name, describe(runs[it->second]), describe(g, all[c], point, seed)));
          }
          runs.push_back(std::move(run));
        }
      }
    }
    first = last;
  }
  return runs;
}

}  // namespace moe::experiments
