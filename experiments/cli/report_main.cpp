// moescale report: fits, tables and figures for a sweep directory (see experiments/report.h).
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "experiments/cli/cli.h"
#include "experiments/holistic.h"
#include "experiments/report.h"
#include "scaling/fit.h"

namespace po = boost::program_options;

int main(int argc, char** argv) {
  return moe::cli::run_main("report", [&] {
    po::options_description o("report");
    // clang-format off
    o.add_options()
        ("sweep", po::value<std::string>(), "the sweep directory (positional)")
        ("bootstrap", po::value<int>()->default_value(200), "bootstrap replicates for the CIs")
        ("seed", po::value<uint64_t>()->default_value(0), "bootstrap seed")
        ("no-figures", po::bool_switch(), "write fit.json and report.md only");
    // clang-format on
    po::positional_options_description pos;
    pos.add("sweep", 1);
    po::variables_map vm;
    if (!moe::cli::parse(argc, argv, "moescale report SWEEPDIR [--bootstrap N] [--seed S]",
                         "Writes SWEEPDIR/report/: fit.json (r* per budget and sparsity with "
                         "bootstrap CIs, r*(C) power laws,\nthe joint r*(C, S) law beside the "
                         "paper's), report.md, and the figures (PNG and SVG): ratio_curves,\n"
                         "rstar_vs_compute, frontier, load_balance.\n\nOn a study of paper 2 "
                         "(moescale reproduce --preset holistic-*: the directory has "
                         "holistic.json),\nrewrites its report/ from the study's files instead.",
                         o, vm, &pos)) {
      return 0;
    }
    moe::cli::require(vm, "sweep",
                      "give the sweep directory, e.g. moescale report runs/cpu-tiny/sweep");
    const std::string dir = vm["sweep"].as<std::string>();
    const char* scripts = std::getenv("MOESCALE_SCRIPTS");
    const std::string scripts_dir = scripts && *scripts ? scripts : MOESCALE_SOURCE_DIR "/scripts";
    if (std::filesystem::exists(std::filesystem::path(dir) / "holistic.json")) {
      moe::experiments::HolisticReportOptions h;
      h.study_dir = dir;
      h.plot_script = scripts_dir + "/plot_holistic.py";
      h.figures = !vm["no-figures"].as<bool>();
      moe::experiments::write_holistic_report(h);
      std::printf("report: %s/report/report.md\n", dir.c_str());
      return 0;
    }
    moe::experiments::ReportOptions opt;
    opt.sweep_dir = dir;
    opt.bootstrap = vm["bootstrap"].as<int>();
    moe::scaling::check_bootstrap(opt.bootstrap);
    opt.seed = vm["seed"].as<uint64_t>();
    opt.figures = !vm["no-figures"].as<bool>();
    opt.plot_script = scripts_dir + "/plot_report.py";
    moe::experiments::write_report(opt);
    std::printf("report: %s/report/report.md\n", opt.sweep_dir.c_str());
    return 0;
  });
}
