#!/usr/bin/env bash
# Paper 2's whole study through `moescale reproduce --preset holistic-cpu` with the stand-in
# trainer (tests/experiments/fake_train.py, FAKE_PLANT=holistic), which plants both Phase 1
# curves (M/N_a optima 11, 10, 9 at 2.5e11, 5e11, 1e12; N/N_a optimum 2.5) and a valley in d's
# position (0.4 of its feasible interval). Checks: the optimal triads found, Phase 2 swept at
# them and its d_opt where planted, the rank check, the laws and the end-to-end plan, the
# report's sections and figures, and that a rerun trains nothing.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
stand_in_trainer
cp "$BIN/moescale-reproduce" "$BIN/moescale-fit" "$TMP/bin/"
"$BIN/markov_shards" "$TMP/data"
run() {
  FAKE_PLANT=holistic FAKE_TRAIN_SECONDS=0.01 MOESCALE_SCRIPTS="$HERE/../../scripts" \
    "$TMP/bin/moescale-reproduce" --preset holistic-cpu --data "$TMP/data" --out "$TMP/h" \
    --workers 2 >"$TMP/$1.log" 2>&1 || { cat "$TMP/$1.log"; fail "reproduce failed ($1)"; }
}
run first
for step in "3/8 Phase 1: 60 runs" "4/8 rank check" "5/8 Phase 1 fits" "6/8 Phase 2" \
  "7/8 Phase 2 fit" "8/8 report"; do
  grep -qF "$step" "$TMP/first.log" || { cat "$TMP/first.log"; fail "no step '$step'"; }
done
/usr/bin/python3 - "$TMP/h" <<'PY' || fail "see above"
import csv, json, os, sys
h = sys.argv[1]
optima = {o["C"]: o for o in json.load(open(f"{h}/optima.json"))}
for c, x0 in ((2.5e11, 11.0), (5e11, 10.0), (1e12, 9.0)):
    o = optima[c]
    assert o["M_over_N_a_source"] == "fit", o
    assert abs(o["M_over_N_a"] / x0 - 1) < 0.03, f"M/N_a optimum at {c:g}: {o['M_over_N_a']}, planted {x0}"
    assert abs(o["N_over_N_a"] / 2.5 - 1) < 0.05, f"N/N_a optimum at {c:g}: {o['N_over_N_a']}, planted 2.5"
# Phase 2: 5 positions at each budget's optimal triad; d_opt between the d of positions 0.3 and
# 0.5 (the planted 0.4).
rows = [r for r in csv.DictReader(open(f"{h}/phase2/results.csv")) if r["status"] == "done"]
assert len(rows) == 15, len(rows)
band = {o["C"]: o for o in json.load(open(f"{h}/phase2/band.json"))["optima"]}
for c in (2.5e11, 5e11, 1e12):
    at = {float(r["d_position_target"]): int(r["d_model"]) for r in rows if float(r["compute"]) == c}
    assert sorted(at) == [0.1, 0.3, 0.5, 0.7, 0.9], at
    assert {abs(float(r["m_over_na_target"]) / optima[c]["M_over_N_a"] - 1) < 1e-5
            for r in rows if float(r["compute"]) == c} == {True}, "Phase 2 at the optimal triad"
    o = band[c]
    assert o["bracketed"] and at[0.3] < o["x_opt"] < at[0.5], (c, o["x_opt"], at)
    assert o["x_low"] < o["x_opt"] < o["x_high"]
rank = json.load(open(f"{h}/rank.json"))
assert rank["n"] <= 20 and rank["n"] >= 16 and rank["spearman"]["value"] > 0.9, rank
plans = json.load(open(f"{h}/plan.json"))
assert plans["laws"]["m_over_na"]["a"] < 0, plans["laws"]  # the planted optimum falls with C
assert [p["compute"] for p in plans["plans"]] == [2e12, 1e13]
for p in plans["plans"]:
    assert "plan" in p, p
    t = p["plan"]["triad_target"]
    law = plans["laws"]["m_over_na"]
    assert abs(t["M_over_N_a"] / (law["k"] * p["compute"] ** law["a"]) - 1) < 1e-5
report = open(f"{h}/report/report.md").read()
for section in ("## Phase 1", "## Rank preservation", "## Phase 2", "## End to end"):
    assert section in report, section
for fig in ("phase1_curves", "rank_scatter", "phase2_d_sweeps", "d_band_vs_compute"):
    assert os.path.getsize(f"{h}/report/{fig}.png") > 10000, fig
    assert f"({fig}.png)" in report, fig
print("holistic study: optima, Phase 2, rank check, laws, plan and report as planted")
PY
# A rerun continues where it stopped: here, it trains nothing and gives the same optima.
trained() { cat "$TMP"/h/{phase1,rank}/runs/*/train.log "$TMP"/h/phase2/*/runs/*/train.log | grep -c "fake: done"; }
before=$(trained)
# 60 + 15, and the rank check's (up to 40: positions of a one-layer triad's interval are one d).
(( before > 75 && before <= 115 )) || fail "$before runs trained"
cp "$TMP/h/optima.json" "$TMP/optima.before"
run second
[[ $(trained) == "$before" ]] || fail "the rerun trained $(( $(trained) - before )) runs again"
cmp -s "$TMP/optima.before" "$TMP/h/optima.json" || fail "the rerun changed the optima"
# `moescale report` on the study rewrites its report from the study's files.
rm "$TMP/h/report/report.md" "$TMP/h/report/rank_scatter.png"
"$BIN/moescale" report "$TMP/h" >"$TMP/report.log" 2>&1 || { cat "$TMP/report.log"; fail "moescale report on the study failed"; }
grep -q "## Rank preservation" "$TMP/h/report/report.md" || fail "moescale report did not rewrite report.md"
[[ -s "$TMP/h/report/rank_scatter.png" ]] || fail "moescale report did not redraw the figures"
echo "PASS: paper 2's study end to end through reproduce, planted truths recovered"
