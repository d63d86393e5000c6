#include "experiments/cli/reproduce_steps.h"

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "common/process.h"

namespace moe::cli {

void step(const std::string& what) {
  std::printf("\n==> %s\n", what.c_str());
  std::fflush(stdout);
}

bool run_step(const std::vector<std::string>& args, const std::string& what) {
  const int status = moe::run_program(args);
  if (status == 2) return false;
  if (status != 0) {
    throw std::runtime_error(
        fmt::format("{} failed (exit status {}); rerun the same command to "
                    "continue where it stopped",
                    what, status));
  }
  return true;
}

std::string scripts_dir() {
  const char* env = std::getenv("MOESCALE_SCRIPTS");
  return env && *env ? env : std::string(MOESCALE_SOURCE_DIR) + "/scripts";
}

}  // namespace moe::cli
