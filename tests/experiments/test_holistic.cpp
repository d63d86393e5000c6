// Paper 2's study between its sweeps (experiments/holistic.h): Phase 1's profiles, the rank
// table, the optimal triads (fit or the grid's lowest) and the laws, on planted tables.
#include <catch2/catch.hpp>
#include <cmath>
#include <string>

#include "common/errors.h"
#include "experiments/grid.h"
#include "experiments/holistic.h"
#include "experiments/presets.h"
#include "scaling/csv.h"

namespace ex = moe::experiments;
namespace sc = moe::scaling;

namespace {

// Rows of a triad sweep's results.csv, with only the columns the study reads.
std::string results(const std::vector<std::string>& rows) {
  std::string s =
      "compute,m_over_na_target,n_over_na_target,m_over_na,n_over_na,val_loss,d_model,seed\n";
  for (const auto& r : rows) s += r + "\n";
  return s;
}

sc::Table table(const std::string& csv) { return sc::Table::parse(csv, "planted.csv"); }

}  // namespace

TEST_CASE("Phase 1's profile: the lowest loss over the other ratio, seeds averaged first",
          "[holistic]") {
  // At 1e12, M/N_a 8 has its lowest mean at N/N_a 2.5 (seeds 2.60 and 2.62: mean 2.61, below
  // 2.615 at N/N_a 1.75 although one seed there is lower); M/N_a 10 at N/N_a 1.75.
  const sc::Table t =
      table(results({"1e12,8,1.75,8.1,1.76,2.615,60,0", "1e12,8,2.5,8.05,2.51,2.60,50,0",
                     "1e12,8,2.5,8.05,2.51,2.62,50,1", "1e12,10,1.75,10.2,1.74,2.58,40,0",
                     "1e12,10,2.5,10.1,2.49,2.59,35,0", "2e12,8,1.75,8.0,1.75,2.5,70,0"}));
  const sc::Table m = table(ex::phase1_profile(t, "m_over_na"));
  REQUIRE(m.n_rows() == 3);
  CHECK(m.numbers("compute") == std::vector<double>{1e12, 1e12, 2e12});
  CHECK(m.numbers("x") == std::vector<double>{8.05, 10.2, 8.0});  // the chosen runs' achieved x
  CHECK(m.numbers("loss")[0] == Approx(2.61));
  CHECK(m.numbers("other") == std::vector<double>{2.5, 1.75, 1.75});
  const sc::Table n = table(ex::phase1_profile(t, "n_over_na"));
  REQUIRE(n.n_rows() == 3);
  CHECK(n.numbers("x") == std::vector<double>{1.74, 2.49, 1.75});
  CHECK(n.numbers("loss") == std::vector<double>{2.58, 2.59, 2.5});
  CHECK_THROWS_AS(ex::phase1_profile(table(results({})), "m_over_na"), moe::InputError);
}

TEST_CASE("the rank table: proxy against the lowest over d, the proxy included", "[holistic]") {
  const sc::Table proxy =
      table(results({"1e12,8,2.5,8,2.5,2.60,50,0", "1e12,10,2.5,10,2.5,2.58,40,0",
                     "1e12,12,2.5,12,2.5,2.70,30,0"}));
  // Triad 8: a d below the proxy is better; triad 10: the proxy is the best; triad 12: its rank
  // run is at the proxy's own d (a one-layer triad), so it has nothing to rank and is left out.
  const sc::Table rank = table(results(
      {"1e12,8,2.5,8,2.5,2.55,30,0", "1e12,8,2.5,8,2.5,2.65,70,0", "1e12,10,2.5,10,2.5,2.59,20,0",
       "1e12,10,2.5,10,2.5,2.61,60,0", "1e12,12,2.5,12,2.5,2.70,30,0"}));
  const sc::Table r = table(ex::rank_table(proxy, rank));
  REQUIRE(r.n_rows() == 2);
  CHECK(r.numbers("proxy") == std::vector<double>{2.60, 2.58});
  CHECK(r.numbers("best") == std::vector<double>{2.55, 2.58});
  CHECK(r.numbers("best_d_model") == std::vector<double>{30, 40});
  CHECK(r.cell(0, "d_models") == "30 50 70");
}

