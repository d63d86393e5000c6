// The sweep's view of run directories without a trainer: results.csv written by its typed
// writer and read back by the CSV reader, each run's state from its files, and the run lock's
// stale-lock rules. Torch-free.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/io.h"
#include "common/lock.h"
#include "experiments/grid.h"
#include "experiments/sweep.h"
#include "moe/run_dir.h"
#include "scaling/csv.h"
#include "tests/temp_dir.h"

namespace ex = moe::experiments;
namespace fs = std::filesystem;
using moe::RunStatus;
using moe::testing::TempDir;

namespace {

std::vector<ex::RunSpec> micro_runs() {
  return ex::expand(ex::parse_grid(
      "label = 100K\ncompute = 4e9 8e9\nratio = 0.5, 1.0\nsparsity = 0.8235\ncontext = 32\n"
      "vocab = 64\nbatch-size = 4\n",
      "micro"));
}

void write_result(const fs::path& dir, RunStatus status, double val_loss, double train_loss) {
  fs::create_directories(dir);
  moe::RunResult r;
  r.status = status;
  r.val_loss = val_loss;
  r.final_train_loss = train_loss;
  r.tokens = 12345;
  r.wall_seconds = 6.5;
  moe::write_json_atomic(moe::RunDir(dir).result().string(), r);
}

void append_attempt(const fs::path& dir, const std::string& outcome) {
  fs::create_directories(dir);
  moe::append_line((dir / "attempts.jsonl").string(),
                   nlohmann::json{{"outcome", outcome}, {"exit", 1}}.dump());
}

// Sets a file's modification time `seconds` into the past.
void age(const fs::path& path, double seconds) {
  fs::last_write_time(path, fs::file_time_type::clock::now() -
                                std::chrono::duration_cast<fs::file_time_type::duration>(
                                    std::chrono::duration<double>(seconds)));
}

// A pid that belonged to a process of this host and is now free.
pid_t dead_pid() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return pid;
}

void plant_lock(const std::string& path, const std::string& host, int64_t pid) {
  fs::create_directories(path);
  moe::write_json_atomic(path + "/owner.json", {{"host", host}, {"pid", pid}, {"since", 0}});
}

}  // namespace

TEST_CASE("csv_cell quotes exactly what the reader would otherwise misread", "[csv]") {
  using moe::scaling::csv_cell;
  CHECK(csv_cell("4.25") == "4.25");
  CHECK(csv_cell("") == "");
  CHECK(csv_cell("a,b") == "\"a,b\"");
  CHECK(csv_cell("say \"hi\"") == "\"say \"\"hi\"\"\"");
  CHECK(csv_cell(" padded") == "\" padded\"");
  CHECK(csv_cell("two\nlines") == "\"two\nlines\"");

  const std::vector<std::string> cells = {"a,b",          "say \"hi\"", " padded ",
                                          "two\r\nlines", "",           "plain"};
  moe::scaling::CsvWriter w({"c1", "c2", "c3", "c4", "c5", "c6"});
  w.row(cells);
  w.row({"1", "2", "3", "4", "5", "6"});
  const auto t = moe::scaling::Table::parse(w.text(), "written");
  REQUIRE(t.n_rows() == 2);
  for (size_t i = 0; i < cells.size(); ++i) CHECK(t.cell(0, i) == cells[i]);
  CHECK(t.cell(1, "c6") == "6");
  CHECK_THROWS_AS(w.row({"too", "few"}), std::logic_error);
}

