// The moescale-fit program end to end: exit status, the one-line error, the JSON it writes.
#include <sys/wait.h>

#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <sstream>

#include "experiments/derive_ratio.h"
#include "scaling/fit.h"
#include "scaling/laws.h"
#include "tests/scaling/synthetic.h"

namespace fs = std::filesystem;
namespace sc = moe::scaling;

namespace {

struct Result {
  int status = -1;
  std::string out;  // stdout, or stderr when run with errors_only
};

// Runs moescale-fit with `args`; stderr only (stdout discarded) when errors_only.
Result run_fit(const std::string& args, bool errors_only = true) {
  const std::string command = std::string(MOESCALE_FIT_BIN) + " " + args +
                              (errors_only ? " 2>&1 >/dev/null" : " 2>/dev/null");
  Result r;
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::array<char, 4096> buf{};
  size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) r.out.append(buf.data(), n);
  const int status = ::pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

int lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

const fs::path& dir() {
  static const fs::path d = [] {
    const fs::path p = fs::temp_directory_path() / "moescale_test_fit_cli";
    fs::create_directories(p);
    return p;
  }();
  return d;
}

std::string write(const std::string& name, const std::string& text) {
  const fs::path p = dir() / name;
  std::ofstream(p) << text;
  return p.string();
}

// A results.csv-like grid from Chinchilla's law: 5 budgets x 8 sizes, 2 diverged runs.
std::string good_csv() {
  const auto raw = sc::to_raw(sc::LossLaw::kChinchilla, sc::testing::kChinchillaTruth);
  const auto points = sc::testing::isoflop_design(sc::LossLaw::kChinchilla, raw, 5, 8, 0.003, 0, 2);
  std::ostringstream s;
  s << "run_id,label,compute,sparsity,ratio_achieved,params_active,tokens,val_loss,status\n";
  for (size_t i = 0; i < points.size(); ++i) {
    const auto& p = points[i];
    s << "r" << i << ",1M," << 6 * p.n * p.d << ",0.9091," << 0.2 + 0.05 * (i % 8) << "," << p.n
      << "," << p.d << "," << p.loss << "," << (i == 3 || i == 17 ? "diverged" : "done") << "\n";
  }
  return s.str();
}

const std::string kHeader = "run_id,params_active,tokens,val_loss\n";

// A sweep built by the planner (label 55M, 3 sparsities x 3 budgets x 8 ratios) with losses
// from the MoE law, whose valley in r sits near r = 1.3: what `moescale sweep` writes, for
// moe-law, ratio and --derive-ratio.
const std::vector<double> kSweepLaw = {400, 0.34, 400, 0.28, 0.2, -0.3, 0.1, 0.5, 1.7};

std::string sweep_csv() {
  const auto raw = sc::to_raw(sc::LossLaw::kMoe, kSweepLaw);
  sc::Rng rng(6);
  std::ostringstream s;
  s << std::setprecision(12);
  s << "run_id,label,compute,sparsity,ratio,ratio_achieved,top_k,n_shared_experts,"
       "params_active,tokens,val_loss,status\n";
  int id = 0;
  for (double sparsity : {0.8235, 0.9091, 0.9538}) {
    for (double compute : {3e19, 1e20, 3e20}) {
      for (double ratio : {0.15, 0.25, 0.4, 0.6, 0.9, 1.4, 2.0, 3.0}) {
        sc::DeriveTarget t;
        t.compute = compute;
        t.sparsity = sparsity;
        t.label = "55M";
        sc::LossPoint p = sc::planned_point(t, ratio, {});
        p.loss = sc::predict(sc::LossLaw::kMoe, raw, p) * std::exp(0.001 * rng.normal());
        s << "r" << id++ << ",55M," << compute << "," << sparsity << "," << ratio << "," << p.r
          << ",2,1," << p.n << "," << p.d << "," << p.loss << ",done\n";
      }
    }
  }
  return s.str();
}

}  // namespace

