// Paper 2's study ("Holistic Scaling Laws for Optimal MoE Architecture Optimization") as
// `moescale reproduce --preset holistic-cpu|holistic-paper` runs it, in STUDYDIR:
//
//   phase1/        a sweep of the triad grid M/N_a x N/N_a at every budget, d at the proxy
//                  (near the middle of its feasible interval); M = K C^A per budget (m-law)
//   rank/          the rank check: at the smallest budget, every Phase 1 triad again at the
//                  d positions `rank_positions` (fractions of its own feasible interval)
//   rank.csv       per triad: the proxy's loss (Phase 1) and the best over d (proxy or rank/)
//   rank.json      `moescale fit rank` on it: Pearson, Spearman, Kendall, R^2 with intervals
//   m_over_na.csv, n_over_na.csv
//                  Phase 1's profiles: per budget and value of one ratio, the lowest loss over
//                  the other ratio, at that run's achieved ratio
//   m_over_na.json, n_over_na.json
//                  `moescale fit band` on them: L = a/(x - 6) + b x + c in x = M/N_a; L =
//                  a/(x - 1) + b/(x_max - x) + c in x = N/N_a (x_max = 1 + (N_e - K)/(K + N_s),
//                  the end of N/N_a's range); per budget the optimum and its 0.1% band; M/N_a's
//                  optimum as a power law of C
//   optima.json    each budget's optimal triad (the fits' optima, or the grid's lowest where a
//                  fit has no bracketed minimum: said so)
//   phase2/<C>/    per budget, a sweep of d (`phase2_positions`) at its optimal triad;
//   phase2/results.csv  all of them; phase2/band.json: `fit band` (quadratic in d): d_opt and
//                  the band (d_l, d_r) within 0.1% of the minimum, power laws of each in C
//   plan.json      the end-to-end plan (`moescale plan --holistic`) at `plan_budgets` from the
//                  fitted laws: M from m-law, N_a from the M/N_a law, N from the mean optimal
//                  N/N_a (no law: the paper finds it flat), d from the d_opt law
//   report/        report.md and figures (write_holistic_report)
//
// Every step skips what is done: the sweeps resume, a fit reruns only when its input changed.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "scaling/csv.h"

namespace moe::experiments {

struct HolisticStudy {
  std::vector<std::string> compute;          // Phase 1's budgets as grid items ("5e11")
  std::vector<double> m_over_na, n_over_na;  // Phase 1's triad grid
  std::vector<double> rank_positions;        // d positions of the rank check (first budget)
  std::vector<double> phase2_positions;      // d positions of Phase 2, at each optimal triad
  std::vector<double> plan_budgets;          // budgets of the end-to-end plan
  std::string scale_note;                    // what its laws can and cannot say (the report's)
};

// The grids, as text: the preset's shared settings plus each phase's axes.
std::string phase1_grid(const std::string& shared, const HolisticStudy& s);
std::string rank_grid(const std::string& shared, const HolisticStudy& s);
// Phase 2's at one budget (no d-position line when `positions` is empty: d at the proxy).
std::string phase2_grid(const std::string& shared, const std::string& compute, double m_over_na,
                        double n_over_na, const std::vector<double>& positions);

// Phase 1's profile along one ratio ("m_over_na" or "n_over_na"), from the finished rows of its
// results.csv: per budget and target value of that ratio, the run of lowest val_loss over the
// other ratio (seeds averaged first). CSV columns: compute, x (the run's achieved ratio), loss,
// other (the other ratio's target there). Throws moe::InputError when no run is finished.
std::string phase1_profile(const scaling::Table& done, const std::string& ratio);

// rank.csv: per triad of the rank check's budget (columns compute, m_over_na_target,
// n_over_na_target, proxy, best, best_d_model, d_models): the Phase 1 proxy's loss and the lowest
// loss over the proxy and the rank runs. Triads without a finished proxy run, or without a
// finished rank run at a d other than the proxy's (a one-layer triad's interval is one d), are
// left out.
std::string rank_table(const scaling::Table& phase1_done, const scaling::Table& rank_done);

struct TriadOptimum {
  double compute = 0;
  double m_over_na = 0, n_over_na = 0;
  std::string m_source, n_source;  // "fit" or why the grid's lowest is used instead
};
// Per budget of the profiles: the band fits' optima where bracketed, else the profile's lowest
// point. `m_fit`, `n_fit`: `moescale fit band` JSON (null when the fit failed as a whole).
std::vector<TriadOptimum> optimal_triads(const scaling::Table& m_profile,
                                         const scaling::Table& n_profile,
                                         const nlohmann::json& m_fit, const nlohmann::json& n_fit);
nlohmann::json to_json(const std::vector<TriadOptimum>& optima);

// The laws of the end-to-end plan from the fits: {"m_over_na": [K, A] or a constant [mean, 0]
// when no law was fitted, "n_over_na": mean optimum, "d": [K, A] or null}, each with "source".
nlohmann::json holistic_laws(const std::vector<TriadOptimum>& optima, const nlohmann::json& m_fit,
                             const nlohmann::json& d_fit);

struct HolisticReportOptions {
  std::string study_dir;
  std::string python = "/usr/bin/python3";
  std::string plot_script;  // scripts/plot_holistic.py
  bool figures = true;
};
// STUDYDIR/report/report.md from the study's files, and the figures (phase1_curves,
// rank_scatter, phase2_d_sweeps, d_band_vs_compute). Throws moe::InputError for a missing file.
void write_holistic_report(const HolisticReportOptions& options);

}  // namespace moe::experiments
