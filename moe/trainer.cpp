#include "moe/trainer.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/profiler_kineto.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/optim/adamw.h>
#include <torch/serialize.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <numeric>
#include <set>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "common/errors.h"
#include "common/hashing.h"
#include "common/io.h"
#include "common/lock.h"
#include "common/progress.h"
#include "data/shards.h"
#include "moe/accounting.h"
#include "moe/device.h"
#include "moe/distributed.h"
#include "moe/memory.h"
#include "moe/model.h"
#include "moe/step_graph.h"

namespace moe {
namespace fs = std::filesystem;

namespace {

// --profile's window: after the first steps' one-time costs (allocator, caches, threads).
constexpr int64_t kProfileFrom = 5, kProfileSteps = 10;
// --cuda-graph: eager steps of a session before its step is captured (cuBLAS handles and
// workspaces, AdamW's state and autocast's first casts are made on the capture's stream).
constexpr int64_t kGraphWarmup = 3;

// LibTorch's Kineto profiler on the CPU (what Python's torch.profiler runs, so the two sides'
// traces compare op for op) from construction until destruction, which writes the trace.
class StepProfile {
 public:
  explicit StepProfile(std::string path) : path_(std::move(path)) {
    namespace prof = torch::autograd::profiler;
    const prof::ProfilerConfig config(prof::ProfilerState::KINETO);
    const std::set<torch::profiler::impl::ActivityType> cpu = {
        torch::profiler::impl::ActivityType::CPU};
    prof::prepareProfiler(config, cpu);
    prof::enableProfiler(config, cpu);
  }
  ~StepProfile() { torch::autograd::profiler::disableProfiler()->save(path_); }
  StepProfile(const StepProfile&) = delete;
  StepProfile& operator=(const StepProfile&) = delete;

 private:
  std::string path_;
};

}  // namespace

namespace {

std::atomic<int> g_stop_signal{0};

extern "C" void on_stop_signal(int sig) { g_stop_signal.store(sig); }

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string hex(uint64_t v) { return fmt::format("{:016x}", v); }

// Sum of per-tensor squared norms -> global norm; grads scaled in place when above max_norm.
// Stays on the device: no host synchronisation. Over several ranks each holds the gradients
// it owns: their squares are summed across the ranks.
at::Tensor clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm,
                          Collectives* comm) {
  std::vector<at::Tensor> squares;
  for (const auto& p : params) {
    if (p.grad().defined()) squares.push_back(p.grad().pow(2).sum());
  }
  if (squares.empty()) squares.push_back(at::zeros({}, params.front().options()));
  std::vector<at::Tensor> total = {at::stack(squares).sum()};
  if (comm != nullptr) comm->all_reduce_sum(total);
  const at::Tensor norm = total[0].sqrt();
  if (max_norm > 0) {
    const at::Tensor scale = (max_norm / (norm + 1e-6)).clamp_max(1.0);
    for (const auto& p : params) {
      if (p.grad().defined()) p.grad().mul_(scale);
    }
  }
  return norm;
}

class Trainer {
 public:
  Trainer(const TrainConfig& config, std::string run_dir)
      : cfg_(config),
        dir_(std::move(run_dir)),
        device_(parse_device(config.device)),
        bf16_(config.dtype == "bf16") {}

  RunResult run(bool resume);

 private:
  // The run's start: ranks joined, rank 0's lock taken and directory prepared; the finished
  // result when a resumed run is already done. Whether the step will be captured (and a line
  // saying so on CUDA).
  std::optional<RunResult> open_run(bool resume, std::optional<DirLock>& lock);
  bool announce_graph() const;
  // Several ranks (moe/distributed.h): this rank's device and threads, the micro-batch each
  // rank runs, the collectives. Nothing in a single process.
  void join_ranks();
  bool lead() const { return me_.rank == 0; }
  // ZeRO: each parameter's owner (the rank that keeps its gradient and AdamW state and updates it),
  // balancing the elements each rank owns.
  std::vector<int> assign_owners() const;
  // After the backward: every rank's gradients summed, in buckets of kBucketBytes. After the
  // update: each parameter sent from its owner to the others.
  void reduce_gradients();
  void gather_parameters();
  // ZeRO-2 with the sums overlapping the backward: parameters in buckets of bucket_bytes(), a
  // hook on each that counts its bucket's gradients during the last micro-batch's backward
  // and starts the bucket's sum when it is complete; a finished sum drops the gradients this
  // rank does not own.
  struct Bucket {
    std::vector<size_t> params;
    int64_t ready = 0;
    bool started = false;
  };
  void plan_buckets();
  void grad_ready(size_t index);
  void start_bucket(size_t b);
  void finish_buckets(size_t keep);
  // The window's sums over the ranks (ce, aux, z, loads: each rank holds its micro-batches').
  void reduce_window();
  // Whether to stop and whether a timed checkpoint is due, agreed by the ranks (the largest
  // signal, rank 0's clock).
  std::pair<int, bool> agree_on_stop(int signal, bool timed_checkpoint, bool now);
  void prepare_directory(bool resume);
  void load_data();
  void init_state();
  bool try_resume();
  void save_checkpoint();
  std::string optimizer_file() const;  // this rank's share of AdamW's state in a checkpoint
  bool load_checkpoint(const fs::path& dir, std::string* why);
  double evaluate();
  void write_result(RunResult r);  // fills what the trainer knows: tokens, FLOPs, peak, id
  void truncate_metrics(int64_t last_step);
  // One step's outputs, on the device: the mean cross-entropy, balancing and z losses over
  // its micro-batches, the gradient norm before clipping, and the pairs routed to each expert
  // per MoE layer.
  struct StepOut {
    at::Tensor ce, aux, z, grad_norm;
    std::vector<at::Tensor> load;
  };
  // The pieces of run(): what a session sets up (data, model, optimizer, checkpoint, peak);
  // a step's token rows on the device; its forward and backward over the micro-batches; the
  // update (clip and AdamW at the learning rate set by set_lr, or read from lr_device on the
  // device); the outputs added to the metrics window; the MFU of a window (measuring the CPU
  // peak again when the model outran it); a window's metrics line.
  void start_session(bool resume);
  void warn_memory() const;
  at::Tensor upload_batches();
  StepOut forward_backward(const at::Tensor& batches);
  void set_lr(double lr);
  at::Tensor update(const at::Tensor* lr_device);
  void optimizer_step(const at::Tensor* lr_device);
  void accumulate(const StepOut& out);
  // --cuda-graph: why this session's step is not captured ("" when it is, after kGraphWarmup
  // eager steps); one step through the graph (captured on its first call; false, with the
  // reason printed, when capture fails and the step must run eagerly); the AdamW states'
  // host step counts (-1: no state yet), which checkpoints keep while the captured kernel
  // counts on the device.
  std::string graph_refusal() const;
  bool graph_step(const at::Tensor& batches, double lr, StepOut* out);
  // One step: upload, forward and backward (or a replay), the update; returns the step's loss
  // when it was checked and is not finite (the run diverged: no update), else a finite value.
  double one_step(double lr, bool log_now, bool graph_due, bool* graph_wanted);
  std::vector<int64_t> host_step_counts();
  void set_host_step_counts(const std::vector<int64_t>& counts);
  double mfu(double tokens_per_s);
  nlohmann::json window_line(double lr, double seconds);
  // The loop's bookkeeping: whether step n ends a metrics window; the window's metrics line
  // (with an evaluation when one is due; false, and nothing logged, when its mean loss is not
  // finite); a checkpoint when one is due, and why the run must stop now ("" to go on); the
  // result.json and last progress line of a session's end.
  bool is_log_step(int64_t n) const;
  bool log_window(double lr);
  std::string checkpoint_or_stop(bool log_now);
  RunResult finish(RunStatus status, const std::string& reason, ProgressLine& progress);
  RunResult diverged(double loss, const std::string& when, ProgressLine& progress);
  std::string metrics_path() const { return (fs::path(dir_) / "metrics.jsonl").string(); }
  fs::path checkpoints_dir() const { return fs::path(dir_) / "checkpoints"; }

