// Bracketing (experiments/bracket.h) on planted valleys: the runs it adds given the losses of
// the runs so far, without a trainer. Each test plays the sweep: every pending run "finishes"
// with the planted loss of its ratio, and the plan is asked again, until it adds nothing.
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/errors.h"
#include "experiments/bracket.h"
#include "experiments/grid.h"

namespace ex = moe::experiments;

namespace {

// The micro shape of the sweep tests: plans in microseconds, refuses r < 0.03.
std::string micro(const std::string& extra) {
  return "label = 100K\ncontext = 32\nvocab = 64\nbatch-size = 4\nsparsity = 0.8235\n" + extra;
}

// A valley in ln r with its minimum at r0 (per budget), 0.05 nats deep per ln-unit squared.
using Valley = std::function<double(double compute, double ratio)>;
Valley planted(std::map<double, double> r0) {
  return [r0](double c, double r) { return 3.0 + 0.05 * std::pow(std::log(r / r0.at(c)), 2); };
}
using SeededValley = std::function<double(double compute, double ratio, uint64_t seed)>;

struct Played {
  ex::BracketPlan plan;
  int waves = 0;
  std::map<std::string, ex::RunOutcome> done;  // by run id
};

// Finishes every planned run wave by wave (`fail` runs end without a loss) until the plan
// stops growing.
Played play(const ex::Grid& g, const SeededValley& loss, const std::set<double>& fail = {}) {
  Played p;
  for (;;) {
    p.plan = ex::plan_bracket(g, [&](const ex::RunSpec& run) {
      auto it = p.done.find(run.id);
      return it == p.done.end() ? ex::RunOutcome{} : it->second;
    });
    bool pending = false;
    for (const auto& run : p.plan.runs) {
      if (p.done.count(run.id)) continue;
      pending = true;
      const double r = run.plan.request.ratio;
      ex::RunOutcome o;
      o.final = true;
      if (!fail.count(r)) o.loss = loss(run.plan.request.compute, r, run.config.seed);
      p.done[run.id] = o;
    }
    if (!pending) return p;
    ++p.waves;
    REQUIRE(p.waves < 40);
  }
}

Played play(const ex::Grid& g, const Valley& loss, const std::set<double>& fail = {}) {
  return play(g, SeededValley([&](double c, double r, uint64_t) { return loss(c, r); }), fail);
}

std::vector<double> ratios_of(const ex::BracketPlan& plan, double compute) {
  std::set<double> s;
  for (const auto& run : plan.runs) {
    if (run.plan.request.compute == compute) s.insert(run.plan.request.ratio);
  }
  return {s.begin(), s.end()};
}

// The ratio of lowest planted loss among a budget's planned ratios.
double best_ratio(const ex::BracketPlan& plan, double compute, const Valley& loss) {
  double best = 0, best_loss = INFINITY;
  for (double r : ratios_of(plan, compute)) {
    if (loss(compute, r) < best_loss) best_loss = loss(compute, r), best = r;
  }
  return best;
}

std::string note_of(const ex::Grid& g, const ex::BracketPlan& plan, size_t cell) {
  return plan.note(ex::cells(g).at(cell));
}

}  // namespace

TEST_CASE("bracketing grows the ratio list until each valley is inside", "[bracket]") {
  const ex::Grid g =
      ex::parse_grid(micro("compute = 4e9 8e9\nratio = 0.5 1 2\nbracket = yes\n"), "b");
  // 4e9: the minimum lies above the list (r0 = 6); 8e9: below it (r0 = 0.1).
  const Valley loss = planted({{4e9, 6.0}, {8e9, 0.1}});
  const Played p = play(g, loss);

  // Steps of the list's own end factor (2), rounded to 3 digits, until the minimum is inside.
  CHECK(ratios_of(p.plan, 4e9) == std::vector<double>{0.5, 1, 2, 4, 8, 16});
  CHECK(ratios_of(p.plan, 8e9) == std::vector<double>{0.0625, 0.125, 0.25, 0.5, 1, 2});
  CHECK(best_ratio(p.plan, 4e9, loss) == 8);
  CHECK(best_ratio(p.plan, 8e9, loss) == 0.125);
  CHECK(note_of(g, p.plan, 0) == "bracketed: lowest loss at r=8 between r=4 and r=16");
  CHECK(note_of(g, p.plan, 1) == "bracketed: lowest loss at r=0.125 between r=0.0625 and r=0.25");
  // One ratio per cell end per wave: the grid, then three waves up and three down, then a
  // last plan that adds nothing.
  CHECK(p.waves == 4);
  for (const auto& run : p.plan.runs) {
    const double r = run.plan.request.ratio;
    const bool in_grid = r == 0.5 || r == 1 || r == 2;
    CHECK(run.origin == (in_grid ? ex::RunOrigin::kGrid : ex::RunOrigin::kBracket));
    CHECK(p.plan.reasons.count(run.id) == (in_grid ? 0 : 1));
    if (r == 16) CHECK(p.plan.reasons.at(run.id) == "lowest loss at the largest ratio r=8");
    if (r == 0.0625)
      CHECK(p.plan.reasons.at(run.id) == "lowest loss at the smallest ratio r=0.125");
  }

  // The same losses give the same runs (ids), whatever the order the runs finished in: a
  // restarted sweep, or another process on the same directory, plans the same runs.
  const Played again = play(g, loss);
  REQUIRE(again.plan.runs.size() == p.plan.runs.size());
  for (size_t i = 0; i < p.plan.runs.size(); ++i) CHECK(again.plan.runs[i].id == p.plan.runs[i].id);
}

