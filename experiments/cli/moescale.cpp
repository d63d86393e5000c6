// moescale: the user-facing command. Like git, it dispatches `moescale <cmd> ...` to the
// sibling program moescale-<cmd>, so that each program links only what it needs (the trainer
// never links Ceres, the tokenizer never links torch; see the toolchain notes).
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "common/process.h"
#include "experiments/cli/cli.h"

namespace {

struct Command {
  const char* name;
  const char* summary;
  const char* needs;  // the CMake option that builds it
};

const std::vector<Command> kCommands = {
    {"plan", "architecture and tokens for (compute, sparsity, ratio, label), or a whole grid", ""},
    {"data", "tokenize text into token shards (SentencePiece BPE or bytes)",
     "-DMOESCALE_WITH_SENTENCEPIECE=ON"},
    {"train", "train one model from a plan on token shards (CPU or CUDA)",
     "-DMOESCALE_WITH_TORCH=ON"},
    {"sweep", "run a grid of trainings: resumable, parallel, or as a Slurm job array", ""},
    {"fit", "fit scaling laws to a loss grid (power, chinchilla, isoflop, ratio, moe-law)",
     "-DMOESCALE_WITH_CERES=ON"},
    {"report", "fits, tables and figures for a sweep directory", "-DMOESCALE_WITH_CERES=ON"},
    {"reproduce", "corpus -> tokenizer -> grid -> sweep -> fit -> report in one command", ""},
};

void usage() {
  std::printf(
      "usage: moescale <command> [options]\n\n"
      "Study how a Mixture-of-Experts language model should split its compute between\n"
      "attention and experts: r = expert FLOPs / attention FLOPs.\n\ncommands:\n");
  for (const auto& c : kCommands) std::printf("  %-10s %s\n", c.name, c.summary);
  std::printf(
      "\n'moescale <command> --help' documents every flag of a command.\n"
      "Start with: moescale reproduce   (the CPU demo grid, ~15 minutes)\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "moescale: error: no command given; name one (plan, data, train, sweep, fit, "
                 "report, reproduce), see 'moescale --help'\n");
    return 2;
  }
  if (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") ||
      !std::strcmp(argv[1], "help")) {
    usage();
    return 0;
  }
  if (!std::strcmp(argv[1], "--version")) {
    std::printf("moescale %s\n", MOESCALE_VERSION);
    std::fflush(stdout);
    // The dispatcher links no torch: the trainer reports the LibTorch and CUDA it was built with.
    const std::string train = moe::cli::executable_dir() + "/moescale-train";
    if (::access(train.c_str(), X_OK) != 0) {
      std::printf("no moescale-train in this build (configured with -DMOESCALE_WITH_TORCH=OFF)\n");
      return 0;
    }
    return moe::run_program({train, "--version"});
  }
  const std::string name = argv[1];
  const Command* command = nullptr;
  for (const auto& c : kCommands) {
    if (name == c.name) command = &c;
  }
  if (!command) {
    std::fprintf(stderr, "moescale: error: unknown command '%s'; see 'moescale --help'\n",
                 name.c_str());
    return 2;
  }
  const std::string program = moe::cli::executable_dir() + "/moescale-" + name;
  if (::access(program.c_str(), X_OK) != 0) {
    std::fprintf(stderr,
                 "moescale %s: error: this build has no %s; reconfigure with %s and rebuild\n",
                 name.c_str(), program.c_str(), command->needs);
    return 2;
  }
  std::vector<char*> args;
  args.push_back(const_cast<char*>(program.c_str()));
  for (int i = 2; i < argc; ++i) args.push_back(argv[i]);
  args.push_back(nullptr);
  ::execv(program.c_str(), args.data());
  std::fprintf(stderr, "moescale %s: error: cannot run %s: %s\n", name.c_str(), program.c_str(),
               std::generic_category().message(errno).c_str());
  return 1;
}
