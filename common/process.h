// Child processes: the sweep's trainers, `moescale report`'s plotting script, `reproduce`'s steps.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace moe {

struct ChildSpec {
  std::vector<std::string> argv;  // argv[0] is the program's path
  // KEY=VALUE entries that replace (or add to) the parent's environment.
  std::vector<std::string> env;
  // When set, the child's stdout and stderr are appended to this file.
  std::string log_path;
  // The child gets SIGTERM when the parent dies (a trainer never outlives its sweep).
  bool die_with_parent = false;
};

struct ChildExit {
  int code = -1;   // exit status; -1 when killed by a signal
  int signal = 0;  // the signal that killed it, 0 when it exited
  // The shell's convention: the exit status, or 128 + the signal.
  int status() const { return signal ? 128 + signal : code; }
};

// Starts the child; throws std::system_error when fork fails. A program that cannot be executed
// exits with status 127, as in the shell.
pid_t spawn(const ChildSpec& spec);
// Waits for the child (retrying on EINTR).
ChildExit wait_for(pid_t pid);
// spawn + wait_for; the child shares stdout/stderr and the environment.
int run_program(const std::vector<std::string>& argv);

}  // namespace moe
