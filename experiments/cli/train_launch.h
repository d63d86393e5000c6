// `moescale train --nproc-per-node N`: this command started again as N local ranks.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace moe::cli {

// Starts N copies of this program with `args` (argv without argv[0]), each a rank of one run
// (MOESCALE_RANK, MOESCALE_WORLD_SIZE, MOESCALE_LOCAL_RANK, MOESCALE_LOCAL_WORLD_SIZE,
// MOESCALE_MASTER_ADDR=127.0.0.1, MOESCALE_MASTER_PORT a free port), forwards the signal
// `stop_signal()` reports to them, and waits. When a rank fails or dies, the others are
// stopped (SIGTERM, then SIGKILL after 15 s): no rank waits on a dead one. Returns the exit
// status of the first rank that failed (a line names it and its log's last line, unless rank 0
// said it itself), else 0.
// Ranks other than 0 write to OUT/rank-R.log (rank 0 to this terminal).
int launch_ranks(int n, const std::vector<std::string>& args, const std::string& out,
                 const std::function<int()>& stop_signal);

}  // namespace moe::cli
