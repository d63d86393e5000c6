#!/usr/bin/env bash
# Chinchilla approach 3 on 250 points: moescale fit (Ceres) against SciPy's L-BFGS-B, same
# objective, same 4500-start grid, one run. Prints a Markdown table (the figures in
# bench/RESULTS.md come from it).
#
#   bench/fit_vs_scipy.sh [BUILD_DIR]      (default build/; needs build/bin/moescale-fit)
#
# Timings are whole-process wall times (start-up and CSV reading included) on whatever else the
# machine is running; SciPy's fit time alone (without interpreter start-up) is shown too.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${1:-build}
fit="$build/bin/moescale-fit"
python=/usr/bin/python3  # Debian's interpreter: the one that sees python3-scipy
[[ -x $fit ]] || { echo "no $fit: build first (./scripts/build.sh)" >&2; exit 2; }
$python -c 'import scipy' 2>/dev/null || { echo "$python cannot import scipy: apt-get install python3-scipy" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
$python bench/chinchilla_points.py "$work/points.csv"

run_ceres() {  # $1 = label, rest = extra flags
  local label=$1; shift
  local t0 t1
  t0=$EPOCHREALTIME
  "$fit" chinchilla --input "$work/points.csv" --bootstrap 0 --out "$work/$label.json" "$@" >/dev/null
  t1=$EPOCHREALTIME
  $python - "$work/$label.json" "$label" "$t0" "$t1" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
p = j["params"]
wall = float(sys.argv[4]) - float(sys.argv[3])
print(json.dumps({"name": sys.argv[2], "objective": j["objective"], "wall": wall,
                  "fit": None, "params": p, "starts": j["n_starts"], "solved": j["n_solved"]}))
PY
}
run_scipy() {  # $1 = numeric|analytic
  local t0 t1
  t0=$EPOCHREALTIME
  $python bench/chinchilla_scipy.py "$work/points.csv" --gradient "$1" > "$work/scipy_$1.json"
  t1=$EPOCHREALTIME
  $python - "$work/scipy_$1.json" "$t0" "$t1" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
wall = float(sys.argv[3]) - float(sys.argv[2])
print(json.dumps({"name": "scipy L-BFGS-B, " + j["gradient"] + " gradient", "objective": j["objective"],
                  "wall": wall, "fit": j["seconds"], "params": j["params"],
                  "starts": j["n_starts"], "solved": j["n_starts"]}))
PY
}

{
  run_ceres "ceres"
  run_ceres "ceres-exhaustive" --exhaustive
  run_scipy analytic
  run_scipy numeric
} > "$work/rows.jsonl"

$python - "$work/rows.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
names = {"ceres": "moescale fit (Ceres LM, screened starts)",
         "ceres-exhaustive": "moescale fit --exhaustive (Ceres LM)"}
best = min(r["objective"] for r in rows)
ceres = rows[0]
print("| fit | starts solved to the end | objective | E | A | B | alpha | beta | wall s | fit s | wall / Ceres wall |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    p = r["params"]
    speedup = r["wall"] / ceres["wall"]
    print(f"| {names.get(r['name'], r['name'])} | {r['solved']} of {r['starts']} | {r['objective']:.10g} | "
          f"{p['E']:.4f} | {p['A']:.2f} | {p['B']:.2f} | {p['alpha']:.4f} | {p['beta']:.4f} | "
          f"{r['wall']:.2f} | {'' if r['fit'] is None else format(r['fit'], '.2f')} | {speedup:.1f}x |")
print()
for r in rows[1:]:
    d = ceres["objective"] - r["objective"]
    print(f"objective, Ceres minus {names.get(r['name'], r['name'])}: {d:+.3g} "
          f"({'Ceres equal or better' if d <= 1e-9 * abs(r['objective']) else 'Ceres worse'})")
PY
