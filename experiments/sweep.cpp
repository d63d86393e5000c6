#include "experiments/sweep.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <unordered_set>

#include "common/errors.h"
#include "common/io.h"
#include "common/lock.h"
#include "common/process.h"
#include "common/progress.h"
#include "data/shards.h"
#include "moe/memory.h"
#include "scaling/csv.h"

namespace moe::experiments {
namespace fs = std::filesystem;

namespace {

std::string num(double v) { return fmt::format("{}", v); }
std::string optional_num(const std::optional<double>& v) { return v ? num(*v) : ""; }

// Each column: its name and its cell. The one place that orders them.
using Column = std::pair<const char*, std::string (*)(const ResultRow&)>;
const Column kColumns[] = {
    {"run_id", [](const ResultRow& r) { return r.run_id; }},
    {"label", [](const ResultRow& r) { return r.label; }},
    {"seed", [](const ResultRow& r) { return std::to_string(r.seed); }},
    {"compute", [](const ResultRow& r) { return num(r.compute); }},
    {"sparsity", [](const ResultRow& r) { return num(r.sparsity); }},
    {"ratio", [](const ResultRow& r) { return num(r.ratio); }},
    {"ratio_achieved", [](const ResultRow& r) { return num(r.ratio_achieved); }},
    {"n_experts", [](const ResultRow& r) { return std::to_string(r.n_experts); }},
    {"top_k", [](const ResultRow& r) { return std::to_string(r.top_k); }},
    {"n_shared_experts", [](const ResultRow& r) { return std::to_string(r.n_shared_experts); }},
    {"d_model", [](const ResultRow& r) { return std::to_string(r.d_model); }},
    {"n_layers", [](const ResultRow& r) { return std::to_string(r.n_layers); }},
    {"n_heads", [](const ResultRow& r) { return std::to_string(r.n_heads); }},
    {"head_dim", [](const ResultRow& r) { return std::to_string(r.head_dim); }},
    {"d_expert", [](const ResultRow& r) { return std::to_string(r.d_expert); }},
    {"n_dense_layers", [](const ResultRow& r) { return std::to_string(r.n_dense_layers); }},
    {"d_dense", [](const ResultRow& r) { return std::to_string(r.d_dense); }},
    {"params_active", [](const ResultRow& r) { return std::to_string(r.params_active); }},
    {"params_total", [](const ResultRow& r) { return std::to_string(r.params_total); }},
    {"flops_per_token", [](const ResultRow& r) { return num(r.flops_per_token); }},
    {"triad_M", [](const ResultRow& r) { return num(r.triad_m); }},
    {"m_over_na", [](const ResultRow& r) { return num(r.triad_m / double(r.params_active)); }},
    {"n_over_na",
     [](const ResultRow& r) { return num(double(r.params_total) / double(r.params_active)); }},
    {"m_over_na_target", [](const ResultRow& r) { return optional_num(r.m_over_na_target); }},
    {"n_over_na_target", [](const ResultRow& r) { return optional_num(r.n_over_na_target); }},
    {"d_position_target", [](const ResultRow& r) { return optional_num(r.d_position_target); }},
    {"tokens", [](const ResultRow& r) { return num(r.tokens); }},
    {"val_loss", [](const ResultRow& r) { return optional_num(r.val_loss); }},
    {"final_train_loss", [](const ResultRow& r) { return optional_num(r.final_train_loss); }},
    {"status", [](const ResultRow& r) { return to_string(r.status); }},
    {"origin", [](const ResultRow& r) { return to_string(r.origin); }},
    {"bracket", [](const ResultRow& r) { return r.bracket; }},
    {"wall_seconds", [](const ResultRow& r) { return optional_num(r.wall_seconds); }},
};

}  // namespace

const std::vector<std::string>& result_columns() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& [name, cell] : kColumns) out.push_back(name);
    return out;
  }();
  return names;
}

std::vector<std::string> result_cells(const ResultRow& row) {
  std::vector<std::string> out;
  for (const auto& [name, cell] : kColumns) out.push_back(cell(row));
  return out;
}

