// moescale train: train one model from a plan (the planner's flags) or a config file on token
// shards, leaving a run directory (see moe/trainer.h).
//
// Exit status: 0 done; 2 bad input; 3 diverged (NaN/Inf loss); 130/143 interrupted by
// SIGINT/SIGTERM after a checkpoint; 1 failed.
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "experiments/cli/cli.h"
#include "experiments/cli/plan_options.h"
#include "moe/accounting.h"
#include "moe/device.h"
#include "moe/io.h"
#include "moe/planner.h"
#include "moe/trainer.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace {

po::options_description train_options() {
  po::options_description o("training");
  // clang-format off
  o.add_options()
      ("data", po::value<std::string>(), "token shards: a directory (train/val shards inside), a shard or a glob")
      ("val-data", po::value<std::string>(), "held-out shards (default: the val shards of --data's directory)")
      ("out", po::value<std::string>(), "run directory (config.json, metrics.jsonl, result.json, checkpoints)")
      ("config", po::value<std::string>(), "a train config JSON (e.g. another run's config.json) instead of plan flags")
      ("device", po::value<std::string>(), "cpu, cuda or cuda:<i> (default cpu)")
      ("dtype", po::value<std::string>(), "fp32 or bf16 (bf16 autocast on CUDA or CPU: matmuls in bf16, fp32 weights; default fp32)")
      ("threads", po::value<int>(), "torch intra-op threads (default: LibTorch's)")
      ("grouped-gemm", po::value<std::string>(), "experts as one grouped GEMM per matrix: auto (CUDA compute capability 9.x + bf16; default), on (wherever the kernel runs, CPU too) or off (a loop over experts)")
      ("micro-batch", po::value<int64_t>(), "sequences per forward/backward; must divide --batch-size")
      ("tokens", po::value<int64_t>(), "training tokens (default: the plan's D = C / FLOPs per token)")
      ("lr", po::value<double>(), "peak learning rate (default: the label's)")
      ("min-lr-ratio", po::value<double>(), "final LR / peak LR (default 0.1)")
      ("warmup", po::value<int64_t>(), "linear warmup steps (default 2% of the steps)")
      ("schedule", po::value<std::string>(), "cosine (default), wsd (warmup-stable-decay) or constant")
      ("decay-fraction", po::value<double>(), "WSD: fraction of steps in the final decay (default 0.2)")
      ("weight-decay", po::value<double>(), "AdamW decoupled weight decay on matrices (default 0.1)")
      ("clip", po::value<double>(), "global gradient-norm clip, 0 disables (default 1.0)")
      ("eval-every", po::value<int64_t>(), "steps between validation evals (default: 4 evals per run)")
      ("eval-tokens", po::value<int64_t>(), "tokens in the fixed held-out set (default 65536)")
      ("seed", po::value<uint64_t>(), "initialisation and data-order seed (default 0)")
      ("resume", po::bool_switch(), "continue from the run directory's newest good checkpoint (or start)")
      ("log-every", po::value<int64_t>(), "steps between metrics.jsonl lines (default 10)")
      ("checkpoint-minutes", po::value<double>(), "wall-clock minutes between checkpoints (default 10)")
      ("checkpoint-every", po::value<int64_t>(), "also checkpoint every N steps")
      ("stop-at-step", po::value<int64_t>(), "stop after this step with a checkpoint, as on SIGINT")
      ("inject-nan-at", po::value<int64_t>(), "testing: make the loss NaN at this step");
  // clang-format on
  return o;
}

template <typename T>
void override_from(const po::variables_map& vm, const char* flag, T& field) {
  if (vm.count(flag) && !vm[flag].defaulted()) field = vm[flag].as<T>();
}

// Flags that only make sense with plan flags, not with --config.
bool has_plan_flags(const po::variables_map& vm) {
  for (const char* flag : {"compute",
                           "ratio",
                           "label",
                           "sparsity",
                           "experts",
                           "top-k",
                           "shared",
                           "context",
                           "vocab",
                           "d-model",
                           "kv-heads",
                           "hold",
                           "convention",
                           "positions",
                           "norm",
                           "router-score",
                           "tie-embeddings",
                           "aux-loss",
                           "z-loss",
                           "dense-layers",
                           "no-renormalize",
                           "width-multiple",
                           "head-dim-multiple"}) {
    if (vm.count(flag) && !vm[flag].defaulted()) return true;
  }
  return false;
}