TEST_CASE("fit chinchilla on a good table exits 0 and writes the documented JSON", "[cli]") {
  const std::string csv = write("good.csv", good_csv());
  const std::string out = (dir() / "fit.json").string();
  fs::remove(out);
  const Result r = run_fit("chinchilla --input " + csv + " --bootstrap 10 --out " + out, false);
  INFO(r.out);
  REQUIRE(r.status == 0);
  CHECK(r.out.find("38 points from") != std::string::npos);
  CHECK(r.out.find("2 diverged runs left out") != std::string::npos);
  std::ifstream in(out);
  const nlohmann::json j = nlohmann::json::parse(in);
  for (const char* k : {"E", "A", "B", "alpha", "beta"}) {
    CHECK(j["params"].contains(k));
    CHECK(j["ci"][k].size() == 2);
  }
  CHECK(j["n_points"] == 38);
  CHECK(j["objective"].get<double>() > 0);
  CHECK(j["params"]["alpha"].get<double>() == Approx(0.34).margin(0.05));
  CHECK(j["left_out"] == "2 diverged runs left out");
  CHECK(j["compute_optimal"]["budgets"].size() >= 2);
}

TEST_CASE("fit --help documents every flag and the laws", "[cli]") {
  const Result r = run_fit("--help", false);
  CHECK(r.status == 0);
  for (const char* s : {"--input", "--column", "--where", "--bootstrap", "--seed", "--out",
                        "--holdout", "--derive-ratio", "power", "chinchilla", "isoflop", "ratio",
                        "moe-law", "E + A/N^alpha + B/D^beta"}) {
    INFO(s);
    CHECK(r.out.find(s) != std::string::npos);
  }
}

TEST_CASE("bad input exits 2 with one line naming the column or the problem", "[cli]") {
  const std::string good = write("good.csv", good_csv());
  struct Case {
    std::string args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"chinchilla --input " + good + " --column loss=nope",
       "no column nope for role loss (give the column with --column loss=NAME)"},
      {"chinchilla --input " + write("text.csv", kHeader + "a,1e6,1e9,abc\n"),
       "text.csv: line 2, column val_loss: 'abc' is not a finite number"},
      {"chinchilla --input " + write("nan.csv", kHeader + "a,1e6,1e9,nan\n"),
       "nan.csv: line 2, column val_loss: 'nan' is not a finite number"},
      {"chinchilla --input " + write("zero.csv", kHeader + "a,1e6,0,3\n"),
       "zero.csv: line 2, column tokens: value 0 must be > 0 (its logarithm is taken)"},
      {"chinchilla --input " +
           write("few.csv", kHeader + "a,1e6,1e9,3\nb,2e6,2e9,2.9\nc,4e6,4e9,2.8\n"),
       "chinchilla: 3 points but the law has 5 parameters; give at least 5"},
      {"chinchilla --input " +
           write("oned.csv", kHeader + "a,1e6,1e9,3\nb,2e6,1e9,2.9\nc,4e6,1e9,2.8\n"
                                       "d,8e6,1e9,2.7\ne,16e6,1e9,2.6\n"),
       "chinchilla: D (column tokens) has 1 distinct value (1e+09) but the fit needs at least 2"},
      {"chinchilla --input " + (dir() / "absent.csv").string(), "absent.csv: cannot open"},
      {"chinchilla --input " + write("empty.csv", ""), "empty.csv: the file is empty"},
      {"chinchilla --input " + dir().string(), "is a directory"},
      {"chinchilla --input " + write("header.csv", kHeader), "has a header but no data rows"},
      {"quadratic --input " + good, "unknown law 'quadratic'"},
      {"chinchilla --input " + good + " --where nope=1", "--where nope=1: "},
      {"chinchilla --input " + good + " --bootstrap -1", "--bootstrap -1 must be >= 0"},
      {"chinchilla --input " + good + " --seed -3", "--seed -3 must be a non-negative integer"},
      {"chinchilla", "--input is required"},
      {"chinchilla --input " + good + " --frobnicate", "unrecognised option '--frobnicate'"},
      {"isoflop --input " + good + " --derive-ratio", "--derive-ratio applies to chinchilla"},
      {"isoflop --input " + good + " --column x=run_id", "line 2, column run_id: 'r0'"},
  };
  for (const auto& c : cases) {
    INFO(c.args);
    const Result r = run_fit(c.args);
    INFO(r.out);
    CHECK(r.status == 2);
    CHECK(lines(r.out) == 1);
    CHECK(r.out.rfind("moescale fit: error: ", 0) == 0);
    CHECK(r.out.find(c.message) != std::string::npos);
  }
}

