// LibTorch's headers bring glog's CHECK macro: include every header that may bring them
// before Catch, so that Catch's CHECK wins (and counts).
#include <torch/cuda.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "common/errors.h"
#include "common/io.h"
#include "data/shards.h"
#include "moe/model.h"
#include "moe/trainer.h"
#include "tests/markov.h"
#include "tests/temp_dir.h"

// Catch last (see above).
#include <catch2/catch.hpp>

namespace fs = std::filesystem;

namespace {

moe::TrainConfig tiny_run(const std::string& data_dir) {
  moe::TrainConfig c;
  c.model.vocab_size = 64;
  c.model.context = 32;
  c.model.d_model = 32;
  c.model.n_layers = 2;
  c.model.n_heads = 2;
  c.model.n_kv_heads = 2;
  c.model.head_dim = 16;
  c.model.d_expert = 32;
  c.model.n_experts = 4;
  c.model.top_k = 2;
  c.model.n_shared_experts = 1;
  c.data = data_dir;
  c.batch_size = 8;
  c.tokens = 60 * 8 * 32;  // 60 steps
  c.lr = 1e-2;
  c.log_every = 5;
  c.eval_every = 20;
  c.eval_tokens = 32 * 16;
  c.seed = 7;
  return c;
}

struct Fixture {
  moe::testing::TempDir tmp;
  std::string data;
  Fixture() {
    data = tmp / "data";
    fs::create_directories(data);
    moe::write_shard(data + "/train.bin", moe::testing::markov_tokens(200000, 1),
                     moe::kShardVersionU16);
    moe::write_shard(data + "/val.bin", moe::testing::markov_tokens(20000, 2),
                     moe::kShardVersionU16);
  }
};

std::vector<nlohmann::json> metrics(const std::string& run_dir) {
  std::ifstream in(run_dir + "/metrics.jsonl");
  std::vector<nlohmann::json> lines;
  std::string line;
  while (std::getline(in, line)) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

// The GPU tests' guard: true (and a warning ctest reads as a skip) without a CUDA device.
bool no_cuda() {
  if (torch::cuda::is_available()) return false;
  WARN("skipped: no CUDA device");
  return true;
}

// The run stopped at step 23 (mid-window: the metrics accumulators are checkpointed too) and
// resumed to its end.
moe::RunResult stop_and_resume(moe::TrainConfig c, const std::string& run_dir) {
  c.stop_at_step = 23;
  CHECK(moe::train(c, run_dir, false).status == moe::RunStatus::kInterrupted);
  c.stop_at_step = -1;
  return moe::train(c, run_dir, true);
}

// The numbers a run computes (timing fields excluded).
void check_same_curve(const std::string& a, const std::string& b) {
  const auto ma = metrics(a), mb = metrics(b);
  REQUIRE(ma.size() == mb.size());
  for (size_t i = 0; i < ma.size(); ++i) {
    INFO("metrics line " << i << " step " << ma[i]["step"]);
    for (const char* key : {"step", "tokens", "train_loss", "aux_loss", "z_loss", "grad_norm", "lr",
                            "expert_load_max_over_mean"}) {
      CHECK(ma[i][key] == mb[i][key]);
    }
    CHECK(ma[i].value("val_loss", -1.0) == mb[i].value("val_loss", -1.0));
  }
}

}  // namespace

TEST_CASE("training lowers the loss and leaves a complete run directory", "[trainer]") {
  Fixture f;
  const moe::TrainConfig c = tiny_run(f.data);
  const std::string run = f.tmp / "run";
  const moe::RunResult r = moe::train(c, run, false);
  CHECK(r.status == moe::RunStatus::kDone);
  CHECK(r.steps == 60);
  const auto m = metrics(run);
  REQUIRE(m.size() == 12);
  // ln(64) = 4.16 at the start; the source's conditional entropy is ln(3) = 1.10 at best.
  CHECK(m.front()["train_loss"].get<double>() > 3.0);
  CHECK(r.val_loss < 2.2);
  CHECK(r.val_loss > 1.0);
  for (const char* key : {"step", "tokens", "flops", "train_loss", "lr", "tokens_per_s", "mfu",
                          "aux_loss", "z_loss", "expert_load_max_over_mean"}) {
    CHECK(m.back().contains(key));
  }
  CHECK(m.back()["expert_load_max_over_mean"].size() == 2);
  // Every (token, expert) pair of the window is counted once: 5 steps x 8 x 32 tokens x top-2.
  for (const auto& layer : m.back()["tokens_per_expert"]) {
    int64_t pairs = 0;
    for (const auto& n : layer) pairs += n.get<int64_t>();
    CHECK(pairs == 5 * 8 * 32 * 2);
  }
  CHECK(m.back()["dropped_tokens"] == 0);
  const nlohmann::json result = moe::read_json(run + "/result.json");
  CHECK(result["status"] == "done");
  CHECK(result["val_loss"].get<double>() == r.val_loss);
  CHECK(result["tokens"] == 60 * 8 * 32);
  CHECK(fs::exists(run + "/checkpoints/step-00000060/model.pt"));
}

TEST_CASE("an interrupted and resumed run equals an uninterrupted one bit for bit", "[trainer]") {
  Fixture f;
  moe::TrainConfig c = tiny_run(f.data);
  const std::string straight = f.tmp / "straight", resumed = f.tmp / "resumed";
  const moe::RunResult a = moe::train(c, straight, false);

  c.stop_at_step = 23;  // mid-window: the metrics accumulators are checkpointed too
  const moe::RunResult stopped = moe::train(c, resumed, false);
  CHECK(stopped.status == moe::RunStatus::kInterrupted);
  CHECK(stopped.steps == 23);
  CHECK(moe::read_json(resumed + "/result.json")["status"] == "interrupted");
  c.stop_at_step = -1;
  const moe::RunResult b = moe::train(c, resumed, true);
  CHECK(b.status == moe::RunStatus::kDone);
  CHECK(b.val_loss == a.val_loss);
  CHECK(b.final_train_loss == a.final_train_loss);
  check_same_curve(straight, resumed);
}

TEST_CASE("the fused AdamW trains as LibTorch's, up to rounding, and resumes bit for bit",
          "[trainer]") {
  Fixture f;
  moe::TrainConfig c = tiny_run(f.data);
  c.fused_adamw = moe::Toggle::kOff;
  const std::string loop = f.tmp / "loop", fused = f.tmp / "fused", resumed = f.tmp / "resumed";
  const moe::RunResult a = moe::train(c, loop, false);
  c.fused_adamw = moe::Toggle::kOn;
  const moe::RunResult b = moe::train(c, fused, false);
  // The same update: the curves agree to float rounding, compounded over 60 steps.
  const auto ma = metrics(loop), mb = metrics(fused);
  REQUIRE(ma.size() == mb.size());
  for (size_t i = 0; i < ma.size(); ++i) {
    INFO("step " << ma[i]["step"]);
    CHECK(mb[i]["train_loss"].get<double>() ==
          Approx(ma[i]["train_loss"].get<double>()).epsilon(2e-3));
  }
  CHECK(b.val_loss == Approx(a.val_loss).epsilon(2e-3));
  CHECK(b.val_loss != a.val_loss);  // the fused kernel did run (its rounding differs)
  // Its checkpoint holds LibTorch's AdamW state: a stop and a resume give the same run.
  const moe::RunResult r = stop_and_resume(c, resumed);
  CHECK(r.val_loss == b.val_loss);
  check_same_curve(fused, resumed);
}

TEST_CASE("checkpointed activations train as the plain run, in fp32 and bf16", "[trainer]") {
  Fixture f;
  for (const std::string dtype : {"fp32", "bf16"}) {
    INFO(dtype);
    moe::TrainConfig c = tiny_run(f.data);
    c.tokens = 20 * 8 * 32;
    c.dtype = dtype;
    const std::string plain = f.tmp / ("plain-" + dtype), ckpt = f.tmp / ("ckpt-" + dtype);
    const moe::RunResult a = moe::train(c, plain, false);
    c.checkpoint_activations = true;
    const moe::RunResult b = moe::train(c, ckpt, false);
    const auto ma = metrics(plain), mb = metrics(ckpt);
    REQUIRE(ma.size() == mb.size());
    for (size_t i = 0; i < ma.size(); ++i) {
      INFO("step " << ma[i]["step"]);
      // bf16: the recomputed casts round as the forward's; every weight keeps learning.
      CHECK(mb[i]["train_loss"].get<double>() ==
            Approx(ma[i]["train_loss"].get<double>()).epsilon(dtype == "fp32" ? 1e-5 : 1e-2));
      CHECK(mb[i]["grad_norm"].get<double>() ==
            Approx(ma[i]["grad_norm"].get<double>()).epsilon(dtype == "fp32" ? 1e-5 : 2e-2));
    }
    CHECK(b.val_loss == Approx(a.val_loss).epsilon(dtype == "fp32" ? 1e-5 : 1e-2));
  }
}

TEST_CASE("a corrupt checkpoint is detected and the previous one is used", "[trainer]") {
  Fixture f;
  moe::TrainConfig c = tiny_run(f.data);
  const std::string straight = f.tmp / "straight", run = f.tmp / "run";
  const moe::RunResult a = moe::train(c, straight, false);

  c.checkpoint_every = 10;
  c.stop_at_step = 25;
  moe::train(c, run, false);
  REQUIRE(fs::exists(run + "/checkpoints/step-00000025"));
  REQUIRE(fs::exists(run + "/checkpoints/step-00000020"));
  {  // flip bytes in the middle of the newest model file
    std::fstream file(run + "/checkpoints/step-00000025/model.pt",
                      std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(600);
    file.write("\xde\xad\xbe\xef", 4);
  }
  c.stop_at_step = -1;
  const moe::RunResult b = moe::train(c, run, true);
  CHECK(b.status == moe::RunStatus::kDone);
  CHECK(b.val_loss == a.val_loss);  // resumed from step 20 and recomputed 21..60 exactly
  check_same_curve(straight, run);
}

TEST_CASE("a NaN loss stops the run with status diverged and the step", "[trainer]") {
  Fixture f;
  moe::TrainConfig c = tiny_run(f.data);
  c.inject_nan_at_step = 17;
  const std::string run = f.tmp / "run";
  const moe::RunResult r = moe::train(c, run, false);
  CHECK(r.status == moe::RunStatus::kDiverged);
  CHECK(r.diverged_step == 17);
  const nlohmann::json result = moe::read_json(run + "/result.json");
  CHECK(result["status"] == "diverged");
  CHECK(result["diverged_step"] == 17);
  CHECK(result["val_loss"].is_null());
  CHECK(result["reason"].get<std::string>().find("step 17") != std::string::npos);
}

TEST_CASE("a run directory holding another config is refused, naming the difference", "[trainer]") {
  Fixture f;
  moe::TrainConfig c = tiny_run(f.data);
  c.stop_at_step = 5;
  const std::string run = f.tmp / "run";
  moe::train(c, run, false);
  moe::TrainConfig other = c;
  other.model.d_expert = 48;
  CHECK_THROWS_AS(moe::train(other, run, true), moe::InputError);
  CHECK_THROWS_WITH(moe::train(other, run, true), Catch::Contains("model.d_expert differs"));
  // The same config without --resume is refused too: it would overwrite the run.
  CHECK_THROWS_WITH(moe::train(c, run, false), Catch::Contains("pass --resume"));
}

TEST_CASE("config.json round-trips into the same model", "[trainer]") {
  Fixture f;
  moe::TrainConfig c = tiny_run(f.data);
  c.model.positions = moe::PositionEncoding::kLearned;
  c.model.n_kv_heads = 1;
  c.model.tie_embeddings = true;
  c.schedule = moe::Schedule::kWsd;
  c.stop_at_step = 1;
  const std::string run = f.tmp / "run";
  moe::train(c, run, false);
  moe::TrainConfig back;
  from_json(moe::read_json(run + "/config.json"), back);
  CHECK(nlohmann::json(back) == nlohmann::json(c));
  CHECK(moe::run_id(back) == moe::run_id(c));
  torch::manual_seed(3);
  moe::MoETransformer m1(c.model);
  torch::manual_seed(3);
  moe::MoETransformer m2(back.model);
  const auto p1 = m1->named_parameters(), p2 = m2->named_parameters();
  REQUIRE(p1.size() == p2.size());
  for (const auto& item : p1) {
    INFO(item.key());
    CHECK(item.value().equal(p2[item.key()]));
  }
}

TEST_CASE("the learning-rate schedules", "[trainer]") {
  moe::TrainConfig c;
  c.model.context = 10;
  c.batch_size = 1;
  c.tokens = 1000;  // 100 steps
  c.warmup_steps = 10;
  c.lr = 1.0;
  c.min_lr_ratio = 0.1;
  CHECK(c.lr_at(0) == Approx(0.1));
  CHECK(c.lr_at(9) == Approx(1.0));
  CHECK(c.lr_at(10) == Approx(1.0));
  CHECK(c.lr_at(55) == Approx(0.55));  // cosine midpoint between 1 and 0.1
  CHECK(c.lr_at(99) == Approx(0.1).epsilon(0.01));
  c.schedule = moe::Schedule::kWsd;
  c.decay_fraction = 0.2;
  CHECK(c.lr_at(79) == Approx(1.0));
  CHECK(c.lr_at(89) == Approx(0.55));
  CHECK(c.lr_at(99) == Approx(0.1));
  c.schedule = moe::Schedule::kConstant;
  CHECK(c.lr_at(99) == Approx(1.0));
}

TEST_CASE("bf16 autocast on the CPU trains as well as fp32 and resumes bit for bit", "[trainer]") {
  Fixture f;
  moe::TrainConfig c = tiny_run(f.data);
  const moe::RunResult fp32 = moe::train(c, f.tmp / "fp32", false);
  c.dtype = "bf16";
  const std::string straight = f.tmp / "straight", resumed = f.tmp / "resumed";
  const moe::RunResult a = moe::train(c, straight, false);
  CHECK(a.status == moe::RunStatus::kDone);
  CHECK(a.val_loss < 2.2);
  CHECK(std::fabs(a.val_loss - fp32.val_loss) < 0.05);
  CHECK(a.val_loss != fp32.val_loss);  // the matmuls did run in bf16
  CHECK(moe::read_json(straight + "/result.json")["peak_source"] == "measured bf16 GEMM 1024^3");
  const moe::RunResult b = stop_and_resume(c, resumed);
  CHECK(b.val_loss == a.val_loss);
  check_same_curve(straight, resumed);
}

TEST_CASE("bf16 training on CUDA lowers the loss and resumes from its checkpoint", "[gpu]") {
  if (no_cuda()) return;
  Fixture f;
  moe::TrainConfig c = tiny_run(f.data);
  c.device = "cuda";
  c.dtype = "bf16";
  c.model.d_expert = 32;  // multiples of 8: the grouped GEMM's layout on compute capability 9.x
  const std::string straight = f.tmp / "straight", resumed = f.tmp / "resumed";
  const moe::RunResult a = moe::train(c, straight, false);
  CHECK(a.status == moe::RunStatus::kDone);
  CHECK(metrics(straight).front()["train_loss"].get<double>() > 3.0);
  CHECK(a.val_loss < 2.2);

  const moe::RunResult b = stop_and_resume(c, resumed);
  CHECK(b.status == moe::RunStatus::kDone);
  CHECK(b.steps == a.steps);
  // CUDA's atomic scatter-adds are not bit-reproducible; the resumed curve follows within noise.
  CHECK(std::fabs(b.val_loss - a.val_loss) < 0.05);
  CHECK(metrics(resumed).size() == metrics(straight).size());
}

TEST_CASE("a step captured in a CUDA graph trains as the eager step and resumes", "[gpu]") {
  if (no_cuda()) return;
  Fixture f;
  moe::TrainConfig c = tiny_run(f.data);
  c.device = "cuda";
  c.dtype = "bf16";
  c.grouped_gemm = moe::GroupedGemm::kOn;  // static shapes on any compute capability
  c.cuda_graph = moe::Toggle::kOff;
  const std::string eager = f.tmp / "eager", graphed = f.tmp / "graphed",
                    resumed = f.tmp / "resumed";
  const moe::RunResult a = moe::train(c, eager, false);
  c.cuda_graph = moe::Toggle::kOn;
  const moe::RunResult b = moe::train(c, graphed, false);
  CHECK(b.status == moe::RunStatus::kDone);
  const auto ma = metrics(eager), mb = metrics(graphed);
  REQUIRE(ma.size() == mb.size());
  for (size_t i = 0; i < ma.size(); ++i) {
    INFO("step " << ma[i]["step"]);
    CHECK(ma[i]["cuda_graph"] == false);
    CHECK(mb[i]["cuda_graph"] == true);  // captured after 3 eager steps, replayed since
    CHECK(std::fabs(mb[i]["train_loss"].get<double>() - ma[i]["train_loss"].get<double>()) < 0.05);
    CHECK(mb[i]["lr"] == ma[i]["lr"]);  // the schedule reaches the captured update
  }
  CHECK(std::fabs(b.val_loss - a.val_loss) < 0.05);
  // A stop and a resume: the new session warms up and captures again.
  const moe::RunResult r = stop_and_resume(c, resumed);
  CHECK(r.status == moe::RunStatus::kDone);
  CHECK(std::fabs(r.val_loss - b.val_loss) < 0.05);
}

TEST_CASE("a step that cannot be captured falls back to eager steps", "[gpu]") {
  if (no_cuda()) return;
  Fixture f;
  moe::TrainConfig c = tiny_run(f.data);
  c.device = "cuda";
  c.grouped_gemm = moe::GroupedGemm::kOff;  // the expert loop reads counts on the host
  c.cuda_graph = moe::Toggle::kOn;
  const std::string run = f.tmp / "run";
  const moe::RunResult a = moe::train(c, run, false);
  CHECK(a.status == moe::RunStatus::kDone);
  CHECK(a.val_loss < 2.2);
  for (const auto& line : metrics(run)) CHECK(line["cuda_graph"] == false);
}
