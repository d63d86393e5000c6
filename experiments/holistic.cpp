#include "experiments/holistic.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <numeric>

#include "common/errors.h"
#include "common/io.h"
#include "common/process.h"

namespace moe::experiments {

namespace fs = std::filesystem;

namespace {

std::string num(double v) { return fmt::format("{:.10g}", v); }

// Budgets agree within a relative 1e-6 (results.csv writes them with 10 digits).
bool same(double a, double b) { return std::abs(a - b) <= 1e-6 * std::max(std::abs(a), 1e-300); }

// A finished run of a triad sweep, as the profiles and the rank table need it.
struct Row {
  double compute = 0, m_target = 0, n_target = 0, m = 0, n = 0, loss = 0;
  int64_t d_model = 0;
};

std::vector<Row> rows_of(const scaling::Table& t) {
  const auto compute = t.numbers("compute");
  const auto m_target = t.numbers("m_over_na_target");
  const auto n_target = t.numbers("n_over_na_target");
  const auto m = t.numbers("m_over_na");
  const auto n = t.numbers("n_over_na");
  const auto loss = t.numbers("val_loss");
  const auto d = t.numbers("d_model");
  std::vector<Row> out;
  for (size_t i = 0; i < t.n_rows(); ++i) {
    out.push_back({compute[i], m_target[i], n_target[i], m[i], n[i], loss[i],
                   static_cast<int64_t>(std::llround(d[i]))});
  }
  return out;
}

// The seeds of one configuration (budget, triad, d) averaged: their mean loss and ratios.
std::vector<Row> seed_means(const std::vector<Row>& rows) {
  std::vector<Row> out;
  std::vector<int> count;
  for (const Row& r : rows) {
    size_t i = 0;
    while (i < out.size() &&
           !(same(out[i].compute, r.compute) && same(out[i].m_target, r.m_target) &&
             same(out[i].n_target, r.n_target) && out[i].d_model == r.d_model)) {
      ++i;
    }
    if (i == out.size()) {
      out.push_back(Row{r.compute, r.m_target, r.n_target, 0, 0, 0, r.d_model});
      count.push_back(0);
    }
    out[i].m += r.m;
    out[i].n += r.n;
    out[i].loss += r.loss;
    ++count[i];
  }
  for (size_t i = 0; i < out.size(); ++i) {
    out[i].m /= count[i];
    out[i].n /= count[i];
    out[i].loss /= count[i];
  }
  return out;
}

const nlohmann::json* optimum_at(const nlohmann::json& fit, double compute) {
  if (!fit.is_object() || !fit.contains("optima")) return nullptr;
  for (const auto& o : fit["optima"]) {
    if (same(o["C"].get<double>(), compute)) return &o;
  }
  return nullptr;
}

// The profile's lowest point at a budget: {x, loss}.
std::pair<double, double> lowest(const scaling::Table& profile, double compute) {
  const auto c = profile.numbers("compute");
  const auto x = profile.numbers("x");
  const auto loss = profile.numbers("loss");
  std::pair<double, double> best{NAN, INFINITY};
  for (size_t i = 0; i < c.size(); ++i) {
    if (same(c[i], compute) && loss[i] < best.second) best = {x[i], loss[i]};
  }
  return best;
}

// x_opt of the fit where bracketed, else the profile's lowest point, and which.
std::pair<double, std::string> optimum_of(const scaling::Table& profile, const nlohmann::json& fit,
                                          double compute) {
  const nlohmann::json* o = optimum_at(fit, compute);
  if (o && (*o)["bracketed"].get<bool>()) return {(*o)["x_opt"].get<double>(), "fit"};
  const std::string why = !fit.is_object() ? "it failed (fits.log says why)"
                          : o              ? (*o)["note"].get<std::string>()
                                           : "no fit at this budget";
  return {lowest(profile, compute).first, "the grid's lowest; the fit: " + why};
}

}  // namespace

namespace {

// A triad grid: the shared settings, budgets, M/N_a and N/N_a lists, and d positions (none: the
// proxy).
std::string triad_grid(const std::string& shared, const std::vector<std::string>& compute,
                       const std::vector<double>& m_over_na, const std::vector<double>& n_over_na,
                       const std::vector<double>& positions) {
  std::string text = shared + fmt::format("compute = {}\nm-over-na = {:.6g}\nn-over-na = {:.6g}\n",
                                          fmt::join(compute, " "), fmt::join(m_over_na, " "),
                                          fmt::join(n_over_na, " "));
  if (!positions.empty()) text += fmt::format("d-position = {:.6g}\n", fmt::join(positions, " "));
  return text;
}

}  // namespace

std::string phase1_grid(const std::string& shared, const HolisticStudy& s) {
  return triad_grid(shared, s.compute, s.m_over_na, s.n_over_na, {});
}

std::string rank_grid(const std::string& shared, const HolisticStudy& s) {
  return triad_grid(shared, {s.compute.front()}, s.m_over_na, s.n_over_na, s.rank_positions);
}

std::string phase2_grid(const std::string& shared, const std::string& compute, double m_over_na,
                        double n_over_na, const std::vector<double>& positions) {
  return triad_grid(shared, {compute}, {m_over_na}, {n_over_na}, positions);
}

std::string phase1_profile(const scaling::Table& done, const std::string& ratio) {
  if (ratio != "m_over_na" && ratio != "n_over_na") {
    throw std::logic_error("phase1_profile: ratio must be m_over_na or n_over_na");
  }
  if (done.n_rows() == 0) throw InputError(done.source() + ": no finished Phase 1 run");
  const bool m = ratio == "m_over_na";
  const std::vector<Row> configs = seed_means(rows_of(done));
  // (budget, target of the ratio) -> the configuration of lowest loss over the other ratio.
  std::vector<Row> best;
  for (const Row& r : configs) {
    auto it = std::find_if(best.begin(), best.end(), [&](const Row& b) {
      return same(b.compute, r.compute) &&
             same(m ? b.m_target : b.n_target, m ? r.m_target : r.n_target);
    });
    if (it == best.end()) {
      best.push_back(r);
    } else if (r.loss < it->loss) {
      *it = r;
    }
  }
  std::sort(best.begin(), best.end(), [&](const Row& a, const Row& b) {
    return a.compute != b.compute ? a.compute < b.compute : (m ? a.m < b.m : a.n < b.n);
  });
  scaling::CsvWriter out({"compute", "x", "loss", "other"});
  for (const Row& r : best) {
    out.row({num(r.compute), num(m ? r.m : r.n), num(r.loss), num(m ? r.n_target : r.m_target)});
  }
  return out.text();
}

std::string rank_table(const scaling::Table& phase1_done, const scaling::Table& rank_done) {
  const std::vector<Row> proxy = seed_means(rows_of(phase1_done));
  const std::vector<Row> rank = seed_means(rows_of(rank_done));
  scaling::CsvWriter out({"compute", "m_over_na_target", "n_over_na_target", "proxy", "best",
                          "best_d_model", "d_models"});
  for (const Row& p : proxy) {
    std::vector<const Row*> at_d;
    for (const Row& r : rank) {
      if (same(r.compute, p.compute) && same(r.m_target, p.m_target) &&
          same(r.n_target, p.n_target)) {
        at_d.push_back(&r);
      }
    }
    // The proxy's own d again (a one-layer triad's interval is a point) adds nothing.
    std::erase_if(at_d, [&](const Row* r) { return r->d_model == p.d_model; });
    if (at_d.empty()) continue;  // one d only: no ranking over d to check
    at_d.push_back(&p);
    std::sort(at_d.begin(), at_d.end(),
              [](const Row* a, const Row* b) { return a->d_model < b->d_model; });
    const Row* best = *std::min_element(
        at_d.begin(), at_d.end(), [](const Row* a, const Row* b) { return a->loss < b->loss; });
    std::string ds;
    for (const Row* r : at_d) ds += fmt::format("{}{}", ds.empty() ? "" : " ", r->d_model);
    out.row({num(p.compute), num(p.m_target), num(p.n_target), num(p.loss), num(best->loss),
             std::to_string(best->d_model), ds});
  }
  return out.text();
}

std::vector<TriadOptimum> optimal_triads(const scaling::Table& m_profile,
                                         const scaling::Table& n_profile,
                                         const nlohmann::json& m_fit, const nlohmann::json& n_fit) {
  std::vector<double> budgets;
  for (double c : m_profile.numbers("compute")) {
    if (std::none_of(budgets.begin(), budgets.end(), [&](double b) { return same(b, c); })) {
      budgets.push_back(c);
    }
  }
  std::vector<TriadOptimum> out;
  for (double c : budgets) {
    TriadOptimum t;
    t.compute = c;
    std::tie(t.m_over_na, t.m_source) = optimum_of(m_profile, m_fit, c);
    std::tie(t.n_over_na, t.n_source) = optimum_of(n_profile, n_fit, c);
    out.push_back(t);
  }
  return out;
}

nlohmann::json to_json(const std::vector<TriadOptimum>& optima) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& t : optima) {
    out.push_back({{"C", t.compute},
                   {"M_over_N_a", t.m_over_na},
                   {"M_over_N_a_source", t.m_source},
                   {"N_over_N_a", t.n_over_na},
                   {"N_over_N_a_source", t.n_source}});
  }
  return out;
}

