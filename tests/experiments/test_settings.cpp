// The settings table (moe/settings.h) and what is generated from it: flags, grid keys, and the
// one plan -> TrainConfig conversion. Torch-free.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/errors.h"
#include "experiments/cli/plan_options.h"
#include "experiments/grid.h"
#include "moe/planner.h"
#include "moe/run_dir.h"
#include "moe/settings.h"

namespace po = boost::program_options;

namespace {

moe::RunSettings from_flags(std::vector<std::string> args, bool plan_command = false) {
  std::vector<const char*> argv = {"moescale-train"};
  for (const auto& a : args) argv.push_back(a.c_str());
  po::variables_map vm;
  po::store(po::parse_command_line(static_cast<int>(argv.size()), argv.data(),
                                   moe::cli::setting_options(plan_command)),
            vm);
  moe::RunSettings s;
  moe::cli::apply_settings(vm, plan_command, s);
  return s;
}

}  // namespace

TEST_CASE("values are parsed strictly, with the input and an example in the message",
          "[settings]") {
  CHECK(moe::parse_setting_value<double>("--compute", "1e15") == 1e15);
  CHECK(moe::parse_setting_value<int64_t>("--top-k", "16") == 16);
  CHECK(moe::parse_setting_value<uint64_t>("seed =", "7") == 7u);
  CHECK(moe::parse_setting_value<bool>("x", "yes"));
  CHECK_FALSE(moe::parse_setting_value<bool>("x", "off"));
  CHECK_THROWS_WITH(moe::parse_setting_value<int64_t>("--top-k", "16.5"),
                    "--top-k '16.5' is not a number: give an integer, e.g. 16");
  CHECK_THROWS_WITH(moe::parse_setting_value<double>("--lr", ""),
                    "--lr '' is not a number: give one such as 0.5 or 1e15");
  CHECK_THROWS_WITH(moe::parse_setting_value<double>("--compute", "nan"),
                    "--compute 'nan' must be a finite number, e.g. 1e15");
  CHECK_THROWS_WITH(moe::parse_setting_value<uint64_t>("seed =", "-1"),
                    "seed = '-1' must be a non-negative integer, e.g. 0");
  CHECK_THROWS_WITH(moe::parse_setting_value<bool>("tie-embeddings =", "maybe"),
                    "tie-embeddings = 'maybe' is not true/false: give true or false");
}

TEST_CASE("each key is declared once, and every shared setting is both a flag and a grid key",
          "[settings]") {
  std::vector<std::string> keys;
  for (const auto& s : moe::settings()) keys.push_back(s.key);
  std::sort(keys.begin(), keys.end());
  CHECK(std::adjacent_find(keys.begin(), keys.end()) == keys.end());

  const po::options_description train = moe::cli::setting_options(false);
  const po::options_description plan = moe::cli::setting_options(true);
  const moe::RunSettings defaults;
  for (const auto& s : moe::settings()) {
    INFO(s.key);
    CHECK(train.find_nothrow(s.key, false) != nullptr);
    // `moescale plan` takes the plan's settings and the training ones its memory estimate reads.
    CHECK((plan.find_nothrow(s.key, false) != nullptr) ==
          (s.group != moe::SettingGroup::kTrain || s.plan_reads));
    if (s.use != moe::SettingUse::kShared) continue;
    // The default written as grid text reads back as the default; a grid needs its axes too.
    std::string value = s.is_switch ? "false" : s.show(defaults);
    if (value.empty()) value = s.key == "m-law" ? "0.04368,0.5437" : "1";  // K,A: two numbers
    const std::string grid = "compute = 1e15\nratio = 1\n" + s.key + " = " + value + "\n";
    CHECK_NOTHROW(moe::experiments::parse_grid(grid, "keys.grid"));
  }
}

