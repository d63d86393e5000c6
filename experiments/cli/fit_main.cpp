// moescale fit: scaling-law fits of a loss grid (our results.csv, or any CSV with a header).
//
// Recipe: parse flags -> read the table, leave out unfinished runs, apply --where -> pick the
// columns of each role -> fit the law (scaling/) -> print a table -> write the JSON (--out).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "common/errors.h"
#include "common/io.h"
#include "experiments/cli/cli.h"
#include "experiments/cli/fit_format.h"
#include "experiments/derive_ratio.h"
#include "scaling/band.h"
#include "scaling/chinchilla.h"
#include "scaling/csv.h"
#include "scaling/dataset.h"
#include "scaling/isoflop.h"
#include "scaling/moe_law.h"
#include "scaling/rank.h"
#include "scaling/ratio_law.h"

namespace {

namespace po = boost::program_options;
namespace sc = moe::scaling;
using nlohmann::json;

constexpr const char* kUsage =
    "moescale fit LAW --input CSV [--column ROLE=NAME ...] [--where COL=VALUE ...]\n"
    "                 [--bootstrap N] [--seed S] [--out FILE.json] [law options]";

constexpr const char* kDescription =
    "Fits a scaling law to a loss grid, prints the estimates with bootstrap 95% intervals and\n"
    "writes every number as JSON (--out, written atomically). Rows whose status column is not\n"
    "'done' are left out and counted. Bad input exits with status 2 and a one-line message.\n"
    "\n"
    "laws:\n"
    "  power       L = E + A x^-alpha (--no-offset: L = A x^-alpha); roles x, loss\n"
    "  chinchilla  L = E + A/N^alpha + B/D^beta, Hoffmann et al. 2022 approach 3: log-sum-exp,\n"
    "              SUM Huber(1e-3) of log residuals, 4500 starts; N_opt(C), D_opt(C) with\n"
    "              C = 6ND; roles N, D, loss (or C instead of D: D = C / (6N))\n"
    "  isoflop     per budget C a parabola of loss in ln x, x*(C) at its vertex, then\n"
    "              x* = k C^a; roles C, x, loss (x = r gives r*(C), x = N gives N*(C))\n"
    "  ratio       r*(C, S) = alpha0 (1-S)^p C^(beta0 (1-S)^q) (Li et al. 2026) from isoflop r*\n"
    "              per (C, S), leave-one-sparsity-out errors, the published coefficients\n"
    "              (6.7e-5, -1.23, 0.24, 0.21) scored on the same r*; roles C, S, r, loss\n"
    "  moe-law     L = a/N^alpha + b/D^beta + c e^R (1-S)^gamma/N^lambda + d r/(r+1) + tau,\n"
    "              R = 1/(1+r) (Li et al. 2026, Eq. 2), beside Wang et al. 2024\n"
    "              (a/(N^alpha E^gamma) + b/D^beta + tau, E = 1/(1-S)), Abnar et al. 2025\n"
    "              (a/N^alpha + b/D^beta + c/(1-S)^lambda + d/((1-S)^delta N^gamma) + tau) and\n"
    "              Chinchilla; RMSE and MAPE in-sample and held out; roles N, D, S, r, loss\n"
    "  band        per budget C a curve of loss in x, x_opt at its minimum and the band\n"
    "              (x_low, x_high) where it stays within --band (0.001) of it; power laws of\n"
    "              x_opt, x_low, x_high and the width in C; roles C, x, loss. Paper 2: Phase 2\n"
    "              (x = d) with --curve quadratic; Phase 1 with --curve pole, x = M/N_a:\n"
    "              L = a/(x - 6) + b x + c (--lower 6), x = N/N_a: L = a/(x - 1) + b/(32.1 - x)\n"
    "              + c (--lower 1 --upper 32.1)\n"
    "  rank        how one loss ranks configurations as another does: Pearson, Spearman,\n"
    "              Kendall tau-b and R^2 (paper 2's check of its d proxy); roles proxy, best"
    "\n"
    "roles and their default columns (results.csv): loss=val_loss C=compute x=ratio_achieved\n"
    "(power: compute) S=sparsity N=params_active D=tokens r=ratio_achieved label=label\n"
    "proxy=proxy_loss best=best_loss";

const std::vector<std::string> kLaws = {"power",   "chinchilla", "isoflop", "ratio",
                                        "moe-law", "band",       "rank"};

po::options_description fit_options() {
  po::options_description o("fit");
  // clang-format off
  o.add_options()
      ("law", po::value<std::string>(), "LAW (positional): power, chinchilla, isoflop, ratio, moe-law, band or rank")
      ("input", po::value<std::string>(), "the loss grid, a CSV with a header row (e.g. results.csv)")
      ("column", po::value<std::vector<std::string>>()->composing(),
       "ROLE=NAME: read role ROLE (loss, C, x, S, N, D, r, label, proxy, best) from column NAME; repeatable")
      ("where", po::value<std::vector<std::string>>()->composing(),
       "COL=VALUE: keep rows whose COL equals VALUE (numbers within 0.1%); repeatable, all apply")
      ("bootstrap", po::value<int>()->default_value(sc::kDefaultBootstrap),
       "bootstrap replicates for the 95% intervals; 0 disables them")
      ("seed", po::value<std::string>()->default_value("0"), "bootstrap seed (same seed, same intervals)")
      ("out", po::value<std::string>(), "write the results as JSON to this file (atomically)")
      ("valley", po::value<std::string>()->default_value("allocation"),
       "isoflop, ratio: each budget's minimum from the walls of the allocation model "
       "(allocation: x = r), power walls (power: x = N or D) or the parabola in ln x (parabola)")
      ("huber-delta", po::value<double>()->default_value(sc::kChinchillaHuberDelta),
       "power, chinchilla, moe-law: delta of the Huber loss on log residuals")
      ("exhaustive", po::bool_switch(),
       "solve every start to convergence (default: every start gets 5 iterations, the best 2% "
       "are solved to convergence)")
      ("no-offset", po::bool_switch(), "power: fit L = A x^-alpha (no irreducible term E)")
      ("band", po::value<double>()->default_value(1e-3, "0.001"),
       "band: relative loss band around each budget's minimum (0.001: within 0.1%)")
      ("curve", po::value<std::string>()->default_value("quadratic"),
       "band: quadratic (in x), log-quadratic (in ln x) or pole (a/(x - lower) + b x, or + b/(upper - x))")
      ("lower", po::value<double>(), "band --curve pole: the pole below the data")
      ("upper", po::value<double>(), "band --curve pole: a pole above the data (else the b x term)")
      ("budget", po::value<std::vector<double>>()->composing(),
       "chinchilla: report N_opt, D_opt at this compute (repeatable; default: decades of 6ND)")
      ("holdout", po::value<std::string>()->default_value("auto"),
       "moe-law: COL=VALUE holds those rows out; 'none'; 'auto' holds out the highest sparsity "
       "when the data has >= 3 (the paper's protocol)")
      ("derive-ratio", po::bool_switch(),
       "chinchilla, moe-law: r*(C, S) minimising each fitted law through the planner, beside the "
       "direct isoflop r*")
      ("vocab", po::value<int64_t>()->default_value(8192), "--derive-ratio: the sweep's vocabulary")
      ("context", po::value<int64_t>(), "--derive-ratio: the sweep's context (default: the label's)")
      ("hold", po::value<std::string>()->default_value("flops"), "--derive-ratio: flops or active")
      ("convention", po::value<std::string>()->default_value("full"),
       "--derive-ratio: attention context FLOPs, full or causal")
      ("top-k", po::value<int64_t>()->default_value(2),
       "--derive-ratio: routed experts per token when the table has no top_k column")
      ("shared", po::value<int64_t>()->default_value(1),
       "--derive-ratio: shared experts when the table has no n_shared_experts column")
      ("r-min", po::value<double>()->default_value(0.05, "0.05"), "--derive-ratio: smallest r searched")
      ("r-max", po::value<double>()->default_value(20.0), "--derive-ratio: largest r searched")
      ("width-multiple", po::value<int64_t>()->default_value(8),
       "--derive-ratio: the sweep's --width-multiple, to check that the planner rebuilds its runs");
  // clang-format on
  return o;
}

std::vector<std::string> strings(const po::variables_map& vm, const std::string& flag) {
  return vm.count(flag) ? vm[flag].as<std::vector<std::string>>() : std::vector<std::string>{};
}

uint64_t parse_seed(const std::string& text) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos ||
      text.size() > 19) {
    throw moe::InputError("--seed " + text + " must be a non-negative integer below 1e19");
  }
  return std::stoull(text);
}

