#include "experiments/report.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>

#include "common/errors.h"
#include "common/io.h"
#include "common/process.h"
#include "moe/run_dir.h"
#include "scaling/csv.h"
#include "scaling/dataset.h"
#include "scaling/isoflop.h"
#include "scaling/ratio_law.h"

namespace moe::experiments {
namespace fs = std::filesystem;
using nlohmann::json;

std::string report_number(double v) {
  if (!std::isfinite(v)) return "n/a";
  return fmt::format("{:.4g}", v);
}

namespace {

bool same(double a, double b) { return scaling::same_group(a, b); }

double num(const json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? j[key].get<double>() : std::nan("");
}

// The paper's selection (Li et al. 2026): the argmin of the observed losses per budget; where it
// would fall as C rises, a neighbour within 0.001 loss that does not. Budgets ascending.
json paper_rule(const std::vector<scaling::RatioRun>& runs, const std::vector<double>& budgets) {
  json picks = json::array();
  double previous = 0;
  for (double c : budgets) {
    std::vector<const scaling::RatioRun*> pts;
    for (const auto& r : runs) {
      if (same(r.compute, c)) pts.push_back(&r);
    }
    if (pts.empty()) continue;
    const auto best =
        *std::min_element(pts.begin(), pts.end(), [](auto a, auto b) { return a->loss < b->loss; });
    const auto [lo, hi] =
        std::minmax_element(pts.begin(), pts.end(), [](auto a, auto b) { return a->r < b->r; });
    double pick = best->r;
    std::string note;
    if (best->r < previous) {
      const scaling::RatioRun* alt = nullptr;
      for (const auto* p : pts) {
        if (p->r >= previous && p->loss <= best->loss + 0.001 && (!alt || p->loss < alt->loss)) {
          alt = p;
        }
      }
      if (alt) {
        pick = alt->r;
        note = "replaced: the argmin fell below the previous budget's pick";
      } else {
        note = "no neighbour within 0.001 keeps r* monotone";
      }
    }
    previous = std::max(previous, pick);
    picks.push_back({{"C", c},
                     {"r_min", (*lo)->r},
                     {"r_max", (*hi)->r},
                     {"r_argmin", best->r},
                     {"loss_argmin", best->loss},
                     {"r_paper_rule", pick},
                     {"note", note}});
  }
  return picks;
}

// Where the observed losses put the minimum when the valleys are not bracketed: at the largest
// or the smallest r swept (each budget's own range: achieved ratios differ slightly between
// budgets), at how many budgets. Empty when neither edge holds most budgets.
std::string edge_note(const json& picks) {
  int high = 0, low = 0, n = 0;
  double r_min = HUGE_VAL, r_max = 0;
  for (const auto& p : picks) {
    const double best = p["r_argmin"].get<double>(), lo = p["r_min"].get<double>(),
                 hi = p["r_max"].get<double>();
    r_min = std::min(r_min, lo);
    r_max = std::max(r_max, hi);
    ++n;
    high += best == hi ? 1 : 0;
    low += best == lo ? 1 : 0;
  }
  if (n == 0) return "";
  const std::string range = fmt::format("[{}, {}]", report_number(r_min), report_number(r_max));
  if (2 * high > n) {
    return fmt::format(
        "; the lowest loss is at the largest r swept at {} of {} budgets, so r* "
        "lies above {} here: extend the ratios upward (bracket = yes in the grid does it)",
        high, n, range);
  }
  if (2 * low > n) {
    return fmt::format(
        "; the lowest loss is at the smallest r swept at {} of {} budgets, so r* "
        "lies below {} here: extend the ratios downward (bracket = yes in the grid does it)",
        low, n, range);
  }
  return "";
}

std::string trend_verdict(const scaling::IsoflopPowerLaw& law, int n_bracketed,
                          const std::string& edge, const scaling::LackOfFit& seeds) {
  if (!law.fitted) {
    return fmt::format("cannot tell: {} budget(s) have a bracketed minimum, a trend needs 2{}",
                       n_bracketed, edge);
  }
  const auto& a = law.a;
  const std::string fit =
      fmt::format("r* = {} C^{}", report_number(law.k.value), report_number(a.value));
  if (!a.has_ci()) return fmt::format("{} (no bootstrap CI): sign not established", fit);
  // What the interval rests on, and what it leaves out.
  const std::string basis = fmt::format(
      "{} budgets; the CI is the valleys' bootstrap{}{}", law.n_budgets,
      law.n_budgets >= 3 ? ", widened to the budgets' own scatter about the power law" : "",
      law.note.empty() ? "" : " (" + law.note + ")");
  const std::string leaves =
      seeds.replicated_cells > 0
          ? "; seed noise is in it through the replicated runs"
          : "; one seed per run: seed noise is in it only as far as it shows as scatter";
  const std::string ci =
      fmt::format("a = {}, 95% CI [{}, {}] ({}{})", report_number(a.value), report_number(a.ci_low),
                  report_number(a.ci_high), basis, leaves);
  if (a.ci_low > 0) return "r* rises with compute at this scale: " + ci;
  if (a.ci_high < 0) return "r* falls with compute at this scale: " + ci;
  return "no clear trend at this scale (the CI of the exponent includes 0): " + ci;
}

json sparsity_section(const std::vector<scaling::RatioRun>& runs, double s,
                      const ReportOptions& opt) {
  std::vector<scaling::IsoflopPoint> pts;
  std::vector<double> computes;
  for (const auto& r : runs) {
    pts.push_back({r.compute, r.r, r.loss});
    computes.push_back(r.compute);
  }
  const std::vector<double> budgets = scaling::distinct_groups(computes);
  json out = {{"S", s},
              {"n_runs", runs.size()},
              {"valleys", json::array()},
              {"power_law", nullptr},
              {"paper_rule", paper_rule(runs, budgets)}};
  scaling::IsoflopOptions io;
  io.bootstrap = opt.bootstrap;
  io.seed = opt.seed;
  scaling::IsoflopFit fit;
  try {
    fit = scaling::fit_isoflop(pts, io);
  } catch (const InputError& e) {
    out["note"] = e.what();
    out["trend"] = std::string("cannot tell: ") + e.what();
    return out;
  }
  const json whole = scaling::to_json(fit);
  out["valley"] = whole["valley"];
  out["valley_note"] = whole["valley_note"];
  out["walls"] = whole["walls"];
  out["lack_of_fit"] = whole["lack_of_fit"];
  int bracketed = 0;
  for (const auto& o : fit.optima) {
    out["valleys"].push_back(scaling::to_json(o));
    bracketed += o.bracketed ? 1 : 0;
  }
  out["power_law"] = scaling::to_json(fit.power_law);
  out["trend"] =
      trend_verdict(fit.power_law, bracketed, edge_note(out["paper_rule"]), fit.lack_of_fit);
  return out;
}

// Which rows of results.csv (0-based, header not counted) each sparsity and each of its budgets
// hold, by the fits' own grouping rule: the figures take their points from these lists rather
// than grouping the table again. A sparsity lists every row (any status); a budget, its
// finished runs.
void add_rows(json& fit, const scaling::Table& all) {
  auto number = [&](size_t i, const char* column) {
    constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
    double v = kNaN;
    return scaling::parse_number(all.cell(i, column), &v) ? v : kNaN;
  };
  for (auto& g : fit["sparsities"]) {
    const double s = g["S"].get<double>();
    json rows = json::array();
    for (size_t i = 0; i < all.n_rows(); ++i) {
      if (same(number(i, "sparsity"), s)) rows.push_back(i);
    }
    for (auto& v : g["valleys"]) {
      json budget_rows = json::array();
      for (size_t i : rows) {
        const bool done = !all.has_column("status") || all.cell(i, "status") == "done";
        if (done && same(number(i, "compute"), v["C"].get<double>())) budget_rows.push_back(i);
      }
      v["rows"] = budget_rows;
    }
    g["rows"] = rows;
  }
}

// The paper's r*(C) at each sparsity over the sweep's budgets (widened 1.5x each way), as 41
// (C, r*) points per sparsity: the figures draw the law from fit.json, not from its formula.
void add_paper_curves(json& fit) {
  std::vector<double> budgets;
  for (const auto& g : fit["sparsities"]) {
    for (const auto& v : g["valleys"]) budgets.push_back(v["C"].get<double>());
  }
  if (budgets.empty()) return;
  const double lo = *std::min_element(budgets.begin(), budgets.end()) / 1.5;
  const double hi = *std::max_element(budgets.begin(), budgets.end()) * 1.5;
  for (auto& g : fit["sparsities"]) {
    json curve = json::array();
    for (int j = 0; j <= 40; ++j) {
      const double c = lo * std::pow(hi / lo, j / 40.0);
      curve.push_back(
          {c, scaling::ratio_law(scaling::kPublishedRatioLaw, c, g["S"].get<double>())});
    }
    g["paper_law_curve"] = curve;
  }
}

std::string redo_commands(const std::string& sweep_dir, const json& fit) {
  std::string s = "```sh\n";
  const fs::path parent = fs::path(sweep_dir).parent_path();
  if (fs::exists(parent / "reproduce.json")) {
    try {
      s += "# everything, from the corpus on (as it was run)\n" +
           read_json((parent / "reproduce.json").string()).value("command", "") + "\n";
    } catch (const std::exception&) {
    }
  }
  const fs::path manifest = fs::path(sweep_dir) / "sweep.json";
  if (fs::exists(manifest)) {
    const json m = read_json(manifest.string());
    s += "# the sweep (skips finished runs)\n";
    s += fmt::format(
        "build/bin/moescale sweep --grid {} --data {}{} --out {} --devices {}\n",
        m.value("grid", "GRID"), m.value("data", "DATA"),
        m.value("val_data", "").empty() ? "" : " --val-data " + m.value("val_data", ""), sweep_dir,
        m.contains("devices")
            ? fmt::format("{}", fmt::join(m["devices"].get<std::vector<std::string>>(), ","))
            : std::string("cpu"));
  }
  s += "# this report\n";
  s += fmt::format("build/bin/moescale report {}\n", sweep_dir);
  s += "# the fits on their own\n";
  for (const auto& g : fit["sparsities"]) {
    s += fmt::format("build/bin/moescale fit isoflop --input {}/results.csv --where sparsity={}\n",
                     sweep_dir, g["S"].get<double>());
  }
  if (fit["sparsities"].size() >= 2) {
    s += fmt::format("build/bin/moescale fit ratio --input {}/results.csv\n", sweep_dir);
  }
  s += "```\n";
  return s;
}

// With `bracket = yes`: how many runs bracketing added, and how each ratio curve stands.
std::string bracketing_section(const scaling::Table& all) {
  if (!all.has_column("bracket") || !all.has_column("origin")) return "";
  std::map<std::string, int> by_origin;
  std::vector<std::pair<std::string, std::string>> cells;  // (curve, note), in row order
  for (size_t i = 0; i < all.n_rows(); ++i) {
    ++by_origin[all.cell(i, "origin")];
    const std::string note = all.cell(i, "bracket");
    if (note.empty()) continue;
    auto number = [&](const char* column) {
      const std::string text = all.cell(i, column);
      try {
        return report_number(std::stod(text));
      } catch (const std::exception&) {
        return text;
      }
    };
    const std::string curve =
        fmt::format("{} | {} | {}", number("compute"), number("sparsity"), all.cell(i, "label"));
    if (std::find_if(cells.begin(), cells.end(), [&](const auto& c) { return c.first == curve; }) ==
        cells.end()) {
      cells.emplace_back(curve, note);
    }
  }
  if (cells.empty()) return "";
  std::string md = fmt::format(
      "\nBracketing (`bracket = yes`): {} runs from the grid, {} added beyond the ends of its "
      "ratio lists, {} around the minima.\n\n| compute | S | label | ratio curve |\n"
      "|---|---|---|---|\n",
      by_origin["grid"], by_origin["bracket"], by_origin["refine"]);
  for (const auto& [curve, note] : cells) md += fmt::format("| {} | {} |\n", curve, note);
  return md;
}

// The runs by status, and why each unfinished run stopped (its result.json).
std::string runs_section(const std::string& dir, const json& fit, const scaling::Table& all) {
  std::string md;
  md += "## Runs\n\n| status | runs |\n|---|---|\n";
  for (const auto& [status, n] : fit["counts"].items())
    md += fmt::format("| {} | {} |\n", status, n.get<int>());
  if (!fit.value("left_out", "").empty())
    md += "\nLeft out of the fits: " + fit.value("left_out", "") + ".\n";
  bool header = false;
  for (size_t i = 0; i < all.n_rows(); ++i) {
    const std::string status = all.has_column("status") ? all.cell(i, "status") : "done";
    if (status == "done") continue;
    if (!header) {
      md +=
          "\nNot finished:\n\n| run | compute | S | r | status | reason "
          "|\n|---|---|---|---|---|---|\n";
      header = true;
    }
    std::string reason;
    const std::string id = all.has_column("run_id") ? all.cell(i, "run_id") : "";
    const RunDir run(fs::path(dir) / "runs" / id);
    if (!id.empty() && fs::exists(run.result())) {
      const RunResult result = run.read_result();
      reason = result.status == RunStatus::kPending ? "unreadable result.json" : result.reason;
    }
    md += fmt::format("| {} | {} | {} | {} | {} | {} |\n", id, all.cell(i, "compute"),
                      all.cell(i, "sparsity"), all.cell(i, "ratio"), status,
                      reason.empty() ? "-" : reason);
  }
  return md + bracketing_section(all);
}

// r* per budget and sparsity, and r*(C) = k C^a per sparsity.
std::string valleys_section(const json& fit) {
  std::string md;
  md += "\n## Does r* rise with compute?\n\n";
  for (const auto& g : fit["sparsities"]) {
    md += fmt::format("- S = {}: {}\n", report_number(g["S"].get<double>()),
                      g.value("trend", std::string("?")));
  }

  md += "\n## r* per budget and sparsity\n\n";
  for (const auto& g : fit["sparsities"]) {
    const std::string s = report_number(g["S"].get<double>());
    if (!g.value("valley_note", "").empty()) {
      md += fmt::format("S = {}: {}.\n\n", s, g["valley_note"].get<std::string>());
    }
    if (g.value("valley", "") != "parabola" && g.contains("lack_of_fit")) {
      md += fmt::format("S = {}: {}.\n\n", s, g["lack_of_fit"]["summary"].get<std::string>());
    }
  }
  md +=
      "| S | C | r* | 95% CI | bracketed | points | parabola vertex | apart | argmin of losses "
      "| paper's rule |\n";
  md += "|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& g : fit["sparsities"]) {
    for (const auto& v : g["valleys"]) {
      std::string argmin = "-", rule = "-";
      for (const auto& p : g["paper_rule"]) {
        if (same(p["C"].get<double>(), v["C"].get<double>())) {
          argmin = report_number(p["r_argmin"].get<double>());
          rule = report_number(p["r_paper_rule"].get<double>());
        }
      }
      const double apart = num(v, "x_opt_parabola") / num(v, "x_opt") - 1;
      md += fmt::format("| {} | {} | {} | [{}, {}] | {} | {} | {} | {} | {} | {} |\n",
                        report_number(g["S"].get<double>()), report_number(v["C"].get<double>()),
                        report_number(num(v, "x_opt")), report_number(num(v, "ci_low")),
                        report_number(num(v, "ci_high")),
                        v["bracketed"].get<bool>()
                            ? (v.value("note", "").empty() ? "yes" : "yes; " + v.value("note", ""))
                            : "no: " + v.value("note", ""),
                        v["n_points"].get<int>(), report_number(num(v, "x_opt_parabola")),
                        std::isfinite(apart) ? fmt::format("{:+.1f}%", 100 * apart) : "-", argmin,
                        rule);
    }
  }

