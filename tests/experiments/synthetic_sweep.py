#!/usr/bin/python3
"""A synthetic sweep directory with known r*(C, S), and the checks of its report.

    synthetic_sweep.py make SWEEPDIR      results.csv, runs/<id>/{metrics.jsonl,result.json}
    synthetic_sweep.py check SWEEPDIR     report.md's numbers equal fit.json's; the fits
                                          recover the planted law; every figure exists
    synthetic_sweep.py make-edge SWEEPDIR r* planted 100x above the swept ratios
    synthetic_sweep.py check-edge SWEEPDIR the verdict says r* lies above the range
    synthetic_sweep.py check-load DIR     the load-balance series merges windows cut short

Loss at (C, S, r): L = 2 + 40 C^-0.1 + 0.08 (ln r - ln r*)^2 + noise(sd 0.002), with
r*(C, S) = 0.6 (C / 1e12)^0.15 (1 - S)^-0.2: r* rises with C (exponent 0.15).
"""
import csv
import json
import math
import os
import random
import sys

COLUMNS = ["run_id", "label", "compute", "sparsity", "ratio", "ratio_achieved", "n_experts",
           "top_k", "n_shared_experts", "d_model", "n_layers", "n_heads", "head_dim", "d_expert",
           "params_active", "params_total", "flops_per_token", "tokens", "val_loss",
           "final_train_loss", "status", "origin", "bracket", "wall_seconds"]
BUDGETS = [1e12, 4e12, 1.6e13]
SPARSITIES = [0.75, 0.9]
RATIOS = [0.15, 0.3, 0.6, 1.2, 2.4, 4.8]
EXPONENT = 0.15


def r_star(c, s):
    return 0.6 * (c / 1e12) ** EXPONENT * (1 - s) ** -0.2


def make_edge(d):
    make(d, scale=100.0)


def check_edge(d):
    fit = json.load(open(os.path.join(d, "report", "fit.json")))
    md = open(os.path.join(d, "report", "report.md")).read()
    for g in fit["sparsities"]:
        # The range is of the achieved ratios (planned +-1%).
        want = f"the lowest loss is at the largest r swept at {len(BUDGETS)} of {len(BUDGETS)} " \
               f"budgets, so r* lies above [0.1"
        if not g["trend"].startswith("cannot tell") or want not in g["trend"] \
                or not g["trend"].endswith(
                    " here: extend the ratios upward (bracket = yes in the grid does it)"):
            fail(f"edge verdict {g['trend']!r} lacks {want!r}")
        if g["trend"] not in md:
            fail("the edge verdict is not in report.md")
    print("PASS: r* above the swept range is reported as such at every sparsity")


