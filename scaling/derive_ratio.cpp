#include "scaling/derive_ratio.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "moe/errors.h"
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

DerivedRatio derive_ratio(const LossPredictor& predict, const DeriveTarget& target,
                          const DeriveSettings& settings) {
  if (!(settings.r_min > 0 && settings.r_max > settings.r_min && settings.grid >= 8)) {
    throw InputError(fmt::format("--r-min {} and --r-max {} must satisfy 0 < r-min < r-max",
                                 settings.r_min, settings.r_max));
  }
  struct Sample {
    double log_r;  // ln of the achieved r
    double loss;
    LossPoint point;
  };
  std::vector<Sample> samples;
  std::string last_error;
  const double step = std::log(settings.r_max / settings.r_min) / (settings.grid - 1);
  for (int i = 0; i < settings.grid; ++i) {
    const double r = settings.r_min * std::exp(step * i);
    try {
      const LossPoint p = planned_point(target, r, settings);
      const double loss = predict(p);
      if (std::isfinite(loss)) samples.push_back({std::log(p.r), loss, p});
    } catch (const std::invalid_argument& e) {
      last_error = e.what();
    }
  }
  DerivedRatio out;
  out.target = target;
  out.n_buildable = static_cast<int>(samples.size());
  if (samples.empty()) {
    throw InputError(fmt::format(
        "--derive-ratio: the planner builds no ratio in [{}, {}] for label {} at C = {:.3g}, "
        "S = {:.4f}: {}",
        settings.r_min, settings.r_max, target.label, target.compute, target.sparsity,
        last_error));
  }
  size_t best = 0;
  for (size_t i = 1; i < samples.size(); ++i) {
    if (samples[i].loss < samples[best].loss) best = i;
  }
  out.r_opt = std::exp(samples[best].log_r);
  out.loss_opt = samples[best].loss;
  out.n_opt = samples[best].point.n;
  out.d_opt = samples[best].point.d;
  if (best == 0 || best + 1 == samples.size()) {
    out.note = fmt::format("the law's minimum lies {} the buildable range of r; r_opt is a bound",
                           best == 0 ? "at or below" : "at or above");
    return out;
  }
  out.bracketed = true;
  // The planner rounds widths, so L(r) has small steps; a parabola through the neighbourhood
  // of the grid minimum smooths them.
  const size_t lo = best >= 3 ? best - 3 : 0;
  const size_t hi = std::min(samples.size() - 1, best + 3);
  std::vector<double> log_r, loss;
  for (size_t i = lo; i <= hi; ++i) {
    log_r.push_back(samples[i].log_r);
    loss.push_back(samples[i].loss);
  }
  const Parabola p = fit_parabola(log_r, loss);
  if (p.ok && p.c[2] > 0) {
    const double v = p.vertex_log_x();
    if (v > log_r.front() && v < log_r.back()) {
      out.r_opt = std::exp(v);
      out.loss_opt = p.value(v);
    }
  }
  return out;
}

double planner_mismatch(const std::vector<PlannedRun>& runs, const DeriveSettings& settings) {
  double worst = kNaN;
  for (const auto& run : runs) {
    try {
      const LossPoint p = planned_point(run.target, run.ratio, settings);
      const double m = std::max(std::fabs(p.n / run.n - 1), std::fabs(p.d / run.d - 1));
      if (!(worst >= m)) worst = m;
    } catch (const std::invalid_argument&) {
      // A run the planner cannot rebuild does not count towards the check.
    }
  }
  return worst;
}

nlohmann::json to_json(const DerivedRatio& d) {
  return {{"C", d.target.compute},       {"S", d.target.sparsity},  {"label", d.target.label},
          {"r_opt", d.r_opt},            {"loss_opt", d.loss_opt},  {"N_opt", d.n_opt},
          {"D_opt", d.d_opt},            {"bracketed", d.bracketed}, {"n_buildable", d.n_buildable},
          {"note", d.note}};
}

}  // namespace moe::scaling