TEST_CASE("bracketing waits for a cell's runs and adds nothing without bracket = yes",
          "[bracket]") {
  const std::string grid = "compute = 4e9\nratio = 0.5 1 2\n";
  const Valley loss = planted({{4e9, 6.0}});
  const ex::Grid off = ex::parse_grid(micro(grid), "off");
  const Played p = play(off, loss);
  CHECK(ratios_of(p.plan, 4e9) == std::vector<double>{0.5, 1, 2});
  CHECK(p.plan.notes.empty());

  const ex::Grid on = ex::parse_grid(micro(grid + "bracket = yes\n"), "on");
  // Two of three runs finished: nothing is added yet.
  const auto runs = ex::expand(on);
  const ex::BracketPlan plan = ex::plan_bracket(on, [&](const ex::RunSpec& run) {
    ex::RunOutcome o;
    o.final = run.id != runs[2].id;
    if (o.final) o.loss = loss(4e9, run.plan.request.ratio);
    return o;
  });
  CHECK(plan.runs.size() == 3);
  CHECK(plan.note(ex::cells(on)[0]) == "waiting for 1 run(s)");
}

TEST_CASE("bracketing stops at its limits and says why", "[bracket]") {
  const Valley far = planted({{4e9, 1e4}, {8e9, 1e-4}});
  SECTION("bracket-steps") {
    const ex::Grid g = ex::parse_grid(
        micro("compute = 4e9\nratio = 0.5 1 2\nbracket = yes\nbracket-steps = 2\n"), "s");
    const Played p = play(g, far);
    CHECK(ratios_of(p.plan, 4e9) == std::vector<double>{0.5, 1, 2, 4, 8});
    CHECK(note_of(g, p.plan, 0) == "open above: bracket-steps 2 reached at r=8");
  }
  SECTION("bracket-max, with its own factor") {
    const ex::Grid g =
        ex::parse_grid(micro("compute = 4e9\nratio = 0.5 1 2\nbracket = yes\nbracket-factor = 3\n"
                             "bracket-max = 20\n"),
                       "m");
    const Played p = play(g, far);
    CHECK(ratios_of(p.plan, 4e9) == std::vector<double>{0.5, 1, 2, 6, 18});
    CHECK(note_of(g, p.plan, 0) == "open above: r=54 is past bracket-max 20");
  }
  SECTION("the planner's refusal") {
    const ex::Grid g = ex::parse_grid(
        micro("compute = 8e9\nratio = 0.5 1 2\nbracket = yes\nbracket-steps = 8\n"), "p");
    const Played p = play(g, far);
    // The router alone is r = 0.0286 in this shape: 0.0625 is the last ratio it allows.
    CHECK(ratios_of(p.plan, 8e9) == std::vector<double>{0.0625, 0.125, 0.25, 0.5, 1, 2});
    const std::string note = note_of(g, p.plan, 0);
    CHECK_THAT(note, Catch::StartsWith("open below: the planner refuses r=0.0312: --ratio 0.0312 "
                                       "is too small for this shape"));
  }
  SECTION("a run at the end that did not finish") {
    const ex::Grid g =
        ex::parse_grid(micro("compute = 4e9\nratio = 0.5 1 2\nbracket = yes\n"), "d");
    const Played p = play(g, far, /*fail=*/{4});
    CHECK(ratios_of(p.plan, 4e9) == std::vector<double>{0.5, 1, 2, 4});
    CHECK(note_of(g, p.plan, 0) == "open above: the run at r=4 did not finish");
  }
}

TEST_CASE("bracket-margin goes past an end that is not clearly above the minimum", "[bracket]") {
  // Minimum at r = 1 inside the list; the loss at r = 2 is only 0.011 above it.
  const Valley loss = planted({{4e9, 1.2}});
  const std::string grid = "compute = 4e9\nratio = 0.5 1 2\nbracket = yes\n";
  const ex::Grid plain = ex::parse_grid(micro(grid), "plain");
  CHECK(ratios_of(play(plain, loss).plan, 4e9) == std::vector<double>{0.5, 1, 2});

  const ex::Grid g = ex::parse_grid(micro(grid + "bracket-margin = 0.02\n"), "margin");
  const Played p = play(g, loss);
  // 0.5 is 0.037 above the minimum: a wall; 2 is not, so 4 (0.071 above) is added.
  CHECK(ratios_of(p.plan, 4e9) == std::vector<double>{0.5, 1, 2, 4});
  CHECK(note_of(g, p.plan, 0) == "bracketed: lowest loss at r=1 between r=0.5 and r=2");
  for (const auto& run : p.plan.runs) {
    if (run.plan.request.ratio != 4) continue;
    CHECK(p.plan.reasons.at(run.id) ==
          "the loss at the largest ratio r=2 is within bracket-margin 0.02 of the lowest (r=1)");
  }
}