  TrainConfig cfg_;
  std::string dir_;
  c10::Device device_;
  bool bf16_;
  RankInfo me_;
  std::unique_ptr<Collectives> comm_;  // several ranks only
  std::vector<int> owner_;             // per params_: the rank that updates it
  std::vector<Bucket> buckets_;
  std::vector<size_t> bucket_of_;  // per params_
  std::deque<std::pair<size_t, std::unique_ptr<Collectives::PendingSum>>> in_flight_;
  bool reducing_ = false;       // during the step's last backward
  double flops_per_token_ = 0;  // training FLOPs per token, logits included
  PeakFlops peak_;              // for MFU

  std::unique_ptr<TokenDataset> train_data_, val_data_;
  std::unique_ptr<WindowSampler> sampler_;
  std::vector<int64_t> val_windows_;     // (n_val, T + 1) row-major
  std::unique_ptr<BatchUpload> upload_;  // a step's (n_micro, micro-batch, T + 1) token rows

  MoETransformer model_{nullptr};
  std::unique_ptr<torch::optim::AdamW> opt_;
  bool fused_adamw_ = false;  // --fused-adamw: one kernel per group on opt_'s own state
  // The fused kernel's step counts, one float tensor per parameter on its device (the state's
  // integer step is what checkpoints keep; these are rebuilt from it after a resume).
  std::unordered_map<const void*, at::Tensor> fused_steps_;
  std::vector<at::Tensor> params_;

  // --cuda-graph: the captured step, its learning rate on the device (filled before each
  // replay) and its outputs (the same tensors every replay).
  std::unique_ptr<StepGraph> graph_;
  at::Tensor lr_device_;
  StepOut graph_out_;

  // Metrics accumulated since the last metrics line (device tensors, no host sync per step);
  // checkpointed so that a resumed run's metrics lines equal an uninterrupted run's.
  struct Window {
    at::Tensor ce, aux, z, grad_norm;  // sums over steps, fp64
    std::vector<at::Tensor> load;      // per MoE layer: (E) pairs routed
    int64_t steps = 0;
  };
  void reset_window();
  nlohmann::json window_to_json() const;
  void window_from_json(const nlohmann::json& j);
  Window window_;

  int64_t step_ = 0;        // optimizer steps done
  double wall_before_ = 0;  // wall seconds of earlier sessions of this run
  Clock::time_point session_start_ = Clock::now();

  // This session's loop: the last losses seen, when the open metrics window, the last
  // checkpoint and the lock's last heartbeat began, and the progress line's detail.
  struct Loop {
    double train_loss = std::numeric_limits<double>::quiet_NaN();
    double val_loss = std::numeric_limits<double>::quiet_NaN();
    Clock::time_point window_start, last_checkpoint, last_heartbeat;
    std::string detail = "starting";
    int64_t diverged_step = -1;
  };
  Loop loop_;
};

// Collectives give up after this long (a rank that died or hangs); MOESCALE_COLLECTIVE_TIMEOUT
// (seconds) changes it.
std::chrono::milliseconds collective_timeout() {
  const char* v = std::getenv("MOESCALE_COLLECTIVE_TIMEOUT");
  const double seconds = v != nullptr ? std::atof(v) : 600.0;
  return std::chrono::milliseconds(static_cast<int64_t>(1000 * (seconds > 0 ? seconds : 600.0)));
}

// Gradients are summed in buckets of this many bytes; MOESCALE_BUCKET_BYTES changes it (the
// tests use small buckets, so that sums start during the backward).
int64_t bucket_bytes() {
  const char* v = std::getenv("MOESCALE_BUCKET_BYTES");
  const int64_t n = v != nullptr ? std::atoll(v) : 0;
  return n > 0 ? n : int64_t{32} << 20;
}

void Trainer::join_ranks() {
  me_ = rank_from_environment();
  if (!me_.distributed()) return;
  const int64_t world = me_.world;
  if (cfg_.batch_size % world != 0) {
    throw InputError(
        fmt::format("--batch-size {} does not split into {} ranks: use a multiple "
                    "of {}",
                    cfg_.batch_size, world, world));
  }
  const int64_t per_rank = cfg_.batch_size / world;
  if (cfg_.micro_batch_size == 0) cfg_.micro_batch_size = per_rank;
  if (per_rank % cfg_.micro_batch_size != 0) {
    throw InputError(
        fmt::format("--micro-batch {} must divide each rank's {} sequences "
                    "(--batch-size {} over {} ranks)",
                    cfg_.micro_batch_size, per_rank, cfg_.batch_size, world));
  }
  if (device_.is_cuda()) {
    const int index = (device_.has_index() ? device_.index() : 0) + me_.local_rank;
    device_ = parse_device(fmt::format("cuda:{}", index));  // says so when there is none
  } else if (cfg_.threads == 0) {
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    at::set_num_threads(std::max(1, cores / me_.local_world));
  }
  comm_ = std::make_unique<Collectives>(me_, device_, collective_timeout());
}

std::vector<int> Trainer::assign_owners() const {
  std::vector<int> owner(params_.size(), 0);
  if (!comm_) return owner;
  std::vector<size_t> order(params_.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return params_[a].numel() > params_[b].numel(); });
  std::vector<int64_t> owned(static_cast<size_t>(comm_->world()), 0);
  for (const size_t i : order) {
    const auto least = std::min_element(owned.begin(), owned.end()) - owned.begin();
    owner[i] = static_cast<int>(least);
    owned[static_cast<size_t>(least)] += params_[i].numel();
  }
  return owner;
}

// After the last micro-batch's backward has accumulated a parameter's gradient.
class GradReady : public torch::autograd::PostAccumulateGradHook {
 public:
  GradReady(std::function<void(size_t)> ready, size_t index)
      : ready_(std::move(ready)), index_(index) {}
  void operator()(const torch::autograd::Variable&) override { ready_(index_); }

 private:
  std::function<void(size_t)> ready_;
  size_t index_;
};