TEST_CASE("fit isoflop and power run from the command line", "[cli]") {
  const std::string good = write("good.csv", good_csv());
  const std::string out = (dir() / "iso.json").string();
  const Result r = run_fit("isoflop --input " + good +
                               " --column x=params_active --bootstrap 20 "
                               "--out " +
                               out,
                           false);
  INFO(r.out);
  REQUIRE(r.status == 0);
  std::ifstream in(out);
  const nlohmann::json j = nlohmann::json::parse(in);
  CHECK(j["optima"].size() == 5);
  for (const auto& o : j["optima"]) {
    for (const char* k : {"C", "x_opt", "ci_low", "ci_high", "bracketed", "n_points"}) {
      CHECK(o.contains(k));
    }
  }
  CHECK(j["power_law"].contains("a_ci_low"));
  // N*(C) of Chinchilla's law grows as C^0.45: the sweep brackets it at some budgets.
  if (!j["power_law"].is_null()) CHECK(j["power_law"]["a"].get<double>() > 0.2);

  const Result p = run_fit(
      "power --input " + good + " --where compute=1e19 --column x=params_active --bootstrap 0",
      false);
  INFO(p.out);
  CHECK(p.status == 0);
  CHECK(p.out.find("7 points from") != std::string::npos);
  CHECK(p.out.find("alpha") != std::string::npos);
}

TEST_CASE("fit band: a planted 0.1% band from the command line, and its bad flags", "[cli]") {
  // loss = 2.5 + 1e-6 (d - d0)^2 with d0 = 500 (C / 1e18)^0.25: half-width sqrt(0.0025 / 1e-6).
  std::ostringstream csv;
  csv << std::setprecision(17) << "run_id,compute,d_model,val_loss,status\n";
  for (double c : {1e18, 1e19, 1e20}) {
    const double d0 = 500 * std::pow(c / 1e18, 0.25);
    for (int i = 0; i < 9; ++i) {
      const double d = d0 * (0.6 + 0.1 * i);
      csv << "r" << i << "," << c << "," << d << "," << 2.5 + 1e-6 * (d - d0) * (d - d0)
          << ",done\n";
    }
  }
  const std::string input = write("band.csv", csv.str());
  const std::string out = (dir() / "band.json").string();
  const Result r =
      run_fit("band --input " + input + " --column x=d_model --bootstrap 20 --out " + out, false);
  INFO(r.out);
  REQUIRE(r.status == 0);
  std::ifstream in(out);
  const nlohmann::json j = nlohmann::json::parse(in);
  REQUIRE(j["optima"].size() == 3);
  const auto& first = j["optima"][0];
  CHECK(first["x_opt"].get<double>() == Approx(500).epsilon(1e-9));
  CHECK(first["x_low"].get<double>() == Approx(450).epsilon(1e-9));
  CHECK(first["x_high"].get<double>() == Approx(550).epsilon(1e-9));
  CHECK(j["laws"]["x_opt"]["a"].get<double>() == Approx(0.25).epsilon(1e-9));
  CHECK(j["columns"]["x"] == "d_model");

  const Result bad = run_fit("band --input " + input + " --column x=d_model --band 2");
  CHECK(bad.status == 2);
  CHECK(bad.out ==
        "moescale fit: error: " + input + ": --band 2 must be between 0 and 1 (0.001 is 0.1%)\n");
  const Result other = run_fit("isoflop --input " + input + " --column x=d_model --curve pole");
  CHECK(other.status == 2);
  CHECK(other.out ==
        "moescale fit: error: --band, --curve, --lower and --upper apply to the band law only\n");
}