TEST_CASE("bracket-margin looks at the far end only once the minimum is inside", "[bracket]") {
  const ex::Grid g = ex::parse_grid(
      micro("compute = 4e9\nratio = 0.5 1 2\nbracket = yes\nbracket-margin = 0.05\n"), "m");
  const std::map<double, double> losses = {{0.25, 3.2}, {0.5, 3.02}, {1, 3.01}, {2, 3.0}, {4, 3.1}};
  const Valley loss = [&](double, double r) { return losses.at(r); };
  // After the grid: the lowest loss is at the top, so only the top is extended, although the
  // bottom is within the margin too.
  const ex::BracketPlan first = ex::plan_bracket(g, [&](const ex::RunSpec& run) {
    ex::RunOutcome o;  // the grid's runs have finished, the added ones not yet
    o.final = run.origin == ex::RunOrigin::kGrid;
    if (o.final) o.loss = loss(0, run.plan.request.ratio);
    return o;
  });
  std::set<double> after_grid;
  for (const auto& run : first.runs) {
    if (run.origin != ex::RunOrigin::kGrid) after_grid.insert(run.plan.request.ratio);
  }
  CHECK(after_grid == std::set<double>{4});
  // Then 4 is a wall (0.1 above), 0.5 is not (0.02): 0.25 is added, and it is a wall.
  const Played p = play(g, loss);
  CHECK(ratios_of(p.plan, 4e9) == std::vector<double>{0.25, 0.5, 1, 2, 4});
  CHECK(note_of(g, p.plan, 0) == "bracketed: lowest loss at r=2 between r=1 and r=4");
}

TEST_CASE("refine adds ratios around the minimum, more on its lower side", "[bracket]") {
  const ex::Grid g = ex::parse_grid(
      micro("compute = 4e9\nratio = 0.5 1 2 4 8 16\nbracket = yes\nrefine = 3\n"), "r");
  const Valley loss = planted({{4e9, 6.0}});
  const Played p = play(g, loss);
  // Minimum at 8 between 4 (lower loss) and 16: two ratios towards 4, one towards 16, evenly in
  // ln r, then nothing more.
  CHECK(ratios_of(p.plan, 4e9) == std::vector<double>{0.5, 1, 2, 4, 5.04, 6.35, 8, 11.3, 16});
  CHECK(best_ratio(p.plan, 4e9, loss) == 6.35);
  int refined = 0;
  for (const auto& run : p.plan.runs) refined += run.origin == ex::RunOrigin::kRefine;
  CHECK(refined == 3);
  CHECK(note_of(g, p.plan, 0) == "bracketed: lowest loss at r=6.35 between r=5.04 and r=8");
}

TEST_CASE("bracketing covers every seed of a ratio and decides on their mean", "[bracket]") {
  const ex::Grid g =
      ex::parse_grid(micro("compute = 4e9\nratio = 1 2\nseed = 0 1\nbracket = yes\n"), "seeds");
  // Seed 0 alone puts the minimum at the top (r = 2); the means (3.05 at r = 1, 3.10 at r = 2)
  // put it at the bottom, so bracketing goes down, with both seeds.
  const SeededValley loss = [](double, double r, uint64_t seed) {
    if (r >= 2) return seed == 0 ? 3.00 : 3.20;
    if (r >= 1) return 3.05;
    return 3.5;
  };
  const Played p = play(g, loss);
  CHECK(ratios_of(p.plan, 4e9) == std::vector<double>{0.5, 1, 2});
  CHECK(p.plan.runs.size() == 6);
  CHECK(p.plan.note(ex::cells(g)[0]) == "bracketed: lowest loss at r=1 between r=0.5 and r=2");
}

TEST_CASE("bad bracket keys are one-line errors naming the key", "[bracket]") {
  auto error = [](const std::string& extra) {
    try {
      ex::parse_grid(micro("compute = 4e9\nratio = 1 2\n" + extra), "g");
    } catch (const moe::InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(error("bracket = maybe\n") == "grid g: bracket = 'maybe' must be yes or no");
  CHECK(error("bracket-steps = 0\n") == "grid g: bracket-steps = 0 must be between 1 and 20");
  CHECK(error("bracket-factor = 1\n") == "grid g: bracket-factor = 1 must be between 1.05 and 10");
  CHECK(error("bracket-margin = -0.1\n") ==
        "grid g: bracket-margin = -0.1 must be between 0 and 1");
  CHECK(error("bracket-min = 5\nbracket-max = 2\n") ==
        "grid g: bracket-min 5 must be below bracket-max 2");
  CHECK_THAT(error("refine = x\n"), Catch::StartsWith("grid g: refine = 'x' is not a number"));
  CHECK(ex::round_ratio(5.0396842) == 5.04);
  CHECK(ex::round_ratio(0.03125) == 0.0312);  // an exact tie goes to the even digit
  CHECK(ex::round_ratio(24.999) == 25);
}
