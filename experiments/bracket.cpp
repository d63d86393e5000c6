#include "experiments/bracket.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

namespace moe::experiments {

double round_ratio(double r) { return std::stod(fmt::format("{:.3g}", r)); }

std::string BracketPlan::note(const Cell& cell) const {
  for (const auto& [c, text] : notes) {
    if (c == cell) return text;
  }
  return "";
}

namespace {

// One cell's ratio curve as its runs stand: each planned ratio with the mean loss of its
// finished seeds.
struct Curve {
  std::vector<double> ratio;                // ascending
  std::vector<std::optional<double>> loss;  // nullopt: no seed finished with a loss
  int unfinished = 0;
  int added_above = 0, added_below = 0;  // bracketing's ratios beyond the grid's ends
  bool refined = false;
};

class Planner {
 public:
  Planner(const Grid& g, const std::function<RunOutcome(const RunSpec&)>& outcome)
      : g_(g), outcome_(outcome) {
    std::vector<double> sorted = g.ratio;
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    const size_t n = sorted.size();
    grid_min_ = sorted.front();
    grid_max_ = sorted.back();
    // The list's own step at each end, at least 1.25 so that bracketing does not crawl.
    step_up_ = g.bracket.factor > 0 ? g.bracket.factor
               : n >= 2             ? std::max(1.25, sorted[n - 1] / sorted[n - 2])
                                    : 2.0;
    step_down_ = g.bracket.factor > 0 ? g.bracket.factor
                 : n >= 2             ? std::max(1.25, sorted[1] / sorted[0])
                                      : 2.0;
  }

  BracketPlan plan() {
    BracketPlan p;
    p.runs = expand(g_);
    for (const auto& r : p.runs) ids_.insert(r.id);
    // Each pass adds at most one ratio per cell end; a pass that adds nothing ends it (a cell
    // adds at most 2 * steps + 1 times, so this ends).
    for (bool added = true; added;) {
      added = false;
      p.notes.clear();
      for (const Cell& cell : cells(g_)) {
        std::string note;
        added |= step(cell, p.runs, note);
        p.notes.emplace_back(cell, note);
      }
    }
    p.reasons = std::move(reasons_);
    return p;
  }

 private:
  const RunOutcome& outcome(const RunSpec& run) {
    auto it = cache_.find(run.id);
    if (it == cache_.end()) it = cache_.emplace(run.id, outcome_(run)).first;
    return it->second;
  }

  Curve curve(const Cell& cell, const std::vector<RunSpec>& runs) {
    struct Sum {
      double loss = 0;
      int n = 0;
    };
    std::map<double, Sum> by_ratio;
    std::unordered_set<double> above, below;
    Curve c;
    for (const auto& run : runs) {
      if (!(run.cell == cell)) continue;
      const double r = run.plan.request.ratio;
      Sum& s = by_ratio[r];
      const RunOutcome& o = outcome(run);
      if (!o.final) ++c.unfinished;
      if (o.loss) {
        s.loss += *o.loss;
        ++s.n;
      }
      if (run.origin == RunOrigin::kBracket && r > grid_max_) above.insert(r);
      if (run.origin == RunOrigin::kBracket && r < grid_min_) below.insert(r);
      if (run.origin == RunOrigin::kRefine) c.refined = true;
    }
    for (const auto& [r, s] : by_ratio) {
      c.ratio.push_back(r);
      c.loss.push_back(s.n > 0 ? std::optional<double>(s.loss / s.n) : std::nullopt);
    }
    c.added_above = static_cast<int>(above.size());
    c.added_below = static_cast<int>(below.size());
    return c;
  }

  // Plans `ratio` for every seed of the cell and appends the runs; false (and `why`) when the
  // planner refuses it.
  bool add(const Cell& cell, double ratio, RunOrigin origin, const std::string& reason,
           std::vector<RunSpec>& runs, std::string& why) {
    std::vector<RunSpec> planned;
    try {
      for (uint64_t seed : g_.seed)
        planned.push_back(plan_run(g_, cell, CurvePoint{ratio, std::nullopt, std::nullopt}, seed));
    } catch (const std::invalid_argument& e) {
      why = e.what();
      return false;
    }
    for (auto& run : planned) {
      if (!ids_.insert(run.id).second) continue;  // the same run is in the sweep already
      run.origin = origin;
      reasons_[run.id] = reason;
      runs.push_back(std::move(run));
    }
    return true;
  }

  // One end of a cell: adds the next ratio beyond it, or says why not.
  bool extend(const Cell& cell, const Curve& c, bool up, const std::string& reason,
              std::vector<RunSpec>& runs, std::string& note) {
    const char* side = up ? "above" : "below";
    const double end = up ? c.ratio.back() : c.ratio.front();
    if ((up ? c.added_above : c.added_below) >= g_.bracket.steps) {
      note =
          fmt::format("open {}: bracket-steps {} reached at r={:g}", side, g_.bracket.steps, end);
      return false;
    }
    const double next = round_ratio(up ? end * step_up_ : end / step_down_);
    if (up ? next > g_.bracket.max : next < g_.bracket.min) {
      note = fmt::format("open {}: r={:g} is past bracket-{} {:g}", side, next, up ? "max" : "min",
                         up ? g_.bracket.max : g_.bracket.min);
      return false;
    }
    std::string why;
    if (!add(cell, next, RunOrigin::kBracket, reason, runs, why)) {
      note = fmt::format("open {}: the planner refuses r={:g}: {}", side, next, why);
      return false;
    }
    note = fmt::format("adding r={:g} {}", next, side);
    return true;
  }