TEST_CASE("a grid's shared keys and the same flags give the same run", "[settings]") {
  const moe::RunSettings flags = from_flags({"--compute",
                                             "1e15",
                                             "--label",
                                             "1M",
                                             "--ratio",
                                             "0.6",
                                             "--top-k",
                                             "1",
                                             "--weight-decay",
                                             "0.05",
                                             "--lr",
                                             "0.004",
                                             "--batch-size",
                                             "8",
                                             "--no-renormalize",
                                             "--grouped-gemm",
                                             "off",
                                             "--width-multiple",
                                             "1",
                                             "--schedule",
                                             "wsd"});
  const moe::experiments::Grid grid = moe::experiments::parse_grid(
      "compute = 1e15\nlabel = 1M\nratio = 0.6\ntop-k = 1\nweight-decay = 0.05\nlr = 0.004\n"
      "batch-size = 8\nno-renormalize = true\ngrouped-gemm = off\nwidth-multiple = 1\n"
      "schedule = wsd\n",
      "same.grid");
  const auto runs = moe::experiments::expand(grid);
  REQUIRE(runs.size() == 1);
  const moe::TrainConfig from_cli = moe::train_config_for(moe::make_plan(flags.plan), flags);
  CHECK(nlohmann::json(from_cli) == nlohmann::json(runs[0].config));
  CHECK(from_cli.weight_decay == 0.05);
  CHECK(from_cli.lr == 0.004);  // given, so not the label's
  CHECK(from_cli.batch_size == 8);
  CHECK_FALSE(from_cli.model.renormalize_gates);  // no-renormalize: a grid key since the table
  CHECK(from_cli.grouped_gemm == moe::GroupedGemm::kOff);
  // Without --lr the label's learning rate is used.
  const moe::RunSettings label_lr = from_flags({"--compute", "1e15", "--label", "1M"});
  CHECK(moe::train_config_for(moe::make_plan(label_lr.plan), label_lr).lr ==
        moe::find_label("1M").lr);
}

TEST_CASE("grids refuse flags of one process and name bad values", "[settings]") {
  using moe::experiments::parse_grid;
  CHECK_THROWS_WITH(parse_grid("compute = 1e15\nratio = 1\ndevice = cuda\n", "g"),
                    Catch::Contains("unknown key 'device'"));
  CHECK_THROWS_WITH(parse_grid("compute = 1e15\nratio = 1\ntop-k = two\n", "g"),
                    "grid g: top-k = 'two' is not a number: give an integer, e.g. 16");
  CHECK_THROWS_WITH(parse_grid("compute = 1e15\nratio = 1\nschedule = linear\n", "g"),
                    Catch::StartsWith("grid g: ") && Catch::Contains("cosine"));
}

TEST_CASE("config.json's run settings come from the table: each training setting has its key",
          "[settings]") {
  const nlohmann::json j = moe::TrainConfig{};
  for (const auto& s : moe::settings()) {
    INFO(s.key);
    CHECK(s.json_key.empty() == (s.group == moe::SettingGroup::kPlan));
    if (!s.json_key.empty()) CHECK(j.contains(s.json_key));
  }
  // A value of the wrong type is refused with the key named.
  moe::TrainConfig c;
  CHECK_THROWS_WITH(from_json(nlohmann::json{{"weight_decay", "much"}}, c),
                    Catch::Contains("'weight_decay' must be a number"));
  CHECK_THROWS_WITH(from_json(nlohmann::json{{"schedule", "linear"}}, c),
                    Catch::Contains("--schedule linear is unknown"));
}

TEST_CASE("a training setting's range is checked from the table, naming the flag", "[settings]") {
  moe::TrainConfig c;
  c.data = "d";
  c.tokens = c.batch_size * c.model.context;
  CHECK_NOTHROW(c.validate());
  moe::TrainConfig bad = c;
  bad.weight_decay = -1;
  CHECK_THROWS_WITH(bad.validate(), "--weight-decay -1 must be >= 0");
  bad = c;
  bad.dtype = "fp8";
  CHECK_THROWS_WITH(bad.validate(), "--dtype fp8 is unknown: use fp32 or bf16");
  bad = c;
  bad.micro_batch_size = 3;  // 16 sequences: a cross-setting check, still in validate()
  CHECK_THROWS_WITH(bad.validate(), "--micro-batch 3 must divide --batch-size 16");
  bad = c;
  bad.log_every = 0;
  CHECK_THROWS_WITH(bad.validate(), "--log-every 0 must be > 0");
}

