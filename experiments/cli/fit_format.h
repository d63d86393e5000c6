// Readable tables of the scaling fits (what `moescale fit` prints; the JSON has every number).
#pragma once

#include <string>
#include <vector>

#include "experiments/derive_ratio.h"
#include "scaling/band.h"
#include "scaling/chinchilla.h"
#include "scaling/isoflop.h"
#include "scaling/loss_fit.h"
#include "scaling/moe_law.h"
#include "scaling/rank.h"
#include "scaling/ratio_law.h"

namespace moe::cli {

// "1.234" / "1.23e15"; "-" for NaN.
std::string num(double v, int digits = 4);
// "[low, high]", or "-" without an interval.
std::string interval(const scaling::Estimate& e, int digits = 4);

// The law's formula, how it was fitted, and a parameter table with 95% intervals.
std::string format_law_fit(const scaling::LawFit& fit);
std::string format_chinchilla(const scaling::ChinchillaFit& fit);
// x_name says what x is (a column name) in the headings.
std::string format_isoflop(const scaling::IsoflopFit& fit, const std::string& x_name);
std::string format_band(const scaling::BandFit& fit, const std::string& x_name);
std::string format_rank(const scaling::RankAgreement& r, const std::string& proxy,
                        const std::string& best);
std::string format_ratio_law(const scaling::RatioLawFit& fit);
std::string format_moe_laws(const scaling::MoeLawComparison& comparison);

// One row per (C, S): the direct isoflop r* with its CI beside each law's derived r*.
struct DerivedRow {
  scaling::DeriveTarget target;
  scaling::RatioOptimum direct;  // r_opt NaN when the data has no bracketed r* there
  std::vector<std::pair<std::string, scaling::DerivedRatio>> derived;  // law name -> r*
};
std::string format_derived(const std::vector<DerivedRow>& rows, double planner_mismatch);

}  // namespace moe::cli
