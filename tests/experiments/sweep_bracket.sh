#!/usr/bin/env bash
# bracket = yes on a ratio list that misses both planted valleys (tests/experiments/
# fake_train.py stands in for the trainer): the sweep adds ratios until the 4e9 valley is inside
# and refines it, and at 8e9 until the planner refuses a ratio, which results.csv says. Then:
# kill -9 of the whole sweep at random points and a rerun end with the same runs and rows, and
# a Slurm user driving the waves with --emit-slurm and --only ends with them too.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
stand_in_trainer
"$BIN/markov_shards" "$TMP/data"
cat >"$TMP/b.grid" <<'GRID'
label = 100K
compute = 4e9 8e9
ratio = 0.5 1 2
sparsity = 0.8235
context = 32
vocab = 64
batch-size = 4
bracket = yes
bracket-steps = 6
refine = 2
GRID
sweep() { "$TMP/bin/moescale-sweep" --grid "$TMP/b.grid" --data "$TMP/data" --out "$@"; }
# compute, ratio, origin and bracket note of every row, sorted.
summary() { /usr/bin/python3 -c 'import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
for r in sorted(rows, key=lambda r: (float(r["compute"]), float(r["ratio"]))):
    print(r["compute"], r["ratio"], r["status"], r["origin"], r["bracket"][:60].rstrip())' "$1"; }

FAKE_TRAIN_SECONDS=0.05 sweep "$TMP/ref" --workers 2 >"$TMP/ref.log" 2>&1 ||
  { cat "$TMP/ref.log"; fail "the bracketing sweep failed"; }
summary "$TMP/ref/results.csv" >"$TMP/ref.summary"
refuses="open below: the planner refuses r=0.0312: --ratio 0.0312 is"
in4="bracketed: lowest loss at r=5.66 between r=4 and r=8"
diff - "$TMP/ref.summary" <<EXPECTED || fail "the bracketed sweep differs from the planted valleys"
4000000000 0.5 done grid $in4
4000000000 1 done grid $in4
4000000000 2 done grid $in4
4000000000 4 done bracket $in4
4000000000 5.66 done refine $in4
4000000000 8 done bracket $in4
4000000000 11.3 done refine $in4
4000000000 16 done bracket $in4
8000000000 0.0625 done bracket $refuses
8000000000 0.125 done bracket $refuses
8000000000 0.25 done bracket $refuses
8000000000 0.5 done grid $refuses
8000000000 1 done grid $refuses
8000000000 2 done grid $refuses
EXPECTED
grep -q "add .* ratio=16 .*(bracket: lowest loss at the largest ratio r=8)" "$TMP/ref.log" ||
  fail "the sweep's log does not say what it added: $(grep add "$TMP/ref.log")"
echo "bracketed: 14 runs (6 grid, 6 bracket, 2 refine); 8e9 stops where the planner refuses"

# kill -9 of the sweep's process group mid-way; the same command again loses nothing.
trials=${KILL_TRIALS:-4}
for trial in $(seq 1 "$trials"); do
  out=$TMP/trial$trial
  delay=$(awk -v r=$RANDOM 'BEGIN { srand(r); printf "%.2f", 0.3 + rand() * 2.5 }')
  setsid "$TMP/bin/moescale-sweep" --grid "$TMP/b.grid" --data "$TMP/data" --out "$out" \
    --workers 2 >"$TMP/kill$trial.log" 2>&1 &
  pid=$!
  sleep "$delay"
  kill -9 -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  before=$( (ls "$out"/runs/*/result.json 2>/dev/null || true) | wc -l)  # none yet: 0
  FAKE_TRAIN_SECONDS=0.05 sweep "$out" --workers 2 >>"$TMP/kill$trial.log" 2>&1 ||
    { cat "$TMP/kill$trial.log"; fail "rerun after kill -9 failed"; }
  diff <(values "$TMP/ref/results.csv") <(values "$out/results.csv") ||
    fail "trial $trial (killed after ${delay}s): results differ from the uninterrupted sweep"
  check_done_once "$out" >/dev/null
  echo "trial $trial: killed after ${delay}s with $before/14 runs done; the rerun matches"
done

# A cluster user: emit a wave, run its array tasks (--only each), emit again until none is left.
wave=0
while sweep "$TMP/slurm" --emit-slurm "$TMP/wave.sh" >"$TMP/emit.log" 2>&1; do
  wave=$((wave + 1))
  [[ $wave -le 8 ]] || fail "more than 8 waves"
  ids=$(sed -n 's/^RUN_IDS=(\(.*\))$/\1/p' "$TMP/wave.sh")
  for id in $ids; do
    FAKE_TRAIN_SECONDS=0.01 sweep "$TMP/slurm" --only "$id" >>"$TMP/waves.log" 2>&1 ||
      { cat "$TMP/waves.log"; fail "array task $id of wave $wave failed"; }
  done
done
grep -q "no run left to run: all 14 runs" "$TMP/emit.log" ||
  fail "the last --emit-slurm did not say the sweep is complete: $(cat "$TMP/emit.log")"
diff <(values "$TMP/ref/results.csv") <(values "$TMP/slurm/results.csv") ||
  fail "the Slurm waves ended with other results than one sweep"
echo "slurm: $wave waves of array tasks end with the same 14 runs"
echo "PASS: bracketing sweep, $trials kill -9 trials, Slurm waves"