  md +=
      "\n## r*(C) = k C^a per sparsity\n\n| S | k | a | a 95% CI | budgets "
      "|\n|---|---|---|---|---|\n";
  for (const auto& g : fit["sparsities"]) {
    const json& law = g["power_law"];
    if (law.is_null()) {
      md += fmt::format("| {} | - | - | - | fewer than 2 bracketed |\n",
                        report_number(g["S"].get<double>()));
      continue;
    }
    md += fmt::format("| {} | {} | {} | [{}, {}] | {} |\n", report_number(g["S"].get<double>()),
                      report_number(law["k"].get<double>()), report_number(law["a"].get<double>()),
                      report_number(num(law, "a_ci_low")), report_number(num(law, "a_ci_high")),
                      law["n_budgets"].get<int>());
  }
  return md;
}

std::string joint_law_section(const json& fit) {
  std::string md;
  md += "\n## The joint law r*(C, S) = alpha0 (1-S)^p C^(beta0 (1-S)^q)\n\n";
  if (fit.contains("ratio_law") && !fit["ratio_law"].is_null()) {
    const json& law = fit["ratio_law"];
    md += "| parameter | fitted | 95% CI | published (paper) |\n|---|---|---|---|\n";
    for (const char* p : {"alpha0", "p", "beta0", "q"}) {
      const json& ci = law["ci"][p];
      md += fmt::format(
          "| {} | {} | [{}, {}] | {} |\n", p, report_number(law["params"][p].get<double>()),
          ci.is_array() && ci[0].is_number() ? report_number(ci[0].get<double>()) : "n/a",
          ci.is_array() && ci[1].is_number() ? report_number(ci[1].get<double>()) : "n/a",
          report_number(fit["paper_law"][p].get<double>()));
    }
    const json& at = law["at_reference"];
    md += fmt::format(
        "\nWeights: {}. The law at the data's centre (C = {}, S = {}): r* = {}, 95% CI [{}, {}] "
        "(alpha0 is r* at C = 1 FLOP, far outside any sweep; its interval says little){}.\n",
        law.value("weighting", std::string("-")), report_number(at["C"].get<double>()),
        report_number(at["S"].get<double>()), report_number(num(at, "r_opt")),
        at["ci"][0].is_number() ? report_number(at["ci"][0].get<double>()) : "n/a",
        at["ci"][1].is_number() ? report_number(at["ci"][1].get<double>()) : "n/a",
        law.value("bootstrap_dropped", 0) > 0
            ? fmt::format("; {} replicate(s) could not determine the law and were dropped",
                          law["bootstrap_dropped"].get<int>())
            : "");
    const json& in = law["in_sample"];
    const json& loso = law["leave_one_sparsity_out"]["pooled"];
    const json& pub = law["published"];
    md += fmt::format(
        "\nError on r* (RMSE of ln r*, MAPE of r*): in sample {} / {}%; leave one sparsity out "
        "{} / {}%{}; the paper's published coefficients on the same r*: {} / {}%.\n",
        report_number(num(in, "rmse_log")), report_number(num(in, "mape_percent")),
        report_number(num(loso, "rmse_log")), report_number(num(loso, "mape_percent")),
        std::isfinite(num(law, "loso_rmse_log_sd_over_folds"))
            ? fmt::format(" (its RMSE varies by {} from one held-out sparsity to the next)",
                          report_number(num(law, "loso_rmse_log_sd_over_folds")))
            : "",
        report_number(num(pub, "rmse_log")), report_number(num(pub, "mape_percent")));
  } else {
    md += fit.value("ratio_law_note", std::string("not fitted")) + "\n";
  }
  return md;
}

std::string figures_section() {
  std::string md;
  md += "\n## Figures\n\n";
  for (const auto& [name, caption] : std::vector<std::pair<std::string, std::string>>{
           {"ratio_curves",
            "Loss vs r per compute budget; curves: fitted valleys; stars: r* with 95% CI"},
           {"rstar_vs_compute", "r* vs compute with the fitted power law; dashed: the paper's law"},
           {"frontier", "Best loss over r vs compute"},
           {"load_balance", "Expert load (max/mean tokens per expert) over training"}}) {
    md += fmt::format("![{}]({}.png)\n\n*{}* ({}.svg)\n\n", name, name, caption, name);
  }
  return md;
}

// A sweep of paper 2's triads varies M/N_a and N/N_a, not r: say so, and how to fit its curves.
std::string triad_note(const scaling::Table& all) {
  if (!all.has_column("m_over_na_target")) return "";
  for (size_t i = 0; i < all.n_rows(); ++i) {
    if (all.cell(i, "m_over_na_target").empty()) continue;
    return "**This sweep varies paper 2's triad (`m-over-na`, `n-over-na`, `d-model`), not r**: "
           "the r* analysis below reads only the ratio each triad's architecture happens to "
           "have. Paper 2's curves: `moescale fit band --input results.csv --column x=m_over_na "
           "--curve pole --lower 6` (Phase 1) and `--column x=d_model --where "
           "m_over_na_target=...` (Phase 2).\n\n";
  }
  return "";
}

std::string markdown(const ReportOptions& opt, const json& fit, const scaling::Table& all) {
  const std::string& dir = opt.sweep_dir;
  std::string md = fmt::format("# moescale report: {}\n\n", dir);
  md +=
      "How does the loss at a fixed compute budget depend on r = expert FLOPs / attention "
      "FLOPs, and where is its minimum r*? At each sparsity the budgets' valleys are fitted "
      "together by paper 1's allocation model (loss = E + A C_A^-a + B C_E^-b: per budget a "
      "constant and two walls, exponents shared), and r* is each fitted valley's minimum, with "
      "a residual-bootstrap 95% CI that reflects the scatter of the runs about the valleys but "
      "not run-to-run (seed) noise beyond it. The parabola vertex in ln r, the usual estimate "
      "that asymmetric valleys bias, is printed beside it. No monotonicity is imposed on r*. "
      "Generated by `moescale report` from `results.csv`; every number is in `fit.json`.\n\n";
  md += triad_note(all);
  md += runs_section(dir, fit, all);
  md += valleys_section(fit);
  md += joint_law_section(fit);
  md += figures_section();
  md += "## Redo everything\n\n" + redo_commands(dir, fit);
  return md;
}

}  // namespace