void Trainer::plan_buckets() {
  buckets_.clear();
  bucket_of_.assign(params_.size(), 0);
  if (!comm_) return;
  const int64_t limit = bucket_bytes();
  int64_t bytes = limit;
  // From the last layer's parameters to the first: the order the backward finishes them in.
  for (size_t i = params_.size(); i-- > 0;) {
    if (bytes >= limit) {
      buckets_.emplace_back();
      bytes = 0;
    }
    buckets_.back().params.push_back(i);
    bucket_of_[i] = buckets_.size() - 1;
    bytes += params_[i].numel() * static_cast<int64_t>(params_[i].element_size());
    torch::autograd::impl::set_post_acc_grad_hooks(
        params_[i], std::make_unique<GradReady>([this](size_t p) { grad_ready(p); }, i));
  }
}

void Trainer::grad_ready(size_t index) {
  if (!reducing_) return;
  Bucket& b = buckets_[bucket_of_[index]];
  if (++b.ready == static_cast<int64_t>(b.params.size())) start_bucket(bucket_of_[index]);
}

void Trainer::start_bucket(size_t b) {
  const torch::NoGradGuard no_grad;
  finish_buckets(/*keep=*/1);  // one sum in flight besides this one: the gradients it frees
  std::vector<at::Tensor> grads;
  for (const size_t i : buckets_[b].params) {
    if (!params_[i].grad().defined()) params_[i].mutable_grad() = at::zeros_like(params_[i]);
    grads.push_back(params_[i].grad());
  }
  buckets_[b].started = true;
  in_flight_.emplace_back(b, comm_->start_sum(std::move(grads)));
}

void Trainer::finish_buckets(size_t keep) {
  while (in_flight_.size() > keep) {
    auto& [b, pending] = in_flight_.front();
    pending->wait();
    // ZeRO-2: a gradient this rank does not update is not kept.
    for (const size_t i : buckets_[b].params) {
      if (owner_[i] != me_.rank) params_[i].mutable_grad() = at::Tensor();
    }
    in_flight_.pop_front();
  }
}

void Trainer::reduce_gradients() {
  if (!comm_) return;
  RECORD_FUNCTION("moescale::reduce_gradients", std::vector<c10::IValue>());
  torch::NoGradGuard no_grad;
  reducing_ = false;
  // The buckets the backward did not complete (a parameter without a gradient), in order.
  for (size_t b = 0; b < buckets_.size(); ++b) {
    if (!buckets_[b].started) start_bucket(b);
  }
  finish_buckets(0);
  for (Bucket& b : buckets_) {
    b.ready = 0;
    b.started = false;
  }
}

void Trainer::gather_parameters() {
  if (!comm_) return;
  RECORD_FUNCTION("moescale::gather_parameters", std::vector<c10::IValue>());
  torch::NoGradGuard no_grad;
  for (int r = 0; r < comm_->world(); ++r) {
    std::vector<at::Tensor> owned;
    for (size_t i = 0; i < params_.size(); ++i) {
      if (owner_[i] == r) owned.push_back(params_[i]);
    }
    comm_->broadcast(owned, r);
  }
}

void Trainer::reduce_window() {
  if (!comm_) return;
  std::vector<at::Tensor> sums = {window_.ce, window_.aux, window_.z};
  comm_->all_reduce_sum(sums);
  comm_->all_reduce_sum(window_.load);
}

std::pair<int, bool> Trainer::agree_on_stop(int signal, bool timed_checkpoint, bool now) {
  if (!comm_) return {signal, timed_checkpoint};
  if (!now) return {0, false};  // CUDA ranks agree at metrics lines only (a read is a sync)
  at::Tensor flags = at::tensor({static_cast<double>(signal), timed_checkpoint ? 1.0 : 0.0},
                                at::TensorOptions().dtype(at::kDouble))
                         .to(device_);
  std::vector<at::Tensor> list = {flags};
  comm_->all_reduce_max(list);
  const at::Tensor host = list[0].to(at::kCPU);
  return {static_cast<int>(host[0].item<double>()), host[1].item<double>() > 0};
}

void Trainer::prepare_directory(bool resume) {
  fs::create_directories(dir_);
  const fs::path config_path = fs::path(dir_) / "config.json";
  const bool started = fs::exists(checkpoints_dir()) ||
                       fs::exists(fs::path(dir_) / "result.json") || fs::exists(metrics_path());
  // A config.json alone is left by an attempt that stopped at bad input: it is replaced.
  if (started && fs::exists(config_path)) {
    TrainConfig existing;
    try {
      from_json(read_json(config_path.string()), existing);
    } catch (const std::exception& e) {
      throw InputError(
          fmt::format("{}: unreadable run config ({}); delete the run directory or "
                      "use another --out",
                      config_path.string(), e.what()));
    }
    const std::string diff = first_difference(run_identity(existing), run_identity(cfg_));
    if (!diff.empty()) {
      throw InputError(fmt::format(
          "{} holds a run of a different config ({} differs); use another --out or delete it", dir_,
          diff));
    }
    if (!resume) {
      throw InputError(fmt::format(
          "{} already holds this run; pass --resume to continue it or use another --out", dir_));
    }
  }
  write_json_atomic(config_path.string(), cfg_);
}

void Trainer::load_data() {
  // The training shards first: a --data that does not exist is reported as such.
  train_data_ = std::make_unique<TokenDataset>(resolve_shards(cfg_.data, "train"));
  std::string val_spec = cfg_.val_data;
  if (val_spec.empty()) {
    if (!fs::is_directory(cfg_.data)) {
      throw InputError("--val-data is required when --data is a file or a glob (" + cfg_.data +
                       "): give the held-out shards");
    }
    val_spec = cfg_.data;
  }
  val_data_ = std::make_unique<TokenDataset>(resolve_shards(val_spec, "val"));
  train_data_->check_vocab(cfg_.model.vocab_size);
  val_data_->check_vocab(cfg_.model.vocab_size);
  sampler_ = std::make_unique<WindowSampler>(*train_data_, cfg_.model.context, cfg_.seed);
  val_windows_ =
      sequential_windows(*val_data_, cfg_.model.context, cfg_.eval_tokens / cfg_.model.context);
  if (val_windows_.empty()) {
    throw InputError(fmt::format("{}: the validation shards hold no window of {} tokens", val_spec,
                                 cfg_.model.context + 1));
  }
}

