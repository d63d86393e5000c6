#include "experiments/cli/cli.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "common/errors.h"
#include "moe/run_dir.h"

extern char** environ;

namespace moe::cli {

int run_main(const std::string& command, const std::function<int()>& body) {
  auto error = [&](const std::string& what) {
    std::fflush(stdout);
    std::string line = what;
    for (char& ch : line) {
      if (ch == '\n') ch = ' ';
    }
    std::fprintf(stderr, "moescale %s: error: %s\n", command.c_str(), line.c_str());
  };
  try {
    return body();
  } catch (const po::error& e) {
    error(std::string(e.what()) + "; see 'moescale " + command + " --help'");
    return exit_status::kBadInput;
  } catch (const InputError& e) {
    error(e.what());
    return exit_status::kBadInput;
  } catch (const BusyError& e) {
    error(e.what());
    return exit_status::kBusy;
  } catch (const std::invalid_argument& e) {
    error(e.what());
    return exit_status::kBadInput;
  } catch (const nlohmann::json::exception& e) {
    error(std::string("malformed JSON input: ") + e.what());
    return exit_status::kBadInput;
  } catch (const std::exception& e) {
    error(e.what());
    return exit_status::kFailed;
  }
}

bool parse(int argc, char** argv, const std::string& usage, const std::string& description,
           const po::options_description& options, po::variables_map& vm,
           const po::positional_options_description* positional) {
  po::options_description all;
  all.add_options()("help,h", "print this help and exit");
  all.add(options);
  auto parser = po::command_line_parser(argc, argv).options(all);
  if (positional) parser.positional(*positional);
  po::store(parser.run(), vm);
  if (vm.count("help")) {
    std::cout << "usage: " << usage << "\n\n" << description << "\n\n" << all << std::flush;
    return false;
  }
  po::notify(vm);
  return true;
}

void require(const po::variables_map& vm, const std::string& flag, const std::string& hint) {
  if (!vm.count(flag)) throw std::invalid_argument("--" + flag + " is required: " + hint);
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::string item;
  for (char ch : s + ",") {
    if (ch == ',') {
      if (!item.empty()) out.push_back(item);
      item.clear();
    } else if (ch != ' ') {
      item += ch;
    }
  }
  return out;
}

std::string executable_dir() {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return ".";
  return self.parent_path().string();
}

std::string sci(double v, int digits) {
  std::string s = fmt::format("{:.{}g}", v, digits);
  const auto e = s.find("e+");
  if (e != std::string::npos) s.erase(e + 1, 1);
  return s;
}

}  // namespace moe::cli
