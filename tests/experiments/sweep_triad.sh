#!/usr/bin/env bash
# Paper 2's two phases through the whole pipeline (tests/experiments/fake_train.py stands in for
# the trainer and plants the losses). Phase 1: a grid of M/N_a (x N/N_a) axes, planned as triad
# architectures and swept with a/(x - 6) + b x + c planted in each model's M/N_a; `moescale fit
# band --curve pole --lower 6` on results.csv recovers each budget's optimum. Phase 2: one triad
# swept over d (the d-model axis), a quadratic in d planted; `fit band` recovers d_opt and its
# 0.1% band.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
stand_in_trainer
"$BIN/markov_shards" "$TMP/data"
cat >"$TMP/phase1.grid" <<'GRID'
label = 100K
compute = 4e9 8e9
m-over-na = 6.3 6.6 7 7.5 8.5
n-over-na = 2
experts = 8
top-k = 2
shared = 1
context = 32
vocab = 64
batch-size = 4
width-multiple = 1
GRID
FAKE_TRAIN_SECONDS=0.01 "$TMP/bin/moescale-sweep" --grid "$TMP/phase1.grid" --data "$TMP/data" \
  --out "$TMP/s" --workers 2 >"$TMP/sweep.log" 2>&1 || { cat "$TMP/sweep.log"; fail "the sweep failed"; }
grep -q "m-over-na=7 n-over-na=2 " "$TMP/sweep.log" || fail "the log does not name the triad"
"$BIN/moescale" fit band --input "$TMP/s/results.csv" --column x=m_over_na --curve pole \
  --lower 6 --bootstrap 0 --out "$TMP/band.json" >"$TMP/fit.log" 2>&1 ||
  { cat "$TMP/fit.log"; fail "fit band failed"; }
/usr/bin/python3 - "$TMP/s/results.csv" "$TMP/band.json" <<'PY' || fail "see above"
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
fit = json.load(open(sys.argv[2]))
assert len(rows) == 10 and all(r["status"] == "done" for r in rows), "10 done runs"
for r in rows:  # the triad asked for, within the planner's 5%, by its own columns
    assert abs(float(r["n_over_na"]) / 2 - 1) < 0.05, r["n_over_na"]
got = {o["C"]: o["x_opt"] for o in fit["optima"]}
for c, x0 in ((4e9, 8.0), (8e9, 9.0)):
    if abs(got[c] / x0 - 1) > 1e-6:
        sys.exit(f"FAIL: M/N_a optimum at {c:g}: {got[c]}, planted {x0}")
print(f"phase 1: 10 triad runs swept; fit band recovers the planted M/N_a optima {got}")
PY

# The report on a triad sweep says what it varies and how to fit paper 2's curves.
"$BIN/moescale" report "$TMP/s" --bootstrap 20 >"$TMP/report.log" 2>&1 ||
  { cat "$TMP/report.log"; fail "moescale report failed on the triad sweep"; }
grep -q "This sweep varies paper 2's triad" "$TMP/s/report/report.md" ||
  fail "the report does not say the sweep varies the triad"

cat >"$TMP/phase2.grid" <<'GRID'
label = 1M
compute = 4e10 8e10
m-over-na = 7
n-over-na = 2
d-model = 34 37 40 43 46
experts = 8
top-k = 2
shared = 1
context = 64
vocab = 64
batch-size = 4
width-multiple = 1
GRID
FAKE_PLANT=d FAKE_TRAIN_SECONDS=0.01 "$TMP/bin/moescale-sweep" --grid "$TMP/phase2.grid" \
  --data "$TMP/data" --out "$TMP/s2" --workers 2 >"$TMP/sweep2.log" 2>&1 ||
  { cat "$TMP/sweep2.log"; fail "the phase 2 sweep failed"; }
"$BIN/moescale" fit band --input "$TMP/s2/results.csv" --column x=d_model --bootstrap 0 \
  --out "$TMP/band2.json" >"$TMP/fit2.log" 2>&1 || { cat "$TMP/fit2.log"; fail "fit band failed"; }
/usr/bin/python3 - "$TMP/s2/results.csv" "$TMP/band2.json" <<'PY' || fail "see above"
import csv, json, math, sys
rows = list(csv.DictReader(open(sys.argv[1])))
fit = json.load(open(sys.argv[2]))
assert len(rows) == 10, len(rows)
assert sorted({int(r["d_model"]) for r in rows}) == [34, 37, 40, 43, 46], "the d axis as planned"
assert {r["m_over_na_target"] for r in rows} == {"7"}, "one triad"
half = math.sqrt(1e-3 * 2.5 / 1e-3)  # within 0.1% of 2.5: 1e-3 (d - d0)^2 = 0.0025
for o in fit["optima"]:
    d0 = {4e10: 40.0, 8e10: 42.0}[o["C"]]
    for key, want in (("x_opt", d0), ("x_low", d0 - half), ("x_high", d0 + half)):
        if abs(o[key] - want) > 1e-6:
            sys.exit(f"FAIL: {key} at {o['C']:g}: {o[key]}, planted {want}")
print("phase 2: one triad swept over d; fit band recovers d_opt and its 0.1% band")
PY
echo "PASS: paper 2's two phases through grid, sweep and fit"