// The table as read: finished runs only, filtered.
struct Input {
  sc::Table table;
  std::string path;
  std::string left_out;  // "3 diverged runs left out", or empty
  std::vector<std::string> where;
};

Input load(const po::variables_map& vm) {
  Input in;
  in.path = vm["input"].as<std::string>();
  in.where = strings(vm, "where");
  const sc::Table raw = sc::Table::read(in.path);
  if (raw.n_rows() == 0) {
    throw moe::InputError(in.path + ": has a header but no data rows");
  }
  const sc::Table done = sc::drop_unfinished(raw, &in.left_out);
  if (done.n_rows() == 0) {
    throw moe::InputError(in.path + ": no finished runs (" + in.left_out + ")");
  }
  in.table = sc::apply_where(done, in.where);
  return in;
}

// Runs a fit. The fits see points, not files: their input errors ("2 points but the law has 3
// parameters") are prefixed with the table and the filters the points came from.
template <typename F>
auto fitting(const Input& in, F&& fit) -> decltype(fit()) {
  try {
    return fit();
  } catch (const moe::InputError& e) {
    std::string source = in.path;
    for (const auto& w : in.where) source += (source == in.path ? " where " : ", ") + w;
    throw moe::InputError(source + ": " + e.what());
  }
}

std::string header(const std::string& law, const Input& in, size_t n_points) {
  std::string extra;
  if (!in.where.empty()) {
    extra += "where";
    for (const auto& w : in.where) extra += " " + w;
  }
  if (!in.left_out.empty()) extra += (extra.empty() ? "" : "; ") + in.left_out;
  return fmt::format("moescale fit {}: {} points from {}{}\n", law, n_points, in.path,
                     extra.empty() ? "" : " (" + extra + ")");
}