void Trainer::init_state() {
  torch::manual_seed(cfg_.seed);
  RuntimeOptions runtime;
  runtime.grouped_gemm = cfg_.grouped_gemm;
  runtime.checkpoint_activations = cfg_.checkpoint_activations;
  model_ = MoETransformer(cfg_.model, runtime);
  model_->to(device_);
  params_ = model_->parameters();
  owner_ = assign_owners();
  plan_buckets();
  // Decoupled weight decay on matrices (and stacked experts), none on norms; this rank's own
  // parameters only (all of them in a single process).
  std::vector<at::Tensor> decay, no_decay;
  for (size_t i = 0; i < params_.size(); ++i) {
    if (owner_[i] == me_.rank) (params_[i].dim() >= 2 ? decay : no_decay).push_back(params_[i]);
  }
  auto options = torch::optim::AdamWOptions(cfg_.lr)
                     .betas({cfg_.beta1, cfg_.beta2})
                     .eps(cfg_.adam_eps)
                     .weight_decay(cfg_.weight_decay);
  auto no_decay_options = options;
  no_decay_options.weight_decay(0.0);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(options));
  groups.emplace_back(no_decay, std::make_unique<torch::optim::AdamWOptions>(no_decay_options));
  opt_ = std::make_unique<torch::optim::AdamW>(std::move(groups), options);
  fused_adamw_ =
      cfg_.fused_adamw == Toggle::kOn || (cfg_.fused_adamw == Toggle::kAuto && device_.is_cuda());
  fused_steps_.clear();
  sampler_->set_position(0);
  step_ = 0;
  wall_before_ = 0;
  reset_window();
}

void Trainer::reset_window() {
  const auto f64 = at::TensorOptions().dtype(at::kDouble).device(device_);
  window_.ce = at::zeros({}, f64);
  window_.aux = at::zeros({}, f64);
  window_.z = at::zeros({}, f64);
  window_.grad_norm = at::zeros({}, f64);
  window_.load.clear();
  window_.steps = 0;
}

nlohmann::json Trainer::window_to_json() const {
  nlohmann::json load = nlohmann::json::array();
  for (const auto& c : window_.load) {
    const at::Tensor cpu = c.to(at::kCPU).contiguous();
    load.push_back(
        std::vector<int64_t>(cpu.data_ptr<int64_t>(), cpu.data_ptr<int64_t>() + cpu.numel()));
  }
  return {{"ce", window_.ce.item<double>()},
          {"aux", window_.aux.item<double>()},
          {"z", window_.z.item<double>()},
          {"grad_norm", window_.grad_norm.item<double>()},
          {"load", load},
          {"steps", window_.steps}};
}

void Trainer::window_from_json(const nlohmann::json& j) {
  reset_window();
  window_.ce.fill_(j.at("ce").get<double>());
  window_.aux.fill_(j.at("aux").get<double>());
  window_.z.fill_(j.at("z").get<double>());
  window_.grad_norm.fill_(j.at("grad_norm").get<double>());
  for (const auto& counts : j.at("load")) {
    window_.load.push_back(at::tensor(counts.get<std::vector<int64_t>>(), at::kLong).to(device_));
  }
  window_.steps = j.at("steps").get<int64_t>();
  // The checkpoint holds the sums of all ranks: rank 0 carries them on, the others start at 0.
  if (!lead()) {
    window_.ce.zero_();
    window_.aux.zero_();
    window_.z.zero_();
    for (auto& l : window_.load) l.zero_();
  }
}

// A checkpoint of several ranks: rank 0 writes the model, the RNG and state.json, each rank its
// share of AdamW's state (optimizer-R-of-W.pt; optimizer.pt in a single process). The
// directory appears under its final name only once every file is written and checksummed.
std::string Trainer::optimizer_file() const {
  return me_.world > 1 ? fmt::format("optimizer-{}-of-{}.pt", me_.rank, me_.world)
                       : std::string("optimizer.pt");
}

void Trainer::save_checkpoint() {
  // The window's sums of all ranks (each rank holds its own micro-batches' between lines).
  const Window own = window_;
  if (comm_) {
    window_.ce = own.ce.clone();
    window_.aux = own.aux.clone();
    window_.z = own.z.clone();
    window_.load.clear();
    for (const auto& l : own.load) window_.load.push_back(l.clone());
    reduce_window();
  }
  const nlohmann::json window = window_to_json();
  window_ = own;
  const std::string name = fmt::format("step-{:08d}", step_);
  const fs::path tmp = checkpoints_dir() / (".tmp-" + name);
  const fs::path final_dir = checkpoints_dir() / name;
  if (lead()) {
    fs::remove_all(tmp);
    fs::create_directories(tmp);
  }
  if (comm_) comm_->barrier();
  torch::save(*opt_, (tmp / optimizer_file()).string());
  if (lead()) {
    torch::save(model_, (tmp / "model.pt").string());
    torch::save(at::detail::getDefaultCPUGenerator().get_state(), (tmp / "rng.pt").string());
  }
  if (comm_) comm_->barrier();
  if (lead()) {
    nlohmann::json checksums = nlohmann::json::object();
    for (const auto& entry : fs::directory_iterator(tmp)) {
      const std::string file = entry.path().filename().string();
      checksums[file] = hex(checksum_file(entry.path().string()));
    }
    nlohmann::json state = {{"step", step_},
                            {"position", sampler_->position()},
                            {"wall_seconds", wall_before_ + seconds_since(session_start_)},
                            {"window", window},
                            {"checksums", checksums}};
    if (me_.world > 1) state["ranks"] = me_.world;
    state["checksum"] = hex(fnv1a64(state.dump()));
    write_json_atomic((tmp / "state.json").string(), state);
    fs::remove_all(final_dir);
    fs::rename(tmp, final_dir);
    sync_directory(checkpoints_dir().string());
    // Keep the newest two.
    std::vector<fs::path> all;
    for (const auto& entry : fs::directory_iterator(checkpoints_dir())) {
      const std::string n = entry.path().filename().string();
      if (n.rfind("step-", 0) == 0) all.push_back(entry.path());
    }
    std::sort(all.begin(), all.end());
    for (size_t i = 0; i + 2 < all.size(); ++i) fs::remove_all(all[i]);
  }
  if (comm_) comm_->barrier();  // no rank goes on before the checkpoint is whole
}

bool Trainer::load_checkpoint(const fs::path& dir, std::string* why) {
  nlohmann::json state;
  try {
    state = read_json((dir / "state.json").string());
    const std::string stored = state.value("checksum", "");
    state.erase("checksum");
    if (stored != hex(fnv1a64(state.dump()))) {
      *why = "state.json checksum mismatch";
      return false;
    }
  } catch (const std::exception& e) {
    std::string msg = e.what();
    *why = msg.substr(0, msg.find('\n'));
    return false;
  }
  // A checkpoint of another rank count is whole, not corrupt: say so rather than start over.
  if (const int ranks = state.value("ranks", 1); ranks != me_.world) {
    throw InputError(fmt::format(
        "{} was written by {} rank(s); this run has {}: resume it with --nproc-per-node {} (or "
        "srun with {} tasks): AdamW's state is sharded by rank",
        dir.string(), ranks, me_.world, ranks, ranks));
  }
  try {
    for (const auto& [file, sum] : state.at("checksums").items()) {
      if (sum.get<std::string>() != hex(checksum_file((dir / file).string()))) {
        *why = file + " checksum mismatch";
        return false;
      }
    }
    const std::vector<std::string> needed = {"model.pt", "rng.pt", optimizer_file()};
    for (const std::string& file : needed) {
      if (!state.at("checksums").contains(file)) {
        *why = file + " is missing";
        return false;
      }
    }
    torch::load(model_, (dir / "model.pt").string(), device_);
    torch::load(*opt_, (dir / optimizer_file()).string(), device_);
    fused_steps_.clear();  // rebuilt from the loaded steps
    at::Tensor rng;
    torch::load(rng, (dir / "rng.pt").string());
    at::Generator generator = at::detail::getDefaultCPUGenerator();  // a handle: same state
    generator.set_state(rng);
    step_ = state.at("step").get<int64_t>();
    sampler_->set_position(state.at("position").get<uint64_t>());
    wall_before_ = state.at("wall_seconds").get<double>();
    window_from_json(state.at("window"));
    return true;
  } catch (const std::exception& e) {
    std::string msg = e.what();
    *why = msg.substr(0, msg.find('\n'));
    return false;
  }
}