namespace {

// A stop request (SIGINT/SIGTERM to the sweep) is forwarded by the handler itself to the
// trainers running now, one slot per worker: kill() is async-signal-safe and the slots are
// lock-free atomics. The trainers checkpoint and exit, and the workers then return.
constexpr int kMaxWorkers = 1024;
std::atomic<int> g_stop{0};
std::array<std::atomic<pid_t>, kMaxWorkers> g_children{};
static_assert(std::atomic<pid_t>::is_always_lock_free);

extern "C" void on_sweep_signal(int sig) {
  g_stop.store(sig);
  for (auto& child : g_children) {
    if (const pid_t pid = child.load(); pid > 0) ::kill(pid, SIGTERM);
  }
}

fs::path run_dir(const std::string& out, const std::string& id) {
  return fs::path(out) / "runs" / id;
}

std::string last_line_of(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  return last;
}

}  // namespace

RunState read_run_state(const std::string& dir) {
  RunState s;
  {
    std::ifstream attempts(dir + "/attempts.jsonl");
    std::string line;
    while (std::getline(attempts, line)) {
      try {
        if (nlohmann::json::parse(line).value("outcome", "") == "failed") ++s.failures;
      } catch (const std::exception&) {
        // a line cut short by a kill
      }
    }
  }
  s.status = RunDir(dir).read_result().status;
  if (s.status == RunStatus::kPending && fs::exists(RunDir(dir).checkpoints())) {
    s.status = RunStatus::kInterrupted;
  }
  return s;
}

ResultRow result_row(const RunSpec& run, const RunState& state, const RunResult& result) {
  const Plan& p = run.plan;
  const ModelConfig& m = p.model;
  const bool ended = result.status != RunStatus::kPending;  // a result.json was read
  auto finite = [](double v) { return std::isfinite(v) ? std::optional<double>(v) : std::nullopt; };
  ResultRow row;
  row.run_id = run.id;
  row.label = p.label.name;
  row.seed = run.config.seed;
  row.compute = p.request.compute;
  row.sparsity = m.sparsity();
  row.ratio = p.request.ratio;
  row.ratio_achieved = p.flops.ratio();
  row.n_experts = m.n_experts;
  row.top_k = m.top_k;
  row.n_shared_experts = m.n_shared_experts;
  row.d_model = m.d_model;
  row.n_layers = m.n_layers;
  row.n_heads = m.n_heads;
  row.head_dim = m.head_dim;
  row.d_expert = m.d_expert;
  row.n_dense_layers = m.n_dense_layers;
  row.d_dense = m.dense_ffn_width();
  row.params_active = p.params.active_nonembedding();
  row.params_total = p.params.total_nonembedding();
  row.flops_per_token = p.flops.training();
  row.triad_m = p.flops.training_without_logits();
  row.m_over_na_target = p.request.m_over_na;
  row.n_over_na_target = p.request.n_over_na;
  row.d_position_target = p.request.d_position;
  row.tokens = static_cast<double>(ended ? result.tokens : run.config.tokens);
  if (ended && state.status == RunStatus::kDone) row.val_loss = finite(result.val_loss);
  if (ended) row.final_train_loss = finite(result.final_train_loss);
  row.status = state.status;
  row.origin = run.origin;
  if (ended) row.wall_seconds = result.wall_seconds;
  return row;
}

BracketPlan sweep_plan(const Grid& grid, const std::string& sweep_dir, int max_failures) {
  return plan_bracket(grid, [&](const RunSpec& run) {
    const std::string dir = run_dir(sweep_dir, run.id).string();
    RunOutcome o;
    o.final = read_run_state(dir).final(max_failures);
    const RunResult result = RunDir(dir).read_result();
    if (result.status == RunStatus::kDone && std::isfinite(result.val_loss))
      o.loss = result.val_loss;
    return o;
  });
}

