// moescale train: train one model from a plan (the planner's flags) or a config file on token
// shards, leaving a run directory (see moe/trainer.h).
//
// Exit status: 0 done; 2 bad input; 3 diverged (NaN/Inf loss); 130/143 interrupted by
// SIGINT/SIGTERM after a checkpoint; 1 failed.
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "common/io.h"
#include "experiments/cli/cli.h"
#include "experiments/cli/plan_options.h"
#include "experiments/cli/train_launch.h"
#include "moe/accounting.h"
#include "moe/device.h"
#include "moe/distributed.h"
#include "moe/planner.h"
#include "moe/trainer.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace {

// The command's own flags; every run setting comes from the settings table (moe/settings.h).
po::options_description command_options() {
  po::options_description o("run");
  // clang-format off
  o.add_options()
      ("data", po::value<std::string>(), "token shards: a directory (train/val shards inside), a shard or a glob")
      ("val-data", po::value<std::string>(), "held-out shards (default: the val shards of --data's directory)")
      ("out", po::value<std::string>(), "run directory (config.json, metrics.jsonl, result.json, checkpoints)")
      ("config", po::value<std::string>(), "a train config JSON (e.g. another run's config.json) instead of plan flags")
      ("resume", po::bool_switch(), "continue from the run directory's newest good checkpoint (or start)");
  // clang-format on
  return o;
}

moe::TrainConfig config_from_plan(const po::variables_map& vm) {
  moe::RunSettings settings;
  // The data's vocabulary, unless --vocab says otherwise.
  if (vm.count("data") && fs::is_directory(vm["data"].as<std::string>())) {
    const fs::path meta = fs::path(vm["data"].as<std::string>()) / "meta.json";
    if (fs::exists(meta)) {
      settings.plan.vocab_size = moe::read_json(meta.string()).at("vocab_size").get<int64_t>();
    }
  }
  moe::cli::apply_settings(vm, /*plan_command=*/false, settings);
  // With --tokens alone: plan the shape at a nominal budget, then train on exactly --tokens.
  const bool tokens_only = !vm.count("compute");
  if (tokens_only) settings.plan.compute = 1e21;
  moe::Plan plan = moe::make_plan(settings.plan);
  moe::TrainConfig c = moe::train_config_for(plan, settings);
  if (tokens_only) {
    c.tokens = settings.train.tokens;
    plan.request.compute = static_cast<double>(c.tokens) * plan.flops.training();
    plan.tokens = static_cast<double>(c.tokens);
    c.plan = moe::plan_to_json(plan);
  }
  return c;
}

