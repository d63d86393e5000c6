#include "experiments/cli/plan_options.h"

#include <fmt/format.h>

#include "experiments/cli/cli.h"

namespace moe::cli {

namespace po = boost::program_options;

namespace {

bool in_command(const Setting& s, bool plan_command) {
  return !plan_command || s.group != SettingGroup::kTrain || s.plan_reads;
}

}  // namespace

po::options_description setting_options(bool plan_command) {
  po::options_description plan("plan"), train("training"),
      memory("the memory estimate (training settings it reads)");
  const RunSettings defaults;
  for (const Setting& s : settings()) {
    if (!in_command(s, plan_command)) continue;
    const std::string shown = s.show(defaults);
    const std::string help = shown.empty() ? s.help : fmt::format("{} (default {})", s.help, shown);
    po::options_description& section = s.group != SettingGroup::kTrain ? plan
                                       : plan_command                  ? memory
                                                                       : train;
    if (s.is_switch) {
      section.add_options()(s.key.c_str(), po::bool_switch(), help.c_str());
    } else {
      section.add_options()(s.key.c_str(), po::value<std::string>(), help.c_str());
    }
  }
  if (plan_command) {
    plan.add(memory);
    return plan;
  }
  train.add(plan);
  return train;
}

void apply_settings(const po::variables_map& vm, bool plan_command, RunSettings& out) {
  for (const Setting& s : settings()) {
    if (!in_command(s, plan_command) || !vm.count(s.key)) continue;
    if (s.is_switch) {
      if (vm[s.key].as<bool>()) s.apply("--" + s.key, "true", out);
    } else {
      s.apply("--" + s.key, vm[s.key].as<std::string>(), out);
    }
  }
}

std::string given_plan_setting(const po::variables_map& vm) {
  for (const Setting& s : settings()) {
    if (s.group != SettingGroup::kPlan || !vm.count(s.key)) continue;
    if (!s.is_switch || vm[s.key].as<bool>()) return s.key;
  }
  return "";
}

std::string format_plan(const Plan& p) {
  const ModelConfig& c = p.model;
  std::string s;
  auto row = [&](const std::string& k, const std::string& v) {
    s += fmt::format("  {:<28} {}\n", k, v);
  };
  s += fmt::format("plan: label {}, C = {} training FLOPs, hold {}, {} context FLOPs\n",
                   p.label.name, sci(p.request.compute), to_string(p.request.hold),
                   to_string(p.request.convention));
  row("ratio r = C_E/C_A",
      fmt::format("{:.4f} (target {:.4f}, {:+.2f}%: widths are multiples of {}{})", p.flops.ratio(),
                  p.request.ratio, 100 * (p.flops.ratio() / p.request.ratio - 1),
                  p.request.width_multiple,
                  p.request.head_dim_multiple > 0
                      ? fmt::format(", head_dim of {}", p.request.head_dim_multiple)
                      : ""));
  row("sparsity S", fmt::format("{:.2f}% ({} routed + {} shared, top-{})", 100 * c.sparsity(),
                                c.n_experts, c.n_shared_experts, c.top_k));
  row("layers x d_model", fmt::format("{} x {}", c.n_layers, c.d_model));
  if (c.n_dense_layers > 0) {
    row("dense layers",
        fmt::format("the first {}, FFN width {}", c.n_dense_layers, c.dense_ffn_width()));
  }
  row("attention", fmt::format("{} heads x {} (kv heads {}), width {}", c.n_heads, c.head_dim,
                               c.n_kv_heads, c.n_heads * c.head_dim));
  row("d_expert", std::to_string(c.d_expert));
  row("context x vocab", fmt::format("{} x {}", c.context, c.vocab_size));
  row("C_A / token (fwd)", sci(p.flops.attention()));
  row("C_E / token (fwd)", sci(p.flops.expert()));
  if (p.triad_target) {  // a triad: its M is the budget, below
    row("C_A + C_E (fwd)", sci(p.flops.forward()));
  } else {
    row("C_A + C_E (fwd)", fmt::format("{} (label's budget {}, {:+.2f}%)", sci(p.flops.forward()),
                                       sci(p.target_forward_flops),
                                       100 * (p.flops.forward() / p.target_forward_flops - 1)));
  }
  row("logits / token (fwd)", sci(p.flops.logits));
  row("training FLOPs / token", sci(p.flops.training()));
  row("triad M, N_a, N", fmt::format("{}, {}, {}", sci(p.flops.training_without_logits()),
                                     sci(static_cast<double>(p.params.active_nonembedding())),
                                     sci(static_cast<double>(p.params.total_nonembedding()))));
  if (const auto& t = p.triad_target) {
    row("triad target", fmt::format("{}, {}, {} (M/N_a {:g}, N/N_a {:g}; M {})", sci(t->M),
                                    sci(t->N_a), sci(t->N), t->M / t->N_a, t->N / t->N_a,
                                    p.request.m_law ? "from --m-law" : "3x the label's budget"));
  }
  row("params incl. embeddings", sci(static_cast<double>(p.params.total())));
  row("tokens D", sci(p.tokens));
  row("batch x steps", fmt::format("{} seqs x {} steps (lr {})", p.batch_size, p.steps, p.lr));
  return s;
}

std::vector<double> comma_numbers(const std::string& flag, const std::string& text, size_t count,
                                  const std::string& what, const std::string& example) {
  const std::vector<std::string> items = split_commas(text);
  if (items.size() != count) {
    throw std::invalid_argument(
        fmt::format("{} '{}' must be {}, e.g. {} {}", flag, text, what, flag, example));
  }
  std::vector<double> out;
  for (const auto& item : items) out.push_back(parse_setting_value<double>(flag, item));
  return out;
}

}  // namespace moe::cli