bool Trainer::try_resume() {
  if (!fs::exists(checkpoints_dir())) return false;
  std::vector<fs::path> all;
  for (const auto& entry : fs::directory_iterator(checkpoints_dir())) {
    const std::string n = entry.path().filename().string();
    if (n.rfind("step-", 0) == 0) all.push_back(entry.path());
  }
  std::sort(all.rbegin(), all.rend());
  for (const auto& dir : all) {
    std::string why;
    if (load_checkpoint(dir, &why)) {
      if (lead()) {
        std::fprintf(stderr, "resuming %s from %s\n", dir_.c_str(), dir.filename().c_str());
      }
      truncate_metrics(step_);
      return true;
    }
    if (lead()) {
      std::fprintf(stderr, "checkpoint %s is corrupt (%s); trying an older one\n",
                   dir.string().c_str(), why.c_str());
    }
    init_state();  // a failed load may have overwritten part of the state
  }
  if (!all.empty() && lead()) {
    std::fprintf(stderr, "no usable checkpoint in %s: restarting from scratch\n",
                 checkpoints_dir().c_str());
  }
  truncate_metrics(0);
  return false;
}

void Trainer::truncate_metrics(int64_t last_step) {
  const std::string path = metrics_path();
  if (!lead() || !fs::exists(path)) return;
  std::istringstream in(read_file(path));
  std::string kept, line;
  while (std::getline(in, line)) {
    try {
      if (nlohmann::json::parse(line).at("step").get<int64_t>() <= last_step) kept += line + "\n";
    } catch (const std::exception&) {
      // a line cut by a kill: drop it
    }
  }
  write_file_atomic(path, kept);
}

double Trainer::evaluate() {
  torch::NoGradGuard no_grad;
  model_->eval();
  const int64_t t = cfg_.model.context;
  const int64_t n = static_cast<int64_t>(val_windows_.size()) / (t + 1);
  const int64_t b = cfg_.micro_batch();
  at::Tensor total = at::zeros({}, at::TensorOptions().dtype(at::kDouble).device(device_));
  const AutocastCache cast_once(bf16_);
  // Each rank its share of the windows; their sums added.
  const int64_t mine_from = n * me_.rank / me_.world, mine_to = n * (me_.rank + 1) / me_.world;
  for (int64_t start = mine_from; start < mine_to; start += b) {
    const int64_t rows = std::min(b, mine_to - start);
    const at::Tensor batch =
        at::from_blob(val_windows_.data() + start * (t + 1), {rows, t + 1}, at::kLong).to(device_);
    AutocastScope autocast(bf16_, device_.type());
    const ModelOutput out = model_->forward(batch.narrow(1, 0, t));
    const LossParts loss = compute_loss(out, batch.narrow(1, 1, t), cfg_.model);
    total += loss.ce.to(at::kDouble) * static_cast<double>(rows);
  }
  model_->train();
  std::vector<at::Tensor> sum = {total};
  if (comm_) comm_->all_reduce_sum(sum);
  return sum[0].item<double>() / static_cast<double>(n);
}

void Trainer::write_result(RunResult r) {
  if (!lead()) return;
  r.steps_planned = cfg_.steps();
  r.tokens = r.steps * cfg_.batch_size * cfg_.model.context;
  r.flops = static_cast<double>(r.tokens) * flops_per_token_;
  r.peak_flops_per_second = peak_.flops_per_second;
  r.peak_source = peak_.source;
  r.run_id = run_id(cfg_);
  write_json_atomic(RunDir(dir_).result().string(), r);
}

// On a GPU whose memory is below the run's estimate (moe/memory.h), one line before the first
// step says so and what would fit: an out-of-memory error would otherwise come later.
void Trainer::warn_memory() const {
  if (!device_.is_cuda() || !lead()) return;
  for (const CudaDeviceInfo& d : cuda_devices()) {
    if (d.index != device_.index() && !(device_.index() < 0 && d.index == 0)) continue;
    TrainConfig run = cfg_;
    run.nproc_per_node = me_.world;
    const MemoryReport m = memory_report(run, static_cast<double>(d.total_memory));
    if (m.fits()) return;
    std::fprintf(stderr, "%s: warning: the estimated peak, %s per rank, exceeds %s's %s: %s\n",
                 dir_.c_str(), format_bytes(m.sharded.total()).c_str(), d.name.c_str(),
                 format_bytes(static_cast<double>(d.total_memory)).c_str(),
                 m.remedy(cfg_.model).c_str());
  }
}

void Trainer::start_session(bool resume) {
  if (cfg_.threads > 0) at::set_num_threads(cfg_.threads);
  warn_memory();
  load_data();
  const std::string convention = cfg_.plan.value("convention", std::string("full"));
  flops_per_token_ = flops_per_token(cfg_.model, convention == "causal" ? ContextConvention::kCausal
                                                                        : ContextConvention::kFull)
                         .training();
  init_state();
  if (resume) try_resume();
  if (comm_) comm_->barrier();  // every rank has read the run before rank 0 changes it
  if (lead()) fs::remove(RunDir(dir_).result());
  peak_ = device_peak_flops(device_, bf16_);
  upload_ = std::make_unique<BatchUpload>(device_, cfg_.batch_size / cfg_.micro_batch() / me_.world,
                                          cfg_.micro_batch(), cfg_.model.context + 1);
  graph_.reset();
  session_start_ = Clock::now();
  loop_ = Loop{};
  loop_.window_start = loop_.last_checkpoint = loop_.last_heartbeat = Clock::now();
}

// Every rank draws the step's micro-batches in the same order, as one process would, and keeps
// its own: rank r the r-th share. The samplers stay at one position on every rank.
at::Tensor Trainer::upload_batches() {
  const int64_t micro = cfg_.micro_batch(), n_micro = cfg_.batch_size / micro;
  const int64_t width = cfg_.model.context + 1, n_mine = n_micro / me_.world;
  const int64_t first = me_.rank * n_mine;
  return upload_->upload([&](int64_t* rows) {
    std::vector<int64_t> others;
    for (int64_t m = 0; m < n_micro; ++m) {
      if (m >= first && m < first + n_mine) {
        sampler_->next_batch(micro, rows + (m - first) * micro * width);
      } else {
        others.resize(static_cast<size_t>(micro * width));
        sampler_->next_batch(micro, others.data());
      }
    }
  });
}