// To stdout: stderr carries only progress and, for bad input, the one error line.
void print_header(const moe::TrainConfig& c, const std::string& out) {
  const moe::FlopsPerToken f = moe::flops_per_token(c.model);
  const moe::ParamCounts p = moe::count_params(c.model);
  const moe::ModelConfig& m = c.model;
  std::printf(
      "moescale train -> %s  [run id %s]\n"
      "  model   %lld layers, d_model %lld, %lld heads x %lld (kv %lld), d_expert %lld, "
      "%lld routed + %lld shared experts, top-%lld\n"
      "  shape   r = C_E/C_A = %.3f, S = %.2f%%, N_a = %s, N = %s, params = %s\n"
      "  run     %lld steps x %lld seqs x %lld tokens = %s tokens, %s FLOPs, lr %g, "
      "%s on %s (%s)\n",
      out.c_str(), moe::run_id(c).c_str(), (long long)m.n_layers, (long long)m.d_model,
      (long long)m.n_heads, (long long)m.head_dim, (long long)m.n_kv_heads, (long long)m.d_expert,
      (long long)m.n_experts, (long long)m.n_shared_experts, (long long)m.top_k, f.ratio(),
      100 * m.sparsity(), moe::cli::sci(double(p.active_nonembedding())).c_str(),
      moe::cli::sci(double(p.total_nonembedding())).c_str(),
      moe::cli::sci(double(p.total())).c_str(), (long long)c.steps(), (long long)c.batch_size,
      (long long)m.context, moe::cli::sci(double(c.tokens)).c_str(),
      moe::cli::sci(double(c.tokens) * f.training()).c_str(), c.lr,
      moe::to_string(c.schedule).c_str(), c.device.c_str(), c.dtype.c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  // `moescale --version` asks the trainer what LibTorch and CUDA it was built with.
  if (argc == 2 && std::string(argv[1]) == "--version") {
    for (const std::string& line : moe::build_info()) std::printf("%s\n", line.c_str());
    return 0;
  }
  return moe::cli::run_main("train", [&] {
    po::options_description all = command_options();
    all.add(moe::cli::setting_options(/*plan_command=*/false));
    po::variables_map vm;
    if (!moe::cli::parse(argc, argv,
                         "moescale train --data DIR --out RUNDIR (--compute C [plan flags] | "
                         "--config FILE) [training flags]",
                         "Trains one MoE model on token shards: AdamW (0.9, 0.95), weight decay "
                         "0.1, clip 1.0, warmup then cosine\nto 10% of the peak LR; batch and LR "
                         "from the size label. Exit status: 0 done, 2 bad input, 3 diverged,\n"
                         "130/143 interrupted (checkpoint saved; rerun with --resume), 1 failed.",
                         all, vm)) {
      return 0;
    }
    moe::cli::require(vm, "out", "give the run directory, e.g. --out runs/r1");
    moe::TrainConfig c;
    if (vm.count("config")) {
      const std::string plan_flag = moe::cli::given_plan_setting(vm);
      if (!plan_flag.empty()) {
        throw std::invalid_argument("--config replaces the plan flags; drop --" + plan_flag +
                                    " or drop --config");
      }
      moe::RunSettings settings;
      settings.train = moe::read_train_config(vm["config"].as<std::string>());
      moe::cli::apply_settings(vm, /*plan_command=*/false, settings);
      c = settings.train;
    } else {
      if (!vm.count("compute") && !vm.count("tokens")) {
        throw std::invalid_argument(
            "--compute is required (or --tokens, or --config FILE): e.g. --compute 1e14");
      }
      c = config_from_plan(vm);
    }
    c.split_across(c.nproc_per_node);
    if (vm.count("data")) c.data = vm["data"].as<std::string>();
    if (vm.count("val-data")) c.val_data = vm["val-data"].as<std::string>();
    c.validate();

    const std::string out = vm["out"].as<std::string>();
    const moe::RankInfo me = moe::rank_from_environment();
    if (c.nproc_per_node > 1 && me.source == "srun") {
      throw std::invalid_argument(fmt::format(
          "--nproc-per-node {} under srun: each srun task is a rank; drop --nproc-per-node and "
          "start srun with --ntasks-per-node={}",
          c.nproc_per_node, c.nproc_per_node));
    }
    moe::install_stop_handlers();
    if (c.nproc_per_node > 1 && !me.distributed()) {  // this process starts the ranks
      print_header(c, out);
      return moe::cli::launch_ranks(static_cast<int>(c.nproc_per_node),
                                    std::vector<std::string>(argv + 1, argv + argc), out,
                                    &moe::stop_signal);
    }
    if (me.rank == 0 && me.source != "launcher") print_header(c, out);
    const moe::RunResult r = moe::train(c, out, vm["resume"].as<bool>());
    const bool say = me.rank == 0;  // one rank speaks for the run
    switch (r.status) {
      case moe::RunStatus::kDone:
        return moe::exit_status::kDone;
      case moe::RunStatus::kDiverged:
        if (say) {
          std::fprintf(stderr, "moescale train: diverged at step %lld: %s\n",
                       (long long)r.diverged_step, r.reason.c_str());
        }
        return moe::exit_status::kDiverged;
      case moe::RunStatus::kInterrupted: {
        const int sig = moe::stop_signal();
        if (say) std::fprintf(stderr, "moescale train: interrupted; continue with --resume\n");
        return sig ? 128 + sig : 130;
      }
      default:
        return moe::exit_status::kFailed;
    }
  });
}
