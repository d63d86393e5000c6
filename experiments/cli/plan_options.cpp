#include "experiments/cli/plan_options.h"

#include <fmt/format.h>

#include "experiments/cli/cli.h"

namespace moe::cli {

namespace po = boost::program_options;

po::options_description plan_options() {
  po::options_description o("plan");
  // clang-format off
  o.add_options()
      ("compute", po::value<double>(), "total training FLOPs C (e.g. 1e15)")
      ("ratio", po::value<double>()->default_value(1.0), "target r = expert FLOPs / attention FLOPs")
      ("label", po::value<std::string>()->default_value("1M"),
       "size label: 100K 1M 2M 5M 10M (CPU, context 256) or the paper's 20M 30M 55M 100M 200M")
      ("sparsity", po::value<double>(), "S = (E - E_act)/E, E counting shared experts; picks --experts")
      ("experts", po::value<int64_t>(), "routed experts per layer (default 16: S = 82.35% with k=2, s=1)")
      ("top-k", po::value<int64_t>()->default_value(2), "routed experts per token")
      ("shared", po::value<int64_t>()->default_value(1), "shared (always-on) experts per layer")
      ("context", po::value<int64_t>(), "tokens per sequence (default: the label's)")
      ("vocab", po::value<int64_t>()->default_value(8192), "vocabulary size (must cover the data)")
      ("d-model", po::value<int64_t>(), "residual width (default: the label's)")
      ("kv-heads", po::value<int64_t>(), "key/value heads for GQA (default: the label's heads)")
      ("batch-size", po::value<int64_t>(), "sequences per optimizer step (default: the label's)")
      ("width-multiple", po::value<int64_t>()->default_value(8),
       "head_dim and d_expert are multiples of this (8 suits GPU kernels; 1 tracks r most closely)")
      ("head-dim-multiple", po::value<int64_t>(), "head_dim is also a multiple of this, e.g. 64 (default: --width-multiple)")
      ("hold", po::value<std::string>()->default_value("flops"),
       "what stays fixed while r moves: flops (per-token FLOPs, paper 1) or active (N_a, paper 2)")
      ("convention", po::value<std::string>()->default_value("full"),
       "attention context FLOPs: full (paper 1, n_ctx keys) or causal ((n_ctx+1)/2 keys)")
      ("positions", po::value<std::string>()->default_value("rotary"), "rotary, learned or none")
      ("norm", po::value<std::string>()->default_value("rmsnorm"), "rmsnorm or layernorm")
      ("router-score", po::value<std::string>()->default_value("softmax"), "softmax or sigmoid")
      ("no-renormalize", po::bool_switch(), "do not renormalise the top-k gates to sum to 1")
      ("tie-embeddings", po::bool_switch(), "share the token embedding with the LM head")
      ("aux-loss", po::value<double>()->default_value(0.01), "load-balancing loss coefficient")
      ("z-loss", po::value<double>()->default_value(0.001), "router z-loss coefficient")
      ("dense-layers", po::value<int64_t>()->default_value(0),
       "the first N layers use a dense FFN of the same active width");
  // clang-format on
  return o;
}

PlanRequest plan_request_from(const po::variables_map& vm) {
  PlanRequest r;
  if (vm.count("compute")) r.compute = vm["compute"].as<double>();
  r.ratio = vm["ratio"].as<double>();
  r.label = vm["label"].as<std::string>();
  if (vm.count("sparsity")) r.sparsity = vm["sparsity"].as<double>();
  if (vm.count("experts")) r.n_experts = vm["experts"].as<int64_t>();
  r.top_k = vm["top-k"].as<int64_t>();
  r.n_shared_experts = vm["shared"].as<int64_t>();
  if (vm.count("context")) r.context = vm["context"].as<int64_t>();
  r.vocab_size = vm["vocab"].as<int64_t>();
  if (vm.count("d-model")) r.d_model = vm["d-model"].as<int64_t>();
  if (vm.count("kv-heads")) r.n_kv_heads = vm["kv-heads"].as<int64_t>();
  if (vm.count("batch-size")) r.batch_size = vm["batch-size"].as<int64_t>();
  r.width_multiple = vm["width-multiple"].as<int64_t>();
  if (vm.count("head-dim-multiple")) r.head_dim_multiple = vm["head-dim-multiple"].as<int64_t>();
  r.hold = parse_hold(vm["hold"].as<std::string>());
  r.convention = parse_convention(vm["convention"].as<std::string>());
  r.base.positions = parse_position_encoding(vm["positions"].as<std::string>());
  r.base.norm = parse_norm_kind(vm["norm"].as<std::string>());
  r.base.router_score = parse_router_score(vm["router-score"].as<std::string>());
  r.base.renormalize_gates = !vm["no-renormalize"].as<bool>();
  r.base.tie_embeddings = vm["tie-embeddings"].as<bool>();
  r.base.aux_loss_coef = vm["aux-loss"].as<double>();
  r.base.z_loss_coef = vm["z-loss"].as<double>();
  r.base.n_dense_layers = vm["dense-layers"].as<int64_t>();
  return r;
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
  row("attention", fmt::format("{} heads x {} (kv heads {}), width {}", c.n_heads, c.head_dim,
                               c.n_kv_heads, c.n_heads * c.head_dim));
  row("d_expert", std::to_string(c.d_expert));
  row("context x vocab", fmt::format("{} x {}", c.context, c.vocab_size));
  row("C_A / token (fwd)", sci(p.flops.attention()));
  row("C_E / token (fwd)", sci(p.flops.expert()));
  row("C_A + C_E (fwd)", fmt::format("{} (label's budget {}, {:+.2f}%)", sci(p.flops.forward()),
                                     sci(p.target_forward_flops),
                                     100 * (p.flops.forward() / p.target_forward_flops - 1)));
  row("logits / token (fwd)", sci(p.flops.logits));
  row("training FLOPs / token", sci(p.flops.training()));
  row("triad M, N_a, N", fmt::format("{}, {}, {}", sci(p.flops.training_without_logits()),
                                     sci(static_cast<double>(p.params.active_nonembedding())),
                                     sci(static_cast<double>(p.params.total_nonembedding()))));
  row("params incl. embeddings", sci(static_cast<double>(p.params.total())));
  row("tokens D", sci(p.tokens));
  row("batch x steps", fmt::format("{} seqs x {} steps (lr {})", p.batch_size, p.steps, p.lr));
  return s;
}

}  // namespace moe::cli