Trainer::StepOut Trainer::forward_backward(const at::Tensor& batches) {
  // Each micro-batch weighs 1 / (the step's micro-batches on all ranks).
  const int64_t t = cfg_.model.context, n_micro = cfg_.batch_size / cfg_.micro_batch();
  model_->zero_grad();  // every gradient (the optimizer holds only this rank's parameters)
  const auto f64 = at::TensorOptions().dtype(at::kDouble).device(device_);
  StepOut step{at::zeros({}, f64), at::zeros({}, f64), at::zeros({}, f64), {}, {}};
  // bf16 weights cast once per step; not with checkpointed blocks, whose forward runs without
  // gradients (a cast cached there would carry none to the recomputation).
  const AutocastCache cast_once(bf16_ && !cfg_.checkpoint_activations);
  for (int64_t m = 0; m < batches.size(0); ++m) {
    const at::Tensor batch = batches[m];
    ModelOutput out;
    LossParts loss;
    {
      AutocastScope autocast(bf16_, device_.type());
      RECORD_FUNCTION("moescale::forward", std::vector<c10::IValue>());
      out = model_->forward(batch.narrow(1, 0, t));
      loss = compute_loss(out, batch.narrow(1, 1, t), cfg_.model);
    }
    at::Tensor objective = loss.total;
    if (step_ == cfg_.inject_nan_at_step) {
      objective = objective * std::numeric_limits<double>::quiet_NaN();
      loss.ce = loss.ce * std::numeric_limits<double>::quiet_NaN();
    }
    {
      RECORD_FUNCTION("moescale::backward", std::vector<c10::IValue>());
      reducing_ = comm_ != nullptr && m + 1 == batches.size(0);
      (objective / static_cast<double>(n_micro)).backward();
    }
    step.ce += loss.ce.detach().to(at::kDouble) / static_cast<double>(n_micro);
    step.aux += loss.aux.detach().to(at::kDouble) / static_cast<double>(n_micro);
    step.z += loss.z.detach().to(at::kDouble) / static_cast<double>(n_micro);
    if (step.load.empty()) {
      for (const auto& c : out.tokens_per_expert) step.load.push_back(c);
    } else {
      for (size_t l = 0; l < out.tokens_per_expert.size(); ++l) {
        step.load[l] = step.load[l] + out.tokens_per_expert[l];
      }
    }
  }
  return step;
}

void Trainer::set_lr(double lr) {
  for (auto& group : opt_->param_groups()) {
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
  }
}

at::Tensor Trainer::update(const at::Tensor* lr_device) {
  at::Tensor grad_norm;
  {
    RECORD_FUNCTION("moescale::clip", std::vector<c10::IValue>());
    grad_norm = clip_grad_norm(params_, cfg_.clip, comm_.get()).to(at::kDouble);
  }
  {
    RECORD_FUNCTION("moescale::optimizer", std::vector<c10::IValue>());
    optimizer_step(lr_device);
  }
  gather_parameters();
  return grad_norm;
}

void Trainer::accumulate(const StepOut& out) {
  window_.ce += out.ce;
  window_.aux += out.aux;
  window_.z += out.z;
  window_.grad_norm += out.grad_norm;
  if (window_.load.empty()) {
    for (const auto& c : out.load) window_.load.push_back(at::zeros_like(c));
  }
  for (size_t l = 0; l < out.load.size(); ++l) window_.load[l] += out.load[l];
  ++step_;
  ++window_.steps;
}

std::string Trainer::graph_refusal() const {
  if (cfg_.cuda_graph == Toggle::kOff) return "--cuda-graph off";
  if (!device_.is_cuda()) return "not on CUDA";
  if (!cuda_graphs_available()) return "this LibTorch is a CPU build";
  if (!fused_adamw_) return "--fused-adamw off (LibTorch's AdamW counts its steps on the host)";
  if (comm_) return "several ranks (their collectives run outside the graph)";
  if (cfg_.inject_nan_at_step >= 0) return "--inject-nan-at-step tests the eager step";
  if (!cfg_.profile.empty()) return "--profile traces the eager step";
  RuntimeOptions runtime;
  runtime.grouped_gemm = cfg_.grouped_gemm;
  if (cfg_.cuda_graph == Toggle::kAuto && !experts_grouped(cfg_.model, runtime, device_, bf16_)) {
    return "the experts run as a loop (expert counts are read on the host); bf16 with d_model and "
           "d_expert multiples of 8 on compute capability 9.x, or --grouped-gemm on, runs them "
           "grouped";
  }
  return "";
}

bool Trainer::graph_step(const at::Tensor& batches, double lr, StepOut* out) {
  if (!graph_) {
    graph_ = std::make_unique<StepGraph>(device_);
    lr_device_ = at::full({}, lr, at::TensorOptions().dtype(at::kFloat).device(device_));
    const std::vector<int64_t> host_steps = host_step_counts();
    const std::string why = graph_->capture([&] {
      graph_out_ = forward_backward(batches);
      graph_out_.grad_norm = update(&lr_device_);
    });
    // Nothing ran under capture: AdamW's host step counts are put back (every replay counts
    // below); a failed capture's gradients go (the eager step starts from none anyway).
    set_host_step_counts(host_steps);
    if (!why.empty()) {
      model_->zero_grad();
      std::fprintf(stderr,
                   "\n%s: the step could not be captured in a CUDA graph (%s); eager steps\n",
                   dir_.c_str(), why.c_str());
      return false;
    }
  }
  if (!graph_->captured()) return false;
  lr_device_.fill_(lr);
  graph_->replay();
  std::vector<int64_t> counts = host_step_counts();
  for (auto& c : counts) ++c;
  set_host_step_counts(counts);
  *out = graph_out_;
  return true;
}

std::vector<int64_t> Trainer::host_step_counts() {
  std::vector<int64_t> counts;
  for (const auto& p : params_) {
    const auto it = opt_->state().find(p.unsafeGetTensorImpl());
    counts.push_back(it == opt_->state().end()
                         ? -1
                         : static_cast<torch::optim::AdamWParamState&>(*it->second).step());
  }
  return counts;
}

void Trainer::set_host_step_counts(const std::vector<int64_t>& counts) {
  for (size_t i = 0; i < params_.size(); ++i) {
    const auto it = opt_->state().find(params_[i].unsafeGetTensorImpl());
    if (it == opt_->state().end() || counts[i] < 0) continue;
    static_cast<torch::optim::AdamWParamState&>(*it->second).step(counts[i]);
  }
}

