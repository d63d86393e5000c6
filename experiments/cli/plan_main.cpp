// moescale plan: (compute, sparsity, ratio, label) -> architecture and tokens.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "experiments/cli/cli.h"
#include "experiments/cli/plan_options.h"

int main(int argc, char** argv) {
  return moe::cli::run_main("plan", [&] {
    namespace po = boost::program_options;
    po::options_description o = moe::cli::plan_options();
    o.add_options()("json", po::bool_switch(), "print one JSON object instead of the table");
    po::variables_map vm;
    if (!moe::cli::parse(argc, argv, "moescale plan --compute C [--ratio R] [--label L] [...]",
                         "Chooses d_model, head_dim and d_expert so that the label's per-token "
                         "FLOPs are held (or its active\nparameters, --hold active) and expert/"
                         "attention FLOPs equal --ratio; prints the shape, FLOPs,\nparameters "
                         "and the tokens D = C / training FLOPs per token.",
                         o, vm)) {
      return 0;
    }
    moe::cli::require(vm, "compute", "give the total training FLOPs, e.g. --compute 1e15");
    const moe::Plan plan = moe::make_plan(moe::cli::plan_request_from(vm));
    if (vm["json"].as<bool>()) {
      std::cout << moe::plan_to_json(plan).dump(2) << "\n";
    } else {
      std::cout << moe::cli::format_plan(plan);
    }
    return 0;
  });
}
