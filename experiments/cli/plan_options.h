// The planner's flags, shared by `moescale plan` and `moescale train` (which trains a plan).
#pragma once

#include <boost/program_options.hpp>

#include "moe/planner.h"

namespace moe::cli {

// --compute --ratio --label --sparsity --experts --top-k --shared --context --vocab --d-model
// --kv-heads --batch-size --hold --convention, plus the model switches (--positions, --norm,
// --router-score, --tie-embeddings, --aux-loss, --z-loss, --dense-layers).
boost::program_options::options_description plan_options();

// Builds the request from parsed flags (compute stays 0 without --compute); throws
// std::invalid_argument for bad values.
PlanRequest plan_request_from(const boost::program_options::variables_map& vm);

// A readable table of a plan (what `moescale plan` prints without --json).
std::string format_plan(const Plan& plan);

}  // namespace moe::cli
