// Error types shared by every library in the project.
//
// Library code throws; only a program's main catches (see experiments/cli/cli_main.h), prints
// one line and exits: status 2 for a problem with the user's input (a flag, a file, a config),
// status 1 for anything else.
#pragma once

#include <stdexcept>
#include <string>

namespace moe {

// Bad input: a flag value, a config field, a file's contents. The message names the input and
// says what to change. std::invalid_argument is treated the same way by main.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The resource is in use by another process right now (a run directory whose lock is held):
// try again later. Programs exit with status 75 (EX_TEMPFAIL) for it.
class BusyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace moe