json roles_json(const sc::RoleNames& roles, const std::vector<std::string>& used) {
  json j = json::object();
  for (const auto& r : used) j[r] = roles.at(r);
  return j;
}

sc::LawFitOptions law_options(const po::variables_map& vm, const sc::RoleNames& roles,
                              int bootstrap, uint64_t seed) {
  sc::LawFitOptions o;
  o.huber_delta = vm["huber-delta"].as<double>();
  o.bootstrap = bootstrap;
  o.seed = seed;
  o.roles = roles;
  o.solve.exhaustive = vm["exhaustive"].as<bool>();
  return o;
}

// --derive-ratio: each law's r*(C, S) through the planner, beside the direct isoflop r*.
json derive(const po::variables_map& vm, const Input& in, const sc::RoleNames& roles,
            const std::vector<sc::LawFit>& laws, int bootstrap, uint64_t seed) {
  sc::DeriveSettings settings;
  settings.base.vocab_size = vm["vocab"].as<int64_t>();
  if (vm.count("context")) settings.base.context = vm["context"].as<int64_t>();
  settings.base.hold = moe::parse_hold(vm["hold"].as<std::string>());
  settings.base.convention = moe::parse_convention(vm["convention"].as<std::string>());
  settings.r_min = vm["r-min"].as<double>();
  settings.r_max = vm["r-max"].as<double>();
  settings.sweep_width_multiple = vm["width-multiple"].as<int64_t>();
  const int64_t top_k = vm["top-k"].as<int64_t>();
  const int64_t shared = vm["shared"].as<int64_t>();

  const auto targets = sc::derive_targets(in.table, roles, top_k, shared);
  const double mismatch =
      sc::planner_mismatch(sc::planned_runs(in.table, roles, top_k, shared), settings);
  std::vector<sc::RatioOptimum> direct;
  std::string direct_note;
  try {
    sc::RatioLawOptions o;
    o.bootstrap = bootstrap;
    o.seed = seed;
    o.roles = roles;
    direct = sc::ratio_optima(sc::ratio_runs(in.table, roles), o);
  } catch (const moe::InputError& e) {
    direct_note = e.what();
  }

  std::vector<moe::cli::DerivedRow> rows;
  json out = json::array();
  for (const auto& t : targets) {
    moe::cli::DerivedRow row;
    row.target = t;
    for (const auto& o : direct) {
      if (sc::same_group(o.compute, t.compute) && sc::same_group(o.sparsity, t.sparsity)) {
        row.direct = o;
      }
    }
    json derived = json::object();
    const sc::RatioTrace trace = sc::trace_ratio(t, settings);
    for (const sc::LawFit& fit : laws) {
      sc::DerivedRatio d =
          sc::minimise_on(trace, [&fit](const sc::LossPoint& p) { return fit.predict(p); });
      std::vector<sc::LossPredictor> replicates;
      for (const auto& raw : fit.bootstrap_raw) {
        replicates.push_back(
            [&fit, &raw](const sc::LossPoint& p) { return sc::predict(fit.law, raw, p); });
      }
      sc::add_interval(d, trace, replicates);
      const std::string name = sc::law_info(fit.law).name;
      row.derived.emplace_back(name, d);
      derived[name] = sc::to_json(d);
    }
    out.push_back({{"C", t.compute},
                   {"S", t.sparsity},
                   {"label", t.label},
                   {"direct",
                    {{"r_opt", row.direct.r_opt},
                     {"ci_low", row.direct.ci_low},
                     {"ci_high", row.direct.ci_high},
                     {"bracketed", row.direct.bracketed},
                     {"note", row.direct.note}}},
                   {"derived", derived}});
    rows.push_back(std::move(row));
  }
  std::cout << "\nderived r*(C, S):\n" << moe::cli::format_derived(rows, mismatch);
  if (!direct_note.empty()) std::cout << "  direct r* unavailable: " << direct_note << "\n";
  return {{"rows", out},
          {"planner_max_mismatch", mismatch},
          {"direct_note", direct_note},
          {"r_range", {settings.r_min, settings.r_max}}};
}