TEST_CASE("a train config round-trips through JSON", "[settings]") {
  moe::TrainConfig c;
  c.grouped_gemm = moe::GroupedGemm::kOn;
  c.weight_decay = 0.03;
  c.schedule = moe::Schedule::kWsd;
  c.model.d_expert = 96;
  moe::TrainConfig back;
  from_json(nlohmann::json(c), back);
  CHECK(nlohmann::json(back) == nlohmann::json(c));
  CHECK(back.grouped_gemm == moe::GroupedGemm::kOn);
  // How a run is carried out is not part of its identity.
  moe::TrainConfig other = c;
  other.grouped_gemm = moe::GroupedGemm::kOff;
  other.threads = 3;
  CHECK(moe::run_id(other) == moe::run_id(c));
  other.weight_decay = 0.04;
  CHECK(moe::run_id(other) != moe::run_id(c));
}

TEST_CASE("a run's identity: what it computes, decided per setting in the table", "[settings]") {
  moe::TrainConfig c;
  c.batch_size = 16;
  const std::string id = moe::run_id(c);
  // Pinned: the id this config had before the table decided identity, so stored sweeps keep
  // their run directories.
  CHECK(id == "46f585518ad7");
  auto id_with = [&](auto change) {
    moe::TrainConfig other = c;
    change(other);
    return moe::run_id(other);
  };
  // How it is carried out: the same run.
  CHECK(id_with([](moe::TrainConfig& o) { o.device = "cuda:1"; }) == id);
  CHECK(id_with([](moe::TrainConfig& o) { o.log_every = 7; }) == id);
  CHECK(id_with([](moe::TrainConfig& o) { o.checkpoint_every = 9; }) == id);
  CHECK(id_with([](moe::TrainConfig& o) { o.data = "elsewhere"; }) == id);
  // A micro-batch equal to the batch is no split; a split changes the balancing loss.
  CHECK(id_with([](moe::TrainConfig& o) { o.micro_batch_size = 16; }) == id);
  CHECK(id_with([](moe::TrainConfig& o) { o.micro_batch_size = 4; }) != id);
  // What it computes: another run.
  CHECK(id_with([](moe::TrainConfig& o) { o.dtype = "bf16"; }) != id);
  CHECK(id_with([](moe::TrainConfig& o) { o.seed = 1; }) != id);
  CHECK(id_with([](moe::TrainConfig& o) { o.eval_tokens = 4096; }) != id);
  CHECK(id_with([](moe::TrainConfig& o) { o.tokens = 12345; }) != id);
}

TEST_CASE("result.json round-trips through RunResult, losses that are not finite as null",
          "[run_dir]") {
  moe::RunResult r;
  r.status = moe::RunStatus::kDiverged;
  r.reason = "loss became nan at step 7";
  r.val_loss = std::numeric_limits<double>::quiet_NaN();
  r.final_train_loss = 2.5;
  r.steps = 7;
  r.diverged_step = 7;
  const nlohmann::json j = r;
  CHECK(j["status"] == "diverged");
  CHECK(j["val_loss"].is_null());
  const moe::RunResult back = j.get<moe::RunResult>();
  CHECK(back.status == moe::RunStatus::kDiverged);
  CHECK(std::isnan(back.val_loss));
  CHECK(back.final_train_loss == 2.5);
  CHECK(back.diverged_step == 7);
  CHECK(nlohmann::json(moe::RunResult{}).contains("diverged_step") == false);
  CHECK_THROWS_WITH(moe::parse_run_status("busy"), Catch::Contains("'busy' is unknown"));
  for (auto s : {moe::RunStatus::kPending, moe::RunStatus::kDone, moe::RunStatus::kDiverged,
                 moe::RunStatus::kFailed, moe::RunStatus::kInterrupted}) {
    CHECK(moe::parse_run_status(moe::to_string(s)) == s);
  }
}