// LibTorch's AdamW, or (--fused-adamw) at::_fused_adamw_ once per parameter group on the same
// state (exp_avg, exp_avg_sq, step), so that checkpoints do not depend on which one ran.
void Trainer::optimizer_step(const at::Tensor* lr_device) {
  if (!fused_adamw_) {
    opt_->step();
    return;
  }
  for (auto& group : opt_->param_groups()) {
    const auto& o = static_cast<const torch::optim::AdamWOptions&>(group.options());
    std::vector<at::Tensor> params, grads, exp_avgs, exp_avg_sqs, steps;
    for (const auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      auto& slot = opt_->state()[p.unsafeGetTensorImpl()];
      if (!slot) {  // as LibTorch's AdamW starts a parameter's state
        auto fresh = std::make_unique<torch::optim::AdamWParamState>();
        fresh->step(0);
        fresh->exp_avg(at::zeros_like(p, at::MemoryFormat::Preserve));
        fresh->exp_avg_sq(at::zeros_like(p, at::MemoryFormat::Preserve));
        slot = std::move(fresh);
      }
      auto& state = static_cast<torch::optim::AdamWParamState&>(*slot);
      at::Tensor& step = fused_steps_[p.unsafeGetTensorImpl()];
      if (!step.defined()) {
        step = at::full({}, static_cast<double>(state.step()),
                        at::TensorOptions().dtype(at::kFloat).device(p.device()));
      }
      state.step(state.step() + 1);
      params.push_back(p);
      grads.push_back(p.grad());
      exp_avgs.push_back(state.exp_avg());
      exp_avg_sqs.push_back(state.exp_avg_sq());
      steps.push_back(step);
    }
    if (params.empty()) continue;
    at::_foreach_add_(steps, 1.0);  // the kernel reads the step it is taking
    const double beta1 = std::get<0>(o.betas()), beta2 = std::get<1>(o.betas());
    if (lr_device != nullptr) {  // a captured step: the rate is read on the device
      at::_fused_adamw_(params, grads, exp_avgs, exp_avg_sqs, {}, steps, *lr_device, beta1, beta2,
                        o.weight_decay(), o.eps(), /*amsgrad=*/false, /*maximize=*/false);
    } else {
      at::_fused_adamw_(params, grads, exp_avgs, exp_avg_sqs, {}, steps, o.lr(), beta1, beta2,
                        o.weight_decay(), o.eps(), /*amsgrad=*/false, /*maximize=*/false);
    }
  }
}

double Trainer::mfu(double tokens_per_s) {
  const double rate = tokens_per_s * flops_per_token_;
  if (device_.is_cpu() && rate > peak_.flops_per_second * me_.world) {
    // The model outran the GEMM peak: other work slowed the start-up measurement. Measure
    // again, and never report an MFU above 100%.
    const double start = peak_.flops_per_second;
    peak_.flops_per_second =
        std::max({start, device_peak_flops(device_, bf16_).flops_per_second, rate / me_.world});
    peak_.source = fmt::format(
        "measured fp32 GEMM 1024^3, again at step {} ({:.3g} at start-up was below the "
        "model's own rate: the machine was busy)",
        step_, start);
  }
  const double peak = peak_.flops_per_second * me_.world;  // every rank's device
  return peak > 0 ? rate / peak : 0;
}

nlohmann::json Trainer::window_line(double lr, double seconds) {
  const int64_t tokens_per_step = cfg_.batch_size * cfg_.model.context;
  const double steps_d = static_cast<double>(window_.steps);
  const double tokens_per_s = steps_d * static_cast<double>(tokens_per_step) / seconds;
  nlohmann::json line = {{"step", step_},
                         {"tokens", step_ * tokens_per_step},
                         {"flops", static_cast<double>(step_ * tokens_per_step) * flops_per_token_},
                         {"train_loss", window_.ce.item<double>() / steps_d},
                         {"lr", lr},
                         {"tokens_per_s", tokens_per_s},
                         {"mfu", mfu(tokens_per_s)},
                         {"aux_loss", window_.aux.item<double>() / steps_d},
                         {"z_loss", window_.z.item<double>() / steps_d},
                         {"grad_norm", window_.grad_norm.item<double>() / steps_d}};
  // Routing per MoE layer over the window: pairs routed to each expert, max/mean load, and
  // the pairs no expert processed (dropless dispatch: 0).
  nlohmann::json loads = nlohmann::json::array(), counts = nlohmann::json::array();
  int64_t dropped = 0;
  const int64_t pairs = window_.steps * tokens_per_step * cfg_.model.top_k;
  for (const auto& c : window_.load) {
    const at::Tensor cpu = c.to(at::kCPU).contiguous();
    const std::vector<int64_t> v(cpu.data_ptr<int64_t>(), cpu.data_ptr<int64_t>() + cpu.numel());
    const int64_t routed = std::accumulate(v.begin(), v.end(), int64_t{0});
    const double mean = static_cast<double>(routed) / static_cast<double>(v.size());
    loads.push_back(static_cast<double>(*std::max_element(v.begin(), v.end())) / mean);
    counts.push_back(v);
    dropped += pairs - routed;
  }
  line["expert_load_max_over_mean"] = loads;
  line["tokens_per_expert"] = counts;
  line["dropped_tokens"] = dropped;
  if (device_.is_cuda()) {
    line["cuda_graph"] = graph_ != nullptr && graph_->captured();
    line["peak_memory_gib"] = peak_device_memory(device_) / (1024.0 * 1024.0 * 1024.0);
  }
  return line;
}

// The loop, llm.c style: a step, a NaN check, the update; at log steps a metrics line (and an
// eval); then progress, the lock's heartbeat, and checkpoints.
bool Trainer::is_log_step(int64_t n) const {
  return n % cfg_.log_every == 0 || n % cfg_.resolved_eval_every() == 0 || n == cfg_.steps();
}

bool Trainer::log_window(double lr) {
  synchronize(device_);
  reduce_window();
  nlohmann::json line = window_line(lr, seconds_since(loop_.window_start));
  loop_.train_loss = line["train_loss"].get<double>();
  if (step_ % cfg_.resolved_eval_every() == 0 || step_ == cfg_.steps()) {
    loop_.val_loss = evaluate();
    line["val_loss"] = loop_.val_loss;
  }
  if (!std::isfinite(loop_.train_loss)) return false;
  if (lead()) append_line(metrics_path(), line.dump());
  const double mfu = line["mfu"].get<double>();
  loop_.detail = fmt::format(
      "loss {:.4f}{} | {:.3g} tok/s{}", loop_.train_loss,
      std::isfinite(loop_.val_loss) ? fmt::format(" | val {:.4f}", loop_.val_loss) : "",
      line["tokens_per_s"].get<double>(), mfu > 0 ? fmt::format(" | MFU {:.1f}%", 100 * mfu) : "");
  reset_window();
  loop_.window_start = Clock::now();
  return true;
}