TEST_CASE("optimal triads: the fit's optimum where bracketed, else the grid's lowest, said so",
          "[holistic]") {
  const sc::Table m = table(
      "compute,x,loss,other\n1e12,8,2.62,2.5\n1e12,10,2.58,2.5\n"
      "1e12,12,2.60,2.5\n2e12,8,2.50,2.5\n2e12,10,2.52,2.5\n"
      "2e12,12,2.55,2.5\n");
  const sc::Table n = table(
      "compute,x,loss,other\n1e12,1.75,2.6,10\n1e12,2.5,2.58,10\n"
      "1e12,3.25,2.59,10\n2e12,1.75,2.5,8\n2e12,2.5,2.52,8\n2e12,3.25,2.6,8\n");
  const nlohmann::json m_fit = {
      {"optima",
       {{{"C", 1e12}, {"bracketed", true}, {"x_opt", 10.4}, {"note", ""}},
        {{"C", 2e12}, {"bracketed", false}, {"x_opt", nullptr}, {"note", "minimum below"}}}},
      {"laws", {{"x_opt", {{"fitted", false}}}}}};
  const auto optima = ex::optimal_triads(m, n, m_fit, nlohmann::json());
  REQUIRE(optima.size() == 2);
  CHECK(optima[0].m_over_na == 10.4);
  CHECK(optima[0].m_source == "fit");
  CHECK(optima[1].m_over_na == 8);
  CHECK(optima[1].m_source == "the grid's lowest; the fit: minimum below");
  CHECK(optima[0].n_over_na == 2.5);
  CHECK(optima[0].n_source == "the grid's lowest; the fit: it failed (fits.log says why)");
  CHECK(optima[1].n_over_na == 1.75);
  // No law fitted: M/N_a constant at the mean optimum; N/N_a the mean optimum; no d law.
  const nlohmann::json laws = ex::holistic_laws(optima, m_fit, nlohmann::json());
  CHECK(laws["m_over_na"]["k"].get<double>() == Approx(9.2));
  CHECK(laws["m_over_na"]["a"].get<double>() == 0);
  CHECK(laws["n_over_na"]["value"].get<double>() == Approx(2.125));
  CHECK(laws["d"].is_null());
  const nlohmann::json fitted = {
      {"laws", {{"x_opt", {{"fitted", true}, {"k", 50.0}, {"a", -0.05}}}}}};
  const nlohmann::json with_laws = ex::holistic_laws(optima, fitted, fitted);
  CHECK(with_laws["m_over_na"]["a"].get<double>() == -0.05);
  CHECK(with_laws["d"]["k"].get<double>() == 50);
}

TEST_CASE("the holistic presets' grids plan every run of Phase 1, the rank check and Phase 2",
          "[holistic]") {
  for (const char* name : {"holistic-cpu", "holistic-paper"}) {
    CAPTURE(name);
    const ex::Preset& p = ex::find_preset(name);
    REQUIRE(p.holistic);
    const ex::HolisticStudy& s = *p.holistic;
    const std::string shared = p.grid + "vocab = 257\n";
    const auto phase1 = ex::expand(ex::parse_grid(ex::phase1_grid(shared, s), name));
    CHECK(phase1.size() == s.compute.size() * s.m_over_na.size() * s.n_over_na.size());
    const auto rank = ex::expand(ex::parse_grid(ex::rank_grid(shared, s), name));
    CHECK(rank.size() <= s.m_over_na.size() * s.n_over_na.size() * s.rank_positions.size());
    CHECK(rank.size() >= s.m_over_na.size() * s.n_over_na.size());
    for (const auto& run : rank)
      CHECK(run.plan.request.compute == phase1.front().plan.request.compute);
    // Phase 2 at a triad inside the grid: one run per position, d rising with it.
    const auto phase2 =
        ex::expand(ex::parse_grid(ex::phase2_grid(shared, s.compute.back(), s.m_over_na[1],
                                                  s.n_over_na[1], s.phase2_positions),
                                  name));
    REQUIRE(phase2.size() == s.phase2_positions.size());
    for (size_t i = 1; i < phase2.size(); ++i) {
      CHECK(phase2[i].plan.model.d_model > phase2[i - 1].plan.model.d_model);
    }
  }
}
