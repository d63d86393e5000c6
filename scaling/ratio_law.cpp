#include "scaling/ratio_law.h"

#include <ceres/ceres.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "common/errors.h"
#include "scaling/csv.h"

namespace moe::scaling {

namespace {

// log r*(C, S) for raw parameters (ln alpha0, p, beta0, q): the one formula that the residual,
// the objective, the starting points and ratio_law() evaluate.
template <typename T>
T log_ratio_law(const T* raw, double log_c, double log_1ms) {
  using std::exp;
  return raw[0] + raw[1] * log_1ms + raw[2] * exp(raw[3] * log_1ms) * log_c;
}

// Residual of one r* estimate.
struct RatioLawResidual {
  RatioLawResidual(double log_c, double log_1ms, double log_r, double weight)
      : log_c_(log_c), log_1ms_(log_1ms), log_r_(log_r), weight_(weight) {}
  template <typename T>
  bool operator()(const T* law, T* residual) const {
    residual[0] = (log_ratio_law(law, log_c_, log_1ms_) - log_r_) * weight_;
    // Far starts overflow exp(q ln(1-S)) C: reported as a failed evaluation (that start is
    // skipped) rather than as an infinite residual, which Ceres logs to the user's terminal.
    using ceres::isfinite;
    using std::isfinite;
    return isfinite(residual[0]);
  }
  double log_c_, log_1ms_, log_r_, weight_;
};

double weight_of(const RatioOptimum& o) {
  return std::isfinite(o.sigma) && o.sigma > 0 ? 1.0 / o.sigma : 1.0;
}

RatioLawParams params_of(const std::vector<double>& raw) {
  return {std::exp(raw[0]), raw[1], raw[2], raw[3]};
}

std::vector<RatioOptimum> usable(const std::vector<RatioOptimum>& optima) {
  std::vector<RatioOptimum> out;
  for (const auto& o : optima) {
    if (o.bracketed && std::isfinite(o.r_opt)) out.push_back(o);
  }
  return out;
}

void check_design(const std::vector<RatioOptimum>& optima) {
  std::set<double> c, s;
  for (const auto& o : optima) {
    c.insert(o.compute);
    s.insert(o.sparsity);
  }
  if (optima.size() < 4 || s.size() < 2 || c.size() < 2) {
    throw InputError(fmt::format(
        "ratio: {} bracketed r*(C, S) estimate{} over {} sparsit{} and {} budget{}; the law has 4 "
        "parameters and needs >= 4 estimates spanning >= 2 sparsities and >= 2 budgets",
        optima.size(), optima.size() == 1 ? "" : "s", s.size(), s.size() == 1 ? "y" : "ies",
        c.size(), c.size() == 1 ? "" : "s"));
  }
}

MultiStartResult solve(const std::vector<RatioOptimum>& optima,
                       const std::vector<std::vector<double>>& starts) {
  ceres::Problem problem;
  std::vector<double> block(4, 0.0);
  std::vector<double> lc, l1ms, lr, w;
  for (const auto& o : optima) {
    lc.push_back(std::log(o.compute));
    l1ms.push_back(std::log1p(-o.sparsity));
    lr.push_back(std::log(o.r_opt));
    w.push_back(weight_of(o));
    problem.AddResidualBlock(new ceres::AutoDiffCostFunction<RatioLawResidual, 1, 4>(
                                 new RatioLawResidual(lc.back(), l1ms.back(), lr.back(), w.back())),
                             nullptr, block.data());
  }
  auto objective = [&](const double* law) {
    double sum = 0;
    for (size_t i = 0; i < lc.size(); ++i) {
      const double u = (log_ratio_law(law, lc[i], l1ms[i]) - lr[i]) * w[i];
      sum += u * u;
    }
    return sum;
  };
  return multi_start(problem, block.data(), 4, starts, objective);
}

std::vector<std::vector<double>> default_starts(const std::vector<RatioOptimum>& optima) {
  std::vector<std::vector<double>> starts;
  for (double p : {-2.0, -1.0, 0.0, 1.0}) {
    for (double q : {-1.0, 0.0, 0.5, 1.0}) {
      for (double beta0 : {0.05, 0.25, 0.5}) {
        double mean = 0;  // ln alpha0 that fits the data on average for these p, q, beta0
        const double shape[4] = {0.0, p, beta0, q};
        for (const auto& o : optima) {
          mean += std::log(o.r_opt) -
                  log_ratio_law(shape, std::log(o.compute), std::log1p(-o.sparsity));
        }
        starts.push_back({mean / static_cast<double>(optima.size()), p, beta0, q});
      }
    }
  }
  const RatioLawParams pub = kPublishedRatioLaw;
  starts.push_back({std::log(pub.alpha0), pub.p, pub.beta0, pub.q});
  return starts;
}

nlohmann::json params_json(const RatioLawParams& p) {
  return {{"alpha0", p.alpha0}, {"p", p.p}, {"beta0", p.beta0}, {"q", p.q}};
}

nlohmann::json errors_json(const RatioErrors& e) {
  return {{"rmse_log", e.rmse_log}, {"mape_percent", e.mape}, {"n_points", e.n_points}};
}

}  // namespace

double ratio_law(const RatioLawParams& law, double compute, double sparsity) {
  const double raw[4] = {std::log(law.alpha0), law.p, law.beta0, law.q};
  return std::exp(log_ratio_law(raw, std::log(compute), std::log1p(-sparsity)));
}

RatioLawParams fit_ratio_law_to(const std::vector<RatioOptimum>& optima, double* objective) {
  check_design(optima);
  const MultiStartResult r = solve(optima, default_starts(optima));
  if (objective) *objective = r.best.objective;
  return params_of(r.best.params);
}

RatioErrors ratio_errors(const RatioLawParams& law, const std::vector<RatioOptimum>& optima) {
  RatioErrors e;
  double se = 0, ape = 0;
  for (const auto& o : optima) {
    if (!std::isfinite(o.r_opt)) continue;
    const double hat = ratio_law(law, o.compute, o.sparsity);
    const double d = std::log(hat) - std::log(o.r_opt);
    se += d * d;
    ape += std::fabs(hat - o.r_opt) / o.r_opt;
    ++e.n_points;
  }
  if (e.n_points > 0) {
    e.rmse_log = std::sqrt(se / e.n_points);
    e.mape = 100.0 * ape / e.n_points;
  }
  return e;
}

namespace {

// r*(C) per sparsity by isoflop (x = r), one seeded stream per sparsity.
struct PerSparsity {
  std::vector<double> sparsities;    // ascending
  std::vector<IsoflopFit> fits;      // one per sparsity
  std::vector<RatioOptimum> optima;  // every (C, S), sparsity-major
};

PerSparsity per_sparsity(const std::vector<RatioRun>& runs, const RatioLawOptions& options) {
  check_bootstrap(options.bootstrap);
  for (const auto& run : runs) {
    if (!(std::isfinite(run.sparsity) && run.sparsity >= 0 && run.sparsity < 1)) {
      throw InputError(fmt::format("ratio: {} = {} must lie in [0, 1) (log(1 - S) is taken)",
                                   describe_role(options.roles, "S"), run.sparsity));
    }
  }
  PerSparsity out;
  for (const auto& run : runs) {
    bool seen = false;
    for (double s : out.sparsities) seen = seen || same_group(s, run.sparsity);
    if (!seen) out.sparsities.push_back(run.sparsity);
  }
  std::sort(out.sparsities.begin(), out.sparsities.end());
  RoleNames roles = options.roles;
  if (roles.count("r")) roles["x"] = roles["r"];
  for (size_t g = 0; g < out.sparsities.size(); ++g) {
    std::vector<IsoflopPoint> points;
    for (const auto& run : runs) {
      if (same_group(run.sparsity, out.sparsities[g])) {
        points.push_back({run.compute, run.r, run.loss});
      }
    }
    IsoflopOptions iso;
    iso.valley = options.valley;
    iso.bootstrap = options.bootstrap;
    iso.seed = options.seed ^ (0x9E3779B97F4A7C15ULL * (g + 1));
    iso.roles = roles;
    out.fits.push_back(fit_isoflop(points, iso));
    const IsoflopFit& fit = out.fits.back();
    for (size_t i = 0; i < fit.optima.size(); ++i) {
      const BudgetOptimum& o = fit.optima[i];
      RatioOptimum r;
      r.compute = o.compute;
      r.sparsity = out.sparsities[g];
      r.r_opt = o.x_opt;
      r.ci_low = o.ci_low;
      r.ci_high = o.ci_high;
      r.bracketed = o.bracketed;
      r.n_points = o.n_points;
      r.note = o.note;
      // sigma: the bootstrap standard deviation of ln r* (the replicates this budget has).
      if (o.bracketed) {
        std::vector<double> logs;
        for (const auto& rep : fit.replicate_x_opt) {
          const double x = rep[i];
          if (std::isfinite(x) && x > 0) logs.push_back(std::log(x));
        }
        if (logs.size() >= 10 && sample_sd(logs) > 0) r.sigma = sample_sd(logs);
      }
      out.optima.push_back(r);
    }
  }
  return out;
}

}  // namespace

std::vector<RatioOptimum> ratio_optima(const std::vector<RatioRun>& runs,
                                       const RatioLawOptions& options) {
  return per_sparsity(runs, options).optima;
}

namespace {

// DerSimonian-Laird: tau^2 = max(0, (Q - df) / (sum w - sum w^2 / sum w)), Q the weighted sum
// of squared residuals of ln r* at weights w = 1 / sigma^2, df = n - 4.
double between_scatter(const std::vector<RatioOptimum>& used, const RatioLawParams& law) {
  double q = 0, sw = 0, sw2 = 0;
  for (const auto& o : used) {
    const double w = 1.0 / (o.sigma * o.sigma);
    const double r = std::log(ratio_law(law, o.compute, o.sparsity)) - std::log(o.r_opt);
    q += w * r * r;
    sw += w;
    sw2 += w * w;
  }
  const double df = static_cast<double>(used.size()) - 4;
  const double denom = sw - sw2 / sw;
  return denom > 0 && q > df ? std::sqrt((q - df) / denom) : 0.0;
}

double mean_log_compute(const std::vector<RatioOptimum>& used) {
  double m = 0;
  for (const auto& o : used) m += std::log(o.compute) / static_cast<double>(used.size());
  return m;
}

double median_sparsity(const std::vector<RatioOptimum>& used) {
  std::vector<double> s;
  for (const auto& o : used) s.push_back(o.sparsity);
  return percentile(s, 0.5);
}

// Each replicate: every sparsity's bootstrap r* (plus the between-point scatter tau, drawn),
// refitted from the whole start grid (not from the best fit, which would keep every replicate
// in its basin). Replicates that lose too many r* to determine the law are counted.
void bootstrap_law(const std::vector<IsoflopFit>& per_s, const RatioLawOptions& options,
                   RatioLawFit& fit) {
  Rng rng(options.seed ^ 0x5DEECE66DULL);
  std::vector<double> a0, p, b0, q, r_ref;
  for (int b = 0; b < options.bootstrap; ++b) {
    std::vector<RatioOptimum> rep;
    size_t k = 0;
    for (size_t g = 0; g < per_s.size(); ++g) {
      for (size_t i = 0; i < per_s[g].optima.size(); ++i, ++k) {
        const RatioOptimum& o = fit.optima[k];
        if (!o.bracketed) continue;
        const double r = per_s[g].replicate_x_opt[static_cast<size_t>(b)][i];
        if (!std::isfinite(r)) continue;
        RatioOptimum copy = o;
        copy.r_opt = r * std::exp(fit.tau * rng.normal());
        rep.push_back(copy);
      }
    }
    try {
      check_design(rep);
    } catch (const InputError&) {
      ++fit.n_bootstrap_dropped;
      continue;
    }
    const RatioLawParams v = params_of(solve(rep, default_starts(rep)).best.params);
    a0.push_back(v.alpha0);
    p.push_back(v.p);
    b0.push_back(v.beta0);
    q.push_back(v.q);
    r_ref.push_back(ratio_law(v, fit.c_ref, fit.s_ref));
  }
  fit.n_bootstrap_ok = static_cast<int>(a0.size());
  if (!a0.empty()) {
    std::tie(fit.alpha0.ci_low, fit.alpha0.ci_high) = percentile_interval(a0);
    std::tie(fit.p.ci_low, fit.p.ci_high) = percentile_interval(p);
    std::tie(fit.beta0.ci_low, fit.beta0.ci_high) = percentile_interval(b0);
    std::tie(fit.q.ci_low, fit.q.ci_high) = percentile_interval(q);
    std::tie(fit.r_ref.ci_low, fit.r_ref.ci_high) = percentile_interval(r_ref);
  }
}

}  // namespace

RatioLawFit fit_ratio_law(const std::vector<RatioRun>& runs, const RatioLawOptions& options) {
  PerSparsity groups = per_sparsity(runs, options);
  const std::vector<double>& sparsities = groups.sparsities;
  const std::vector<IsoflopFit>& per_s = groups.fits;
  RatioLawFit fit;
  fit.n_bootstrap = options.bootstrap;
  fit.seed = options.seed;
  fit.optima = std::move(groups.optima);

  // Weights: 1 / (sigma_i^2 + tau^2), sigma_i the bootstrap sd of ln r*_i and tau^2 the scatter
  // of the r* about the law beyond it (random-effects meta-regression, DerSimonian-Laird's
  // moment estimate): a law that misses by more than the r*'s own noise gets wider intervals
  // instead of over-confident ones. Without a sigma for every r*, all are weighted equally.
  std::vector<RatioOptimum> used = usable(fit.optima);
  check_design(used);
  const size_t with_sigma = static_cast<size_t>(std::count_if(
      used.begin(), used.end(), [](const RatioOptimum& o) { return std::isfinite(o.sigma); }));
  fit.weighted = with_sigma == used.size();
  if (!fit.weighted) {
    fit.weighting = fmt::format("unweighted: {} of {} r* have no bootstrap spread (--bootstrap {})",
                                used.size() - with_sigma, used.size(), options.bootstrap);
    for (auto& o : fit.optima) o.sigma = kNaN;
    used = usable(fit.optima);
  }
  MultiStartResult best = solve(used, default_starts(used));
  if (fit.weighted) {
    // The optima carry their final weights, which the replicates and the folds reuse.
    fit.tau = between_scatter(used, params_of(best.best.params));
    for (auto& o : fit.optima) o.sigma = std::sqrt(o.sigma * o.sigma + fit.tau * fit.tau);
    used = usable(fit.optima);
    best = solve(used, default_starts(used));
    fit.weighting = fmt::format(
        "1 / (sigma^2 + tau^2): sigma the bootstrap sd of each ln r*, tau = {:.3g} the scatter "
        "about the law beyond it",
        fit.tau);
  }
  const RatioLawParams law = params_of(best.best.params);
  fit.objective = best.best.objective;
  fit.n_points = static_cast<int>(used.size());
  fit.alpha0.value = law.alpha0;
  fit.p.value = law.p;
  fit.beta0.value = law.beta0;
  fit.q.value = law.q;
  fit.c_ref = std::exp(mean_log_compute(used));
  fit.s_ref = median_sparsity(used);
  fit.r_ref.value = ratio_law(law, fit.c_ref, fit.s_ref);
  fit.in_sample = ratio_errors(law, used);
  fit.published_errors = ratio_errors(kPublishedRatioLaw, used);
  bootstrap_law(per_s, options, fit);

  // Leave one sparsity out.
  std::vector<RatioOptimum> pooled;
  double se = 0, ape = 0;
  for (double s : sparsities) {
    RatioFold fold;
    fold.sparsity = s;
    std::vector<RatioOptimum> train, test;
    for (const auto& o : used) (same_group(o.sparsity, s) ? test : train).push_back(o);
    if (test.empty()) {
      fold.note = "no bracketed r* at this sparsity";
    } else {
      try {
        fold.params = fit_ratio_law_to(train);
        fold.fitted = true;
        fold.held_out = ratio_errors(fold.params, test);
        for (const auto& o : test) {
          const double hat = ratio_law(fold.params, o.compute, o.sparsity);
          se += std::pow(std::log(hat) - std::log(o.r_opt), 2);
          ape += std::fabs(hat - o.r_opt) / o.r_opt;
          pooled.push_back(o);
        }
      } catch (const InputError&) {
        fold.note =
            "the other sparsities cannot determine the law (need >= 4 r* over >= 2 "
            "sparsities and >= 2 budgets)";
      }
    }
    fit.folds.push_back(fold);
  }
  // How much the held-out error moves from one sparsity to the next: its spread over the folds.
  std::vector<double> fold_rmse;
  for (const auto& f : fit.folds) {
    if (f.fitted) fold_rmse.push_back(f.held_out.rmse_log);
  }
  fit.loso_rmse_sd = sample_sd(fold_rmse);
  fit.loso.n_points = static_cast<int>(pooled.size());
  if (!pooled.empty()) {
    fit.loso.rmse_log = std::sqrt(se / static_cast<double>(pooled.size()));
    fit.loso.mape = 100.0 * ape / static_cast<double>(pooled.size());
  }
  return fit;
}

nlohmann::json to_json(const RatioLawFit& fit) {
  const std::pair<const char*, const Estimate*> named[] = {
      {"alpha0", &fit.alpha0}, {"p", &fit.p}, {"beta0", &fit.beta0}, {"q", &fit.q}};
  nlohmann::json params = nlohmann::json::object(), ci = nlohmann::json::object();
  for (const auto& [name, e] : named) {
    params[name] = e->value;
    ci[name] = ci_to_json(*e);
  }
  nlohmann::json optima = nlohmann::json::array();
  for (const auto& o : fit.optima) {
    optima.push_back({{"C", o.compute},
                      {"S", o.sparsity},
                      {"r_opt", o.r_opt},
                      {"ci_low", o.ci_low},
                      {"ci_high", o.ci_high},
                      {"bracketed", o.bracketed},
                      {"n_points", o.n_points},
                      {"note", o.note}});
  }
  nlohmann::json folds = nlohmann::json::array();
  for (const auto& f : fit.folds) {
    nlohmann::json j = errors_json(f.held_out);
    j["S"] = f.sparsity;
    j["fitted"] = f.fitted;
    j["note"] = f.note;
    j["params"] = f.fitted ? params_json(f.params) : nlohmann::json(nullptr);
    folds.push_back(j);
  }
  nlohmann::json published = errors_json(fit.published_errors);
  published["params"] = params_json(kPublishedRatioLaw);
  return {{"law", "r*(C, S) = alpha0 (1-S)^p C^(beta0 (1-S)^q)"},
          {"params", params},
          {"ci", ci},
          {"objective", fit.objective},
          {"n_points", fit.n_points},
          {"weighted", fit.weighted},
          {"weighting", fit.weighting},
          {"tau", fit.tau},
          {"at_reference",
           {{"C", fit.c_ref},
            {"S", fit.s_ref},
            {"r_opt", finite_or_null(fit.r_ref.value)},
            {"ci", ci_to_json(fit.r_ref)}}},
          {"bootstrap_dropped", fit.n_bootstrap_dropped},
          {"loso_rmse_log_sd_over_folds", finite_or_null(fit.loso_rmse_sd)},
          {"optima", optima},
          {"in_sample", errors_json(fit.in_sample)},
          {"leave_one_sparsity_out", {{"folds", folds}, {"pooled", errors_json(fit.loso)}}},
          {"published", published},
          {"bootstrap",
           {{"replicates", fit.n_bootstrap}, {"ok", fit.n_bootstrap_ok}, {"seed", fit.seed}}}};
}

}  // namespace moe::scaling