nlohmann::json holistic_laws(const std::vector<TriadOptimum>& optima, const nlohmann::json& m_fit,
                             const nlohmann::json& d_fit) {
  auto fitted = [](const nlohmann::json& fit) -> const nlohmann::json* {
    if (!fit.is_object() || !fit.contains("laws")) return nullptr;
    const nlohmann::json& law = fit["laws"]["x_opt"];
    return law["fitted"].get<bool>() ? &law : nullptr;
  };
  double m_mean = 0, n_mean = 0;
  for (const auto& t : optima) {
    m_mean += t.m_over_na / static_cast<double>(optima.size());
    n_mean += t.n_over_na / static_cast<double>(optima.size());
  }
  nlohmann::json laws;
  if (const nlohmann::json* law = fitted(m_fit)) {
    laws["m_over_na"] = {
        {"k", (*law)["k"]}, {"a", (*law)["a"]}, {"source", "the Phase 1 optima's power law in C"}};
  } else {
    laws["m_over_na"] = {{"k", m_mean},
                         {"a", 0.0},
                         {"source",
                          "no law fitted (fewer than 2 bracketed budgets): the mean "
                          "optimum, constant in C"}};
  }
  laws["n_over_na"] = {{"value", n_mean},
                       {"source",
                        "the mean of the per-budget optima (no law in C, as in the "
                        "paper: it is flat)"}};
  if (const nlohmann::json* law = fitted(d_fit)) {
    laws["d"] = {{"k", (*law)["k"]}, {"a", (*law)["a"]}, {"source", "Phase 2's d_opt law"}};
  } else {
    laws["d"] = nullptr;
  }
  return laws;
}

}  // namespace moe::experiments
