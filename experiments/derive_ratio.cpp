#include "experiments/derive_ratio.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "common/errors.h"
#include "scaling/dataset.h"
#include "scaling/isoflop.h"

namespace moe::scaling {

namespace {

PlanRequest request_for(const DeriveTarget& target, double ratio, const DeriveSettings& settings) {
  PlanRequest req = settings.base;
  req.compute = target.compute;
  req.sparsity = target.sparsity;
  req.n_experts.reset();
  req.label = target.label;
  req.top_k = target.top_k;
  req.n_shared_experts = target.n_shared_experts;
  req.ratio = ratio;
  return req;
}

LossPoint point_of(const Plan& plan) {
  LossPoint p;
  p.n = static_cast<double>(plan.params.active_nonembedding());
  p.d = plan.tokens;
  p.s = plan.model.sparsity();
  p.r = plan.flops.ratio();
  return p;
}

}  // namespace

LossPoint planned_point(const DeriveTarget& target, double ratio, const DeriveSettings& settings) {
  return point_of(make_plan(request_for(target, ratio, settings)));
}

std::optional<LossPoint> faithful_point(const DeriveTarget& target, double ratio,
                                        const DeriveSettings& settings) {
  try {
    const Plan plan = make_plan(request_for(target, ratio, settings));
    const double held = plan.request.hold == Hold::kFlops
                            ? plan.flops.forward() / plan.target_forward_flops
                            : static_cast<double>(plan.params.active_nonembedding()) /
                                  static_cast<double>(plan.target_active_params);
    if (std::fabs(plan.flops.ratio() / ratio - 1) > 0.03 || std::fabs(held - 1) > 0.03) {
      return std::nullopt;
    }
    return point_of(plan);
  } catch (const std::invalid_argument&) {
    return std::nullopt;
  }
}

RatioTrace trace_ratio(const DeriveTarget& target, const DeriveSettings& settings) {
  if (!(settings.r_min > 0 && settings.r_max > settings.r_min && settings.grid >= 8)) {
    throw InputError(fmt::format("--r-min {} and --r-max {} must satisfy 0 < r-min < r-max",
                                 settings.r_min, settings.r_max));
  }
  // The buildable grid: requested ln r and the planner's point.
  std::vector<double> log_request;
  std::vector<LossPoint> planned;
  const double step = std::log(settings.r_max / settings.r_min) / (settings.grid - 1);
  for (int i = 0; i < settings.grid; ++i) {
    const double r = settings.r_min * std::exp(step * i);
    const std::optional<LossPoint> p = faithful_point(target, r, settings);
    if (!p) continue;
    log_request.push_back(std::log(r));
    planned.push_back(*p);
  }
  if (planned.empty()) {
    std::string why = "every request misses r or its budget by more than 3%";
    try {
      planned_point(target, std::sqrt(settings.r_min * settings.r_max), settings);
    } catch (const std::invalid_argument& e) {
      why = e.what();
    }
    throw InputError(fmt::format(
        "--derive-ratio: the planner builds no ratio in [{}, {}] for label {} at C = {:.3g}, "
        "S = {:.4f}: {}",
        settings.r_min, settings.r_max, target.label, target.compute, target.sparsity, why));
  }

  // Smoothed mapping: local quadratic regression of ln N, ln D and ln r (achieved) on the
  // requested ln r within +-kWindow, evaluated at each grid point.
  constexpr double kWindow = 0.3;
  const size_t n = planned.size();
  std::vector<LossPoint> smooth = planned;
  for (size_t i = 0; i < n; ++i) {
    std::vector<double> x, log_n, log_d, log_r;
    for (size_t j = 0; j < n; ++j) {
      if (std::fabs(log_request[j] - log_request[i]) > kWindow) continue;
      x.push_back(log_request[j]);
      log_n.push_back(std::log(planned[j].n));
      log_d.push_back(std::log(planned[j].d));
      log_r.push_back(std::log(planned[j].r));
    }
    const Parabola pn = fit_parabola(x, log_n), pd = fit_parabola(x, log_d),
                   pr = fit_parabola(x, log_r);
    if (!pn.ok || !pd.ok || !pr.ok) continue;  // too few neighbours: keep the planner's values
    smooth[i].n = std::exp(pn.value(log_request[i]));
    smooth[i].d = std::exp(pd.value(log_request[i]));
    smooth[i].r = std::exp(pr.value(log_request[i]));
  }
  return {target, smooth};
}

DerivedRatio minimise_on(const RatioTrace& trace, const LossPredictor& predict) {
  const std::vector<LossPoint>& smooth = trace.points;
  const size_t n = smooth.size();
  std::vector<double> loss(n);
  for (size_t i = 0; i < n; ++i) loss[i] = predict(smooth[i]);

  DerivedRatio out;
  out.target = trace.target;
  out.n_buildable = static_cast<int>(n);
  size_t best = n;
  for (size_t i = 0; i < n; ++i) {
    if (std::isfinite(loss[i]) && (best == n || loss[i] < loss[best])) best = i;
  }
  if (best == n) {
    throw InputError(
        fmt::format("--derive-ratio: the law is not finite anywhere on r in [{:.3g}, "
                    "{:.3g}]",
                    smooth.front().r, smooth.back().r));
  }
  out.r_opt = smooth[best].r;
  out.loss_opt = loss[best];
  out.n_opt = smooth[best].n;
  out.d_opt = smooth[best].d;
  if (best == 0 || best + 1 == n) {
    out.note = fmt::format("the law's minimum lies {} the buildable range of r; r_opt is a bound",
                           best == 0 ? "at or below" : "at or above");
    return out;
  }
  out.bracketed = true;
  // Between grid points: the vertex of a parabola in ln r through the 7 around the minimum.
  const size_t lo = best >= 3 ? best - 3 : 0;
  const size_t hi = std::min(n - 1, best + 3);
  std::vector<double> log_r, near_loss;
  for (size_t i = lo; i <= hi; ++i) {
    log_r.push_back(std::log(smooth[i].r));
    near_loss.push_back(loss[i]);
  }
  const Parabola p = fit_parabola(log_r, near_loss);
  if (p.ok && p.c[2] > 0) {
    const double v = p.vertex_log_x();
    if (v > log_r.front() && v < log_r.back()) {
      out.r_opt = std::exp(v);
      out.loss_opt = std::min(out.loss_opt, p.value(v));
    }
  }
  const DeriveTarget& t = trace.target;
  out.in_swept_range = out.r_opt >= t.r_swept_min && out.r_opt <= t.r_swept_max;
  if (!out.in_swept_range && std::isfinite(t.r_swept_min)) {
    out.note = fmt::format("outside the swept range [{:.3g}, {:.3g}]: an extrapolation of the law",
                           t.r_swept_min, t.r_swept_max);
  }
  return out;
}

DerivedRatio derive_ratio(const LossPredictor& predict, const DeriveTarget& target,
                          const DeriveSettings& settings) {
  return minimise_on(trace_ratio(target, settings), predict);
}

void add_interval(DerivedRatio& d, const RatioTrace& trace,
                  const std::vector<LossPredictor>& replicates) {
  std::vector<double> r;
  d.n_replicates = static_cast<int>(replicates.size());
  for (const auto& predict : replicates) {
    try {
      const DerivedRatio rep = minimise_on(trace, predict);
      if (rep.bracketed) r.push_back(rep.r_opt);
    } catch (const InputError&) {
      // not finite on the trace: no minimum, counted as missing
    }
  }
  d.n_replicates_ok = static_cast<int>(r.size());
  if (!r.empty() && d.bracketed) std::tie(d.ci_low, d.ci_high) = percentile_interval(r);
}

double planner_mismatch(const std::vector<PlannedRun>& runs, const DeriveSettings& settings) {
  DeriveSettings as_swept = settings;
  as_swept.base.width_multiple = settings.sweep_width_multiple;
  double worst = kNaN;
  for (const auto& run : runs) {
    try {
      const LossPoint p = planned_point(run.target, run.ratio, as_swept);
      const double m = std::max(std::fabs(p.n / run.n - 1), std::fabs(p.d / run.d - 1));
      if (!(worst >= m)) worst = m;
    } catch (const std::invalid_argument&) {
      // A run the planner cannot rebuild does not count towards the check.
    }
  }
  return worst;
}

nlohmann::json to_json(const DerivedRatio& d) {
  return {{"C", d.target.compute},
          {"S", d.target.sparsity},
          {"label", d.target.label},
          {"r_opt", d.r_opt},
          {"loss_opt", d.loss_opt},
          {"N_opt", d.n_opt},
          {"D_opt", d.d_opt},
          {"bracketed", d.bracketed},
          {"n_buildable", d.n_buildable},
          {"in_swept_range", d.in_swept_range},
          {"ci", {finite_or_null(d.ci_low), finite_or_null(d.ci_high)}},
          {"replicates", d.n_replicates},
          {"replicates_with_minimum", d.n_replicates_ok},
          {"note", d.note}};
}

namespace {

int64_t integer_cell(const Table& table, size_t row, const std::string& column) {
  double v = 0;
  // Below 2^63, or the conversion to int64 is undefined.
  if (!parse_number(table.cell(row, column), &v) || v != std::floor(v) || v < 0 ||
      v >= 9223372036854775808.0) {
    throw InputError(fmt::format("{}: line {}, column {}: '{}' is not a non-negative integer",
                                 table.source(), table.line(row), column,
                                 shown(table.cell(row, column))));
  }
  return static_cast<int64_t>(v);
}

DeriveTarget target_of(const Table& table, size_t row, double c, double s, const std::string& label,
                       int64_t top_k, int64_t n_shared_experts) {
  DeriveTarget t;
  t.compute = c;
  t.sparsity = s;
  t.label = label;
  t.top_k = table.has_column("top_k") ? integer_cell(table, row, "top_k") : top_k;
  t.n_shared_experts = table.has_column("n_shared_experts")
                           ? integer_cell(table, row, "n_shared_experts")
                           : n_shared_experts;
  return t;
}

}  // namespace

std::vector<DeriveTarget> derive_targets(const Table& table, const RoleNames& roles, int64_t top_k,
                                         int64_t n_shared_experts) {
  const auto c = role_numbers(table, roles, "C", true);
  const auto s = role_numbers(table, roles, "S", false);
  check_sparsity(table, roles, s);
  const std::string& label_column = role_column(table, roles, "label");
  // The swept r of each group, when the table has the r role's column.
  std::vector<double> r;
  if (table.has_column(roles.at("r"))) r = role_numbers(table, roles, "r", true);
  struct Group {
    double c, s;
    size_t first_row;
    std::map<std::string, int> labels;
    double r_min = INFINITY, r_max = -INFINITY;
  };
  std::vector<Group> groups;
  for (size_t i = 0; i < c.size(); ++i) {
    auto it = std::find_if(groups.begin(), groups.end(), [&](const Group& g) {
      return same_group(g.c, c[i]) && same_group(g.s, s[i]);
    });
    if (it == groups.end()) {
      groups.push_back({c[i], s[i], i, {}});
      it = groups.end() - 1;
    }
    ++it->labels[table.cell(i, label_column)];
    if (!r.empty()) {
      it->r_min = std::min(it->r_min, r[i]);
      it->r_max = std::max(it->r_max, r[i]);
    }
  }
  std::sort(groups.begin(), groups.end(),
            [](const Group& a, const Group& b) { return a.s != b.s ? a.s < b.s : a.c < b.c; });
  std::vector<DeriveTarget> out;
  for (const auto& g : groups) {
    const auto label =
        std::max_element(g.labels.begin(), g.labels.end(),
                         [](const auto& a, const auto& b) { return a.second < b.second; });
    out.push_back(target_of(table, g.first_row, g.c, g.s, label->first, top_k, n_shared_experts));
    if (g.r_min <= g.r_max) {
      out.back().r_swept_min = g.r_min;
      out.back().r_swept_max = g.r_max;
    }
  }
  return out;
}

std::vector<PlannedRun> planned_runs(const Table& table, const RoleNames& roles, int64_t top_k,
                                     int64_t n_shared_experts) {
  std::vector<PlannedRun> out;
  if (!table.has_column("ratio")) return out;
  const auto c = role_numbers(table, roles, "C", true);
  const auto s = role_numbers(table, roles, "S", false);
  const auto n = role_numbers(table, roles, "N", true);
  const auto d = role_numbers(table, roles, "D", true);
  const auto ratio = table.numbers("ratio", true, "it is the requested r");
  const std::string& label_column = role_column(table, roles, "label");
  for (size_t i = 0; i < c.size(); ++i) {
    PlannedRun run;
    run.target =
        target_of(table, i, c[i], s[i], table.cell(i, label_column), top_k, n_shared_experts);
    run.ratio = ratio[i];
    run.n = n[i];
    run.d = d[i];
    out.push_back(run);
  }
  return out;
}

}  // namespace moe::scaling
