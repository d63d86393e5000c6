#include "experiments/cli/fit_format.h"

#include <fmt/format.h>

#include <cmath>

#include "experiments/cli/cli.h"

namespace moe::cli {

namespace sc = moe::scaling;

std::string num(double v, int digits) {
  if (std::isnan(v)) return "-";
  const double a = std::fabs(v);
  if (a != 0 && (a >= 1e5 || a < 1e-3)) return sci(v, digits);
  return fmt::format("{:.{}g}", v, digits);
}

std::string interval(const sc::Estimate& e, int digits) {
  if (!e.has_ci()) return "-";
  return fmt::format("[{}, {}]", num(e.ci_low, digits), num(e.ci_high, digits));
}

namespace {

std::string bootstrap_line(int asked, int ok, uint64_t seed) {
  if (asked == 0) return "no bootstrap (--bootstrap 0): no intervals";
  return fmt::format("95% percentile intervals from {} bootstrap replicates ({} usable, seed {})",
                     asked, ok, seed);
}

std::string errors_cell(const sc::ErrorFigures& e) {
  if (e.n_points == 0) return fmt::format("{:>10} {:>8}", "-", "-");
  return fmt::format("{:>10} {:>7.3f}%", num(e.rmse), e.mape);
}

std::string ratio_errors_cell(const sc::RatioErrors& e) {
  if (e.n_points == 0) return "-";
  return fmt::format("RMSE(ln r*) {:.4f}, MAPE {:.1f}% over {} r*", e.rmse_log, e.mape, e.n_points);
}

}  // namespace

std::string format_law_fit(const sc::LawFit& fit) {
  const sc::LawInfo& info = sc::law_info(fit.law);
  std::string s;
  s += fmt::format("  law        {}\n", info.formula);
  s += fmt::format("  source     {}\n", info.source);
  s += fmt::format(
      "  fit        SUM Huber(delta {}) of log residuals; best of {} starts ({} solved to the "
      "end, {} converged, {} reached the best{})\n",
      num(fit.huber_delta), fit.n_starts, fit.n_solved, fit.n_converged, fit.n_at_best,
      fit.escalated ? "; the screened search found it once only and was redone from every start"
                    : "");
  s += fmt::format(
      "  intervals  {}{}\n\n", bootstrap_line(fit.n_bootstrap, fit.n_bootstrap_ok, fit.seed),
      fit.n_bootstrap == 0
          ? ""
          : fmt::format("; each searched from the {} screened starts and optima; {} "
                        "dropped, {} redone from every start",
                        fit.n_solved, fit.n_bootstrap_dropped, fit.n_bootstrap_escalated));
  s += fmt::format("  {:<10} {:>12}   {}\n", "parameter", "estimate", "95% CI");
  for (size_t i = 0; i < info.params.size(); ++i) {
    s += fmt::format("  {:<10} {:>12}   {}\n", info.params[i], num(fit.params[i].value, 5),
                     interval(fit.params[i]));
  }
  s += fmt::format("  {:<10} {:>12}   over {} points\n", "objective", num(fit.objective, 6),
                   fit.n_points);
  return s;
}

std::string format_chinchilla(const sc::ChinchillaFit& fit) {
  std::string s = format_law_fit(fit.law);
  s += "\n  compute-optimal allocation (C = 6 N D): N_opt = G (C/6)^a, D_opt = (C/6)^b / G\n";
  if (fit.n_replicates_without_allocation > 0) {
    s += fmt::format(
        "  {} bootstrap replicate(s) have alpha or beta <= 0 (no optimum) and are left out of "
        "these intervals\n",
        fit.n_replicates_without_allocation);
  }
  if (std::isnan(fit.a.value)) {
    s += "  (none at the estimate: it needs A, B, alpha and beta > 0; intervals from the\n"
         "  replicates that have one)\n";
  }
  s += fmt::format("  {:<10} {:>12}   {}\n", "a", num(fit.a.value), interval(fit.a));
  s += fmt::format("  {:<10} {:>12}   {}\n", "b", num(fit.b.value), interval(fit.b));
  s += fmt::format("  {:<10} {:>12}   {}\n\n", "G", num(fit.G.value), interval(fit.G));
  s += fmt::format("  {:<10} {:>10} {:<24} {:>10} {}\n", "C", "N_opt", "  95% CI", "D_opt",
                   "  95% CI");
  for (const auto& p : fit.optimal) {
    s += fmt::format("  {:<10} {:>10} {:<24} {:>10} {}\n", sci(p.compute), num(p.n_opt.value),
                     "  " + interval(p.n_opt, 3), num(p.d_opt.value), "  " + interval(p.d_opt, 3));
  }
  return s;
}

std::string format_rank(const sc::RankAgreement& r, const std::string& proxy,
                        const std::string& best) {
  std::string s = fmt::format("  losses     {} (proxy) against {} (best), {} configurations\n",
                              proxy, best, r.n);
  s += fmt::format("  intervals  {}\n\n",
                   r.bootstrap == 0
                       ? std::string("no bootstrap (--bootstrap 0): no intervals")
                       : fmt::format("95% percentile intervals from {} resamples of the "
                                     "configurations (seed {}{})",
                                     r.bootstrap, r.seed,
                                     r.dropped ? fmt::format("; {} dropped", r.dropped) : ""));
  for (const auto& [name, e] : {std::pair<const char*, const sc::Estimate&>{"Pearson", r.pearson},
                                {"Spearman", r.spearman},
                                {"Kendall", r.kendall},
                                {"R^2", r.r2}}) {
    s += fmt::format("  {:<10} {:>8}   {}\n", name, num(e.value), interval(e));
  }
  return s;
}

std::string format_band(const sc::BandFit& fit, const std::string& x_name) {
  std::string s;
  s += fmt::format("  x          column {}\n", x_name);
  const auto& o = fit.options;
  const std::string curve =
      o.curve == sc::BandCurve::kPole
          ? fmt::format("loss = c + a/(x - {:g}) + {}", o.lower,
                        std::isfinite(o.upper) ? fmt::format("b/({:g} - x)", o.upper) : "b x")
          : fmt::format("loss = c0 + c1 u + c2 u^2 with u = {}",
                        o.curve == sc::BandCurve::kLogQuadratic ? "ln x" : "x");
  s += fmt::format(
      "  curve      {} per budget; x_opt at its minimum, the band where it is within {:g}% of "
      "the minimum\n",
      curve, 100 * o.band);
  s += fmt::format("  intervals  {}\n\n",
                   fit.options.bootstrap == 0
                       ? std::string("no bootstrap (--bootstrap 0): no intervals")
                       : fmt::format("95% percentile intervals from {} replicates resampled "
                                     "within each budget (seed {})",
                                     fit.options.bootstrap, fit.options.seed));
  s += fmt::format("  {:<10} {:>6}  {:<18} {:>9} {:<20} {:>9} {:<20} {:>9} {:<20} {}\n", "C",
                   "points", "x swept", "x_low", "95% CI", "x_opt", "95% CI", "x_high", "95% CI",
                   "status");
  for (const auto& o : fit.optima) {
    s += fmt::format(
        "  {:<10} {:>6}  {:<18} {:>9} {:<20} {:>9} {:<20} {:>9} {:<20} {}\n", sci(o.compute),
        o.n_points, fmt::format("[{}, {}]", num(o.x_min, 4), num(o.x_max, 4)), num(o.x_low.value),
        interval(o.x_low), num(o.x_opt.value), interval(o.x_opt), num(o.x_high.value),
        interval(o.x_high),
        !o.bracketed     ? "excluded: " + o.note
        : o.edges_inside ? std::string("bracketed")
                         : std::string("bracketed; a band edge extrapolated past the sweep"));
  }
  s += "\n";
  for (const auto& law : fit.laws) {
    if (!law.fitted) {
      s += fmt::format("  {} = k C^a: not fitted ({} bracketed budget(s); it needs 2)\n", law.name,
                       fit.n_budgets_used);
      continue;
    }
    s += fmt::format("  {:<7} = k C^a: a = {} {}, k = {} {}\n", law.name, num(law.a.value),
                     interval(law.a), num(law.k.value), interval(law.k));
  }
  return s;
}

std::string format_isoflop(const sc::IsoflopFit& fit, const std::string& x_name) {
  std::string s;
  s += fmt::format("  x          column {}\n", x_name);
  const bool walls = fit.valley != sc::ValleyModel::kParabola;
  if (walls) {
    s += fmt::format(
        "  valley     {} walls, exponents shared by the budgets: a = {}, b = {} ({} points, {} "
        "parameters); x* at each fitted valley's minimum\n",
        sc::to_string(fit.valley), num(fit.walls.a), num(fit.walls.b), fit.walls.n_points,
        fit.walls.n_params());
  } else {
    s += "  valley     loss = c0 + c1 u + c2 u^2 with u = ln x per budget; x* at the vertex\n";
  }
  if (!fit.valley_note.empty()) s += "  note       " + fit.valley_note + "\n";
  s += fmt::format(
      "  intervals  {}\n\n",
      fit.n_bootstrap == 0         ? std::string("no bootstrap (--bootstrap 0): no intervals")
      : !fit.interval_note.empty() ? "none: " + fit.interval_note
      : walls ? fmt::format("95% percentile intervals from {} parametric-bootstrap replicates "
                            "(noise scale drawn too; seed {})",
                            fit.n_bootstrap, fit.seed)
              : fmt::format("95% percentile intervals from {} replicates resampled within "
                            "each budget (seed {})",
                            fit.n_bootstrap, fit.seed));
  if (walls) s += "  seeds      " + sc::describe_seed_noise(fit.lack_of_fit) + "\n\n";
  s += fmt::format("  {:<10} {:>6}  {:<16} {:>9}  {:<20} {:>9}  {}\n", "C", "points", "x swept",
                   "x*", "95% CI", walls ? "parabola" : "", "status");
  for (const auto& o : fit.optima) {
    sc::Estimate e{o.x_opt, o.ci_low, o.ci_high};
    s += fmt::format("  {:<10} {:>6}  {:<16} {:>9}  {:<20} {:>9}  {}\n", sci(o.compute), o.n_points,
                     fmt::format("[{}, {}]", num(o.x_min, 3), num(o.x_max, 3)), num(o.x_opt),
                     interval(e), walls ? num(o.x_opt_parabola) : "",
                     o.bracketed ? "bracketed" : "excluded: " + o.note);
  }
  const auto& law = fit.power_law;
  if (law.fitted) {
    s += fmt::format("\n  x* = k C^a over {} bracketed budgets\n", law.n_budgets);
    s += fmt::format("  {:<10} {:>12}   {}\n", "a", num(law.a.value), interval(law.a));
    s += fmt::format("  {:<10} {:>12}   {}\n", "k", num(law.k.value), interval(law.k));
  } else {
    s += fmt::format("\n  x* = k C^a: not fitted ({} bracketed budget{}; it needs 2)\n",
                     law.n_budgets, law.n_budgets == 1 ? "" : "s");
  }
  return s;
}

std::string format_ratio_law(const sc::RatioLawFit& fit) {
  std::string s;
  s += "  law        r*(C, S) = alpha0 (1-S)^p C^(beta0 (1-S)^q)   (Li et al. 2026)\n";
  s += fmt::format(
      "  fit        r* per (C, S) from isoflop (x = r), {} in ln r*; {} r* "
      "estimates\n",
      fit.weighted ? "weighted" : "unweighted", fit.n_points);
  s += "  weights    " + fit.weighting + "\n";
  s += fmt::format("  intervals  {}\n\n",
                   bootstrap_line(fit.n_bootstrap, fit.n_bootstrap_ok, fit.seed));
  s += fmt::format("  {:<8} {:<10} {:>6} {:>9}  {:<20} {:>10}  {}\n", "S", "C", "points", "r*",
                   "95% CI", "published", "status");
  for (const auto& o : fit.optima) {
    sc::Estimate e{o.r_opt, o.ci_low, o.ci_high};
    s += fmt::format("  {:<8.4f} {:<10} {:>6} {:>9}  {:<20} {:>10}  {}\n", o.sparsity,
                     sci(o.compute), o.n_points, num(o.r_opt), interval(e),
                     num(sc::ratio_law(sc::kPublishedRatioLaw, o.compute, o.sparsity)),
                     o.bracketed ? "used" : "excluded: " + o.note);
  }
  const sc::RatioLawParams pub = sc::kPublishedRatioLaw;
  s += fmt::format("\n  {:<10} {:>12}   {:<24} {:>10}\n", "parameter", "fitted", "95% CI",
                   "published");
  const std::tuple<const char*, const sc::Estimate*, double> rows[] = {
      {"alpha0", &fit.alpha0, pub.alpha0},
      {"p", &fit.p, pub.p},
      {"beta0", &fit.beta0, pub.beta0},
      {"q", &fit.q, pub.q}};
  for (const auto& [name, e, published] : rows) {
    s += fmt::format("  {:<10} {:>12}   {:<24} {:>10}\n", name, num(e->value, 5), interval(*e),
                     num(published));
  }
  s += fmt::format("  {:<10} {:>12}\n", "objective", num(fit.objective, 5));
  s += fmt::format(
      "  r* at the data's centre (C = {}, S = {:.4f}): {}   {}   (alpha0 is r* at C = 1 FLOP, "
      "far outside the data)\n",
      sci(fit.c_ref), fit.s_ref, num(fit.r_ref.value), interval(fit.r_ref));
  if (fit.n_bootstrap_dropped > 0) {
    s += fmt::format("  {} replicate(s) dropped: their r* could not determine the law\n",
                     fit.n_bootstrap_dropped);
  }
  s += "\n";
  s += fmt::format("  in-sample (fitted law)     {}\n", ratio_errors_cell(fit.in_sample));
  s += fmt::format("  published coefficients     {}\n", ratio_errors_cell(fit.published_errors));
  s += fmt::format(
      "  leave one sparsity out     {}{}\n", ratio_errors_cell(fit.loso),
      std::isfinite(fit.loso_rmse_sd)
          ? fmt::format("; RMSE varies by {} (sd) from fold to fold", num(fit.loso_rmse_sd, 3))
          : "");
  for (const auto& f : fit.folds) {
    s += fmt::format("    held out S = {:.4f}      {}\n", f.sparsity,
                     f.fitted ? ratio_errors_cell(f.held_out) : "not fitted: " + f.note);
  }
  return s;
}

std::string format_moe_laws(const sc::MoeLawComparison& c) {
  std::string s;
  s += fmt::format("  training points {}; held out {}{}\n", c.n_train, c.n_held_out,
                   c.holdout.empty() ? std::string(" (no holdout)") : " (" + c.holdout + ")");
  s += fmt::format("\n  {:<11} {:>6} {:>11}  {:>10} {:>8}  {:>10} {:>8}\n", "law", "params",
                   "objective", "RMSE in", "MAPE in", "RMSE out", "MAPE out");
  for (const auto& l : c.laws) {
    s += fmt::format("  {:<11} {:>6} {:>11}  {}  {}\n", sc::law_info(l.fit.law).name,
                     sc::n_params(l.fit.law), num(l.fit.objective), errors_cell(l.in_sample),
                     errors_cell(l.held_out));
  }
  for (const auto& l : c.laws) {
    s += fmt::format("\n{}:\n", sc::law_info(l.fit.law).name);
    s += format_law_fit(l.fit);
  }
  return s;
}

std::string format_derived(const std::vector<DerivedRow>& rows, double planner_mismatch) {
  std::string s;
  s += "  r*(C, S) minimising each fitted law through the planner's r -> (N, D) mapping, beside\n"
       "  the direct r* (isoflop vertex of the observed losses; '>' / '<': minimum beyond the\n"
       "  buildable r range)\n";
  if (std::isnan(planner_mismatch)) {
    s += "  planner check: the table has no 'ratio' column, so the planner's N and D could not be "
         "compared with the runs'\n";
  } else {
    s += fmt::format("  planner check: N and D of the runs reproduced within {:.2f}%{}\n",
                     100 * planner_mismatch,
                     planner_mismatch > 0.01
                         ? " (more than 1%: the planner flags --vocab/--context/--hold/"
                           "--convention differ from the sweep's)"
                         : "");
  }
  if (rows.empty()) return s;
  s += fmt::format("\n  {:<8} {:<10} {:<6} {:>8} {:<18}", "S", "C", "label", "direct", "  95% CI");
  for (const auto& [name, d] : rows.front().derived) s += fmt::format(" {:>11}", name);
  s += "\n";
  for (const auto& row : rows) {
    sc::Estimate e{row.direct.r_opt, row.direct.ci_low, row.direct.ci_high};
    s += fmt::format("  {:<8.4f} {:<10} {:<6} {:>8} {:<18}", row.target.sparsity,
                     sci(row.target.compute), row.target.label, num(row.direct.r_opt, 3),
                     "  " + interval(e, 3));
    for (const auto& [name, d] : row.derived) {
      std::string cell = num(d.r_opt, 3);
      if (!d.bracketed) cell = (d.note.find("above") != std::string::npos ? ">" : "<") + cell;
      if (d.bracketed && !d.in_swept_range) cell += "*";
      s += fmt::format(" {:>11}", cell);
    }
    s += "\n";
    for (const auto& [name, d] : row.derived) {
      if (!d.bracketed || d.n_replicates == 0) continue;
      s += fmt::format("  {:<26}   {} 95% CI {} ({} of {} replicates with a minimum)\n", "", name,
                       interval(sc::Estimate{d.r_opt, d.ci_low, d.ci_high}, 3), d.n_replicates_ok,
                       d.n_replicates);
    }
  }
  s += "  *: outside the r the sweep ran at that (C, S): an extrapolation of the law\n";
  return s;
}

}  // namespace moe::cli
