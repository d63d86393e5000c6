// Command-line flags generated from the settings table (moe/settings.h), and the plan table
// that `moescale plan` prints.
#pragma once

#include <boost/program_options.hpp>

#include "moe/settings.h"

namespace moe::cli {

// The flags of the settings a command takes: `moescale plan` the plan settings (kPlan and
// kPlanAndTrain), `moescale train` all of them. Help text shows each setting's default.
boost::program_options::options_description setting_options(bool plan_command);

// Applies every setting given in vm to s (absent flags keep s's values); when plan_command,
// only the plan settings. Throws std::invalid_argument naming the flag for a bad value.
void apply_settings(const boost::program_options::variables_map& vm, bool plan_command,
                    RunSettings& s);

// The first plan setting (kPlan) given in vm, "" when none: `train --config` refuses them.
std::string given_plan_setting(const boost::program_options::variables_map& vm);

// A readable table of a plan (what `moescale plan` prints without --json).
std::string format_plan(const Plan& plan);

// Exactly `count` comma-separated numbers for `flag`, each parsed strictly (moe/settings.h);
// throws std::invalid_argument "<flag> '<text>' must be <what>, e.g. <flag> <example>".
std::vector<double> comma_numbers(const std::string& flag, const std::string& text, size_t count,
                                  const std::string& what, const std::string& example);

}  // namespace moe::cli
