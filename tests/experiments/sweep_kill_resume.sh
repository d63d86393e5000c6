#!/usr/bin/env bash
# kill -9 of a CPU sweep's whole process group at random points, then the same command again:
# every run ends done exactly once and results.csv equals an uninterrupted sweep's.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
GRID=$HERE/micro.grid
"$BIN/markov_shards" "$TMP/data"
sweep() { "$BIN/moescale" sweep --grid "$GRID" --data "$TMP/data" --workers 2 --out "$@"; }
sweep "$TMP/ref" >/dev/null 2>&1
trials=${KILL_TRIALS:-4}
for trial in $(seq 1 "$trials"); do
  out=$TMP/trial$trial
  delay=$(awk -v r=$RANDOM -v t="$trial" 'BEGIN { srand(r); printf "%.2f", 0.5 + (t - 1) * 3 + rand() * 3 }')
  setsid "$BIN/moescale" sweep --grid "$GRID" --data "$TMP/data" --workers 2 --out "$out" \
    >"$TMP/log$trial" 2>&1 &
  pid=$!
  sleep "$delay"
  kill -9 -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  before=$(grep -c ',done,' "$out/results.csv" 2>/dev/null || true)
  sweep "$out" >>"$TMP/log$trial" 2>&1 || { cat "$TMP/log$trial"; fail "rerun after kill failed"; }
  diff <(values "$TMP/ref/results.csv") <(values "$out/results.csv") ||
    fail "trial $trial (killed after ${delay}s): results differ from the uninterrupted sweep"
  check_done_once "$out" >/dev/null
  resumed=$( (grep -l 'resuming' "$out"/runs/*/train.log 2>/dev/null || true) | wc -l)
  echo "trial $trial: killed after ${delay}s with ${before:-0}/4 runs done; $resumed run(s) resumed" \
       "from a checkpoint; rerun matches the uninterrupted sweep"
done
echo "PASS: $trials kill -9 trials survived"