moe::TrainConfig config_from_plan(const po::variables_map& vm) {
  moe::PlanRequest request = moe::cli::plan_request_from(vm);
  // With --tokens alone: plan the shape at a nominal budget, then train on exactly --tokens.
  const bool tokens_only = !vm.count("compute");
  if (tokens_only) request.compute = 1e21;
  // The data's vocabulary, when the user did not pick one.
  if (vm["vocab"].defaulted() && vm.count("data") &&
      fs::is_directory(vm["data"].as<std::string>())) {
    const fs::path meta = fs::path(vm["data"].as<std::string>()) / "meta.json";
    if (fs::exists(meta)) {
      request.vocab_size = moe::read_json(meta.string()).at("vocab_size").get<int64_t>();
    }
  }
  moe::Plan plan = moe::make_plan(request);
  moe::TrainConfig c;
  c.model = plan.model;
  c.batch_size = plan.batch_size;
  c.lr = plan.lr;
  c.tokens = static_cast<int64_t>(plan.tokens);
  if (tokens_only) {
    c.tokens = vm["tokens"].as<int64_t>();
    plan.request.compute = static_cast<double>(c.tokens) * plan.flops.training();
    plan.tokens = static_cast<double>(c.tokens);
  }
  c.plan = moe::plan_to_json(plan);
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
    po::options_description all = train_options();
    all.add(moe::cli::plan_options());
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
      if (has_plan_flags(vm)) {
        throw std::invalid_argument(
            "--config replaces the plan flags; drop --compute/--ratio/"
            "--label/... or drop --config");
      }
      c = moe::read_train_config(vm["config"].as<std::string>());
    } else {
      if (!vm.count("compute") && !vm.count("tokens")) {
        throw std::invalid_argument(
            "--compute is required (or --tokens, or --config FILE): e.g. --compute 1e14");
      }
      c = config_from_plan(vm);
    }
    override_from(vm, "data", c.data);
    override_from(vm, "val-data", c.val_data);
    override_from(vm, "device", c.device);
    override_from(vm, "dtype", c.dtype);
    override_from(vm, "threads", c.threads);
    override_from(vm, "batch-size", c.batch_size);
    override_from(vm, "micro-batch", c.micro_batch_size);
    if (vm.count("config")) override_from(vm, "tokens", c.tokens);
    override_from(vm, "lr", c.lr);
    override_from(vm, "min-lr-ratio", c.min_lr_ratio);
    override_from(vm, "warmup", c.warmup_steps);
    if (vm.count("grouped-gemm")) {
      c.grouped_gemm = moe::parse_grouped_gemm(vm["grouped-gemm"].as<std::string>());
    }
    if (vm.count("schedule")) c.schedule = moe::parse_schedule(vm["schedule"].as<std::string>());
    override_from(vm, "decay-fraction", c.decay_fraction);
    override_from(vm, "weight-decay", c.weight_decay);
    override_from(vm, "clip", c.clip);
    override_from(vm, "eval-every", c.eval_every);
    override_from(vm, "eval-tokens", c.eval_tokens);
    override_from(vm, "seed", c.seed);
    override_from(vm, "log-every", c.log_every);
    override_from(vm, "checkpoint-minutes", c.checkpoint_minutes);
    override_from(vm, "checkpoint-every", c.checkpoint_every);
    override_from(vm, "stop-at-step", c.stop_at_step);
    override_from(vm, "inject-nan-at", c.inject_nan_at_step);
    c.validate();

    const std::string out = vm["out"].as<std::string>();
    print_header(c, out);
    moe::install_stop_handlers();
    const moe::TrainResult r = moe::train(c, out, vm["resume"].as<bool>());
    if (r.status == "done") return 0;
    if (r.status == "diverged") {
      std::fprintf(stderr, "moescale train: diverged at step %lld: %s\n",
                   (long long)r.diverged_step, r.reason.c_str());
      return 3;
    }
    if (r.status == "interrupted") {
      const int sig = moe::stop_signal();
      std::fprintf(stderr, "moescale train: interrupted; continue with --resume\n");
      return sig ? 128 + sig : 130;
    }
    return 1;
  });
}
