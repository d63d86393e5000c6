// moescale reproduce: default corpus -> tokenizer -> grid -> sweep -> fit -> report, in one
// command, resumable (each step skips what is already done). Each step is a sibling program
// (moescale-data, moescale-sweep, moescale-report), so nothing here links torch or Ceres.
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include "common/errors.h"
#include "common/io.h"
#include "common/process.h"
#include "experiments/cli/cli.h"
#include "experiments/cli/reproduce_holistic.h"
#include "experiments/cli/reproduce_steps.h"
#include "experiments/grid.h"
#include "experiments/presets.h"
#include "moe/memory.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;
namespace ex = moe::experiments;
using moe::cli::run_step;
using moe::cli::scripts_dir;
using moe::cli::step;

namespace {

po::options_description reproduce_options() {
  po::options_description o("reproduce");
  // clang-format off
  o.add_options()
      ("preset", po::value<std::string>()->default_value("cpu-tiny"),
       "cpu-tiny (CPU demo, <= 15 min), gpu-small (one GPU), paper (the paper's grid), smoke; "
       "paper 2's system: holistic-cpu (CPU, <= 20 min), holistic-paper (its six budgets)")
      ("device", po::value<std::string>(),
       "cpu, cuda or cuda:0,cuda:1,... (default: cpu for cpu presets, cuda:0 for GPU ones)")
      ("out", po::value<std::string>(), "output directory (default: runs/<preset>)")
      ("workers", po::value<int>()->default_value(0),
       "runs at a time (default: one per core on CPU, one per GPU)")
      ("corpus", po::value<std::string>(),
       "your own text (files or a directory of .txt) instead of the default corpus")
      ("data", po::value<std::string>(),
       "your own token shards (a directory with train/val shards and meta.json): skips the "
       "corpus and the tokenizer")
      ("yes", po::bool_switch(), "start a preset that costs GPU-hours (paper)");
  // clang-format on
  return o;
}

// Which runs of a GPU preset fit one GPU (the grid's device-memory, else an 80 GB H100's), and
// how many data-parallel ranks the others need (moe/memory.h).
std::string memory_summary(const std::vector<ex::RunSpec>& runs) {
  double device = 80e9;
  std::map<int64_t, std::set<std::string>> labels;  // ranks needed (0: none suffice) -> labels
  std::map<int64_t, size_t> count;
  for (const auto& r : runs) {
    if (r.config.device_memory > 0) device = r.config.device_memory;
    const moe::MemoryReport m = moe::memory_report(r.config, device);
    const int64_t ranks = moe::ranks_needed(r.config.model, m.options, r.config.batch_size, device);
    labels[ranks].insert(r.plan.label.name);
    ++count[ranks];
  }
  std::string s = fmt::format("memory ({:.0f} GB per GPU, estimated):", device / 1e9);
  auto runs_of = [&](int64_t ranks) {
    std::string list;
    for (const auto& n : labels[ranks]) list += (list.empty() ? "" : " ") + n;
    const size_t n = count[ranks];
    return fmt::format("{} run{} ({})", n, n == 1 ? "" : "s", list);
  };
  for (const auto& [ranks, names] : labels) {  // one GPU first, those nothing fits last
    if (ranks == 1) s += " " + runs_of(1) + " fit one GPU;";
  }
  for (const auto& [ranks, names] : labels) {
    if (ranks > 1) {
      s += fmt::format(" {} need{} {} ranks;", runs_of(ranks), count[ranks] == 1 ? "s" : "", ranks);
    }
  }
  if (labels.count(0))
    s += " " + runs_of(0) + " fit no rank count (the weights stay whole on every rank);";
  s.back() = '\n';
  return s;
}

// The plan's cost, printed; a preset that costs GPU-hours needs --yes.
void announce(const ex::Preset& preset, const std::vector<ex::RunSpec>& runs,
              const std::string& out, bool yes) {
  double compute = 0;
  for (const auto& r : runs) compute += r.plan.request.compute;
  // Paper 2's Phase 2 runs are planned once Phase 1's optima are known.
  const double later = preset.holistic ? moe::cli::holistic_phase2_compute(preset) : 0;
  const size_t later_runs =
      preset.holistic ? preset.holistic->compute.size() * preset.holistic->phase2_positions.size()
                      : 0;
  compute += later;
  // 2e14 FLOP/s: ~25% MFU of an H100's bf16 peak, what small models reach.
  const std::string cost = fmt::format(
      "{} runs{}, {} training FLOPs in all", runs.size() + later_runs,
      later_runs ? fmt::format(" ({} of them Phase 2's, planned after Phase 1)", later_runs) : "",
      moe::cli::sci(compute));
  const std::string gpu_hours =
      fmt::format("about {:.0f} GPU-hours at 2e14 FLOP/s per GPU", compute / 2e14 / 3600);
  if (preset.gpu) std::fputs(memory_summary(runs).c_str(), stdout);
  if (preset.needs_confirmation && !yes) {
    throw std::invalid_argument("--preset " + preset.name + " costs " + gpu_hours + " (" + cost +
                                "); rerun with --yes to start");
  }
  const std::string gpu_note = preset.gpu ? ", " + gpu_hours : "";
  std::printf("moescale reproduce --preset %s: %s\n  %s%s\n  output: %s\n", preset.name.c_str(),
              preset.summary.c_str(), cost.c_str(), gpu_note.c_str(), out.c_str());
  std::fflush(stdout);
}

// Steps 1 and 2: the corpus and the token shards (skipped for --data). The shards' directory,
// or "" when a step rejected its input (it printed the one error line).
std::string prepare_shards(const po::variables_map& vm, const ex::Preset& preset,
                           const std::string& out, const std::string& bin) {
  const int steps = preset.holistic ? 8 : 4;
  std::string data = fs::path(out) / "data";
  if (vm.count("data")) {
    data = vm["data"].as<std::string>();
  } else {
    std::string corpus = fs::path(out) / "corpus";
    if (vm.count("corpus")) {
      corpus = vm["corpus"].as<std::string>();
    } else {
      step(fmt::format(
          "1/{} default corpus (Debian's linux-doc-6.1, dict-gcide, bible-kjv-text) -> {}", steps,
          corpus));
      if (!run_step({"/usr/bin/python3", scripts_dir() + "/prepare_corpus.py", corpus},
                    "preparing the default corpus")) {
        return "";
      }
    }
    step(fmt::format("2/{} tokenizer and token shards -> {}", steps, data));
    std::vector<std::string> args = {bin + "/moescale-data", "--input",       corpus, "--out", data,
                                     "--tokenizer",          preset.tokenizer};
    if (preset.tokenizer == "bpe") {
      args.insert(args.end(), {"--vocab-size", std::to_string(preset.vocab_size)});
    }
    if (!run_step(args, "moescale data")) return "";
  }
  return data;
}

// --device, or the preset's: cpu for CPU presets, cuda:0 for GPU ones (which refuse cpu).
std::string device_of(const po::variables_map& vm, const ex::Preset& preset) {
  std::string device =
      vm.count("device") ? vm["device"].as<std::string>() : (preset.gpu ? "cuda:0" : "cpu");
  if (preset.gpu && device == "cpu") {
    throw std::invalid_argument("--preset " + preset.name +
                                " trains in bf16 on CUDA; pass --device cuda (or use "
                                "--preset cpu-tiny on a CPU)");
  }
  return device == "cuda" ? "cuda:0" : device;
}

// The vocabulary the data will have: the shards' own (--data), or the preset tokenizer's.
int64_t vocab_of(const po::variables_map& vm, const ex::Preset& preset) {
  if (!vm.count("data")) return preset.tokenizer == "byte" ? 257 : preset.vocab_size;
  const fs::path meta = fs::path(vm["data"].as<std::string>()) / "meta.json";
  return moe::read_json(meta.string()).at("vocab_size").get<int64_t>();
}

// --workers, or one per core on the CPU (0: the sweep's default, one per GPU).
int workers_of(const po::variables_map& vm, const std::string& device) {
  const int workers = vm["workers"].as<int>();
  if (workers != 0 || device != "cpu") return workers;
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace

int main(int argc, char** argv) {
  return moe::cli::run_main("reproduce", [&] {
    const po::options_description o = reproduce_options();
    po::variables_map vm;
    if (!moe::cli::parse(
            argc, argv,
            "moescale reproduce [--preset cpu-tiny|gpu-small|paper|holistic-cpu|holistic-paper] "
            "[--device D] "
            "[--out DIR] [--yes]",
            "Runs the whole study: default corpus (Debian packages) -> BPE tokenizer "
            "-> grid -> sweep ->\nfits -> report with the ratio curves. Rerunning "
            "continues where it stopped.\n\nPaper 2's presets (holistic-*) run its "
            "system instead: Phase 1's triad grid, the rank check\nof the d proxy, "
            "Phase 1's fits, Phase 2's d sweeps at each optimal triad, the bands, "
            "the laws,\nthe end-to-end plan and a report (experiments/holistic.h).",
            o, vm)) {
      return 0;
    }
    const ex::Preset& preset = ex::find_preset(vm["preset"].as<std::string>());
    const std::string out = vm.count("out") ? vm["out"].as<std::string>() : "runs/" + preset.name;
    const std::string device = device_of(vm, preset);
    const std::string bin = moe::cli::executable_dir();
    const int64_t vocab = vocab_of(vm, preset);
    const std::string shared = preset.grid + fmt::format("vocab = {}\n", vocab);
    const std::string grid_text =
        preset.holistic ? ex::phase1_grid(shared, *preset.holistic) : shared;
    // The plan first: impossible grids fail here, and expensive presets show their cost.
    const ex::Grid parsed = ex::parse_grid(grid_text, preset.name);
    const std::vector<ex::RunSpec> runs =
        preset.holistic ? moe::cli::holistic_planned_runs(preset, shared) : ex::expand(parsed);
    announce(preset, runs, out, vm["yes"].as<bool>());
    fs::create_directories(out);
    std::string command = "build/bin/moescale reproduce";
    for (int i = 1; i < argc; ++i) command += std::string(" ") + argv[i];
    moe::write_json_atomic((fs::path(out) / "reproduce.json").string(),
                           {{"command", command}, {"preset", preset.name}});

    const std::string data = prepare_shards(vm, preset, out, bin);
    if (data.empty()) return 2;
    const nlohmann::json meta = moe::read_json((fs::path(data) / "meta.json").string());
    if (meta.at("vocab_size").get<int64_t>() != vocab) {
      throw moe::InputError(
          fmt::format("{}/meta.json: vocabulary {} differs from the preset's {}; "
                      "delete {} to re-tokenize",
                      data, meta.at("vocab_size").get<int64_t>(), vocab, data));
    }
    const int workers = workers_of(vm, device);
    if (preset.holistic) {
      return moe::cli::run_holistic(
          preset, moe::cli::HolisticRun{shared, data, out, bin, device, command, workers});
    }
    const std::string grid = (fs::path(out) / (preset.name + ".grid")).string();
    moe::write_file_atomic(grid, grid_text);
    const std::string sweep = (fs::path(out) / "sweep").string();
    step(fmt::format(
        "3/4 sweep: {} runs{} -> {}", runs.size(),
        parsed.bracket.on ? ", and those bracketing adds until each valley is inside" : "", sweep));
    if (!run_step({bin + "/moescale-sweep", "--grid", grid, "--data", data, "--out", sweep,
                   "--devices", device, "--workers", std::to_string(workers)},
                  "moescale sweep")) {
      return 2;
    }

    step("4/4 fits and report");
    if (!run_step({bin + "/moescale-report", sweep}, "moescale report")) return 2;
    std::printf("report: %s/report/report.md (figures: %s/report/*.png)\n", sweep.c_str(),
                sweep.c_str());
    return 0;
  });
}
