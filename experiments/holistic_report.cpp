// STUDYDIR/report/report.md for paper 2's study (experiments/holistic.h): every number from the
// study's JSON files, each fitted one with its bootstrap interval, and the figures drawn by
// scripts/plot_holistic.py.
#include <fmt/format.h>

#include <filesystem>

#include "common/errors.h"
#include "common/io.h"
#include "common/process.h"
#include "experiments/holistic.h"

namespace moe::experiments {

namespace fs = std::filesystem;

namespace {

std::string g4(const nlohmann::json& v) {
  return v.is_number() ? fmt::format("{:.4g}", v.get<double>()) : "-";
}

// "9.31 [8.7, 10.2]", or "9.31" without an interval.
std::string with_ci(const nlohmann::json& value, const nlohmann::json& ci) {
  if (!value.is_number()) return "-";
  if (!ci.is_array() || ci.size() != 2 || !ci[0].is_number()) return g4(value);
  return fmt::format("{} [{}, {}]", g4(value), g4(ci[0]), g4(ci[1]));
}

nlohmann::json read_if(const fs::path& p) {
  return fs::exists(p) ? read_json(p.string()) : nlohmann::json();
}

std::string law_line(const std::string& y, const nlohmann::json& law) {
  if (!law.is_object() || !law.value("fitted", false)) {
    return fmt::format("- {}: no law (fewer than 2 budgets with a bracketed minimum)\n", y);
  }
  return fmt::format("- {} = {} C^{} (exponent 95% CI [{}, {}])\n", y, g4(law["k"]), g4(law["a"]),
                     law["a_ci"].is_array() ? g4(law["a_ci"][0]) : "-",
                     law["a_ci"].is_array() ? g4(law["a_ci"][1]) : "-");
}

std::string phase1_section(const fs::path& dir, const nlohmann::json& optima) {
  const nlohmann::json m_fit = read_if(dir / "m_over_na.json");
  const nlohmann::json n_fit = read_if(dir / "n_over_na.json");
  std::string s = "## Phase 1: the triad grid at each budget, d at the proxy\n\n";
  s += "Per budget, the loss along M/N_a is the lowest over N/N_a at each M/N_a (and the other way "
       "round); the curves are paper 2's, L = a/(x - 6) + b x + c in M/N_a and L = a/(x - 1) + "
       "b/(x_max - x) + c in N/N_a, fitted by `moescale fit band` (95% bootstrap intervals, "
       "points resampled within each budget). The band is where the fitted curve stays within "
       "0.1% of its minimum.\n\n";
  s += "| C | optimal M/N_a [95% CI] | 0.1% band | optimal N/N_a [95% CI] | 0.1% band | "
       "Phase 2's triad |\n|---|---|---|---|---|---|\n";
  std::string notes;
  for (const auto& t : optima) {
    const double c = t["C"].get<double>();
    auto cells = [&](const nlohmann::json& fit) -> std::pair<std::string, std::string> {
      if (fit.is_object()) {
        for (const auto& o : fit["optima"]) {
          if (std::abs(o["C"].get<double>() / c - 1) > 1e-6) continue;
          if (!o["bracketed"].get<bool>()) return {"not bracketed", "-"};
          return {with_ci(o["x_opt"], o["x_opt_ci"]),
                  fmt::format("{} .. {}", g4(o["x_low"]), g4(o["x_high"]))};
        }
      }
      return {"no fit", "-"};
    };
    const auto [m_opt, m_band] = cells(m_fit);
    const auto [n_opt, n_band] = cells(n_fit);
    auto from = [&](const std::string& ratio, const char* name) {
      const std::string source = t[ratio + "_source"].get<std::string>();
      if (source == "fit") return fmt::format("{} {} (fit)", name, g4(t[ratio]));
      notes += fmt::format("- C {:.3g}, {}: {}\n", c, name, source);
      return fmt::format("{} {} (grid)", name, g4(t[ratio]));
    };
    s += fmt::format("| {:.3g} | {} | {} | {} | {} | {}, {} |\n", c, m_opt, m_band, n_opt, n_band,
                     from("M_over_N_a", "M/N_a"), from("N_over_N_a", "N/N_a"));
  }
  if (!notes.empty()) {
    s += "\nWhere a curve has no minimum inside the swept range, Phase 2 takes the grid's lowest "
         "point (at its achieved ratio):\n\n" +
         notes;
  }
  s += "\n";
  s += law_line("optimal M/N_a", m_fit.is_object() ? m_fit["laws"]["x_opt"] : nlohmann::json());
  s += "- the paper: optimal M/N_a falls with C, about 10.9 at 1e18 to 8.2 at 3e20 (exponent "
       "about -0.05, read from its figure); optimal N/N_a is flat, 19.2..22.1, with < 1% loss "
       "change over 18..25\n\n";
  s += "![Phase 1](phase1_curves.png)\n\n";
  return s;
}

std::string rank_section(const fs::path& dir) {
  const nlohmann::json r = read_if(dir / "rank.json");
  std::string s = "## Rank preservation: the proxy d against the best d\n\n";
  if (!r.is_object()) {
    return s + "No rank check (rank.json is missing: too few triads finished at its budget).\n\n";
  }
  s += fmt::format(
      "At the smallest budget, each Phase 1 triad was also trained at other d across its feasible "
      "interval; per triad, the proxy's loss (d near the middle) against the lowest over d. {} "
      "triads; 95% intervals from resampling the triads ({} replicates).\n\n",
      r["n"].get<int>(), r["bootstrap"].get<int>());
  s += "| statistic | here [95% CI] | paper, 1e18 (10 triads, 144 runs) |\n|---|---|---|\n";
  struct Stat {
    const char *key, *name, *paper;
  };
  for (const Stat& st :
       {Stat{"pearson", "Pearson", "0.979"}, Stat{"spearman", "Spearman", "0.976"},
        Stat{"kendall_tau_b", "Kendall tau-b", "0.911"}, Stat{"r2", "R^2", "0.959"}}) {
    s += fmt::format("| {} | {} | {} |\n", st.name, with_ci(r[st.key]["value"], r[st.key]["ci"]),
                     st.paper);
  }
  s += "\n![rank preservation](rank_scatter.png)\n\n";
  return s;
}

std::string phase2_section(const fs::path& dir) {
  const nlohmann::json band = read_if(dir / "phase2" / "band.json");
  std::string s = "## Phase 2: d at each optimal triad, and its near-optimal band\n\n";
  if (!band.is_object()) return s + "No Phase 2 fit (phase2/band.json is missing).\n\n";
  s += "A quadratic in d per budget (`moescale fit band`); d_opt is its vertex, (d_l, d_r) where "
       "it stays within 0.1% of its minimum; 95% bootstrap intervals.\n\n";
  s += "| C | d_l | d_opt [95% CI] | d_r | swept d | note |\n|---|---|---|---|---|---|\n";
  for (const auto& o : band["optima"]) {
    const bool ok = o["bracketed"].get<bool>();
    s += fmt::format(
        "| {:.3g} | {} | {} | {} | {} .. {} | {} |\n", o["C"].get<double>(),
        ok ? with_ci(o["x_low"], o["x_low_ci"]) : "-",
        ok ? with_ci(o["x_opt"], o["x_opt_ci"]) : "-",
        ok ? with_ci(o["x_high"], o["x_high_ci"]) : "-", g4(o["x_range"][0]), g4(o["x_range"][1]),
        ok ? (o["edges_inside"].get<bool>() ? "" : "a band edge extrapolated beyond the swept d")
           : o["note"].get<std::string>());
  }
  s += "\n";
  s += law_line("d_l", band["laws"]["x_low"]);
  s += law_line("d_opt", band["laws"]["x_opt"]);
  s += law_line("d_r", band["laws"]["x_high"]);
  s += law_line("band width d_r - d_l", band["laws"]["width"]);
  s += "- the paper: d_l, d_opt and d_r each follow a power law in C and the band widens with "
       "scale (its numbers are in figures only)\n\n";
  s += "![d sweeps](phase2_d_sweeps.png)\n\n![d band vs C](d_band_vs_compute.png)\n\n";
  return s;
}

std::string plan_section(const fs::path& dir) {
  const nlohmann::json plans = read_if(dir / "plan.json");
  std::string s = "## End to end: C -> (M, D) -> N_a -> N -> d -> layers and widths\n\n";
  if (!plans.is_object()) return s + "No plan (plan.json is missing).\n\n";
  const nlohmann::json& laws = plans["laws"];
  s += fmt::format(
      "Laws: M = {} C^{} (the preset's m-law); M/N_a = {} C^{} ({}); N/N_a = {} ({}); "
      "d {}.\n\n",
      g4(laws["m"][0]), g4(laws["m"][1]), g4(laws["m_over_na"]["k"]), g4(laws["m_over_na"]["a"]),
      laws["m_over_na"]["source"].get<std::string>(), g4(laws["n_over_na"]["value"]),
      laws["n_over_na"]["source"].get<std::string>(),
      laws["d"].is_object() ? fmt::format("= {} C^{} ({})", g4(laws["d"]["k"]), g4(laws["d"]["a"]),
                                          laws["d"]["source"].get<std::string>())
                            : "near the middle of its feasible interval (no d law was fitted)");
  s += "Each plan is the run a sweep would train at that budget (`moescale plan` with the same "
       "settings): the triad from the laws, then layers and widths.\n\n";
  s += "| C | M | tokens D | N_a | N | d | layers (dense + MoE) | expert width | dense width | "
       "d from |\n|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& p : plans["plans"]) {
    if (p.contains("error")) {
      s += fmt::format("| {:.3g} | cannot be planned: {} |||||||||\n", p["compute"].get<double>(),
                       p["error"].get<std::string>());
      continue;
    }
    const auto& plan = p["plan"];
    const auto& m = plan["model"];
    s += fmt::format("| {:.3g} | {} | {} | {} | {} | {} | {} ({} + {}) | {} | {} | {} |\n",
                     p["compute"].get<double>(), g4(plan["triad"]["M"]), g4(plan["tokens"]),
                     g4(plan["triad"]["N_a"]), g4(plan["triad"]["N"]), g4(plan["d_model"]),
                     g4(plan["n_layers"]), g4(m["n_dense_layers"]),
                     plan["n_layers"].get<int64_t>() - m["n_dense_layers"].get<int64_t>(),
                     g4(plan["d_expert"]),
                     m["n_dense_layers"].get<int64_t>() > 0 ? g4(m["d_dense"]) : "-",
                     p["d_source"].get<std::string>());
  }
  s += "\n";
  return s;
}

}  // namespace

