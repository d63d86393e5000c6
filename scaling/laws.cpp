#include "scaling/laws.h"

#include <fmt/format.h>

#include <stdexcept>

namespace moe::scaling {

const LawInfo& law_info(LossLaw law) {
  static const LawInfo kPower{"power",
                              "L = E + A * x^-alpha",
                              "saturating power law (Kaplan et al. 2020; Hoffmann et al. 2022)",
                              {"E", "A", "alpha"},
                              {true, true, false}};
  static const LawInfo kPowerNoOffset{"power",
                                      "L = A * x^-alpha",
                                      "pure power law (Kaplan et al. 2020)",
                                      {"A", "alpha"},
                                      {true, false}};
  static const LawInfo kChinchilla{
      "chinchilla",
      "L = E + A / N^alpha + B / D^beta",
      "Hoffmann et al. 2022, Training Compute-Optimal LLMs, Eq. 2, approach 3",
      {"E", "A", "B", "alpha", "beta"},
      {true, true, true, false, false}};
  static const LawInfo kMoe{
      "moe",
      "L = a/N^alpha + b/D^beta + c e^R (1-S)^gamma / N^lambda + d r/(r+1) + tau, R = 1/(1+r)",
      "Li et al. 2026, Optimal Expert-Attention Allocation in MoE, Eq. 2 (R defined by us)",
      {"a", "alpha", "b", "beta", "c", "gamma", "lambda", "d", "tau"},
      {true, false, true, false, true, false, false, false, true}};
  static const LawInfo kWang{"wang",
                             "L = a / (N^alpha E^gamma) + b / D^beta + tau, E = 1/(1-S)",
                             "Wang et al. 2024, as compared by Li et al. 2026",
                             {"a", "alpha", "gamma", "b", "beta", "tau"},
                             {true, false, false, true, false, true}};
  static const LawInfo kAbnar{
      "abnar",
      "L = a/N^alpha + b/D^beta + c/(1-S)^lambda + d/((1-S)^delta N^gamma) + tau",
      "Abnar et al. 2025, Parameters vs FLOPs: Scaling Laws for Optimal Sparsity for MoE",
      {"a", "alpha", "b", "beta", "c", "lambda", "d", "delta", "gamma", "tau"},
      {true, false, true, false, true, false, true, false, false, true}};
  switch (law) {
    case LossLaw::kPower:
      return kPower;
    case LossLaw::kPowerNoOffset:
      return kPowerNoOffset;
    case LossLaw::kChinchilla:
      return kChinchilla;
    case LossLaw::kMoe:
      return kMoe;
    case LossLaw::kWang:
      return kWang;
    case LossLaw::kAbnar:
      return kAbnar;
  }
  throw std::logic_error("unknown law");
}

int n_params(LossLaw law) {
  return with_law(law, [](auto l) { return decltype(l)::kParams; });
}

std::vector<double> to_natural(LossLaw law, const std::vector<double>& raw) {
  const LawInfo& info = law_info(law);
  std::vector<double> out(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) out[i] = info.log_params[i] ? std::exp(raw[i]) : raw[i];
  return out;
}

std::vector<double> to_raw(LossLaw law, const std::vector<double>& natural) {
  const LawInfo& info = law_info(law);
  if (natural.size() != info.params.size()) {
    throw std::invalid_argument(fmt::format("law {} takes {} parameters, got {}", info.name,
                                            info.params.size(), natural.size()));
  }
  std::vector<double> out(natural.size());
  for (size_t i = 0; i < natural.size(); ++i) {
    if (info.log_params[i] && !(natural[i] > 0)) {
      throw std::invalid_argument(fmt::format("law {}: parameter {} = {} must be > 0", info.name,
                                              info.params[i], natural[i]));
    }
    out[i] = info.log_params[i] ? std::log(natural[i]) : natural[i];
  }
  return out;
}

PreparedPoint prepare(const LossPoint& p) {
  PreparedPoint x;
  x.log_n = p.n > 0 ? std::log(p.n) : 0.0;
  x.log_d = p.d > 0 ? std::log(p.d) : 0.0;
  x.log_1ms = std::log1p(-p.s);
  x.expert_share = p.r / (p.r + 1.0);
  x.log_loss = std::log(p.loss);
  return x;
}

double predict(LossLaw law, const std::vector<double>& raw, const LossPoint& point) {
  double log_hat = 0;
  if (!log_predict(law, raw.data(), prepare(point), &log_hat)) return std::nan("");
  return std::exp(log_hat);
}

}  // namespace moe::scaling