json write_report(const ReportOptions& opt) {
  const std::string results = (fs::path(opt.sweep_dir) / "results.csv").string();
  if (!fs::exists(results)) {
    throw InputError(results + " does not exist: run `moescale sweep --out " + opt.sweep_dir +
                     "` first, or give a sweep directory");
  }
  const scaling::Table all = scaling::Table::read(results);
  // The report takes no --column flags: a table with other columns is one for moescale fit.
  for (const char* column : {"compute", "sparsity", "ratio_achieved", "val_loss"}) {
    if (!all.has_column(column)) {
      throw InputError(fmt::format(
          "{}: no column {}, which moescale sweep writes; rerun the sweep to rebuild the file, "
          "or fit this table with 'moescale fit --column'",
          results, column));
    }
  }
  json counts = json::object();
  if (all.has_column("status")) {
    for (size_t i = 0; i < all.n_rows(); ++i) {
      const std::string& s = all.cell(i, "status");
      counts[s] = counts.value(s, 0) + 1;
    }
  } else {
    counts["done"] = static_cast<int>(all.n_rows());
  }
  std::string left_out;
  const scaling::Table done = scaling::drop_unfinished(all, &left_out);
  if (done.n_rows() < 3) {
    throw InputError(
        fmt::format("{}: {} finished run(s); a valley needs at least 3 ratios at one "
                    "budget: let the sweep finish",
                    results, done.n_rows()));
  }
  const scaling::RoleNames roles = scaling::default_columns();
  const std::vector<scaling::RatioRun> runs = scaling::ratio_runs(done, roles);

  std::vector<double> run_sparsities;
  for (const auto& r : runs) run_sparsities.push_back(r.sparsity);
  const std::vector<double> sparsities = scaling::distinct_groups(run_sparsities);
  json fit = {{"sweep", opt.sweep_dir},
              {"counts", counts},
              {"left_out", left_out},
              {"bootstrap", opt.bootstrap},
              {"seed", opt.seed},
              {"sparsities", json::array()},
              {"ratio_law", nullptr},
              {"paper_law",
               {{"alpha0", scaling::kPublishedRatioLaw.alpha0},
                {"p", scaling::kPublishedRatioLaw.p},
                {"beta0", scaling::kPublishedRatioLaw.beta0},
                {"q", scaling::kPublishedRatioLaw.q}}}};
  for (double s : sparsities) {
    std::vector<scaling::RatioRun> sub;
    for (const auto& r : runs) {
      if (same(r.sparsity, s)) sub.push_back(r);
    }
    fit["sparsities"].push_back(sparsity_section(sub, s, opt));
  }
  if (sparsities.size() >= 2) {
    try {
      scaling::RatioLawOptions ro;
      ro.bootstrap = opt.bootstrap;
      ro.seed = opt.seed;
      fit["ratio_law"] = scaling::to_json(scaling::fit_ratio_law(runs, ro));
    } catch (const InputError& e) {
      fit["ratio_law_note"] = std::string("Not fitted: ") + e.what();
    }
  } else {
    fit["ratio_law_note"] =
        "Not fitted: the sweep has one sparsity; the joint law needs at least two.";
  }

  add_paper_curves(fit);
  add_rows(fit, all);

  const fs::path out = fs::path(opt.sweep_dir) / "report";
  fs::create_directories(out);
  write_json_atomic((out / "fit.json").string(), fit);
  write_file_atomic((out / "report.md").string(), markdown(opt, fit, all));
  if (opt.figures) {
    if (!fs::exists(opt.plot_script)) {
      throw InputError(opt.plot_script +
                       " is missing: the figures are drawn by scripts/plot_report.py");
    }
    const int status = run_program({opt.python, opt.plot_script, opt.sweep_dir});
    if (status != 0) {
      throw std::runtime_error(fmt::format(
          "drawing the figures failed ({} {} exited with {}); is python3-matplotlib installed? "
          "run ./scripts/setup.sh",
          opt.python, opt.plot_script, status));
    }
  }
  return fit;
}

}  // namespace moe::experiments
