// `moescale report SWEEPDIR`: the fits, tables and figures of a sweep, in SWEEPDIR/report/.
//
//   fit.json    every fitted number: per sparsity the r*(C) valley of each budget (parabola in
//               ln r, vertex, bootstrap CI, bracketed or why not), the power law r* = k C^a with
//               the CI of a and a plain verdict on the trend, what the paper's selection rule
//               would have picked, and (with >= 2 sparsities) the joint law
//               r*(C, S) = alpha0 (1-S)^p C^(beta0 (1-S)^q) with leave-one-sparsity-out errors,
//               beside the paper's published coefficients.
//   report.md   the same numbers as tables (formatted from fit.json), run counts, failed and
//               diverged runs with their reasons, the commands that redo everything, figures.
//   *.png/*.svg ratio_curves, rstar_vs_compute, frontier, load_balance (scripts/plot_report.py).
//
// r* is the vertex of each budget's parabola (scaling/isoflop.h); no monotonicity is imposed.
// The paper's rule (argmin of the observed losses; where that falls as C rises, a neighbour
// within 0.001 loss that does not) is computed beside it for comparison only.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace moe::experiments {

struct ReportOptions {
  std::string sweep_dir;
  int bootstrap = 200;
  uint64_t seed = 0;
  std::string python = "/usr/bin/python3";
  std::string plot_script;  // scripts/plot_report.py
  bool figures = true;
};

// Writes SWEEPDIR/report/{fit.json, report.md, figures}; returns fit.json's content.
// Throws moe::InputError for a missing or malformed results.csv or too few finished runs.
nlohmann::json write_report(const ReportOptions& options);

// Number formatting shared by report.md and its test: 4 significant digits.
std::string report_number(double v);

}  // namespace moe::experiments
