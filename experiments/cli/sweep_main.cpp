// moescale sweep: train every run of a grid, resumably, in parallel or as a Slurm job array.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "common/errors.h"
#include "common/io.h"
#include "experiments/cli/cli.h"
#include "experiments/sweep.h"
#include "moe/settings.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;
namespace ex = moe::experiments;

namespace {

// Observed training FLOP/s of the finished runs in SWEEPDIR (0 when none).
double observed_flops_per_second(const std::string& out) {
  double flops = 0, seconds = 0;
  const fs::path runs = fs::path(out) / "runs";
  if (!fs::is_directory(runs)) return 0;
  for (const auto& entry : fs::directory_iterator(runs)) {
    const moe::RunResult r = moe::RunDir(entry.path()).read_result();
    if (r.status != moe::RunStatus::kDone) continue;
    flops += r.flops;
    seconds += r.wall_seconds;
  }
  return seconds > 0 ? flops / seconds : 0;
}

po::options_description sweep_options() {
  po::options_description o("sweep");
  // clang-format off
  o.add_options()
      ("grid", po::value<std::string>(), "grid file (its keys: see below and the README)")
      ("data", po::value<std::string>(), "token shards: a directory, a shard or a glob")
      ("val-data", po::value<std::string>(), "held-out shards (default: --data's val shards)")
      ("out", po::value<std::string>(), "sweep directory (results.csv, runs/<id>/)")
      ("workers", po::value<int>()->default_value(0),
       "runs at a time (default: one per CUDA device, 1 on CPU; CPU workers share the cores)")
      ("devices", po::value<std::string>()->default_value("cpu"), "cpu, or cuda:0,cuda:1,...")
      ("threads", po::value<int>()->default_value(0),
       "torch intra-op threads per worker (default: the machine's cores / workers)")
      ("only", po::value<std::string>(), "run just this run id (what each Slurm array task does)")
      ("dry-run", po::bool_switch(), "print the runs, the total compute and an estimated wall time")
      ("flops-per-second", po::value<double>(),
       "throughput for --dry-run (default: measured on this sweep's finished runs, else 5e10 "
       "per CPU sweep, 2e14 per GPU)")
      ("emit-slurm", po::value<std::string>(), "write a Slurm job-array script to this file")
      ("partition", po::value<std::string>(), "Slurm partition")
      ("time", po::value<std::string>()->default_value("04:00:00"), "Slurm time limit per run")
      ("account", po::value<std::string>(), "Slurm account")
      ("mem", po::value<std::string>(), "Slurm memory per run, e.g. 16G")
      ("gpus-per-task", po::value<int>()->default_value(0), "GPUs per run (0: CPU runs)")
      ("cpus-per-task", po::value<int>()->default_value(0), "CPUs per run (0: Slurm's default)")
      ("max-parallel", po::value<int>()->default_value(0), "array throttle: runs at a time (0: no limit)")
      ("stale-lock-seconds", po::value<double>()->default_value(300),
       "a run lock whose owner on another host has not beaten for this long is broken");
  // clang-format on
  return o;
}

// --help's description, with the grid keys from the settings table.
std::string sweep_description() {
  // The grid keys, from the settings table: axes (lists) and shared settings (one value each).
  std::string axes, shared;
  for (const moe::Setting& s : moe::settings()) {
    std::string& list = s.use == moe::SettingUse::kAxis ? axes : shared;
    if (s.use == moe::SettingUse::kCommand) continue;
    const size_t line =
        list.size() - (list.rfind('\n') == std::string::npos ? 0 : list.rfind('\n'));
    list += list.empty() ? "" : line + s.key.size() > 88 ? "\n    " : " ";
    list += s.key;
  }
  const std::string description = fmt::format(
      "Trains every run of a grid (compute x sparsity x ratio x label x d-model x seed; paper 2:\n"
      "m-over-na x n-over-na instead of ratio). Rerunning the same command skips finished runs,\n"
      "resumes interrupted ones and retries failed ones once; results.csv is rebuilt after every "
      "run.\nGrid keys, each the `moescale train` flag of the same name (see its --help):\n"
      "  axes (lists): {}\n  shared: {}",
      axes, shared);
  std::string sweep_keys;
  for (const auto& k : ex::sweep_keys()) {
    // The help wrapped at 98 columns, under its own start.
    std::string line = fmt::format("\n  {:<15}", k.key), word;
    size_t width = line.size() - 1;
    for (char ch : k.help + " ") {
      if (ch != ' ') {
        word += ch;
        continue;
      }
      if (width + 1 + word.size() > 98) {
        line += "\n" + std::string(18, ' ');
        width = 18;
      } else {
        line += ' ';
        ++width;
      }
      line += word;
      width += word.size();
      word.clear();
    }
    sweep_keys += line;
  }
  return description +
         "\nSweep keys of a grid (how the sweep grows the ratio list of each compute x sparsity "
         "x label\ncell; results.csv's origin column says grid, bracket or refine):" +
         sweep_keys +
         "\nWith bracket = yes, --dry-run and --emit-slurm cover the runs planned so far; on "
         "Slurm, run\n--emit-slurm again after each wave ends (it exits 1 when no run is left), "
         "e.g.\n  while moescale sweep ... --emit-slurm wave.sh; do sbatch --wait wave.sh; done";
}

// --dry-run: the runs, the total compute and an estimated wall time.
void print_dry_run(const ex::SweepOptions& opt, const ex::Grid& grid, const ex::BracketPlan& plan,
                   const po::variables_map& vm) {
  const std::vector<ex::RunSpec>& runs = plan.runs;
  std::cout << ex::format_runs(runs);
  if (const std::string why = ex::memory_refusal(runs, ex::visible_gpu_memory(opt.devices));
      !why.empty()) {
    std::cout << "the sweep would refuse to start: " << why << "\n";
  }
  if (grid.bracket.on) {
    std::cout << fmt::format(
        "bracket = yes: as cells finish, up to {} more ratio(s) per cell ({} seed(s) each) may be "
        "added, not counted below\n",
        2 * grid.bracket.steps + grid.bracket.refine, grid.seed.size());
    for (const auto& [cell, note] : plan.notes) {
      std::cout << fmt::format("  {}: {}\n", ex::describe_cell(grid, cell), note);
    }
  }
  double total = 0;
  for (const auto& r : runs) total += r.plan.request.compute;
  const bool cuda = opt.devices.front() != "cpu";
  const double measured = opt.out.empty() ? 0 : observed_flops_per_second(opt.out);
  double rate = vm.count("flops-per-second") ? vm["flops-per-second"].as<double>()
                : measured > 0               ? measured
                : cuda                       ? 2e14
                                             : 5e10;
  const std::string basis = vm.count("flops-per-second") ? "given"
                            : measured > 0               ? "measured on finished runs"
                                                         : "a rough default";
  const double parallel = cuda ? static_cast<double>(opt.devices.size()) : 1.0;
  const double hours = total / (rate * parallel) / 3600.0;
  std::cout << fmt::format(
      "estimated wall time: {:.2f} h at {:.3g} FLOP/s per {} ({}){}\n", hours, rate,
      cuda ? "GPU" : "CPU sweep", basis,
      cuda ? fmt::format(", {} GPU(s), {:.1f} GPU-hours", opt.devices.size(), hours * parallel)
           : "");
}

// --emit-slurm: a job-array script, one task per run that is not final; 1 when none is left.
int emit_slurm(const ex::SweepOptions& opt, const std::vector<ex::RunSpec>& planned,
               const po::variables_map& vm) {
  std::vector<ex::RunSpec> runs;
  for (const auto& r : planned) {
    const std::string dir = (fs::path(opt.out) / "runs" / r.id).string();
    if (!ex::read_run_state(dir).final(opt.max_failures)) runs.push_back(r);
  }
  const std::string path = vm["emit-slurm"].as<std::string>();
  if (runs.empty()) {
    std::cout << fmt::format(
        "no run left to run: all {} runs of {} are final; wrote no script (see {}/results.csv)\n",
        planned.size(), opt.out, opt.out);
    return 1;
  }
  ex::SlurmOptions s;
  if (vm.count("partition")) s.partition = vm["partition"].as<std::string>();
  if (vm.count("account")) s.account = vm["account"].as<std::string>();
  if (vm.count("mem")) s.mem = vm["mem"].as<std::string>();
  s.time = vm["time"].as<std::string>();
  s.gpus_per_task = vm["gpus-per-task"].as<int>();
  if (const std::string why = ex::memory_refusal(runs, std::nullopt); !why.empty()) {
    throw moe::InputError(why);
  }
  // A run of several data-parallel ranks gets a GPU per rank (every task the most any run needs).
  if (s.gpus_per_task > 0) {
    for (const auto& r : runs) {
      s.gpus_per_task = std::max<int>(s.gpus_per_task, static_cast<int>(r.config.nproc_per_node));
    }
  }
  s.cpus_per_task = vm["cpus-per-task"].as<int>();
  s.max_parallel = vm["max-parallel"].as<int>();
  fs::create_directories(fs::path(opt.out) / "slurm");
  moe::write_file_atomic(path,
                         ex::slurm_script(opt, s, runs, moe::cli::executable_dir() + "/moescale"));
  fs::permissions(path, fs::perms::owner_exec | fs::perms::group_exec, fs::perm_options::add);
  std::cout << fmt::format("wrote {}: {} array tasks ({} runs final); submit with: sbatch {}\n",
                           path, runs.size(), planned.size() - runs.size(), path);
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  return moe::cli::run_main("sweep", [&] {
    const po::options_description o = sweep_options();
    const std::string description = sweep_description();
    po::variables_map vm;
    if (!moe::cli::parse(argc, argv,
                         "moescale sweep --grid FILE --data DIR --out SWEEPDIR [--workers N] "
                         "[--devices cpu|cuda:0,...] [--only ID] [--dry-run] [--emit-slurm F]",
                         description, o, vm)) {
      return 0;
    }
    moe::cli::require(vm, "grid",
                      "give the grid file, e.g. --grid my.grid (its keys: moescale sweep --help)");
    ex::SweepOptions opt;
    opt.grid_path = vm["grid"].as<std::string>();
    opt.workers = vm["workers"].as<int>();
    opt.threads = vm["threads"].as<int>();
    if (opt.threads < 0) throw std::invalid_argument("--threads must be >= 0");
    opt.devices = moe::cli::split_commas(vm["devices"].as<std::string>());
    if (opt.devices.empty()) throw std::invalid_argument("--devices is empty: use cpu or cuda:0");
    opt.stale_lock_seconds = vm["stale-lock-seconds"].as<double>();
    opt.train_program = moe::cli::executable_dir() + "/moescale-train";
    if (vm.count("data")) opt.data = vm["data"].as<std::string>();
    if (vm.count("val-data")) opt.val_data = vm["val-data"].as<std::string>();
    if (vm.count("out")) opt.out = vm["out"].as<std::string>();
    if (vm.count("only")) opt.only = vm["only"].as<std::string>();

    // The runs planned so far: the grid's, and those bracketing added for the finished runs.
    const ex::Grid grid = ex::load_grid(opt.grid_path);
    const ex::BracketPlan plan = ex::sweep_plan(grid, opt.out, opt.max_failures);
    const std::vector<ex::RunSpec>& runs = plan.runs;
    if (vm["dry-run"].as<bool>()) {
      print_dry_run(opt, grid, plan, vm);
      return 0;
    }
    moe::cli::require(vm, "data", "give the token shards, e.g. --data data/corpus");
    moe::cli::require(vm, "out", "give the sweep directory, e.g. --out sweeps/s1");
    if (vm.count("emit-slurm")) return emit_slurm(opt, runs, vm);
    const ex::SweepSummary s = ex::run_sweep(opt);
    std::cout << fmt::format(
        "{}: {} runs: {} done, {} diverged, {} failed, {} unfinished; "
        "results in {}/results.csv\n",
        opt.out, s.runs, s.done, s.diverged, s.failed, s.pending, opt.out);
    if (s.interrupted) return 130;
    return s.failed > 0 || s.pending > 0 ? 1 : 0;
  });
}
