#!/usr/bin/env bash
# Bias, spread and 95%-interval coverage of the per-budget optimum, and how often a flat r*(C)
# is called a trend, for the walls valley (default) and the parabola, on planted allocation
# valleys with noise: 4 budgets (C0 x 4^i), POINTS ratios log-spaced over [0.2, 3.6], noise
# 0.002 nats, REPLICATES simulated sweeps of BOOTSTRAP replicates each. Table: bench/RESULTS.md.
# Usage: bench/valley_coverage.sh [BUILD_DIR] [REPLICATES] [BOOTSTRAP]
set -euo pipefail
build=${1:-build}
reps=${2:-100}
boot=${3:-200}
bin="$build/bin/valley_coverage"
[[ -x $bin ]] || { echo "no $bin: build with ./scripts/build.sh" >&2; exit 2; }
for valley in allocation parabola; do
  for points in 4 5 6 7 9; do
    "$bin" "$valley" "$points" 0.002 "$reps" "$boot" 0.3 0.4 0.8    # r* falls with C
    "$bin" "$valley" "$points" 0.002 "$reps" "$boot" 0.35 0.35 1.0  # r* flat in C
  done
done
