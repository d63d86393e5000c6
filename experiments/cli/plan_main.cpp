// moescale plan: (compute, sparsity, ratio, label) -> architecture and tokens.
#include <fmt/format.h>

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "experiments/cli/cli.h"
#include "experiments/cli/plan_options.h"
#include "experiments/sweep.h"
#include "moe/memory.h"
#include "moe/settings.h"
#include "moe/triad.h"

namespace {

namespace po = boost::program_options;

// "2.672e8,2.45e7,4.9e8" -> the triad.
moe::Triad parse_triad(const std::string& text) {
  const auto v =
      moe::cli::comma_numbers("--triad", text, 3, "three numbers M,N_a,N", "2.67e8,2.45e7,4.9e8");
  return {v[0], v[1], v[2]};
}

// The shape flags of --triad and --holistic, with the paper's defaults.
moe::TriadShape triad_shape(const po::variables_map& vm, int64_t& vocab) {
  moe::TriadShape shape;
  auto take = [&](const char* key, int64_t& field) {
    if (vm.count(key))
      field = moe::parse_setting_value<int64_t>(std::string("--") + key, vm[key].as<std::string>());
  };
  take("heads", shape.n_heads);
  take("kv-heads", shape.n_kv_heads);
  take("head-dim", shape.head_dim);
  take("experts", shape.n_experts);
  take("top-k", shape.top_k);
  take("shared", shape.n_shared);
  take("context", shape.context);
  take("dense-factor", shape.dense_factor);
  take("width-multiple", shape.width_multiple);
  vocab = 152064;  // the paper's
  take("vocab", vocab);
  return shape;
}

void print_arch(const moe::TriadArch& a, const moe::Triad& target, bool d_given) {
  const moe::TriadShape& shape = a.shape;
  auto row = [](const std::string& k, const std::string& v) {
    std::cout << fmt::format("  {:<22} {}\n", k, v);
  };
  row("d_model", fmt::format("{} (feasible {:.0f}..{:.0f} at {} layers{})", a.d_model, a.d_low,
                             a.d_high, a.n_layers, d_given ? "" : "; default: near the middle"));
  row("layers",
      fmt::format("{} = {} dense + {} MoE", a.n_layers, a.n_dense_layers, a.n_moe_layers()));
  row("attention",
      fmt::format("{} heads x {} (kv heads {})", shape.n_heads, shape.head_dim, shape.n_kv_heads));
  row("dense FFN width", fmt::format("{} ({} d)", a.d_dense, shape.dense_factor));
  row("experts", fmt::format("{} routed + {} shared, top-{}, width {}", shape.n_experts,
                             shape.n_shared, shape.top_k, a.d_expert));
  row("context", std::to_string(shape.context));
  row("achieved", moe::describe_triad(moe::count_triad(a), target));
}

nlohmann::json arch_json(const moe::TriadArch& a, const moe::Triad& target, int64_t vocab) {
  const moe::Triad got = moe::count_triad(a);
  return {
      {"d_model", a.d_model},
      {"n_layers", a.n_layers},
      {"n_dense_layers", a.n_dense_layers},
      {"d_expert", a.d_expert},
      {"d_dense", a.d_dense},
      {"n_heads", a.shape.n_heads},
      {"n_kv_heads", a.shape.n_kv_heads},
      {"head_dim", a.shape.head_dim},
      {"n_experts", a.shape.n_experts},
      {"top_k", a.shape.top_k},
      {"n_shared_experts", a.shape.n_shared},
      {"context", a.shape.context},
      {"target", {{"M", target.M}, {"N_a", target.N_a}, {"N", target.N}}},
      {"achieved", {{"M", got.M}, {"N_a", got.N_a}, {"N", got.N}}},
      {"feasible_d", {a.d_low, a.d_high}},
      {"model", moe::triad_model(a, vocab)},
  };
}

// --triad: paper 2's architecture for (M, N_a, N).
int plan_triad(const po::variables_map& vm) {
  const moe::Triad target = parse_triad(vm["triad"].as<std::string>());
  int64_t vocab = 0;
  const moe::TriadShape shape = triad_shape(vm, vocab);
  std::optional<int64_t> d;
  if (vm.count("d-model")) {
    d = moe::parse_setting_value<int64_t>("--d-model", vm["d-model"].as<std::string>());
  }
  const moe::TriadArch a = moe::solve_triad(target, shape, d);
  if (vm["json"].as<bool>()) {
    std::cout << arch_json(a, target, vocab).dump(2) << "\n";
    return 0;
  }
  std::cout << fmt::format(
      "triad plan (paper 2's App. A): M {:.4g}, N_a {:.4g}, N {:.4g} (M/N_a {:.3g}, N/N_a "
      "{:.3g})\n",
      target.M, target.N_a, target.N, target.M / target.N_a, target.N / target.N_a);
  print_arch(a, target, d.has_value());
  return 0;
}

// --holistic C: paper 2 end to end, from its laws (or the ones given).
int plan_holistic(const po::variables_map& vm) {
  const double compute =
      moe::parse_setting_value<double>("--holistic", vm["holistic"].as<std::string>());
  moe::HolisticLaws laws;
  if (vm.count("m-law")) laws.m = moe::parse_compute_law("--m-law", vm["m-law"].as<std::string>());
  if (vm.count("m-over-na-law")) {
    laws.m_over_na =
        moe::parse_compute_law("--m-over-na-law", vm["m-over-na-law"].as<std::string>());
  }
  if (vm.count("n-over-na")) {
    laws.n_over_na =
        moe::parse_setting_value<double>("--n-over-na", vm["n-over-na"].as<std::string>());
  }
  if (vm.count("d-law")) laws.d = moe::parse_compute_law("--d-law", vm["d-law"].as<std::string>());
  int64_t vocab = 0;
  const moe::TriadShape shape = triad_shape(vm, vocab);
  const moe::HolisticPlan p = moe::plan_holistic(compute, laws, shape);
  if (vm["json"].as<bool>()) {
    nlohmann::json j = arch_json(p.arch, p.target, vocab);
    j["compute"] = p.compute;
    j["tokens"] = p.tokens;
    j["laws"] = {{"M", {laws.m.k, laws.m.a}},
                 {"M_over_N_a", {laws.m_over_na.k, laws.m_over_na.a}},
                 {"N_over_N_a", laws.n_over_na}};
    if (laws.d) j["laws"]["d"] = {laws.d->k, laws.d->a};
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::cout << fmt::format(
      "holistic plan (paper 2): C {:.4g} -> M {:.4g} FLOPs/token ({:g} C^{:g}), D {:.4g} tokens; "
      "M/N_a {:.3g} ({:g} C^{:g}) -> N_a {:.4g}; N/N_a {:g} -> N {:.4g}\n",
      compute, p.target.M, laws.m.k, laws.m.a, p.tokens, p.target.M / p.target.N_a,
      laws.m_over_na.k, laws.m_over_na.a, p.target.N_a, laws.n_over_na, p.target.N);
  print_arch(p.arch, p.target, laws.d.has_value());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return moe::cli::run_main("plan", [&] {
    po::options_description o = moe::cli::setting_options(/*plan_command=*/true);
    o.add_options()("json", po::bool_switch(), "print JSON instead of the table")(
        "grid", po::value<std::string>(), "plan every run of a sweep grid file instead");
    po::options_description triad("paper 2 (--triad, --holistic)");
    triad.add_options()("triad", po::value<std::string>(),
                        "solve the architecture for M (training FLOPs/token), N_a and N "
                        "(active and total non-embedding params)")(
        "heads", po::value<std::string>(), "query heads N_q (default 8)")(
        "head-dim", po::value<std::string>(), "head width d_qkv (default 64)")(
        "dense-factor", po::value<std::string>(), "dense FFN width / d (default 3)")(
        "holistic", po::value<std::string>(),
        "plan compute C end to end: M and D from --m-law (default the paper's), N_a from "
        "--m-over-na-law, N from "
        "--n-over-na (default 20: flat over 18..25 in the paper), d from --d-law (default: near "
        "the middle of its interval)")(
        "m-over-na-law", po::value<std::string>(),
        "K,A: M/N_a = K C^A (default 83.43,-0.04983: fitted to the paper's Phase 1 optima)")(
        "d-law", po::value<std::string>(), "K,A: d = K C^A (default: none, the proxy)");
    o.add(triad);
    po::variables_map vm;
    if (!moe::cli::parse(
            argc, argv,
            "moescale plan --compute C [--ratio R] [--label L] [...] | moescale plan --grid FILE "
            "| moescale plan --triad M,N_a,N [--heads H --head-dim D ...] | moescale plan "
            "--holistic C [...]",
            "Chooses d_model, head_dim and d_expert so that the label's per-token "
            "FLOPs are held (or its active\nparameters, --hold active) and expert/"
            "attention FLOPs equal --ratio; prints the shape, FLOPs,\nparameters "
            "and the tokens D = C / training FLOPs per token.\n\n"
            "Paper 2: --triad M,N_a,N solves layers, d and expert width for a triad (--m-over-na "
            "and --n-over-na\ndo it at the label's FLOPs); --holistic C plans end to end from "
            "its laws. There --kv-heads\n--experts --top-k --shared --context --d-model "
            "--width-multiple --vocab default to the paper's 4,\n288, 8, 1, 8192, the middle of "
            "d's interval, 8, 152064.",
            o, vm)) {
      return 0;
    }
    if (vm.count("triad")) return plan_triad(vm);
    if (vm.count("holistic")) return plan_holistic(vm);
    if (vm.count("grid")) {
      const auto runs =
          moe::experiments::expand(moe::experiments::load_grid(vm["grid"].as<std::string>()));
      if (vm["json"].as<bool>()) {
        nlohmann::json all = nlohmann::json::array();
        for (const auto& r : runs) {
          nlohmann::json j = moe::plan_to_json(r.plan);
          j["memory"] = moe::to_json(moe::memory_report(r.config));
          j["run_id"] = r.id;
          j["seed"] = r.config.seed;
          all.push_back(j);
        }
        std::cout << all.dump(2) << "\n";
      } else {
        std::cout << moe::experiments::format_runs(runs);
      }
      return 0;
    }
    moe::cli::require(vm, "compute", "give the total training FLOPs, e.g. --compute 1e15");
    moe::RunSettings settings;
    moe::cli::apply_settings(vm, /*plan_command=*/true, settings);
    const moe::Plan plan = moe::make_plan(settings.plan);
    const moe::TrainConfig run = moe::train_config_for(plan, settings);
    const moe::MemoryReport memory = moe::memory_report(run);
    if (vm["json"].as<bool>()) {
      nlohmann::json j = moe::plan_to_json(plan);
      j["memory"] = moe::to_json(memory);
      std::cout << j.dump(2) << "\n";
    } else {
      std::cout << moe::cli::format_plan(plan) << moe::format_memory(memory, plan.model);
    }
    return 0;
  });
}
