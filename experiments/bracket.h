// Bracketing: the runs a sweep adds so that every cell's valley lies inside its ratio list.
//
// A cell (experiments/grid.h) is one ratio curve: its runs differ only in ratio and seed. When
// every run of a cell is final and its lowest loss (the mean over the seeds that finished) lies
// at the smallest or the largest ratio (or the loss at that end is within bracket-margin of the
// lowest: seed noise), the next ratio beyond that end is added, one ratio at a
// time (all seeds), geometric in ln r: the end's ratio times or over the grid's bracket-factor
// (default: the list's own step at that end), rounded to 3 significant digits. This stops when
// the minimum is inside, after bracket-steps added ratios at that end, at bracket-min or
// bracket-max, when the planner refuses the ratio, or when the end's run did not finish. Then,
// with refine = N, N ratios are added once around the minimum (between it and its neighbours,
// evenly in ln r).
//
// The added runs are a function of the finished runs' losses alone: planning again from the
// same run directories gives the same runs (the same ids), so a sweep killed at any point and
// started again continues where it was, several processes on one sweep directory agree, and a
// Slurm user emits the next wave by asking again after the last wave ended.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "experiments/grid.h"

namespace moe::experiments {

// What a run's directory says about it.
struct RunOutcome {
  bool final = false;          // done, diverged, or failed for good
  std::optional<double> loss;  // validation loss, when done
};

struct BracketPlan {
  std::vector<RunSpec> runs;  // the grid's runs, then the added ones in the order added
  // Per cell of the grid, in cells() order: how its bracketing stands ("bracketed: ...",
  // "open above: the planner refuses r=...: ...", "waiting for 3 runs"); empty without bracket.
  std::vector<std::pair<Cell, std::string>> notes;
  std::string note(const Cell& cell) const;
  // Why each added run was added, by run id ("lowest loss at the largest ratio r=2").
  std::unordered_map<std::string, std::string> reasons;
};

// The runs of the grid and the runs bracketing adds given what the runs so far did (`outcome`
// reads a run's directory). Without `bracket = yes`, the grid's runs. Throws moe::InputError
// when the grid's own runs are impossible (as expand()).
BracketPlan plan_bracket(const Grid& grid,
                         const std::function<RunOutcome(const RunSpec&)>& outcome);

// Rounds a ratio to 3 significant digits (what bracketing adds: readable, and the same on
// every machine).
double round_ratio(double r);

}  // namespace moe::experiments
