// The steps of `moescale reproduce`: each is a sibling program (moescale-data, -sweep, -fit,
// -report) run as a child, so reproduce links neither torch nor Ceres.
#pragma once

#include <string>
#include <vector>

namespace moe::cli {

// "==> what" on stdout (progress goes to stdout: stderr carries only the one line of an error).
void step(const std::string& what);

// Runs one step. Returns false when the step rejected its input (exit status 2): the step has
// printed the one error line naming the input, so reproduce exits with status 2 and adds none.
// Any other failure throws, saying that rerunning continues where it stopped.
bool run_step(const std::vector<std::string>& args, const std::string& what);

// Where scripts/ is: $MOESCALE_SCRIPTS, else the source tree's.
std::string scripts_dir();

}  // namespace moe::cli
