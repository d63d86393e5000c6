// moescale plan: (compute, sparsity, ratio, label) -> architecture and tokens.
#include <fmt/format.h>

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "experiments/cli/cli.h"
#include "experiments/cli/plan_options.h"
#include "experiments/sweep.h"
#include "moe/settings.h"
#include "moe/triad.h"

namespace {

namespace po = boost::program_options;

// "2.672e8,2.45e7,4.9e8" -> the triad.
moe::Triad parse_triad(const std::string& text) {
  std::vector<double> v;
  std::string item;
  for (char ch : text + ",") {
    if (ch != ',') {
      item += ch;
      continue;
    }
    v.push_back(moe::parse_setting_value<double>("--triad", item));
    item.clear();
  }
  if (v.size() != 3) {
    throw std::invalid_argument(
        "--triad '" + text + "' must be three numbers M,N_a,N, e.g. --triad 2.67e8,2.45e7,4.9e8");
  }
  return {v[0], v[1], v[2]};
}

// --triad: paper 2's architecture for (M, N_a, N); the shape flags default to the paper's.
int plan_triad(const po::variables_map& vm) {
  const moe::Triad target = parse_triad(vm["triad"].as<std::string>());
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
  int64_t vocab = 152064;  // the paper's
  take("vocab", vocab);
  std::optional<int64_t> d;
  if (vm.count("d-model")) {
    d = moe::parse_setting_value<int64_t>("--d-model", vm["d-model"].as<std::string>());
  }
  const moe::TriadArch a = moe::solve_triad(target, shape, d);
  const moe::Triad got = moe::count_triad(a);
  if (vm["json"].as<bool>()) {
    const nlohmann::json j = {
        {"d_model", a.d_model},
        {"n_layers", a.n_layers},
        {"n_dense_layers", a.n_dense_layers},
        {"d_expert", a.d_expert},
        {"d_dense", a.d_dense},
        {"n_heads", shape.n_heads},
        {"n_kv_heads", shape.n_kv_heads},
        {"head_dim", shape.head_dim},
        {"n_experts", shape.n_experts},
        {"top_k", shape.top_k},
        {"n_shared_experts", shape.n_shared},
        {"context", shape.context},
        {"target", {{"M", target.M}, {"N_a", target.N_a}, {"N", target.N}}},
        {"achieved", {{"M", got.M}, {"N_a", got.N_a}, {"N", got.N}}},
        {"feasible_d", {a.d_low, a.d_high}},
        {"model", moe::triad_model(a, vocab)},
    };
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::cout << fmt::format(
      "triad plan (paper 2's App. A): M {:.4g}, N_a {:.4g}, N {:.4g} (M/N_a {:.3g}, N/N_a "
      "{:.3g})\n",
      target.M, target.N_a, target.N, target.M / target.N_a, target.N / target.N_a);
  auto row = [](const std::string& k, const std::string& v) {
    std::cout << fmt::format("  {:<22} {}\n", k, v);
  };
  row("d_model", fmt::format("{} (feasible {:.0f}..{:.0f} at {} layers{})", a.d_model, a.d_low,
                             a.d_high, a.n_layers, d ? "" : "; default: near the middle"));
  row("layers",
      fmt::format("{} = {} dense + {} MoE", a.n_layers, a.n_dense_layers, a.n_moe_layers()));
  row("attention",
      fmt::format("{} heads x {} (kv heads {})", shape.n_heads, shape.head_dim, shape.n_kv_heads));
  row("dense FFN width", fmt::format("{} ({} d)", a.d_dense, shape.dense_factor));
  row("experts", fmt::format("{} routed + {} shared, top-{}, width {}", shape.n_experts,
                             shape.n_shared, shape.top_k, a.d_expert));
  row("context", std::to_string(shape.context));
  row("achieved", moe::describe_triad(got, target));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return moe::cli::run_main("plan", [&] {
    po::options_description o = moe::cli::setting_options(/*plan_command=*/true);
    o.add_options()("json", po::bool_switch(), "print JSON instead of the table")(
        "grid", po::value<std::string>(), "plan every run of a sweep grid file instead");
    po::options_description triad(
        "triad (paper 2: --triad M,N_a,N; the flags --kv-heads "
        "--experts --top-k --shared --context --d-model "
        "--width-multiple apply too, with the paper's defaults 4, "
        "288, 8, 1, 8192, the middle of d's interval, 8)");
    triad.add_options()("triad", po::value<std::string>(),
                        "solve the architecture for M (training FLOPs/token), N_a and N "
                        "(active and total non-embedding params)")(
        "heads", po::value<std::string>(), "query heads N_q (default 8)")(
        "head-dim", po::value<std::string>(), "head width d_qkv (default 64)")(
        "dense-factor", po::value<std::string>(), "dense FFN width / d (default 3)");
    o.add(triad);
    po::variables_map vm;
    if (!moe::cli::parse(
            argc, argv,
            "moescale plan --compute C [--ratio R] [--label L] [...] | moescale plan --grid FILE "
            "| moescale plan --triad M,N_a,N [--heads H --head-dim D ...]",
            "Chooses d_model, head_dim and d_expert so that the label's per-token "
            "FLOPs are held (or its active\nparameters, --hold active) and expert/"
            "attention FLOPs equal --ratio; prints the shape, FLOPs,\nparameters "
            "and the tokens D = C / training FLOPs per token.",
            o, vm)) {
      return 0;
    }
    if (vm.count("triad")) return plan_triad(vm);
    if (vm.count("grid")) {
      const auto runs =
          moe::experiments::expand(moe::experiments::load_grid(vm["grid"].as<std::string>()));
      if (vm["json"].as<bool>()) {
        nlohmann::json all = nlohmann::json::array();
        for (const auto& r : runs) {
          nlohmann::json j = moe::plan_to_json(r.plan);
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
    if (vm["json"].as<bool>()) {
      std::cout << moe::plan_to_json(plan).dump(2) << "\n";
    } else {
      std::cout << moe::cli::format_plan(plan);
    }
    return 0;
  });
}
