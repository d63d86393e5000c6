#!/usr/bin/env bash
# Runs whose loss becomes NaN/Inf are marked diverged with their step; the sweep goes on to the
# other runs, does not retry them, and the fitter leaves them out and says how many.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
"$BIN/markov_shards" "$TMP/data"
# A learning rate of 1e6 without clipping overflows the logits within a few steps.
sed -e 's/^checkpoint-every.*//' "$HERE/micro.grid" >"$TMP/diverge.grid"
printf 'lr = 1e6\nclip = 0\n' >>"$TMP/diverge.grid"
"$BIN/moescale" sweep --grid "$TMP/diverge.grid" --data "$TMP/data" --out "$TMP/s" --workers 2 \
  >"$TMP/log" 2>&1 || { cat "$TMP/log"; fail "the sweep did not finish"; }
[[ $(grep -c ',diverged,' "$TMP/s/results.csv") == 4 ]] || fail "not 4 diverged rows: $(cat "$TMP/s/results.csv")"
[[ $(grep -c '] diverged ' "$TMP/log") == 4 ]] || fail "the sweep did not go through all 4 runs"
for run in "$TMP"/s/runs/*/; do
  step=$(/usr/bin/python3 -c "import json; print(json.load(open('$run/result.json'))['diverged_step'])")
  [[ $step -ge 0 ]] || fail "$run has no diverged step"
  [[ $(grep -c '"outcome":"diverged"' "$run/attempts.jsonl") == 1 ]] || fail "$run was retried"
done
status=0
"$BIN/moescale" fit isoflop --input "$TMP/s/results.csv" >"$TMP/fit.out" 2>"$TMP/fit.err" || status=$?
[[ $status == 2 ]] || fail "fit on an all-diverged sweep exited $status"
grep -q "4 diverged runs left out" "$TMP/fit.err" "$TMP/fit.out" || fail "fit did not say how many runs it left out: $(cat "$TMP/fit.err")"
echo "PASS: 4 runs diverged (steps recorded, no retry), sweep finished; fit: $(cat "$TMP/fit.err")"
