// Where a process sits among a run's ranks, from the launcher's or Slurm's environment.
#include <cstdlib>
#include <string>
#include <vector>

#include "common/errors.h"
#include "moe/distributed.h"

// Catch last: LibTorch's headers bring glog's CHECK macro.
#include <catch2/catch.hpp>

namespace {

// Sets the variables for its lifetime, clearing every other one rank_from_environment reads.
class Env {
 public:
  explicit Env(const std::vector<std::pair<std::string, std::string>>& vars) {
    clear();
    for (const auto& [k, v] : vars) ::setenv(k.c_str(), v.c_str(), 1);
  }
  ~Env() { clear(); }
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;

 private:
  static void clear() {
    for (const char* name :
         {"MOESCALE_RANK", "MOESCALE_WORLD_SIZE", "MOESCALE_LOCAL_RANK",
          "MOESCALE_LOCAL_WORLD_SIZE", "MOESCALE_MASTER_ADDR", "MOESCALE_MASTER_PORT",
          "SLURM_STEP_ID", "SLURM_NTASKS", "SLURM_PROCID", "SLURM_LOCALID", "SLURM_NTASKS_PER_NODE",
          "SLURM_JOB_NODELIST", "SLURM_JOB_ID", "MASTER_ADDR", "MASTER_PORT"}) {
      ::unsetenv(name);
    }
  }
};

}  // namespace

TEST_CASE("the first host of a Slurm node list", "[distributed]") {
  CHECK(moe::first_slurm_host("node07") == "node07");
  CHECK(moe::first_slurm_host("gpu[012-015,020]") == "gpu012");
  CHECK(moe::first_slurm_host("gpu[3,5]") == "gpu3");
  CHECK(moe::first_slurm_host("a1,b2") == "a1");
}

TEST_CASE("ranks from the launcher, from srun, or none", "[distributed]") {
  {
    const Env env({});
    const moe::RankInfo me = moe::rank_from_environment();
    CHECK_FALSE(me.distributed());
    CHECK(me.rank == 0);
  }
  {
    const Env env({{"MOESCALE_WORLD_SIZE", "4"},
                   {"MOESCALE_RANK", "3"},
                   {"MOESCALE_LOCAL_RANK", "1"},
                   {"MOESCALE_LOCAL_WORLD_SIZE", "2"},
                   {"MOESCALE_MASTER_PORT", "29511"},
                   {"SLURM_NTASKS", "8"},  // the launcher's ranks win over Slurm's
                   {"SLURM_STEP_ID", "0"}});
    const moe::RankInfo me = moe::rank_from_environment();
    CHECK(me.source == "launcher");
    CHECK(me.world == 4);
    CHECK(me.rank == 3);
    CHECK(me.local_rank == 1);
    CHECK(me.local_world == 2);
    CHECK(me.master_addr == "127.0.0.1");
    CHECK(me.master_port == 29511);
  }
  {
    const Env env({{"SLURM_STEP_ID", "0"},
                   {"SLURM_NTASKS", "8"},
                   {"SLURM_PROCID", "5"},
                   {"SLURM_LOCALID", "1"},
                   {"SLURM_NTASKS_PER_NODE", "4(x2)"},
                   {"SLURM_JOB_NODELIST", "gpu[10-11]"},
                   {"SLURM_JOB_ID", "123456"}});
    const moe::RankInfo me = moe::rank_from_environment();
    CHECK(me.source == "srun");
    CHECK(me.world == 8);
    CHECK(me.rank == 5);
    CHECK(me.local_rank == 1);
    CHECK(me.local_world == 4);
    CHECK(me.master_addr == "gpu10");
    CHECK(me.master_port == 20000 + 123456 % 20000);
  }
  {
    // A batch script (no job step) with several tasks is not a rank: its srun steps are.
    const Env env({{"SLURM_NTASKS", "8"}, {"SLURM_PROCID", "0"}});
    CHECK_FALSE(moe::rank_from_environment().distributed());
  }
  {
    const Env env({{"MOESCALE_WORLD_SIZE", "2"}, {"MOESCALE_RANK", "2"}});
    CHECK_THROWS_AS(moe::rank_from_environment(), moe::InputError);
  }
}