std::string Trainer::checkpoint_or_stop(bool log_now) {
  const auto [sig, timed] = agree_on_stop(
      g_stop_signal.load(),
      lead() && seconds_since(loop_.last_checkpoint) >= 60.0 * cfg_.checkpoint_minutes,
      device_.is_cpu() || log_now);
  const bool stop = sig != 0 || step_ == cfg_.stop_at_step;
  const bool periodic = timed || (cfg_.checkpoint_every > 0 && step_ % cfg_.checkpoint_every == 0);
  if (stop || (periodic && step_ < cfg_.steps())) {
    save_checkpoint();
    loop_.last_checkpoint = Clock::now();
  }
  if (!stop) return "";
  return sig ? fmt::format("signal {} at step {}", sig, step_)
             : fmt::format("stopped at step {} (--stop-at-step)", step_);
}

RunResult Trainer::finish(RunStatus status, const std::string& reason, ProgressLine& progress) {
  RunResult result;
  result.status = status;
  result.reason = reason;
  result.steps = step_;
  result.final_train_loss = loop_.train_loss;
  result.val_loss = loop_.val_loss;
  result.diverged_step = loop_.diverged_step;
  result.wall_seconds = wall_before_ + seconds_since(session_start_);
  write_result(result);
  progress.finish(fmt::format(
      "{}: {} after {} steps{}{}", dir_, to_string(status), step_,
      std::isfinite(loop_.val_loss) ? fmt::format(", val loss {:.4f}", loop_.val_loss) : "",
      reason.empty() ? "" : " (" + reason + ")"));
  return result;
}

RunResult Trainer::diverged(double loss, const std::string& when, ProgressLine& progress) {
  loop_.diverged_step = step_;
  loop_.train_loss = loss;
  return finish(RunStatus::kDiverged, fmt::format("loss became {} {} step {}", loss, when, step_),
                progress);
}

// The loop, as llm.c's: a step's forward and backward, the NaN check, the update; at the end
// of each metrics window a line (and an evaluation when due); checkpoints; a stop on request.
std::optional<RunResult> Trainer::open_run(bool resume, std::optional<DirLock>& lock) {
  join_ranks();
  fs::create_directories(dir_);
  // Rank 0 holds the run's lock and prepares its directory; the other ranks wait for it.
  if (lead()) {
    lock.emplace(RunDir(dir_).lock().string());
    if (!lock->try_acquire()) {
      throw BusyError(fmt::format("{} is being trained by {}; wait for it or use another --out",
                                  dir_, lock->owner()));
    }
    prepare_directory(resume);
  }
  if (comm_) comm_->barrier();
  if (!resume) return std::nullopt;
  const RunResult done = RunDir(dir_).read_result();
  if (done.status != RunStatus::kDone) return std::nullopt;
  if (lead()) {
    std::fprintf(stderr, "%s is already done (val_loss %.4f)\n", dir_.c_str(), done.val_loss);
  }
  return done;
}

bool Trainer::announce_graph() const {
  const std::string refused = graph_refusal();
  if (device_.is_cuda() && cfg_.cuda_graph != Toggle::kOff && lead()) {
    std::fprintf(
        stderr, "%s: CUDA graph: %s\n", dir_.c_str(),
        refused.empty()
            ? fmt::format("the step is captured after {} eager steps", kGraphWarmup).c_str()
            : ("not used: " + refused).c_str());
  }
  return refused.empty();
}

RunResult Trainer::run(bool resume) {
  std::optional<DirLock> lock;
  if (const auto done = open_run(resume, lock)) return *done;
  start_session(resume);
  ProgressLine progress("step", cfg_.steps(), step_, /*silent=*/!lead());
  model_->train();
  // --profile: LibTorch's profiler over steps [kProfileFrom, kProfileFrom + kProfileSteps).
  std::optional<StepProfile> profile;
  // --cuda-graph: the session's steps on one side stream, captured after kGraphWarmup.
  bool graph_wanted = announce_graph();
  const SideStream side_stream(device_, graph_wanted);
  const int64_t first_step = step_;
  while (step_ < cfg_.steps()) {
    if (!cfg_.profile.empty() && step_ == kProfileFrom) profile.emplace(cfg_.profile);
    if (step_ == kProfileFrom + kProfileSteps) profile.reset();  // writes the trace
    const double lr = cfg_.lr_at(step_);
    const bool log_now = is_log_step(step_ + 1);
    const bool graph_due = graph_wanted && step_ - first_step >= kGraphWarmup;
    if (const double ce = one_step(lr, log_now, graph_due, &graph_wanted); !std::isfinite(ce)) {
      return diverged(ce, "at", progress);
    }
    if (log_now && !log_window(lr)) return diverged(loop_.train_loss, "by", progress);
    progress.update(step_, loop_.detail);
    if (lock && seconds_since(loop_.last_heartbeat) >= 30.0) {
      lock->touch_heartbeat();
      loop_.last_heartbeat = Clock::now();
    }
    if (const std::string why = checkpoint_or_stop(log_now); !why.empty()) {
      return finish(RunStatus::kInterrupted, why, progress);
    }
  }
  profile.reset();
  save_checkpoint();
  if (!std::isfinite(loop_.val_loss)) loop_.val_loss = evaluate();
  return finish(RunStatus::kDone, "", progress);
}

double Trainer::one_step(double lr, bool log_now, bool graph_due, bool* graph_wanted) {
  set_lr(lr);  // also what a checkpoint of a captured step's optimizer holds
  const at::Tensor batches = upload_batches();
  StepOut out;
  double ce = 0;  // finite unless checked and found not to be
  const bool graphed = graph_due && graph_step(batches, lr, &out);
  if (graph_due) *graph_wanted = graphed;
  if (graphed) {
    // The update is in the graph: the loss is checked after it, at log steps.
    if (log_now) ce = out.ce.item<double>();
  } else {
    out = forward_backward(batches);
    reduce_gradients();
    // On the CPU every step is checked; on CUDA only at log steps (a check is a host sync).
    // Every rank checks the loss of the whole batch, so that all of them stop together.
    if (device_.is_cpu() || log_now) {
      std::vector<at::Tensor> total = {out.ce.clone()};
      if (comm_) comm_->all_reduce_sum(total);
      ce = total[0].item<double>();
    }
    if (std::isfinite(ce)) out.grad_norm = update(nullptr);
  }
  if (std::isfinite(ce)) accumulate(out);
  return ce;
}

}  // namespace

RunResult train(const TrainConfig& config, const std::string& run_dir, bool resume) {
  config.validate();
  Trainer trainer(config, run_dir);
  try {
    return trainer.run(resume);
  } catch (const InputError&) {
    throw;
  } catch (const BusyError&) {
    throw;
  } catch (const std::invalid_argument&) {
    throw;
  } catch (const std::exception& e) {
    // Anything else (out of memory, a disk error, a LibTorch error) marks the run failed, so
    // the sweep can retry it once; the error still reaches the caller.
    std::string reason = e.what();
    reason = reason.substr(0, reason.find('\n'));
    if (fs::is_directory(run_dir)) {
      RunResult failed;
      failed.status = RunStatus::kFailed;
      failed.reason = reason;
      failed.run_id = run_id(config);
      write_json_atomic(RunDir(run_dir).result().string(), failed);
    }
    throw;
  }
}

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

int stop_signal() { return g_stop_signal.load(); }

}  // namespace moe