void write_holistic_report(const HolisticReportOptions& opt) {
  const fs::path dir(opt.study_dir);
  const fs::path study_file = dir / "holistic.json";
  if (!fs::exists(study_file)) {
    throw InputError(study_file.string() +
                     " is missing: run moescale reproduce --preset holistic-cpu (or "
                     "holistic-paper) to make the study");
  }
  const nlohmann::json study = read_json(study_file.string());
  const nlohmann::json optima = read_if(dir / "optima.json");
  const fs::path out = dir / "report";
  fs::create_directories(out);
  std::string md =
      fmt::format("# Paper 2's holistic study: {}\n\n", study["preset"].get<std::string>());
  md += study["scale_note"].get<std::string>() + "\n\n";
  md += fmt::format("Command: `{}`\n\n", study["command"].get<std::string>());
  if (optima.is_array()) md += phase1_section(dir, optima);
  md += rank_section(dir);
  md += phase2_section(dir);
  md += plan_section(dir);
  md +=
      "## Files\n\n"
      "- phase1/, rank/, phase2/<C>/: the sweeps (results.csv each; phase2/results.csv: all "
      "budgets)\n"
      "- m_over_na.csv, n_over_na.csv and their fits m_over_na.json, n_over_na.json; "
      "optima.json\n"
      "- rank.csv, rank.json; phase2/band.json; plan.json; fits.log (what each fit printed)\n";
  write_file_atomic((out / "report.md").string(), md);
  if (!opt.figures) return;
  if (!fs::exists(opt.plot_script)) {
    throw InputError(opt.plot_script +
                     " is missing: the figures are drawn by "
                     "scripts/plot_holistic.py");
  }
  const int status = run_program({opt.python, opt.plot_script, opt.study_dir});
  if (status != 0) {
    throw std::runtime_error(fmt::format(
        "drawing the figures failed ({} {} exited with {}); is python3-matplotlib installed? "
        "(./scripts/setup.sh installs it)",
        opt.python, opt.plot_script, status));
  }
}

}  // namespace moe::experiments