json run_power(const po::variables_map& vm, const Input& in, const sc::RoleNames& roles,
               int bootstrap, uint64_t seed) {
  const auto points = sc::power_points(in.table, roles);
  const sc::LossLaw law =
      vm["no-offset"].as<bool>() ? sc::LossLaw::kPowerNoOffset : sc::LossLaw::kPower;
  std::cout << header("power", in, points.size());
  const sc::LawFit fit = fitting(
      in, [&] { return sc::fit_loss_law(law, points, law_options(vm, roles, bootstrap, seed)); });
  std::cout << moe::cli::format_law_fit(fit);
  json j = sc::to_json(fit);
  j["columns"] = roles_json(roles, {"x", "loss"});
  return j;
}

json run_chinchilla(const po::variables_map& vm, const Input& in, const sc::RoleNames& roles,
                    bool d_from_compute, int bootstrap, uint64_t seed) {
  const auto points = sc::chinchilla_points(in.table, roles, d_from_compute);
  std::cout << header("chinchilla", in, points.size());
  if (d_from_compute) std::cout << "  D = C / (6 N) from column " << roles.at("C") << "\n";
  const auto budgets =
      vm.count("budget") ? vm["budget"].as<std::vector<double>>() : std::vector<double>{};
  for (double c : budgets) {
    if (!(c > 0)) throw moe::InputError(fmt::format("--budget {} must be > 0", c));
  }
  const sc::ChinchillaFit fit = fitting(in, [&] {
    return sc::fit_chinchilla(points, law_options(vm, roles, bootstrap, seed), budgets);
  });
  std::cout << moe::cli::format_chinchilla(fit);
  json j = sc::to_json(fit);
  j["columns"] = roles_json(roles, {"N", d_from_compute ? "C" : "D", "loss"});
  if (vm["derive-ratio"].as<bool>()) {
    j["derived_ratio"] = derive(vm, in, roles, {fit.law}, bootstrap, seed);
  }
  return j;
}

json run_isoflop(const Input& in, const sc::RoleNames& roles, sc::ValleyModel valley, int bootstrap,
                 uint64_t seed) {
  const auto points = sc::isoflop_points(in.table, roles);
  std::cout << header("isoflop", in, points.size());
  if (in.table.has_column(roles.at("S"))) {
    const auto s = in.table.distinct(roles.at("S"));
    if (s.size() > 1) {
      std::cout << fmt::format(
          "  note: the points span {} values of {}; budgets mix them (use --where {}=VALUE to "
          "fit one, or the ratio law)\n",
          s.size(), roles.at("S"), roles.at("S"));
    }
  }
  sc::IsoflopOptions o;
  o.valley = valley;
  o.bootstrap = bootstrap;
  o.seed = seed;
  o.roles = roles;
  const sc::IsoflopFit fit = fitting(in, [&] { return sc::fit_isoflop(points, o); });
  std::cout << moe::cli::format_isoflop(fit, roles.at("x"));
  json j = sc::to_json(fit);
  j["columns"] = roles_json(roles, {"C", "x", "loss"});
  return j;
}