  // Once the minimum is inside: `refine` ratios between it and its neighbours, more of them on
  // the side of the lower neighbour.
  bool refine(const Cell& cell, const Curve& c, size_t lo, size_t best, size_t hi,
              std::vector<RunSpec>& runs, std::string& note) {
    const int n = g_.bracket.refine;
    const bool left_first = *c.loss[lo] <= *c.loss[hi];
    const int n_first = (n + 1) / 2, n_second = n / 2;
    const int n_left = left_first ? n_first : n_second, n_right = n - n_left;
    const double b = c.ratio[best];
    std::vector<double> targets;
    for (int j = 1; j <= n_left; ++j) {
      targets.push_back(b * std::pow(c.ratio[lo] / b, double(j) / (n_left + 1)));
    }
    for (int j = 1; j <= n_right; ++j) {
      targets.push_back(b * std::pow(c.ratio[hi] / b, double(j) / (n_right + 1)));
    }
    bool added = false;
    int refused = 0;
    for (double t : targets) {
      const double r = round_ratio(t);
      if (std::find(c.ratio.begin(), c.ratio.end(), r) != c.ratio.end()) continue;
      std::string why;
      const std::string reason = fmt::format("around the lowest loss at r={:g}", b);
      if (add(cell, r, RunOrigin::kRefine, reason, runs, why)) {
        added = true;
      } else {
        ++refused;
      }
    }
    note = fmt::format(
        "bracketed: lowest loss at r={:g} between r={:g} and r={:g}{}", b, c.ratio[lo], c.ratio[hi],
        refused ? fmt::format("; the planner refuses {} refine ratio(s)", refused) : "");
    return added;
  }

  // Decides one cell: true when it added runs.
  bool step(const Cell& cell, std::vector<RunSpec>& runs, std::string& note) {
    const Curve c = curve(cell, runs);
    if (c.unfinished > 0) {
      note = fmt::format("waiting for {} run(s)", c.unfinished);
      return false;
    }
    std::vector<size_t> with_loss;
    for (size_t i = 0; i < c.ratio.size(); ++i) {
      if (c.loss[i]) with_loss.push_back(i);
    }
    if (with_loss.empty()) {
      note = "no run of this cell finished with a loss";
      return false;
    }
    size_t best_k = 0;
    for (size_t k = 1; k < with_loss.size(); ++k) {
      if (*c.loss[with_loss[k]] < *c.loss[with_loss[best_k]]) best_k = k;
    }
    const size_t best = with_loss[best_k];
    const double lowest = *c.loss[best];
    // While the lowest loss lies at an end, only that end is open. Once it is inside, an end is
    // the valley's wall when its loss is at least bracket-margin above the lowest.
    const size_t first = with_loss.front(), last = with_loss.back();
    const bool inside = best != first && best != last;
    const bool open_up = inside ? *c.loss[last] - lowest < g_.bracket.margin : best == last;
    const bool open_down = inside ? *c.loss[first] - lowest < g_.bracket.margin : best == first;
    std::string up_note, down_note;
    bool added = false;
    for (const bool up : {true, false}) {
      if (!(up ? open_up : open_down)) continue;
      std::string& side_note = up ? up_note : down_note;
      const char* side = up ? "above" : "below";
      const size_t end_with_loss = up ? last : first;
      if (end_with_loss != (up ? c.ratio.size() - 1 : 0)) {
        // the runs beyond it did not finish with a loss
        side_note = fmt::format("open {}: the run at r={:g} did not finish", side,
                                c.ratio[up ? last + 1 : first - 1]);
        continue;
      }
      const char* which = up ? "largest" : "smallest";
      const std::string reason =
          best == end_with_loss
              ? fmt::format("lowest loss at the {} ratio r={:g}", which, c.ratio[best])
              : fmt::format(
                    "the loss at the {} ratio r={:g} is within bracket-margin {:g} of the "
                    "lowest (r={:g})",
                    which, c.ratio[end_with_loss], g_.bracket.margin, c.ratio[best]);
      added |= extend(cell, c, up, reason, runs, side_note);
    }
    if (open_up || open_down) {
      note = up_note.empty() ? down_note : down_note.empty() ? up_note : up_note + "; " + down_note;
      return added;
    }
    const size_t lo = with_loss[best_k - 1], hi = with_loss[best_k + 1];
    if (g_.bracket.refine > 0 && !c.refined) return refine(cell, c, lo, best, hi, runs, note);
    note = fmt::format("bracketed: lowest loss at r={:g} between r={:g} and r={:g}", c.ratio[best],
                       c.ratio[lo], c.ratio[hi]);
    return false;
  }

  const Grid& g_;
  const std::function<RunOutcome(const RunSpec&)>& outcome_;
  std::unordered_map<std::string, RunOutcome> cache_;
  std::unordered_set<std::string> ids_;
  std::unordered_map<std::string, std::string> reasons_;
  double grid_min_ = 0, grid_max_ = 0, step_up_ = 2, step_down_ = 2;
};

}  // namespace

BracketPlan plan_bracket(const Grid& grid,
                         const std::function<RunOutcome(const RunSpec&)>& outcome) {
  if (!grid.bracket.on) {
    BracketPlan p;
    p.runs = expand(grid);
    return p;
  }
  Planner planner(grid, outcome);  // a bracketing grid has ratios (parse_grid)
  return planner.plan();
}

}  // namespace moe::experiments