void rebuild_results(const std::string& sweep_dir, const std::vector<RunSpec>& runs,
                     const BracketPlan* plan) {
  DirLock lock((fs::path(sweep_dir) / "results.lock").string(), 60.0);
  while (!lock.try_acquire()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  scaling::CsvWriter csv(result_columns());
  for (const auto& run : runs) {
    const fs::path dir = run_dir(sweep_dir, run.id);
    ResultRow row = result_row(run, read_run_state(dir.string()), RunDir(dir).read_result());
    if (plan) row.bracket = plan->note(run.cell);
    csv.row(result_cells(row));
  }
  write_file_atomic((fs::path(sweep_dir) / "results.csv").string(), csv.text());
}

std::string format_runs(const std::vector<RunSpec>& runs) {
  std::string s = fmt::format(
      "{:<12} {:>8} {:>7} {:>6} {:>6} {:>5} {:>9} {:>6} {:>8} {:>8} "
      "{:>9} {:>9} {:>7} {:>9}\n",
      "run_id", "compute", "S", "r", "r_got", "d", "heads", "d_exp", "N_a", "N", "FLOPs/tok",
      "tokens", "steps", "GiB/rank");
  double total = 0;
  for (const auto& r : runs) {
    const Plan& p = r.plan;
    s += fmt::format(
        "{:<12} {:>8.2g} {:>7.4f} {:>6.3g} {:>6.3f} {:>5} {:>9} {:>6} {:>8.3g} {:>8.3g} {:>9.3g} "
        "{:>9.3g} {:>7} {:>9.3g}\n",
        r.id, p.request.compute, p.model.sparsity(), p.request.ratio, p.flops.ratio(),
        p.model.d_model, fmt::format("{}x{}", p.model.n_heads, p.model.head_dim), p.model.d_expert,
        double(p.params.active_nonembedding()), double(p.params.total_nonembedding()),
        p.flops.training(), double(r.config.tokens), r.config.steps(),
        memory_report(r.config).sharded.total() / (1024.0 * 1024.0 * 1024.0));
    total += p.request.compute;
  }
  s += fmt::format("{} runs, {:.3g} training FLOPs in all\n", runs.size(), total);
  return s;
}

std::optional<double> visible_gpu_memory(const std::vector<std::string>& devices) {
  const bool cuda = std::any_of(devices.begin(), devices.end(),
                                [](const std::string& d) { return d.rfind("cuda", 0) == 0; });
  if (!cuda) return std::nullopt;
  FILE* pipe =
      ::popen("nvidia-smi --query-gpu=memory.total --format=csv,noheader,nounits 2>/dev/null", "r");
  if (pipe == nullptr) return std::nullopt;
  std::optional<double> smallest;
  char line[128];
  while (std::fgets(line, sizeof line, pipe) != nullptr) {
    char* end = nullptr;
    const double mib = std::strtod(line, &end);
    if (end != line && mib > 0) {
      const double bytes = mib * 1024.0 * 1024.0;
      smallest = smallest ? std::min(*smallest, bytes) : bytes;
    }
  }
  ::pclose(pipe);
  return smallest;
}

std::string memory_refusal(const std::vector<RunSpec>& runs, std::optional<double> visible) {
  std::vector<std::string> named;
  std::optional<double> device;
  for (const auto& r : runs) {
    const MemoryReport m = memory_report(r.config, visible);
    if (m.fits()) continue;
    device = m.device_bytes;
    named.push_back(fmt::format("{} ({} per rank; {})", r.id, format_bytes(m.sharded.total()),
                                m.remedy(r.config.model)));
  }
  if (named.empty()) return "";
  std::string shown = named.front();
  for (size_t i = 1; i < named.size() && i < 5; ++i) shown += ", " + named[i];
  if (named.size() > 5) shown += fmt::format(" and {} more", named.size() - 5);
  return fmt::format(
      "{} of {} runs cannot fit {} per device: {}; set nproc-per-node, micro-batch or "
      "checkpoint-activations in the grid (or device-memory, if the estimate is wrong for "
      "your devices)",
      named.size(), runs.size(), format_bytes(*device), shown);
}

namespace {

class Sweep {
 public:
  explicit Sweep(SweepOptions options) : opt_(std::move(options)) {}
  SweepSummary run();

 private:
  void check_inputs();
  void check_memory() const;
  void worker(int index);
  // The next run for a worker to take (false: nothing is left, or the sweep stops). Waits while
  // other workers' runs may still add runs or runs are held by other processes.
  bool next_run(size_t& i);
  // One run taken by a worker: skipped when final, put back when another process holds it,
  // else launched and logged.
  void process(size_t i, int worker, const std::string& device);
  // Plans again from the run directories: queues the runs bracketing added (not with --only)
  // and rebuilds results.csv.
  void replan();
  // How one launch of the trainer ended: a run status, or kBusy (another process trains the
  // run: try later) or kBadInput (the sweep stops: every run would fail the same way).
  enum class Outcome { kDone, kDiverged, kInterrupted, kFailed, kBadInput, kBusy };
  static std::string name(Outcome o);
  // Runs one launch of the trainer for run i.
  Outcome launch(size_t i, int worker, const std::string& device, int threads);
  void log(const std::string& line);

  SweepOptions opt_;
  Grid grid_;
  std::deque<RunSpec> runs_;  // grows as bracketing adds runs (a deque: references stay valid)
  int threads_per_worker_ = 1;

  std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_set<std::string> ids_;  // of runs_
  std::deque<size_t> todo_;
  std::vector<size_t> waiting_;  // runs another process is training right now
  int active_ = 0;               // runs taken by workers and not yet through replan()
  int finished_ = 0;
  std::string fatal_;  // a bad-input error from a trainer: stops the sweep
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
};

void Sweep::log(const std::string& line) {
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  std::fprintf(stderr, "[sweep %s] %s\n", ProgressLine::format_duration(s).c_str(), line.c_str());
  std::fflush(stderr);
}

// Before any run starts: a run that cannot fit its device would fail hours in.
void Sweep::check_memory() const {
  const std::string why =
      memory_refusal({runs_.begin(), runs_.end()}, visible_gpu_memory(opt_.devices));
  if (!why.empty()) throw InputError(why);
}

void Sweep::check_inputs() {
  if (opt_.train_program.empty() || ::access(opt_.train_program.c_str(), X_OK) != 0) {
    throw InputError("cannot run the trainer " + opt_.train_program +
                     ": build with -DMOESCALE_WITH_TORCH=ON");
  }
  for (const auto& d : opt_.devices) {
    if (!parse_device_name(d))
      throw InputError("--devices " + d + " is not a device: use cpu or cuda:0,cuda:1,...");
  }
  if (opt_.workers < 0 || opt_.workers > kMaxWorkers) {
    throw InputError(fmt::format("--workers must be between 0 and {}", kMaxWorkers));
  }
  check_memory();
  // The data must exist and cover the largest vocabulary of the grid.
  int64_t vocab = 0;
  for (const auto& r : runs_) vocab = std::max(vocab, r.config.model.vocab_size);
  const std::string val = opt_.val_data.empty() ? opt_.data : opt_.val_data;
  // The training shards first: a --data that does not exist is reported as such.
  TokenDataset(resolve_shards(opt_.data, "train")).check_vocab(vocab);
  if (opt_.val_data.empty() && !fs::is_directory(opt_.data)) {
    throw InputError("--val-data is required when --data is a file or a glob (" + opt_.data +
                     "): give the held-out shards");
  }
  TokenDataset(resolve_shards(val, "val")).check_vocab(vocab);

  fs::create_directories(fs::path(opt_.out) / "runs");
  const std::string manifest = (fs::path(opt_.out) / "sweep.json").string();
  nlohmann::json data = {
      {"data", fs::absolute(opt_.data).string()},
      {"val_data", opt_.val_data.empty() ? std::string() : fs::absolute(opt_.val_data).string()}};
  if (fs::exists(manifest)) {
    const nlohmann::json old = read_json(manifest);
    if (old.value("data", "") != data["data"] || old.value("val_data", "") != data["val_data"]) {
      throw InputError(fmt::format("{} was swept on --data {}; use the same data or another --out",
                                   opt_.out, old.value("data", "?")));
    }
  }
  // The latest grid, for the report's "how to redo this" commands.
  data["grid"] = fs::absolute(opt_.grid_path).string();
  data["devices"] = opt_.devices;
  write_json_atomic(manifest, data);
}

std::string Sweep::name(Outcome o) {
  switch (o) {
    case Outcome::kDone:
      return "done";
    case Outcome::kDiverged:
      return "diverged";
    case Outcome::kInterrupted:
      return "interrupted";
    case Outcome::kBusy:
      return "busy";
    case Outcome::kFailed:
    case Outcome::kBadInput:
      break;
  }
  return "failed";  // bad input is a failed launch in attempts.jsonl
}

Sweep::Outcome Sweep::launch(size_t i, int worker, const std::string& device, int threads) {
  const RunSpec& run = runs_[i];
  const fs::path dir = run_dir(opt_.out, run.id);
  fs::create_directories(dir);
  TrainConfig config = run.config;
  config.data = opt_.data;
  config.val_data = opt_.val_data;
  const std::string config_path = (dir / "sweep_config.json").string();
  write_json_atomic(config_path, config);

  // The worker's cores go to torch's intra-op threads (OpenMP and MKL in the wheel: one run on
  // two cores trains 1.8x faster with 2 threads than with 1, bench/RESULTS.md).
  ChildSpec child;
  child.argv = {opt_.train_program, "--config", config_path, "--out",     dir.string(),
                "--resume",         "--device", device,      "--threads", std::to_string(threads)};
  child.env = {"MKL_NUM_THREADS=" + std::to_string(threads),
               "OMP_NUM_THREADS=" + std::to_string(threads)};
  child.log_path = (dir / "train.log").string();
  child.die_with_parent = true;

  const auto t0 = std::chrono::steady_clock::now();
  const pid_t pid = spawn(child);
  g_children[worker].store(pid);
  if (g_stop.load() != 0) ::kill(pid, SIGTERM);  // the stop came before the slot was set
  const ChildExit exit = wait_for(pid);
  g_children[worker].store(0);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const int code = exit.code;

  if (code == exit_status::kBusy) return Outcome::kBusy;
  const RunStatus state = read_run_state(dir.string()).status;
  Outcome outcome = Outcome::kFailed;
  if (code == exit_status::kDone && state == RunStatus::kDone) {
    outcome = Outcome::kDone;
  } else if (code == exit_status::kDiverged || state == RunStatus::kDiverged) {
    outcome = Outcome::kDiverged;
  } else if (g_stop.load() != 0) {
    outcome = Outcome::kInterrupted;
  } else if (code == exit_status::kBadInput) {
    outcome = Outcome::kBadInput;
  }
  append_line((dir / "attempts.jsonl").string(), nlohmann::json{{"host", host_name()},
                                                                {"pid", static_cast<int64_t>(pid)},
                                                                {"device", device},
                                                                {"exit", code},
                                                                {"signal", exit.signal},
                                                                {"seconds", seconds},
                                                                {"outcome", name(outcome)}}
                                                     .dump());
  if (outcome == Outcome::kBadInput) {
    std::lock_guard<std::mutex> g(mu_);
    fatal_ = fmt::format("run {} ({}): {}", run.id, describe(run), last_line_of(child.log_path));
  }
  return outcome;
}

bool Sweep::next_run(size_t& i) {
  std::unique_lock<std::mutex> g(mu_);
  for (;;) {
    if (g_stop.load() != 0 || !fatal_.empty()) return false;
    if (!todo_.empty()) {
      i = todo_.front();
      todo_.pop_front();
      ++active_;
      return true;
    }
    if (waiting_.empty() && active_ == 0) return false;
    // A run in progress may add runs when it ends; runs held by other processes are tried
    // again after a few seconds.
    cv_.wait_for(g, std::chrono::seconds(3));
    if (todo_.empty()) {
      for (size_t w : waiting_) todo_.push_back(w);
      waiting_.clear();
    }
  }
}

void Sweep::process(size_t i, int worker, const std::string& device) {
  const RunSpec& run = runs_[i];
  const fs::path dir = run_dir(opt_.out, run.id);
  if (read_run_state(dir.string()).final(opt_.max_failures)) return;
  if (DirLock((dir / "lock").string(), opt_.stale_lock_seconds).busy()) {
    std::lock_guard<std::mutex> g(mu_);
    waiting_.push_back(i);
    return;
  }
  log(fmt::format("start {} {} on {}", run.id, describe(run), device));
  const Outcome outcome = launch(i, worker, device, threads_per_worker_);
  if (outcome == Outcome::kBusy) {
    std::lock_guard<std::mutex> g(mu_);
    waiting_.push_back(i);
    return;
  }
  const RunState state = read_run_state(dir.string());
  std::string detail;
  if (outcome == Outcome::kDone) {
    detail = fmt::format(", val loss {:.4f}", RunDir(dir).read_result().val_loss);
  } else if (outcome != Outcome::kInterrupted) {
    detail = ": " + last_line_of((dir / "train.log").string());
  }
  int finished = 0;
  size_t total = 0;
  {
    std::lock_guard<std::mutex> g(mu_);
    if (state.final(opt_.max_failures)) ++finished_;
    finished = finished_;
    total = runs_.size();
    if (outcome == Outcome::kFailed && !state.final(opt_.max_failures)) todo_.push_back(i);
  }
  log(fmt::format("{} {} [{}/{} finished]{}", name(outcome), run.id, finished, total, detail));
}

void Sweep::replan() {
  const BracketPlan plan = sweep_plan(grid_, opt_.out, opt_.max_failures);
  if (opt_.only.empty()) {
    std::vector<std::string> added;
    {
      std::lock_guard<std::mutex> g(mu_);
      for (const auto& run : plan.runs) {
        if (!ids_.insert(run.id).second) continue;
        runs_.push_back(run);
        todo_.push_back(runs_.size() - 1);
        const auto why = plan.reasons.find(run.id);
        added.push_back(fmt::format("{} {} ({}: {})", run.id, describe(run), to_string(run.origin),
                                    why == plan.reasons.end() ? "" : why->second));
      }
    }
    if (!added.empty()) cv_.notify_all();
    for (const auto& line : added) log("add " + line);
  }
  rebuild_results(opt_.out, plan.runs, &plan);
}

void Sweep::worker(int index) {
  const std::string device = opt_.devices[static_cast<size_t>(index) % opt_.devices.size()];
  size_t i = 0;
  while (next_run(i)) {
    process(i, index, device);
    replan();
    {
      std::lock_guard<std::mutex> g(mu_);
      --active_;
    }
    cv_.notify_all();
  }
}

SweepSummary Sweep::run() {
  grid_ = load_grid(opt_.grid_path);
  const BracketPlan plan = sweep_plan(grid_, opt_.out, opt_.max_failures);
  for (const auto& r : plan.runs) {
    if (opt_.only.empty() || r.id == opt_.only) runs_.push_back(r);
  }
  if (runs_.empty()) {
    throw InputError("--only " + opt_.only + " is not a run of " + opt_.grid_path +
                     (grid_.bracket.on ? " nor one that bracketing has added so far" : "") +
                     "; list the run ids with 'moescale sweep --dry-run --grid " + opt_.grid_path +
                     " --out " + opt_.out + "'");
  }
  for (const auto& r : runs_) ids_.insert(r.id);
  check_inputs();

  const bool cuda = opt_.devices.front() != "cpu";
  const int workers = opt_.workers > 0 ? opt_.workers
                      : cuda ? std::min(static_cast<int>(opt_.devices.size()), kMaxWorkers)
                             : 1;
  const int cores = std::max(1u, std::thread::hardware_concurrency());
  threads_per_worker_ = opt_.threads > 0 ? opt_.threads : std::max(1, cores / workers);

  for (size_t i = 0; i < runs_.size(); ++i) {
    if (read_run_state(run_dir(opt_.out, runs_[i].id).string()).final(opt_.max_failures)) {
      ++finished_;
    } else {
      todo_.push_back(i);
    }
  }
  log(fmt::format("{}: {} runs, {} finished, {} to do; {} worker(s) x {} thread(s) on {}{}",
                  opt_.out, runs_.size(), finished_, todo_.size(), workers, threads_per_worker_,
                  fmt::join(opt_.devices, ","),
                  grid_.bracket.on && opt_.only.empty()
                      ? "; bracket = yes: runs are added while a valley is open"
                      : ""));
  rebuild_results(opt_.out, plan.runs, &plan);

  struct sigaction sa {
  }, old_int{}, old_term{};
  sa.sa_handler = on_sweep_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);

  std::vector<std::thread> pool;
  for (int w = 0; w < workers; ++w) pool.emplace_back([this, w] { worker(w); });
  for (auto& t : pool) t.join();
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);

  replan();
  SweepSummary summary;
  summary.runs = static_cast<int>(runs_.size());
  for (const auto& r : runs_) {
    const RunState s = read_run_state(run_dir(opt_.out, r.id).string());
    if (s.status == RunStatus::kDone)
      ++summary.done;
    else if (s.status == RunStatus::kDiverged)
      ++summary.diverged;
    else if (s.final(opt_.max_failures))
      ++summary.failed;
    else
      ++summary.pending;
  }
  summary.interrupted = g_stop.load() != 0;
  if (!fatal_.empty()) throw InputError(fatal_);
  return summary;
}

}  // namespace

