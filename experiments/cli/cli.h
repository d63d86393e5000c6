// What every moescale-<cmd> program shares: the exit-status policy and Boost.Program_options
// parsing with one-line errors.
//
// Exit status: 0 success; 2 bad input (a flag, a file, a config: moe::InputError,
// std::invalid_argument, any Boost.Program_options error), with one line on stderr
// "moescale <cmd>: error: <what is wrong and what to change>"; 75 (EX_TEMPFAIL) when the target
// is busy (a run directory another process is training: moe::BusyError); 1 anything else;
// 130/143 when interrupted by SIGINT/SIGTERM after state was saved.
#pragma once

#include <boost/program_options.hpp>
#include <functional>
#include <string>
#include <vector>

namespace moe::cli {

namespace po = boost::program_options;

// Calls body() and maps exceptions to exit codes and one-line messages as above.
int run_main(const std::string& command, const std::function<int()>& body);

// Parses argv against `options` (and positional arguments, if any). Returns false when --help
// was asked for, after printing usage, the description and every option to stdout.
// Unknown options, missing values and bad values throw po::error (exit 2 via run_main).
bool parse(int argc, char** argv, const std::string& usage, const std::string& description,
           const po::options_description& options, po::variables_map& vm,
           const po::positional_options_description* positional = nullptr);

// "--flag" is required: throws std::invalid_argument naming it and the fix.
void require(const po::variables_map& vm, const std::string& flag, const std::string& hint);

// Directory of the running executable (for finding sibling programs and scripts).
std::string executable_dir();

// "a, b,c" -> {"a", "b", "c"}: commas separate, spaces and empty items are dropped.
std::vector<std::string> split_commas(const std::string& s);

// Formats 1.23e15-style numbers compactly for tables ("1.23e+15" -> "1.23e15").
std::string sci(double v, int digits = 3);

}  // namespace moe::cli
