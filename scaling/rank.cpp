#include "scaling/rank.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>
#include <tuple>

#include "common/errors.h"

namespace moe::scaling {

double pearson(const std::vector<double>& x, const std::vector<double>& y) {
  const size_t n = x.size();
  if (n < 2 || y.size() != n) return kNaN;
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / static_cast<double>(n);
  const double my = std::accumulate(y.begin(), y.end(), 0.0) / static_cast<double>(n);
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < n; ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  if (!(sxx > 0 && syy > 0)) return kNaN;
  return sxy / std::sqrt(sxx * syy);
}

std::vector<double> ranks(const std::vector<double>& v) {
  std::vector<size_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    const double mean_rank = (static_cast<double>(i + j) / 2) + 1;
    for (size_t k = i; k <= j; ++k) r[order[k]] = mean_rank;
    i = j + 1;
  }
  return r;
}

double spearman(const std::vector<double>& x, const std::vector<double>& y) {
  return pearson(ranks(x), ranks(y));
}

double kendall_tau_b(const std::vector<double>& x, const std::vector<double>& y) {
  const size_t n = x.size();
  if (n < 2 || y.size() != n) return kNaN;
  double concordant = 0, discordant = 0, ties_x = 0, ties_y = 0;
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = i + 1; j < n; ++j) {
      const double dx = x[i] - x[j], dy = y[i] - y[j];
      if (dx == 0) ties_x += 1;
      if (dy == 0) ties_y += 1;
      if (dx == 0 || dy == 0) continue;
      (dx * dy > 0 ? concordant : discordant) += 1;
    }
  }
  const double pairs = static_cast<double>(n * (n - 1) / 2);
  const double denominator = std::sqrt((pairs - ties_x) * (pairs - ties_y));
  return denominator > 0 ? (concordant - discordant) / denominator : kNaN;
}

namespace {

std::array<double, 4> statistics(const std::vector<double>& x, const std::vector<double>& y) {
  const double p = pearson(x, y);
  return {p, spearman(x, y), kendall_tau_b(x, y), p * p};
}

}  // namespace

RankAgreement rank_agreement(const std::vector<double>& proxy, const std::vector<double>& best,
                             int bootstrap, uint64_t seed) {
  if (proxy.size() != best.size()) {
    throw InputError(
        fmt::format("rank: {} proxy losses but {} best losses", proxy.size(), best.size()));
  }
  if (proxy.size() < 3) {
    throw InputError(
        fmt::format("rank: {} configurations; rank agreement needs at least 3", proxy.size()));
  }
  for (size_t i = 0; i < proxy.size(); ++i) {
    if (!std::isfinite(proxy[i]) || !std::isfinite(best[i])) {
      throw InputError(fmt::format("rank: configuration {} has a non-finite loss", i + 1));
    }
  }
  check_bootstrap(bootstrap);
  const auto all = statistics(proxy, best);
  if (std::isnan(all[0])) {
    throw InputError("rank: one of the two losses is the same for every configuration");
  }
  RankAgreement r;
  r.n = static_cast<int>(proxy.size());
  r.bootstrap = bootstrap;
  r.seed = seed;
  Estimate* out[] = {&r.pearson, &r.spearman, &r.kendall, &r.r2};
  for (int k = 0; k < 4; ++k) out[k]->value = all[static_cast<size_t>(k)];
  std::array<std::vector<double>, 4> samples;
  Rng rng(seed ^ 0x72616e6bULL);  // "rank"
  for (int b = 0; b < bootstrap; ++b) {
    std::vector<double> x, y;
    for (size_t i : resample_indices(proxy.size(), rng)) {
      x.push_back(proxy[i]);
      y.push_back(best[i]);
    }
    const auto s = statistics(x, y);
    if (std::isnan(s[0]) || std::isnan(s[2])) {
      ++r.dropped;
      continue;
    }
    for (size_t k = 0; k < 4; ++k) samples[k].push_back(s[k]);
  }
  if (samples[0].size() >= 2) {
    for (size_t k = 0; k < 4; ++k) {
      std::tie(out[k]->ci_low, out[k]->ci_high) = percentile_interval(samples[k]);
    }
  }
  return r;
}

nlohmann::json to_json(const RankAgreement& r) {
  auto one = [](const Estimate& e) {
    return nlohmann::json{{"value", finite_or_null(e.value)}, {"ci", ci_to_json(e)}};
  };
  return {{"n", r.n},
          {"pearson", one(r.pearson)},
          {"spearman", one(r.spearman)},
          {"kendall_tau_b", one(r.kendall)},
          {"r2", one(r.r2)},
          {"bootstrap", r.bootstrap},
          {"dropped", r.dropped},
          {"seed", r.seed}};
}

}  // namespace moe::scaling