json run_ratio(const Input& in, const sc::RoleNames& roles, sc::ValleyModel valley, int bootstrap,
               uint64_t seed) {
  const auto runs = sc::ratio_runs(in.table, roles);
  std::cout << header("ratio", in, runs.size());
  sc::RatioLawOptions o;
  o.valley = valley;
  o.bootstrap = bootstrap;
  o.seed = seed;
  o.roles = roles;
  const sc::RatioLawFit fit = fitting(in, [&] { return sc::fit_ratio_law(runs, o); });
  std::cout << moe::cli::format_ratio_law(fit);
  json j = sc::to_json(fit);
  j["columns"] = roles_json(roles, {"C", "S", "r", "loss"});
  return j;
}

json run_band(const po::variables_map& vm, const Input& in, const sc::RoleNames& roles,
              int bootstrap, uint64_t seed) {
  const auto points = sc::isoflop_points(in.table, roles);
  std::cout << header("band", in, points.size());
  sc::BandOptions o;
  o.band = vm["band"].as<double>();
  o.curve = sc::parse_band_curve(vm["curve"].as<std::string>());
  if (vm.count("lower")) o.lower = vm["lower"].as<double>();
  if (vm.count("upper")) o.upper = vm["upper"].as<double>();
  o.bootstrap = bootstrap;
  o.seed = seed;
  const sc::BandFit fit = fitting(in, [&] { return sc::fit_band(points, o); });
  std::cout << moe::cli::format_band(fit, roles.at("x"));
  json j = sc::to_json(fit);
  j["columns"] = roles_json(roles, {"C", "x", "loss"});
  return j;
}

json run_rank(const Input& in, const sc::RoleNames& roles, int bootstrap, uint64_t seed) {
  const auto proxy = sc::role_numbers(in.table, roles, "proxy", false);
  const auto best = sc::role_numbers(in.table, roles, "best", false);
  std::cout << header("rank", in, proxy.size());
  const sc::RankAgreement r =
      fitting(in, [&] { return sc::rank_agreement(proxy, best, bootstrap, seed); });
  std::cout << moe::cli::format_rank(r, roles.at("proxy"), roles.at("best"));
  json j = sc::to_json(r);
  j["columns"] = roles_json(roles, {"proxy", "best"});
  return j;
}

json run_moe_law(const po::variables_map& vm, const Input& in, const sc::RoleNames& roles,
                 int bootstrap, uint64_t seed) {
  const std::string holdout = vm["holdout"].as<std::string>();
  sc::Table train = in.table, held = in.table.select({});
  std::string description;
  if (holdout == "auto") {
    std::vector<double> s;
    for (const auto& p : sc::moe_points(in.table, roles)) s.push_back(p.s);
    const std::vector<double> sparsities = sc::distinct_groups(s);
    if (sparsities.size() >= 3) {
      const double highest = sparsities.back();
      const std::string column = roles.at("S");
      const std::string value = fmt::format("{}", highest);
      train = in.table.where(column, value, true);
      held = in.table.where(column, value);
      description = fmt::format("{} = {} (auto: the highest sparsity)", column, value);
    } else {
      description = "";
    }
  } else if (holdout != "none") {
    const auto [column, value] = sc::split_assignment(holdout, "--holdout");
    if (!in.table.has_column(column)) {
      throw moe::InputError(
          fmt::format("--holdout {}: {} has no column {}", holdout, in.path, column));
    }
    held = in.table.where(column, value);
    train = in.table.where(column, value, true);
    if (held.n_rows() == 0) {
      throw moe::InputError(fmt::format("--holdout {}: no row matches", holdout));
    }
    if (train.n_rows() == 0) {
      throw moe::InputError(
          fmt::format("--holdout {}: every row matches; nothing is left to fit", holdout));
    }
    description = column + " = " + value;
  }
  const auto train_points = sc::moe_points(train, roles);
  const auto held_points = sc::moe_points(held, roles);
  std::cout << header("moe-law", in, train_points.size() + held_points.size());
  const sc::MoeLawComparison comparison = fitting(in, [&] {
    return sc::fit_moe_laws(train_points, held_points, law_options(vm, roles, bootstrap, seed),
                            description);
  });
  std::cout << moe::cli::format_moe_laws(comparison);
  json j = sc::to_json(comparison);
  j["columns"] = roles_json(roles, {"N", "D", "S", "r", "loss"});
  if (vm["derive-ratio"].as<bool>()) {
    std::vector<sc::LawFit> laws;
    for (const auto& c : comparison.laws) laws.push_back(c.fit);
    j["derived_ratio"] = derive(vm, in, roles, laws, bootstrap, seed);
  }
  return j;
}

}  // namespace

