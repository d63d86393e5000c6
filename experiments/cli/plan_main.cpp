// moescale plan: (compute, sparsity, ratio, label) -> architecture and tokens.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "experiments/cli/cli.h"
#include "experiments/cli/plan_options.h"
#include "experiments/sweep.h"

int main(int argc, char** argv) {
  return moe::cli::run_main("plan", [&] {
    namespace po = boost::program_options;
    po::options_description o = moe::cli::setting_options(/*plan_command=*/true);
    o.add_options()("json", po::bool_switch(), "print JSON instead of the table")(
        "grid", po::value<std::string>(), "plan every run of a sweep grid file instead");
    po::variables_map vm;
    if (!moe::cli::parse(
            argc, argv,
            "moescale plan --compute C [--ratio R] [--label L] [...] | moescale plan --grid FILE",
            "Chooses d_model, head_dim and d_expert so that the label's per-token "
            "FLOPs are held (or its active\nparameters, --hold active) and expert/"
            "attention FLOPs equal --ratio; prints the shape, FLOPs,\nparameters "
            "and the tokens D = C / training FLOPs per token.",
            o, vm)) {
      return 0;
    }
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