TEST_CASE("results.csv: one typed row per run, read back by name", "[sweep]") {
  TempDir tmp;
  const auto runs = micro_runs();
  REQUIRE(runs.size() == 4);
  const fs::path root = tmp.path();
  auto dir = [&](size_t i) { return root / "runs" / runs[i].id; };
  write_result(dir(0), RunStatus::kDone, 4.25, 4.5);
  write_result(dir(1), RunStatus::kDiverged, std::numeric_limits<double>::quiet_NaN(),
               std::numeric_limits<double>::infinity());
  fs::create_directories(moe::RunDir(dir(2)).checkpoints());  // interrupted, no result yet
  // run 3: never started

  ex::rebuild_results(root.string(), runs);
  const auto t = moe::scaling::Table::read((root / "results.csv").string());
  REQUIRE(t.columns() == ex::result_columns());
  REQUIRE(t.n_rows() == 4);
  CHECK(t.cell(0, "run_id") == runs[0].id);
  CHECK(t.cell(0, "status") == "done");
  CHECK(t.cell(0, "seed") == std::to_string(runs[0].config.seed));
  CHECK(std::stod(t.cell(0, "val_loss")) == 4.25);
  CHECK(std::stod(t.cell(0, "final_train_loss")) == 4.5);
  CHECK(std::stod(t.cell(0, "tokens")) == 12345);  // what the run trained on
  CHECK(std::stod(t.cell(0, "wall_seconds")) == 6.5);
  CHECK(t.cell(1, "status") == "diverged");
  CHECK(t.cell(1, "val_loss").empty());
  CHECK(t.cell(1, "final_train_loss").empty());  // not finite: no value
  CHECK(t.cell(2, "status") == "interrupted");
  CHECK(t.cell(2, "val_loss").empty());
  CHECK(t.cell(2, "wall_seconds").empty());
  CHECK(t.cell(3, "status") == "pending");
  // A run without a result has the tokens its plan buys.
  CHECK(std::stod(t.cell(3, "tokens")) == static_cast<double>(runs[3].config.tokens));
  // The plan's side of the row.
  CHECK(std::stod(t.cell(0, "compute")) == runs[0].plan.request.compute);
  CHECK(std::stod(t.cell(0, "ratio_achieved")) == Approx(runs[0].plan.flops.ratio()));
  CHECK(std::stoll(t.cell(0, "d_expert")) == runs[0].plan.model.d_expert);
  // Paper 2's triad of the run: M without the logits, over N_a; N over N_a.
  const auto& params = runs[0].plan.params;
  CHECK(std::stod(t.cell(0, "triad_M")) == Approx(runs[0].plan.flops.training_without_logits()));
  CHECK(std::stod(t.cell(0, "m_over_na")) ==
        Approx(runs[0].plan.flops.training_without_logits() /
               static_cast<double>(params.active_nonembedding())));
  CHECK(std::stod(t.cell(0, "n_over_na")) ==
        Approx(static_cast<double>(params.total_nonembedding()) /
               static_cast<double>(params.active_nonembedding())));
  // The numbers the report reads parse back.
  CHECK(t.numbers("compute").size() == 4);
}

TEST_CASE("a run's state: result first, then checkpoints, then failed attempts", "[sweep]") {
  TempDir tmp;
  const fs::path run = fs::path(tmp.path()) / "r";
  CHECK(ex::read_run_state(run.string()).status == RunStatus::kPending);
  append_attempt(run, "failed");
  ex::RunState s = ex::read_run_state(run.string());
  CHECK(s.failures == 1);
  CHECK_FALSE(s.final(2));  // retried once
  append_attempt(run, "interrupted");
  append_attempt(run, "failed");
  std::ofstream(run / "attempts.jsonl", std::ios::app) << "{\"outcome\": \"fai";  // cut short
  s = ex::read_run_state(run.string());
  CHECK(s.failures == 2);
  write_result(run, RunStatus::kFailed, 0, 0);
  CHECK(ex::read_run_state(run.string()).final(2));
  fs::create_directories(moe::RunDir(run).checkpoints());
  fs::remove(moe::RunDir(run).result());
  CHECK(ex::read_run_state(run.string()).status == RunStatus::kInterrupted);
  write_result(run, RunStatus::kDone, 4.0, 4.1);
  s = ex::read_run_state(run.string());
  CHECK(s.status == RunStatus::kDone);
  CHECK(s.final(2));
}

TEST_CASE("the run lock: held locks stand, stale ones are broken", "[lock]") {
  TempDir tmp;
  const std::string path = tmp / "lock";

  SECTION("a live holder keeps it; release frees it") {
    moe::DirLock a(path), b(path);
    REQUIRE(a.try_acquire());
    CHECK(b.busy());
    CHECK_FALSE(b.try_acquire());
    CHECK(b.owner() == "pid " + std::to_string(::getpid()) + " on host " + moe::host_name());
    a.release();
    CHECK_FALSE(fs::exists(path));
    CHECK(b.try_acquire());
  }
  SECTION("a dead owner on this host is broken at once") {
    plant_lock(path, moe::host_name(), dead_pid());
    moe::DirLock b(path);
    CHECK_FALSE(b.busy());
    CHECK(b.try_acquire());
  }
  SECTION("an owner on another host is broken only when its heartbeat is old") {
    plant_lock(path, "another-host", 1);
    std::ofstream(path + "/heartbeat") << "1\n";
    age(path + "/heartbeat", 100);
    moe::DirLock patient(path, 300.0);
    CHECK(patient.busy());
    CHECK_FALSE(patient.try_acquire());
    age(path + "/heartbeat", 400);
    CHECK_FALSE(patient.busy());
    CHECK(patient.try_acquire());
    CHECK(patient.owner().find("on host " + moe::host_name()) != std::string::npos);
  }
  SECTION("a lock without owner.json is someone's for 10 s, then stale") {
    fs::create_directories(path);
    moe::DirLock b(path);
    CHECK_FALSE(b.try_acquire());
    age(path, 11);
    CHECK(b.try_acquire());
  }
}