def check_load(d):
    """Windows of 10 steps with one cut to 3 steps by an eval; counts chosen so that the short
    window alone has max/mean 2 but merged with the next has 1.1."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                    "scripts"))
    import plot_report
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "metrics.jsonl")
    lines = [(10, [[110, 90]]), (20, [[110, 90]]), (23, [[40, 20]]), (30, [[75, 85]]),
             (40, [[110, 90]]), (42, [[30, 10]])]
    with open(path, "w") as f:
        for step, counts in lines:
            f.write(json.dumps({"step": step, "tokens": step * 100, "tokens_per_expert": counts,
                                "expert_load_max_over_mean": [0]}) + "\n")
    steps, loads = plot_report.load_balance_series(path)
    want_steps = [1000, 2000, 3000, 4200]
    want = [1.1, 1.1, 115 / 110, 140 / 120]
    if steps != want_steps or any(abs(a - b) > 1e-9 for a, b in zip(loads, want)):
        fail(f"load-balance series {list(zip(steps, loads))}, expected {list(zip(want_steps, want))}")
    print("PASS: short logging windows merged; max/mean of the merged counts")


def make(d, scale=1.0):
    """Writes the sweep with r* planted at scale * r_star(C, S)."""
    rng = random.Random(7)
    rows = []
    for s in SPARSITIES:
        for c in BUDGETS:
            for r in RATIOS:
                rid = f"s{int(s * 100)}c{int(math.log10(c) * 10)}r{int(r * 100)}"
                loss = 2 + 40 * c ** -0.1 + 0.08 * (math.log(r) - math.log(scale * r_star(c, s))) ** 2
                loss += rng.gauss(0, 0.002)
                rows.append({"run_id": rid, "label": "tiny", "compute": c, "sparsity": s,
                             "ratio": r, "ratio_achieved": r * (1 + rng.uniform(-0.01, 0.01)),
                             "n_experts": 8, "top_k": 1, "n_shared_experts": 1, "d_model": 128,
                             "n_layers": 2, "n_heads": 4, "head_dim": 32, "d_expert": 64,
                             "params_active": 3e5, "params_total": 9e5, "flops_per_token": 4e6,
                             "tokens": c / 4e6, "val_loss": loss, "final_train_loss": loss + 0.01,
                             "status": "done", "wall_seconds": 10,
                             # as if bracketing had added the largest ratio
                             "origin": "bracket" if r == RATIOS[-1] else "grid",
                             "bracket": f"bracketed (planted r* = {r_star(c, s):.3g})"})
                run = os.path.join(d, "runs", rid)
                os.makedirs(run, exist_ok=True)
                with open(os.path.join(run, "metrics.jsonl"), "w") as f:
                    for step in range(1, 6):
                        f.write(json.dumps({"step": step * 10, "tokens": step * 20480,
                                            "expert_load_max_over_mean": [1 + 1 / step, 1.2]}) + "\n")
    bad = dict(rows[0], run_id="diverged1", status="diverged", val_loss="", ratio=9.6,
               ratio_achieved=9.6)
    rows.append(bad)
    os.makedirs(os.path.join(d, "runs", "diverged1"), exist_ok=True)
    with open(os.path.join(d, "runs", "diverged1", "result.json"), "w") as f:
        json.dump({"status": "diverged", "reason": "loss became nan at step 42"}, f)
    with open(os.path.join(d, "results.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, COLUMNS)
        w.writeheader()
        w.writerows(rows)


def g4(v):
    return "n/a" if v is None else format(v, ".4g")


def fail(msg):
    sys.exit("FAIL: " + msg)


def check(d):
    rep = os.path.join(d, "report")
    for name in ("ratio_curves", "rstar_vs_compute", "frontier", "load_balance"):
        for ext in ("png", "svg"):
            p = os.path.join(rep, f"{name}.{ext}")
            if not os.path.exists(p) or os.path.getsize(p) < 1000:
                fail(f"missing or empty figure {p}")
    fit = json.load(open(os.path.join(rep, "fit.json")))
    md = open(os.path.join(rep, "report.md")).read()
    lines = md.splitlines()
    n_checked = 0
    counts = ("Bracketing (`bracket = yes`): 31 runs from the grid, 6 added beyond the ends of its "
              "ratio lists, 0 around the minima.")
    if counts not in md:
        fail(f"report.md lacks {counts!r}")
    for g in fit["sparsities"]:
        s = g4(g["S"])
        for v in g["valleys"]:
            row = f"| {s} | {g4(v['C'])} | {g4(v['x_opt'])} | [{g4(v['ci_low'])}, {g4(v['ci_high'])}] |"
            if not any(l.startswith(row) for l in lines):
                fail(f"report.md has no row starting {row!r}")
            n_checked += 1
            truth = r_star(v["C"], g["S"])
            if not v["bracketed"] or abs(math.log(v["x_opt"] / truth)) > 0.1:
                fail(f"r* at S={s} C={v['C']}: {v['x_opt']} vs planted {truth:.4g}")
            if not (v["ci_low"] <= v["x_opt"] <= v["ci_high"]):
                fail(f"r* {v['x_opt']} outside its CI [{v['ci_low']}, {v['ci_high']}]")
        law = g["power_law"]
        row = f"| {s} | {g4(law['k'])} | {g4(law['a'])} | [{g4(law['a_ci_low'])}, {g4(law['a_ci_high'])}] |"
        if row not in md:
            fail(f"report.md lacks the power-law row {row!r}")
        if abs(law["a"] - EXPONENT) > 0.05:
            fail(f"exponent a = {law['a']} at S={s}, planted {EXPONENT}")
        for c in BUDGETS:
            row = f"| {g4(c)} | {s} | tiny | bracketed (planted r* = {r_star(c, g['S']):.3g}) |"
            if row not in md:
                fail(f"report.md lacks the bracketing row {row!r}")
        if "r* rises with compute" not in g["trend"] or g["trend"] not in md:
            fail(f"verdict {g['trend']!r} wrong or missing from report.md")
        n_checked += 1
    law = fit["ratio_law"]
    if law is None:
        fail("the joint law was not fitted on two sparsities")
    for p in ("alpha0", "p", "beta0", "q"):
        if f"| {p} | {g4(law['params'][p])} |" not in md:
            fail(f"report.md lacks the joint-law row of {p}")
        n_checked += 1
    if fit["counts"].get("diverged") != 1 or "loss became nan at step 42" not in md:
        fail("the diverged run and its reason are not reported")
    print(f"PASS: {n_checked} numbers of report.md equal fit.json; planted r* and exponent "
          f"recovered; 8 figure files")


if __name__ == "__main__":
    {"make": make, "check": check, "make-edge": make_edge, "check-edge": check_edge,
     "check-load": check_load}[sys.argv[1]](sys.argv[2])
