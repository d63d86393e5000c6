#include "moe/planner.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>
#include <stdexcept>

#include "moe/triad.h"

namespace moe {

const std::vector<SizeLabel>& size_labels() {
  // Paper 1's table gives layers, heads, batch (sequences of 4096) and LR for 20M..200M.
  static const std::vector<SizeLabel> labels = {
      {"tiny", 2, 4, 128, 128, 16, 3e-3},
      {"100K", 2, 2, 64, 256, 16, 3e-3},
      {"1M", 4, 4, 160, 256, 16, 2e-3},
      {"2M", 4, 4, 224, 256, 16, 2e-3},
      {"5M", 6, 6, 288, 256, 32, 1.5e-3},
      {"10M", 8, 8, 384, 256, 32, 1.5e-3},
      {"20M", 8, 8, 256, 4096, 96, 1.5e-3},
      {"30M", 8, 8, 352, 4096, 160, 1.3e-3},
      {"55M", 10, 10, 480, 4096, 224, 1.1e-3},
      {"100M", 14, 12, 576, 4096, 320, 9e-4},
      {"200M", 16, 16, 832, 4096, 512, 8e-4},
      // Paper 2's Table 4: N_q x d_qkv, N_kv = N_q / 2, context 8192, batch, LR.
      {"p2-1e18", 9, 4, 256, 8192, 64, 1.2e-3, 2},
      {"p2-3e18", 10, 8, 512, 8192, 80, 1e-3, 4},
      {"p2-1e19", 11, 8, 512, 8192, 128, 8.28e-4, 4},
      {"p2-3e19", 12, 8, 1024, 8192, 160, 6.95e-4, 4},
      {"p2-1e20", 14, 8, 1024, 8192, 208, 5.74e-4, 4},
      {"p2-3e20", 16, 16, 2048, 8192, 288, 4.82e-4, 8},
  };
  return labels;
}

const SizeLabel& find_label(const std::string& name) {
  std::string known;
  for (const auto& l : size_labels()) {
    if (l.name == name) return l;
    known += (known.empty() ? "" : ", ") + l.name;
  }
  throw std::invalid_argument(
      fmt::format("--label {} is unknown: use one of {}", name.empty() ? "''" : name, known));
}

std::string to_string(Hold h) { return h == Hold::kFlops ? "flops" : "active"; }
Hold parse_hold(const std::string& s) {
  if (s == "flops") return Hold::kFlops;
  if (s == "active") return Hold::kActive;
  throw std::invalid_argument("--hold " + s + " is unknown: use flops or active");
}
std::string to_string(ContextConvention c) {
  return c == ContextConvention::kFull ? "full" : "causal";
}
ContextConvention parse_convention(const std::string& s) {
  if (s == "full") return ContextConvention::kFull;
  if (s == "causal") return ContextConvention::kCausal;
  throw std::invalid_argument("--convention " + s + " is unknown: use full or causal");
}

namespace {

void check(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument(message);
}

// The rounding unit of a width: the largest power of two <= 64 that is at most x/64, or
// min_multiple when that is larger (the larger, if neither divides the other, is the rounding
// unit that both would not give: then it is their least common multiple).
int64_t width_multiple(double x, int64_t min_multiple) {
  int64_t m = 64;
  while (m > 1 && static_cast<double>(m) * 64.0 > x) m /= 2;
  return m >= min_multiple ? std::lcm(m, min_multiple) : min_multiple;
}

// Rounds a width to its unit; 0 for widths under half a unit. The request's limits keep widths
// below 2^31 (kMaxPlanValue); a larger one is refused rather than converted out of range.
int64_t round_width(double x, int64_t min_multiple) {
  if (!(x >= 0.5)) return 0;
  check(x <= static_cast<double>(kMaxPlanValue),
        fmt::format("a width of {:.3g} is more than 2^31 - 1; use a smaller shape", x));
  const int64_t m = width_multiple(x, min_multiple);
  return std::max<int64_t>(m, std::llround(x / static_cast<double>(m)) * m);
}

// C_A, C_E and parameters are affine in head_dim and d_expert; these are their coefficients,
// measured through the accounting functions themselves so the planner cannot disagree with them.
struct Coefficients {
  double attn_flops_per_hd;   // C_A per unit head_dim (all layers)
  double expert_flops_fixed;  // router FLOPs
  double expert_flops_per_f;  // C_E per unit d_expert
  double attn_params_per_hd;
  double expert_params_fixed;  // router + norms
  double expert_params_per_f;  // active expert params per unit d_expert
};

Coefficients coefficients(ModelConfig c, ContextConvention conv) {
  Coefficients k{};
  c.head_dim = 1;
  c.d_expert = 0;
  const FlopsPerToken f0 = flops_per_token(c, conv);
  const ParamCounts p0 = count_params(c);
  c.d_expert = 1;
  const FlopsPerToken f1 = flops_per_token(c, conv);
  const ParamCounts p1 = count_params(c);
  k.attn_flops_per_hd = f0.attention();
  k.expert_flops_fixed = f0.expert();
  k.expert_flops_per_f = f1.expert() - f0.expert();
  k.attn_params_per_hd = static_cast<double>(p0.attention);
  k.expert_params_fixed = static_cast<double>(p0.router + p0.norms);
  k.expert_params_per_f = static_cast<double>(p1.experts_active - p0.experts_active);
  return k;
}

// Counts and widths given to the planner: at most kMaxPlanValue, so that sums and products of
// two of them fit in int64.
void check_at_most(int64_t value, const char* flag) {
  check(value <= kMaxPlanValue,
        fmt::format("--{} {} is too large: at most 2^31 - 1 = {}", flag, value, kMaxPlanValue));
}

// Solves d_expert for C_E = r * C_A_achieved once head_dim is fixed.
int64_t solve_d_expert(const PlanRequest& req, const Coefficients& k, int64_t head_dim) {
  const double c_a = k.attn_flops_per_hd * static_cast<double>(head_dim);
  const double f = (req.ratio * c_a - k.expert_flops_fixed) / k.expert_flops_per_f;
  const int64_t d_expert = round_width(f, req.width_multiple);
  check(d_expert > 0,
        fmt::format("--ratio {} is too small for this shape: the router alone costs {:.3g} "
                    "FLOPs/token, r = {:.3g}; raise --ratio or use fewer --experts",
                    req.ratio, k.expert_flops_fixed, k.expert_flops_fixed / c_a));
  return d_expert;
}

// Flags every plan needs, checked before any shape is derived from them.
void check_request(const PlanRequest& req) {
  check(std::isfinite(req.compute) && req.compute > 0,
        fmt::format("--compute {} must be a positive number of training FLOPs, e.g. 1e15",
                    req.compute));
  check(std::isfinite(req.ratio) && req.ratio > 0,
        fmt::format("--ratio {} must be > 0: it is expert FLOPs / attention FLOPs, e.g. 0.5",
                    req.ratio));
  check(req.top_k >= 1, fmt::format("--top-k {} must be >= 1", req.top_k));
  check(req.n_shared_experts >= 0, fmt::format("--shared {} must be >= 0", req.n_shared_experts));
  check(req.vocab_size > 0, fmt::format("--vocab {} must be > 0", req.vocab_size));
  check(req.width_multiple >= 1 && req.width_multiple <= 1024,
        fmt::format("--width-multiple {} must be in 1..1024, e.g. 8", req.width_multiple));
  check(req.head_dim_multiple >= 0 && req.head_dim_multiple <= 1024,
        fmt::format("--head-dim-multiple {} must be in 1..1024, e.g. 64 (0: --width-multiple)",
                    req.head_dim_multiple));
  check_at_most(req.top_k, "top-k");
  check_at_most(req.n_shared_experts, "shared");
  check_at_most(req.vocab_size, "vocab");
  if (req.n_experts) check_at_most(*req.n_experts, "experts");
  if (req.context) check_at_most(*req.context, "context");
  if (req.d_model) check_at_most(*req.d_model, "d-model");
  const bool triad = req.m_over_na || req.n_over_na;
  check(triad || (!req.m_law && !req.d_position),
        "--m-law and --d-position plan paper 2's triads: give --m-over-na and --n-over-na too");
  check(!(req.d_position && req.d_model), "give --d-model or --d-position, not both");
  if (req.d_position) {
    check(*req.d_position >= 0 && *req.d_position <= 1,
          fmt::format("--d-position {:g} must be between 0 and 1 (a fraction of d's feasible "
                      "interval)",
                      *req.d_position));
  }
  if (req.n_kv_heads) check_at_most(*req.n_kv_heads, "kv-heads");
}

// Routed experts: --experts, or from the sparsity S = (E - E_act) / E, E counting shared experts.
int64_t routed_experts(const PlanRequest& req) {
  int64_t n_experts = req.n_experts.value_or(16);
  if (req.sparsity) {
    const double s = *req.sparsity;
    check(std::isfinite(s) && s > 0 && s < 1,
          fmt::format("--sparsity {} must lie in (0, 1), e.g. 0.8235 for 17 experts", s));
    const double active = static_cast<double>(req.top_k + req.n_shared_experts);
    check(active / (1 - s) <= static_cast<double>(kMaxPlanValue),
          fmt::format("--sparsity {} with {} active experts needs {:.3g} experts in all, more "
                      "than 2^31 - 1; lower --sparsity",
                      s, active, active / (1 - s)));
    const int64_t total = std::llround(active / (1 - s));
    const double achieved = (static_cast<double>(total) - active) / static_cast<double>(total);
    check(std::fabs(achieved - s) <= 0.005,
          fmt::format("--sparsity {} is not reachable with {} active experts (top-k {} + {} "
                      "shared); the nearest is {:.4f} with {} experts in all",
                      s, active, req.top_k, req.n_shared_experts, achieved, total));
    const int64_t routed = total - req.n_shared_experts;
    check(!req.n_experts || *req.n_experts == routed,
          fmt::format("--experts {} contradicts --sparsity {} (which needs {} routed experts); "
                      "give one of them",
                      *req.n_experts, s, routed));
    n_experts = routed;
  }
  check(n_experts >= 1, fmt::format("--experts {} must be >= 1", n_experts));
  check(req.top_k <= n_experts,
        fmt::format("--top-k {} exceeds the {} routed experts: lower --top-k or raise --experts",
                    req.top_k, n_experts));
  return n_experts;
}

// The label's shape with the request's overrides; head_dim and d_expert are still to be chosen.
ModelConfig base_shape(const PlanRequest& req, const SizeLabel& label, int64_t n_experts) {
  ModelConfig c = req.base;
  c.vocab_size = req.vocab_size;
  c.context = req.context.value_or(label.context);
  c.d_model = req.d_model.value_or(label.d_model);
  c.n_layers = label.n_layers;
  c.n_heads = label.n_heads;
  c.n_kv_heads = req.n_kv_heads.value_or(label.n_kv_heads > 0 ? label.n_kv_heads : label.n_heads);
  c.n_experts = n_experts;
  c.top_k = req.top_k;
  // With one routed expert there is nothing to renormalise: the gate is the router's probability.
  if (c.top_k == 1) c.renormalize_gates = false;
  c.n_shared_experts = req.n_shared_experts;
  check(c.context > 0, fmt::format("--context {} must be > 0", c.context));
  check(c.d_model > 0, fmt::format("--d-model {} must be > 0", c.d_model));
  check(c.n_kv_heads > 0 && c.n_heads % c.n_kv_heads == 0,
        fmt::format("--kv-heads {} must divide the label's {} heads", c.n_kv_heads, c.n_heads));
  return c;
}

// Chooses head_dim and d_expert for the request's r, holding the label's forward FLOPs or its
// active parameters; fills plan.target_forward_flops and plan.target_active_params.
void choose_widths(const PlanRequest& req, ModelConfig& c, Plan& plan) {
  const SizeLabel& label = plan.label;
  const bool rotary = c.positions == PositionEncoding::kRotary;
  const int64_t hd_multiple =
      std::lcm(req.head_dim_multiple > 0 ? req.head_dim_multiple : req.width_multiple,
               int64_t{rotary ? 2 : 1});
  const Coefficients k = coefficients(c, req.convention);

  // The label's budget: its reference shape (head_dim = d_model / n_heads) at r = 1.
  const double ref_hd = static_cast<double>(c.d_model) / static_cast<double>(c.n_heads);
  plan.target_forward_flops = 2.0 * k.attn_flops_per_hd * ref_hd;

  auto head_dim_for_flops = [&](double ratio) {
    return round_width(plan.target_forward_flops / (1.0 + ratio) / k.attn_flops_per_hd,
                       hd_multiple);
  };
  {
    // Active params of the label at r = 1 (the value hold = active keeps).
    PlanRequest ref = req;
    ref.ratio = 1.0;
    ModelConfig r1 = c;
    r1.head_dim = head_dim_for_flops(1.0);
    r1.d_expert = solve_d_expert(ref, k, r1.head_dim);
    plan.target_active_params = count_params(r1).active_nonembedding();
  }

  double hd_exact = 0;
  if (req.hold == Hold::kFlops) {
    hd_exact = plan.target_forward_flops / (1.0 + req.ratio) / k.attn_flops_per_hd;
  } else {
    // See planner.h: N_a' = p*hd + q*F and r*a*hd = R_flops + e*F, solved for hd.
    const double n_free = static_cast<double>(plan.target_active_params) - k.expert_params_fixed;
    const double q_over_e = k.expert_params_per_f / k.expert_flops_per_f;
    hd_exact = (n_free + q_over_e * k.expert_flops_fixed) /
               (k.attn_params_per_hd + q_over_e * req.ratio * k.attn_flops_per_hd);
  }
  const int64_t head_dim = round_width(hd_exact, hd_multiple);
  check(head_dim > 0, fmt::format("--ratio {} leaves no attention width for label {}: lower "
                                  "--ratio or use a larger --label",
                                  req.ratio, label.name));
  // Rounding head_dim moves what is held; of the neighbouring multiples keep the one whose
  // (r, held quantity) pair, over neighbouring d_expert too, is closest to the request.
  const int64_t step = width_multiple(hd_exact, hd_multiple);
  double best_error = 1e300;
  for (int64_t hd : {head_dim - step, head_dim, head_dim + step}) {
    if (hd <= 0) continue;
    const int64_t f0 = solve_d_expert(req, k, hd);
    const int64_t f_step = width_multiple(static_cast<double>(f0), req.width_multiple);
    for (int64_t f : {f0 - f_step, f0, f0 + f_step}) {
      if (f <= 0) continue;
      ModelConfig trial = c;
      trial.head_dim = hd;
      trial.d_expert = f;
      const FlopsPerToken flops = flops_per_token(trial, req.convention);
      const double held = req.hold == Hold::kFlops
                              ? flops.forward() / plan.target_forward_flops
                              : static_cast<double>(count_params(trial).active_nonembedding()) /
                                    static_cast<double>(plan.target_active_params);
      const double error = std::max(std::fabs(flops.ratio() / req.ratio - 1), std::fabs(held - 1));
      if (error < best_error) {
        best_error = error;
        c.head_dim = hd;
        c.d_expert = f;
      }
    }
  }
}

// The triad's d: --d-model, or the --d-position fraction of its feasible interval on the width
// multiple, or none (the solver's proxy).
std::optional<int64_t> triad_d(const PlanRequest& req, const Triad& target,
                               const TriadShape& shape) {
  if (!req.d_position) return req.d_model;
  const FeasibleD f = feasible_d(target, shape);
  const double m = static_cast<double>(shape.width_multiple);
  double lo = std::ceil(f.low / m) * m, hi = std::floor(f.high / m) * m;
  // A point (one layer) or an interval narrower than the multiple: its nearest multiple.
  if (lo > hi) lo = hi = std::max(m, std::round((f.low + f.high) / 2 / m) * m);
  const double at = std::round((f.low + *req.d_position * (f.high - f.low)) / m) * m;
  return static_cast<int64_t>(std::clamp(at, lo, hi));
}

// The label's head width first; where integer layers miss the triad by more than the paper's
// 5% (small models: one layer's context FLOPs are a large share of M), the nearest head width
// within 25% that meets it. Throws the label's width's reason when none does.
TriadArch solve_near_head_width(const PlanRequest& req, const Triad& target, TriadShape shape) {
  const int64_t step = std::lcm(req.width_multiple, int64_t{2});  // even: rotary positions
  std::vector<int64_t> widths = {shape.head_dim};
  for (int64_t off = step; static_cast<double>(off) <= 0.25 * static_cast<double>(shape.head_dim);
       off += step) {
    widths.push_back(shape.head_dim - off);
    widths.push_back(shape.head_dim + off);
  }
  std::string first_error;
  for (int64_t hd : widths) {
    if (hd < step) continue;
    shape.head_dim = hd;
    try {
      return solve_triad(target, shape, triad_d(req, target, shape));
    } catch (const std::invalid_argument& e) {
      if (first_error.empty()) first_error = e.what();
    }
  }
  throw std::invalid_argument(first_error);
}

// Paper 2's architecture for the triad the request names at the label's FLOPs budget.
void choose_triad(const PlanRequest& req, ModelConfig& c, Plan& plan) {
  check(req.m_over_na && req.n_over_na,
        "--m-over-na and --n-over-na go together: paper 2's triad needs both ratios");
  check(std::isfinite(*req.m_over_na) && *req.m_over_na > 6,
        fmt::format("--m-over-na {} must exceed 6 (M = 6 N_a + the attention context term)",
                    *req.m_over_na));
  check(std::isfinite(*req.n_over_na) && *req.n_over_na > 1,
        fmt::format("--n-over-na {} must exceed 1 (N adds the routed experts a token skips)",
                    *req.n_over_na));
  // The label's budget at its own d_model (the request's --d-model is the triad's d here).
  ModelConfig reference = c;
  reference.d_model = plan.label.d_model;
  const Coefficients k = coefficients(reference, req.convention);
  const double ref_hd =
      static_cast<double>(plan.label.d_model) / static_cast<double>(plan.label.n_heads);
  plan.target_forward_flops = 2.0 * k.attn_flops_per_hd * ref_hd;
  TriadShape shape;
  shape.n_heads = c.n_heads;
  shape.n_kv_heads = c.n_kv_heads;
  shape.head_dim = round_width(ref_hd, std::lcm(req.width_multiple, int64_t{2}));
  shape.n_experts = c.n_experts;
  shape.top_k = c.top_k;
  shape.n_shared = c.n_shared_experts;
  shape.context = c.context;
  shape.width_multiple = req.width_multiple;
  Triad target;
  target.M = req.m_law ? req.m_law->at(req.compute) : 3 * plan.target_forward_flops;
  check(std::isfinite(target.M) && target.M > 0,
        fmt::format("--m-law {:g},{:g} gives M = {:g} at --compute {:g}; it must be > 0",
                    req.m_law ? req.m_law->k : 0, req.m_law ? req.m_law->a : 0, target.M,
                    req.compute));
  target.N_a = target.M / *req.m_over_na;
  target.N = target.N_a * *req.n_over_na;
  const TriadArch a = solve_near_head_width(req, target, shape);
  const ModelConfig solved = triad_model(a, c.vocab_size);
  for (auto field : {&ModelConfig::d_model, &ModelConfig::n_layers, &ModelConfig::n_dense_layers,
                     &ModelConfig::d_dense, &ModelConfig::head_dim, &ModelConfig::d_expert}) {
    c.*field = solved.*field;
  }
  plan.target_active_params = static_cast<int64_t>(std::llround(target.N_a));
  plan.triad_target = target;
}

// Tokens and steps that the budget buys with the chosen shape.
void fill_budget(const PlanRequest& req, Plan& plan) {
  const ModelConfig& c = plan.model;
  const SizeLabel& label = plan.label;
  plan.flops = flops_per_token(c, req.convention);
  plan.params = count_params(c);
  plan.tokens = req.compute / plan.flops.training();
  plan.batch_size = req.batch_size.value_or(label.batch_size);
  check(plan.batch_size > 0, fmt::format("--batch-size {} must be > 0", plan.batch_size));
  plan.lr = label.lr;
  // In double: the product of two int64 flags may not fit in int64.
  const double tokens_per_step =
      static_cast<double>(plan.batch_size) * static_cast<double>(c.context);
  check(plan.tokens <= 1e18,
        fmt::format("--compute {:.3g} buys {:.3g} tokens, more than a run can hold (1e18); lower "
                    "--compute",
                    req.compute, plan.tokens));
  plan.steps = static_cast<int64_t>(std::floor(plan.tokens / tokens_per_step));
  check(plan.steps >= 1,
        fmt::format("--compute {:.3g} buys {:.3g} tokens, less than one step of {} sequences x {} "
                    "tokens; raise --compute to at least {:.3g} or lower --batch-size",
                    req.compute, plan.tokens, plan.batch_size, c.context,
                    tokens_per_step * plan.flops.training()));
}

}  // namespace

Plan make_plan(const PlanRequest& req) {
  check_request(req);
  Plan plan;
  plan.request = req;
  plan.label = find_label(req.label);
  ModelConfig c = base_shape(req, plan.label, routed_experts(req));
  const bool triad = req.m_over_na || req.n_over_na;
  if (triad) {
    choose_triad(req, c, plan);
  } else {
    choose_widths(req, c, plan);
  }
  c.validate();
  plan.model = c;
  fill_budget(req, plan);
  if (triad) plan.request.ratio = plan.flops.ratio();  // what the architecture gives
  return plan;
}

nlohmann::json plan_to_json(const Plan& p) {
  const ModelConfig& c = p.model;
  return nlohmann::json{
      {"label", p.label.name},
      {"hold", to_string(p.request.hold)},
      {"convention", to_string(p.request.convention)},
      {"compute", p.request.compute},
      {"ratio_target", p.request.ratio},
      {"ratio", p.flops.ratio()},
      {"ratio_error", p.flops.ratio() / p.request.ratio - 1},
      {"width_multiple", p.request.width_multiple},
      {"head_dim_multiple", p.request.head_dim_multiple},
      {"sparsity", c.sparsity()},
      {"d_model", c.d_model},
      {"n_layers", c.n_layers},
      {"n_heads", c.n_heads},
      {"n_kv_heads", c.n_kv_heads},
      {"head_dim", c.head_dim},
      {"d_expert", c.d_expert},
      {"n_experts", c.n_experts},
      {"top_k", c.top_k},
      {"n_shared_experts", c.n_shared_experts},
      {"context", c.context},
      {"vocab_size", c.vocab_size},
      {"attn_flops_per_token", p.flops.attention()},
      {"expert_flops_per_token", p.flops.expert()},
      {"logits_flops_per_token", p.flops.logits},
      {"forward_flops_per_token", p.flops.forward()},
      {"target_forward_flops_per_token", p.target_forward_flops},
      {"flops_per_token", p.flops.training()},
      {"params_active", p.params.active_nonembedding()},
      {"params_total", p.params.total_nonembedding()},
      {"params_embedding", p.params.embedding + p.params.lm_head},
      {"params_numel", p.params.total()},
      {"target_params_active", p.target_active_params},
      {"triad",
       {{"M", p.flops.training_without_logits()},
        {"N_a", p.params.active_nonembedding()},
        {"N", p.params.total_nonembedding()}}},
      {"triad_target",
       p.triad_target ? nlohmann::json{{"M_over_N_a", *p.request.m_over_na},
                                       {"N_over_N_a", p.request.n_over_na.value_or(0)},
                                       {"M", p.triad_target->M},
                                       {"N_a", p.triad_target->N_a},
                                       {"N", p.triad_target->N},
                                       {"d_position", p.request.d_position
                                                          ? nlohmann::json(*p.request.d_position)
                                                          : nlohmann::json()}}
                      : nlohmann::json()},
      {"tokens", p.tokens},
      {"batch_size", p.batch_size},
      {"lr", p.lr},
      {"steps", p.steps},
      {"model", c},
  };
}

}  // namespace moe
