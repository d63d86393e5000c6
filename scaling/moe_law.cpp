#include "scaling/moe_law.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "scaling/csv.h"

namespace moe::scaling {

const LawComparison& MoeLawComparison::law(LossLaw l) const {
  for (const auto& c : laws) {
    if (c.fit.law == l) return c;
  }
  throw std::invalid_argument("law " + law_info(l).name + " is not in the comparison");
}

MoeLawComparison fit_moe_laws(const std::vector<LossPoint>& train,
                              const std::vector<LossPoint>& held_out, const LawFitOptions& options,
                              const std::string& holdout_description) {
  // Check every law before the first (long) fit, so bad input fails fast.
  for (LossLaw law : {LossLaw::kMoe, LossLaw::kWang, LossLaw::kAbnar, LossLaw::kChinchilla}) {
    check_points(law, train, options.roles);
  }
  MoeLawComparison out;
  out.holdout = holdout_description;
  out.n_train = static_cast<int>(train.size());
  out.n_held_out = static_cast<int>(held_out.size());

  LawFitOptions chinchilla_options = options;
  chinchilla_options.starts.clear();
  const LawFit chinchilla = fit_loss_law(LossLaw::kChinchilla, train, chinchilla_options);
  for (LossLaw law : {LossLaw::kMoe, LossLaw::kWang, LossLaw::kAbnar}) {
    LawFitOptions o = options;
    o.starts = extended_starts(law, train, chinchilla.local_optima);
    LawComparison c;
    c.fit = fit_loss_law(law, train, o);
    out.laws.push_back(std::move(c));
  }
  LawComparison reference;
  reference.fit = chinchilla;
  out.laws.push_back(std::move(reference));
  for (auto& c : out.laws) {
    c.in_sample = error_figures(c.fit, train);
    c.held_out = error_figures(c.fit, held_out);
  }
  return out;
}

std::pair<std::vector<LossPoint>, std::vector<LossPoint>> hold_out_highest_sparsity(
    const std::vector<LossPoint>& points) {
  std::vector<double> s;
  for (const auto& p : points) s.push_back(p.s);
  const std::vector<double> groups = distinct_groups(s);
  const double highest = groups.empty() ? -1 : groups.back();
  std::pair<std::vector<LossPoint>, std::vector<LossPoint>> out;
  for (const auto& p : points) {
    const bool at_highest = same_group(p.s, highest);
    (at_highest ? out.second : out.first).push_back(p);
  }
  return out;
}

nlohmann::json to_json(const MoeLawComparison& comparison) {
  nlohmann::json laws = nlohmann::json::array();
  for (const auto& c : comparison.laws) {
    nlohmann::json j = to_json(c.fit);
    j["in_sample"] = to_json(c.in_sample);
    j["held_out"] = c.held_out.n_points > 0 ? to_json(c.held_out) : nlohmann::json(nullptr);
    laws.push_back(j);
  }
  return {{"holdout", comparison.holdout.empty() ? nlohmann::json(nullptr)
                                                 : nlohmann::json(comparison.holdout)},
          {"n_train", comparison.n_train},
          {"n_held_out", comparison.n_held_out},
          {"laws", laws}};
}

}  // namespace moe::scaling