TEST_CASE("fit rank: the four statistics from the command line", "[cli]") {
  const std::string input =
      write("rank.csv", "config,mid_d,best_d\na,1,2\nb,2,1\nc,3,4\nd,4,3\ne,5,5\n");
  const std::string out = (dir() / "rank.json").string();
  const Result r =
      run_fit("rank --input " + input +
                  " --column proxy=mid_d --column best=best_d --bootstrap 50 --out " + out,
              false);
  INFO(r.out);
  REQUIRE(r.status == 0);
  std::ifstream in(out);
  const nlohmann::json j = nlohmann::json::parse(in);
  CHECK(j["n"] == 5);
  CHECK(j["pearson"]["value"].get<double>() == Approx(0.8));
  CHECK(j["spearman"]["value"].get<double>() == Approx(0.8));
  CHECK(j["kendall_tau_b"]["value"].get<double>() == Approx(0.6));
  CHECK(j["r2"]["value"].get<double>() == Approx(0.64));
  CHECK(j["pearson"]["ci"].size() == 2);
  const Result missing = run_fit("rank --input " + input);
  CHECK(missing.status == 2);
  CHECK(missing.out.find("no column proxy_loss for role proxy (give the column with --column "
                         "proxy=NAME)") != std::string::npos);
}

TEST_CASE("fit moe-law --derive-ratio and fit ratio run on a planner-built sweep", "[cli][moe]") {
  const std::string csv = write("sweep.csv", sweep_csv());
  const std::string out = (dir() / "moe.json").string();
  const Result r =
      run_fit("moe-law --input " + csv +
                  " --holdout sparsity=0.9538 --bootstrap 0 --derive-ratio --width-multiple 1 "
                  "--out " +
                  out,
              false);
  INFO(r.out);
  REQUIRE(r.status == 0);
  std::ifstream in(out);
  const nlohmann::json j = nlohmann::json::parse(in);
  CHECK(j["n_train"] == 48);
  CHECK(j["n_held_out"] == 24);
  REQUIRE(j["laws"].size() == 4);
  CHECK(j["laws"][0]["law"] == "moe");
  // The law the data came from predicts the held-out sparsity best.
  const double moe_out = j["laws"][0]["held_out"]["rmse"].get<double>();
  for (size_t i = 1; i < 4; ++i) CHECK(j["laws"][i]["held_out"]["rmse"].get<double>() > moe_out);
  const auto& derived = j["derived_ratio"];
  CHECK(derived["planner_max_mismatch"].get<double>() < 1e-9);  // the sweep's own planner
  REQUIRE(derived["rows"].size() == 9);
  // Where the data bracket r*, the moe law's derived r* lands near the observed valley.
  int compared = 0;
  for (const auto& row : derived["rows"]) {
    if (!row["direct"]["bracketed"].get<bool>()) continue;
    const double direct = row["direct"]["r_opt"].get<double>();
    const double from_law = row["derived"]["moe"]["r_opt"].get<double>();
    INFO("C " << row["C"] << " S " << row["S"] << ": direct " << direct << ", derived "
              << from_law);
    CHECK(from_law == Approx(direct).epsilon(0.25));
    ++compared;
  }
  CHECK(compared >= 6);

  // With a bootstrap, each derived r* has an interval from the law's replicates, and says
  // whether it lies inside the r the sweep ran.
  const std::string boot_out = (dir() / "chinchilla.json").string();
  const Result boot =
      run_fit("chinchilla --input " + csv +
                  " --bootstrap 20 --derive-ratio --width-multiple 1 --out " + boot_out,
              false);
  INFO(boot.out);
  REQUIRE(boot.status == 0);
  std::ifstream boot_in(boot_out);
  const nlohmann::json b = nlohmann::json::parse(boot_in);
  int with_ci = 0;
  for (const auto& row : b["derived_ratio"]["rows"]) {
    const auto& d = row["derived"]["chinchilla"];
    CHECK(d["replicates"] == 20);
    CHECK(d.contains("in_swept_range"));
    if (!d["bracketed"].get<bool>() || d["ci"][0].is_null()) continue;
    CHECK(d["ci"][0].get<double>() <= d["r_opt"].get<double>());
    CHECK(d["ci"][1].get<double>() >= d["r_opt"].get<double>());
    ++with_ci;
  }
  CHECK(with_ci >= 1);
  CHECK(boot.out.find("95% CI") != std::string::npos);

  const Result ratio = run_fit("ratio --input " + csv + " --bootstrap 20", false);
  INFO(ratio.out);
  CHECK(ratio.status == 0);
  CHECK(ratio.out.find("leave one sparsity out") != std::string::npos);
  CHECK(ratio.out.find("published coefficients") != std::string::npos);
}
