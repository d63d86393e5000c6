#!/usr/bin/env bash
# Two sweep processes started together on one SWEEPDIR finish the grid with every run done
# exactly once, and their results equal a single sweep's.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
GRID=$HERE/micro.grid
"$BIN/markov_shards" "$TMP/data"
sweep() { "$BIN/moescale" sweep --grid "$GRID" --data "$TMP/data" --workers 1 --threads 1 --out "$@"; }
sweep "$TMP/ref" >/dev/null 2>&1
sweep "$TMP/shared" >"$TMP/a.log" 2>&1 &
a=$!
sweep "$TMP/shared" >"$TMP/b.log" 2>&1 &
b=$!
wait $a || { cat "$TMP/a.log"; fail "first sweep failed"; }
wait $b || { cat "$TMP/b.log"; fail "second sweep failed"; }
diff <(values "$TMP/ref/results.csv") <(values "$TMP/shared/results.csv") ||
  fail "results of the two concurrent sweeps differ from a single sweep's"
check_done_once "$TMP/shared"
started_a=$(grep -c '] start ' "$TMP/a.log" || true)
started_b=$(grep -c '] start ' "$TMP/b.log" || true)
[[ $((started_a + started_b)) -ge 4 ]] || fail "only $((started_a + started_b)) launches for 4 runs"
echo "PASS: sweep A started $started_a run(s), sweep B $started_b; each run done once"