int main(int argc, char** argv) {
  return moe::cli::run_main("fit", [&] {
    const po::options_description options = fit_options();
    po::positional_options_description positional;
    positional.add("law", 1);
    po::variables_map vm;
    if (!moe::cli::parse(argc, argv, kUsage, kDescription, options, vm, &positional)) return 0;

    moe::cli::require(vm, "law",
                      "name the law first, e.g. 'moescale fit chinchilla --input results.csv'");
    const std::string law = vm["law"].as<std::string>();
    if (std::find(kLaws.begin(), kLaws.end(), law) == kLaws.end()) {
      throw moe::InputError(fmt::format(
          "unknown law '{}': use power, chinchilla, isoflop, ratio, moe-law, band or rank", law));
    }
    moe::cli::require(vm, "input", "give the loss grid, e.g. --input results.csv");
    const int bootstrap = vm["bootstrap"].as<int>();
    moe::scaling::check_bootstrap(bootstrap);
    const uint64_t seed = parse_seed(vm["seed"].as<std::string>());
    const sc::ValleyModel valley = sc::parse_valley_model(vm["valley"].as<std::string>());
    if (!(vm["huber-delta"].as<double>() > 0)) {
      throw moe::InputError(
          fmt::format("--huber-delta {} must be > 0", vm["huber-delta"].as<double>()));
    }
    if (vm["no-offset"].as<bool>() && law != "power") {
      throw moe::InputError("--no-offset applies to the power law only");
    }
    if (vm["derive-ratio"].as<bool>() && law != "chinchilla" && law != "moe-law") {
      throw moe::InputError("--derive-ratio applies to chinchilla and moe-law");
    }
    if (!vm["holdout"].defaulted() && law != "moe-law") {
      throw moe::InputError("--holdout applies to moe-law only");
    }
    if ((!vm["band"].defaulted() || !vm["curve"].defaulted() || vm.count("lower") ||
         vm.count("upper")) &&
        law != "band") {
      throw moe::InputError("--band, --curve, --lower and --upper apply to the band law only");
    }
    if (vm.count("budget") && law != "chinchilla") {
      throw moe::InputError("--budget applies to chinchilla only");
    }
    const auto column_flags = strings(vm, "column");
    const sc::RoleNames roles = sc::resolve_roles(column_flags, law == "power" ? "power" : "");
    const Input in = load(vm);

    json j;
    if (law == "power") {
      j = run_power(vm, in, roles, bootstrap, seed);
    } else if (law == "chinchilla") {
      // D from role D unless C was named and D was not, or the table has C but not D.
      bool named_d = false, named_c = false;
      for (const auto& c : column_flags) {
        named_d = named_d || c.rfind("D=", 0) == 0;
        named_c = named_c || c.rfind("C=", 0) == 0;
      }
      const bool d_from_compute =
          !named_d &&
          (named_c || (!in.table.has_column(roles.at("D")) && in.table.has_column(roles.at("C"))));
      j = run_chinchilla(vm, in, roles, d_from_compute, bootstrap, seed);
    } else if (law == "isoflop") {
      j = run_isoflop(in, roles, valley, bootstrap, seed);
    } else if (law == "ratio") {
      j = run_ratio(in, roles, valley, bootstrap, seed);
    } else if (law == "band") {
      j = run_band(vm, in, roles, bootstrap, seed);
    } else if (law == "rank") {
      j = run_rank(in, roles, bootstrap, seed);
    } else {
      j = run_moe_law(vm, in, roles, bootstrap, seed);
    }
    j["command"] = "fit " + law;
    j["input"] = in.path;
    j["where"] = in.where;
    j["left_out"] = in.left_out;
    if (vm.count("out")) {
      const std::string out = vm["out"].as<std::string>();
      moe::write_json_atomic(out, j);
      std::cout << "\nwrote " << out << "\n";
    }
    return 0;
  });
}