SweepSummary run_sweep(const SweepOptions& options) {
  Sweep sweep(options);
  return sweep.run();
}

std::string slurm_script(const SweepOptions& sweep, const SlurmOptions& slurm,
                         const std::vector<RunSpec>& runs, const std::string& moescale_program) {
  auto abs = [](const std::string& p) { return p.empty() ? p : fs::absolute(p).string(); };
  const std::string out = abs(sweep.out);
  std::string s = "#!/bin/bash\n";
  s += "# moescale sweep as a Slurm job array: one task per run of the grid.\n";
  s += "# Submit with: sbatch " + std::string("THIS_FILE") + "\n";
  s += fmt::format("#SBATCH --job-name=moescale-{}\n", fs::path(out).filename().string());
  s += fmt::format("#SBATCH --array=0-{}{}\n", runs.size() - 1,
                   slurm.max_parallel > 0 ? fmt::format("%{}", slurm.max_parallel) : "");
  s += fmt::format("#SBATCH --output={}/slurm/%A_%a.out\n", out);
  s += "#SBATCH --ntasks=1\n";
  if (!slurm.time.empty()) s += "#SBATCH --time=" + slurm.time + "\n";
  if (!slurm.partition.empty()) s += "#SBATCH --partition=" + slurm.partition + "\n";
  if (!slurm.account.empty()) s += "#SBATCH --account=" + slurm.account + "\n";
  if (!slurm.mem.empty()) s += "#SBATCH --mem=" + slurm.mem + "\n";
  if (slurm.gpus_per_task > 0) s += fmt::format("#SBATCH --gres=gpu:{}\n", slurm.gpus_per_task);
  if (slurm.cpus_per_task > 0) {
    s += fmt::format("#SBATCH --cpus-per-task={}\n", slurm.cpus_per_task);
  }
  s += "set -euo pipefail\n";
  s += "RUN_IDS=(";
  for (size_t i = 0; i < runs.size(); ++i) s += (i ? " " : "") + runs[i].id;
  s += ")\n";
  // Each task uses the CPUs Slurm gave it (the BLAS thread count changes the last bits of the
  // losses, so it is pinned rather than left to the node's core count).
  s += fmt::format(
      "exec {} sweep --grid {} --data {}{} --out {} --devices {} --threads "
      "\"${{SLURM_CPUS_PER_TASK:-{}}}\" --only \"${{RUN_IDS[$SLURM_ARRAY_TASK_ID]}}\"\n",
      abs(moescale_program), abs(sweep.grid_path), abs(sweep.data),
      sweep.val_data.empty() ? "" : " --val-data " + abs(sweep.val_data), out,
      slurm.gpus_per_task > 0 ? "cuda:0" : "cpu",
      slurm.cpus_per_task > 0 ? slurm.cpus_per_task : 1);
  return s;
}

}  // namespace moe::experiments
