#include "experiments/cli/reproduce_holistic.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/errors.h"
#include "common/io.h"
#include "common/process.h"
#include "experiments/cli/cli.h"
#include "experiments/cli/reproduce_steps.h"
#include "experiments/holistic.h"
#include "moe/planner.h"
#include "scaling/csv.h"

namespace moe::cli {

namespace fs = std::filesystem;
namespace ex = moe::experiments;
using nlohmann::json;

namespace {

// A fit (moescale-fit) with its output appended to STUDYDIR/fits.log. Its JSON, or null when it
// refused its input (too few points, no curve): the study goes on without it and says so.
json run_fit(const HolisticRun& run, const std::vector<std::string>& args, const fs::path& out) {
  ChildSpec spec;
  spec.argv = {run.bin + "/moescale-fit"};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.argv.insert(spec.argv.end(), {"--out", out.string()});
  spec.log_path = (fs::path(run.out) / "fits.log").string();
  fs::remove(out);
  const int status = wait_for(spawn(spec)).status();
  if (status == 2) return json();
  if (status != 0) {
    throw std::runtime_error(fmt::format("moescale fit {} failed (exit status {}); see {}",
                                         args.front(), status, spec.log_path));
  }
  return read_json(out.string());
}

bool sweep(const HolisticRun& run, const fs::path& dir, const std::string& grid_text) {
  const std::string grid = dir.string() + ".grid";
  fs::create_directories(dir.parent_path());
  write_file_atomic(grid, grid_text);
  return run_step({run.bin + "/moescale-sweep", "--grid", grid, "--data", run.data, "--out",
                   dir.string(), "--devices", run.device, "--workers", std::to_string(run.workers)},
                  "moescale sweep " + dir.filename().string());
}

scaling::Table done_rows(const fs::path& results) {
  return scaling::Table::read(results.string()).where("status", "done");
}

// 1 + (N_e - K)/(K + N_s): where N/N_a ends (every parameter an expert).
double n_over_na_end(const ex::RunSpec& run) {
  const ModelConfig& m = run.plan.model;
  return 1.0 + static_cast<double>(m.n_experts - m.top_k) /
                   static_cast<double>(m.top_k + m.n_shared_experts);
}

// phase2/<C>/results.csv of every budget in one table.
void merge_phase2(const std::vector<fs::path>& dirs, const fs::path& out) {
  std::optional<scaling::CsvWriter> merged;
  for (const auto& d : dirs) {
    const scaling::Table t = scaling::Table::read((d / "results.csv").string());
    if (!merged) merged.emplace(t.columns());
    for (size_t i = 0; i < t.n_rows(); ++i) {
      std::vector<std::string> cells;
      for (size_t j = 0; j < t.columns().size(); ++j) cells.push_back(t.cell(i, j));
      merged->row(cells);
    }
  }
  write_file_atomic(out.string(), merged ? merged->text() : "");
}

std::string budget_name(const std::string& item) { return "C" + item.substr(0, item.find('@')); }

// The end-to-end plan at one budget: the run a sweep would train with the fitted laws.
json plan_at(const HolisticRun& run, double compute, const json& laws) {
  const double m = laws["m_over_na"]["k"].get<double>() *
                   std::pow(compute, laws["m_over_na"]["a"].get<double>());
  const double n = laws["n_over_na"]["value"].get<double>();
  auto plan_with = [&](const std::string& d_line) {
    const std::string text = ex::phase2_grid(run.shared, fmt::format("{:g}", compute), m, n, {});
    const std::vector<ex::RunSpec> runs =
        ex::expand(ex::parse_grid(text + d_line, "the end-to-end plan"));
    return plan_to_json(runs.front().plan);
  };
  json out = {{"compute", compute}};
  std::string note;
  if (laws["d"].is_object()) {
    const double d = laws["d"]["k"].get<double>() * std::pow(compute, laws["d"]["a"].get<double>());
    try {
      out["plan"] = plan_with(fmt::format("d-model = {}\n", std::llround(d)));
      out["d_source"] = "the d law";
      return out;
    } catch (const InputError& e) {
      note = fmt::format("the d law's d = {:.0f} cannot be built ({}); the proxy d instead", d,
                         e.what());
    }
  }
  try {
    out["plan"] = plan_with("");
    out["d_source"] = note.empty() ? "the proxy (no d law)" : note;
  } catch (const InputError& e) {
    out["error"] = e.what();
  }
  return out;
}

std::string describe_optimum(const ex::TriadOptimum& t) {
  return fmt::format("  C {:.3g}: M/N_a {:.4g} ({}), N/N_a {:.4g} ({})", t.compute, t.m_over_na,
                     t.m_source, t.n_over_na, t.n_source);
}

// Steps 4 and 5's fits: the rank check, Phase 1's profiles and curves, the optimal triads.
std::vector<ex::TriadOptimum> phase1_fits(const HolisticRun& run, double n_end) {
  const fs::path dir(run.out);
  const scaling::Table p1 = done_rows(dir / "phase1" / "results.csv");
  const scaling::Table rank = done_rows(dir / "rank" / "results.csv");
  write_file_atomic((dir / "rank.csv").string(), ex::rank_table(p1, rank));
  const json r = run_fit(run,
                         {"rank", "--input", (dir / "rank.csv").string(), "--column", "proxy=proxy",
                          "--column", "best=best"},
                         dir / "rank.json");
  std::printf("rank check: %s\n",
              r.is_object()
                  ? fmt::format("Spearman {:.3f}, Kendall {:.3f} over {} triads",
                                r["spearman"]["value"].get<double>(),
                                r["kendall_tau_b"]["value"].get<double>(), r["n"].get<int>())
                        .c_str()
                  : "too few triads finished (see fits.log)");

  step("5/8 Phase 1 fits: the optimal M/N_a and N/N_a at each budget");
  for (const char* ratio : {"m_over_na", "n_over_na"}) {
    write_file_atomic((dir / (std::string(ratio) + ".csv")).string(),
                      ex::phase1_profile(p1, ratio));
  }
  auto band = [&](const char* ratio, std::vector<std::string> curve) {
    std::vector<std::string> args = {
        "band",     "--input",   (dir / (std::string(ratio) + ".csv")).string(),
        "--column", "C=compute", "--column",
        "x=x",      "--column",  "loss=loss",
        "--curve",  "pole"};
    args.insert(args.end(), curve.begin(), curve.end());
    return run_fit(run, args, dir / (std::string(ratio) + ".json"));
  };
  const json m_fit = band("m_over_na", {"--lower", "6"});
  const json n_fit = band("n_over_na", {"--lower", "1", "--upper", fmt::format("{:.10g}", n_end)});
  const auto optima =
      ex::optimal_triads(scaling::Table::read((dir / "m_over_na.csv").string()),
                         scaling::Table::read((dir / "n_over_na.csv").string()), m_fit, n_fit);
  write_json_atomic((dir / "optima.json").string(), ex::to_json(optima));
  for (const auto& t : optima) std::printf("%s\n", describe_optimum(t).c_str());
  return optima;
}

}  // namespace

std::vector<ex::RunSpec> holistic_planned_runs(const ex::Preset& preset,
                                               const std::string& shared) {
  const ex::HolisticStudy& s = *preset.holistic;
  std::vector<ex::RunSpec> runs =
      ex::expand(ex::parse_grid(ex::phase1_grid(shared, s), preset.name + " (Phase 1)"));
  for (auto& r : ex::expand(ex::parse_grid(ex::rank_grid(shared, s), preset.name + " (rank)"))) {
    runs.push_back(std::move(r));
  }
  return runs;
}

double holistic_phase2_compute(const ex::Preset& preset) {
  const ex::HolisticStudy& s = *preset.holistic;
  double c = 0;
  for (const auto& item : s.compute) c += std::stod(item.substr(0, item.find('@')));
  return c * static_cast<double>(s.phase2_positions.size());
}

int run_holistic(const ex::Preset& preset, const HolisticRun& run) {
  const ex::HolisticStudy& s = *preset.holistic;
  const fs::path dir(run.out);
  write_json_atomic((dir / "holistic.json").string(), {{"preset", preset.name},
                                                       {"command", run.command},
                                                       {"scale_note", s.scale_note},
                                                       {"compute", s.compute},
                                                       {"m_over_na", s.m_over_na},
                                                       {"n_over_na", s.n_over_na},
                                                       {"rank_positions", s.rank_positions},
                                                       {"phase2_positions", s.phase2_positions},
                                                       {"plan_budgets", s.plan_budgets}});
  const std::vector<ex::RunSpec> phase1 =
      ex::expand(ex::parse_grid(ex::phase1_grid(run.shared, s), preset.name + " (Phase 1)"));
  step(fmt::format("3/8 Phase 1: {} runs ({} budgets x {} M/N_a x {} N/N_a, d at the proxy) -> {}",
                   phase1.size(), s.compute.size(), s.m_over_na.size(), s.n_over_na.size(),
                   (dir / "phase1").string()));
  if (!sweep(run, dir / "phase1", ex::phase1_grid(run.shared, s))) return 2;
  step(fmt::format("4/8 rank check: every triad at C = {} again at d positions {} -> {}",
                   s.compute.front(), fmt::join(s.rank_positions, ", "), (dir / "rank").string()));
  if (!sweep(run, dir / "rank", ex::rank_grid(run.shared, s))) return 2;
  const std::vector<ex::TriadOptimum> optima = phase1_fits(run, n_over_na_end(phase1.front()));

  step(fmt::format("6/8 Phase 2: d at each budget's optimal triad, positions {} of its interval",
                   fmt::join(s.phase2_positions, ", ")));
  std::vector<fs::path> phase2_dirs;
  for (size_t i = 0; i < s.compute.size(); ++i) {
    const ex::TriadOptimum& t = optima.at(i);
    const fs::path d = dir / "phase2" / budget_name(s.compute[i]);
    std::printf("  C %.3g: M/N_a %.4g, N/N_a %.4g -> %s\n", t.compute, t.m_over_na, t.n_over_na,
                d.string().c_str());
    std::fflush(stdout);
    if (!sweep(run, d,
               ex::phase2_grid(run.shared, s.compute[i], t.m_over_na, t.n_over_na,
                               s.phase2_positions))) {
      return 2;
    }
    phase2_dirs.push_back(d);
  }
  merge_phase2(phase2_dirs, dir / "phase2" / "results.csv");

  step("7/8 Phase 2 fit (d_opt and its 0.1% band) and the end-to-end plan");
  const json d_fit = run_fit(
      run, {"band", "--input", (dir / "phase2" / "results.csv").string(), "--column", "x=d_model"},
      dir / "phase2" / "band.json");
  const ex::Grid g1 = ex::parse_grid(ex::phase1_grid(run.shared, s), preset.name);
  const fs::path m_json = dir / "m_over_na.json";
  json laws =
      ex::holistic_laws(optima, fs::exists(m_json) ? read_json(m_json.string()) : json(), d_fit);
  const PlanRequest& req = g1.shared.plan;
  laws["m"] = req.m_law ? json::array({req.m_law->k, req.m_law->a}) : json();
  json plans = json::array();
  for (double c : s.plan_budgets) {
    plans.push_back(plan_at(run, c, laws));
    const json& p = plans.back();
    std::printf(
        "  C %.3g: %s\n", c,
        p.contains("error")
            ? p["error"].get<std::string>().c_str()
            : fmt::format("d {}, {} layers ({} dense), expert width {}, {:.3g} tokens",
                          p["plan"]["d_model"].get<int64_t>(), p["plan"]["n_layers"].get<int64_t>(),
                          p["plan"]["model"]["n_dense_layers"].get<int64_t>(),
                          p["plan"]["d_expert"].get<int64_t>(), p["plan"]["tokens"].get<double>())
                  .c_str());
  }
  write_json_atomic((dir / "plan.json").string(), {{"laws", laws}, {"plans", plans}});

  step("8/8 report");
  ex::HolisticReportOptions report;
  report.study_dir = run.out;
  report.plot_script = scripts_dir() + "/plot_holistic.py";
  ex::write_holistic_report(report);
  std::printf("report: %s/report/report.md (figures: %s/report/*.png)\n", run.out.c_str(),
              run.out.c_str());
  return 0;
}

}  // namespace moe::cli