TEST_CASE("a run directory without a readable result is pending", "[run_dir]") {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / "moescale_test_run_dir";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const moe::RunDir run(dir);
  CHECK(run.read_result().status == moe::RunStatus::kPending);
  std::ofstream(run.result()) << "{\"status\": \"do";  // cut short by a kill
  CHECK(run.read_result().status == moe::RunStatus::kPending);
  moe::RunResult done;
  done.status = moe::RunStatus::kDone;
  done.val_loss = 3.25;
  std::ofstream(run.result(), std::ios::trunc) << nlohmann::json(done).dump();
  CHECK(run.read_result().status == moe::RunStatus::kDone);
  CHECK(run.read_result().val_loss == 3.25);
  std::filesystem::remove_all(dir);
}

TEST_CASE("triad grids: M/N_a x N/N_a planned as paper 2's architectures", "[settings][triad]") {
  const std::string base =
      "label = 100K\ncompute = 4e9\nexperts = 8\ntop-k = 2\nshared = 1\ncontext = 32\n"
      "vocab = 64\nbatch-size = 4\nwidth-multiple = 1\n";
  const auto g =
      moe::experiments::parse_grid(base + "m-over-na = 6.5 7 8\nn-over-na = 1.8 2\n", "triad");
  const auto runs = moe::experiments::expand(g);
  REQUIRE(runs.size() == 6);
  for (const auto& r : runs) {
    const moe::Plan& p = r.plan;
    REQUIRE(p.request.m_over_na);
    // The ratio is what the architecture gives; dense layers are 3 d wide.
    CHECK(p.request.ratio == p.flops.ratio());
    if (p.model.n_dense_layers > 0) CHECK(p.model.d_dense == 3 * p.model.d_model);
    // N/N_a by our count (norms and router included in N_a) within the solver's 5%.
    const double n_over_na = static_cast<double>(p.params.total_nonembedding()) /
                             static_cast<double>(p.params.active_nonembedding());
    CHECK(std::abs(n_over_na / *p.request.n_over_na - 1) < 0.05);
  }
  CHECK(moe::experiments::describe(runs[1]) ==
        "compute=4e+09 experts=8 m-over-na=6.5 n-over-na=2 label=100K seed=0");
  // The same run by flags: `moescale plan --m-over-na 6.5 --n-over-na 2.5 ...`.
  moe::RunSettings flags = g.shared;
  flags.plan.compute = 4e9;
  flags.plan.label = "100K";
  flags.plan.n_experts = 8;
  moe::find_setting("m-over-na")->apply("--m-over-na", "6.5", flags);
  moe::find_setting("n-over-na")->apply("--n-over-na", "2", flags);
  CHECK(moe::make_plan(flags.plan).model.d_expert == runs[1].plan.model.d_expert);

  auto error = [&](const std::string& text) {
    try {
      moe::experiments::parse_grid(base + text, "g");
    } catch (const moe::InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(error("m-over-na = 7\n") == "grid g: m-over-na and n-over-na go together: list both");
  CHECK(error("ratio = 1\nm-over-na = 7\nn-over-na = 2\n") ==
        "grid g: give ratio (paper 1) or m-over-na and n-over-na (paper 2), not both");
  CHECK(error("m-over-na = 7\nn-over-na = 2\nbracket = yes\n") ==
        "grid g: bracket = yes extends ratio lists; this grid sweeps m-over-na and n-over-na");
  CHECK(error("") == "grid g: ratio is missing: list ratios (or m-over-na and n-over-na)");
  CHECK_THROWS_WITH(moe::experiments::expand(
                        moe::experiments::parse_grid(base + "m-over-na = 5\nn-over-na = 2\n", "g")),
                    Catch::Contains("--m-over-na 5 must exceed 6"));
  // Near N/N_a's top the experts take all of N_a: no room for a model of width 8.
  CHECK_THROWS_WITH(moe::experiments::expand(moe::experiments::parse_grid(
                        base + "m-over-na = 8\nn-over-na = 2.5\n", "g")),
                    Catch::Contains("d would be at most 6, below 8; lower N/N_a or raise M/N_a"));
}
