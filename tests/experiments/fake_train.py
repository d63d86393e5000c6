#!/usr/bin/env python3
"""A stand-in for moescale-train in the sweep tests: takes the sweep's arguments, sleeps a
moment (so a kill can land mid-run) and writes result.json with a planted validation loss.

A ratio run (the bracketing test): a valley in ln r whose minimum depends on the budget,

    loss = 3 + 0.05 * ln(r / r0(C))^2,   r0 = 6 at C = 4e9 (above the grid's ratios),
                                         r0 = 0.01 at C = 8e9 (below what the planner allows)

A triad run (paper 2's Phase 1 test): paper 2's curve in x = M/N_a of the planned model (the
m_over_na column of results.csv), with its minimum at x0(C) = 6 + sqrt(a/b),

    loss = 2.5 + a/(x - 6) + b x,   b = 0.01, a = b (x0 - 6)^2,   x0 = 8 at 4e9, 9 at 8e9.

With FAKE_PLANT=d (paper 2's Phase 2 test): a quadratic in the planned d_model,

    loss = 2.5 + 1e-3 (d - d0)^2,   d0 = 40 at 4e10, 42 at 8e10.

With FAKE_PLANT=holistic (paper 2's whole study, tests/experiments/holistic_reproduce.sh): both
Phase 1 curves and a valley in d's position p in its feasible interval (the proxy: p = 0.5),

    loss = 2.5 + a/(x - 6) + b x + a2/(y - 1) + b2/(4.5 - y) + 0.05 (p - 0.4)^2,
    x = M/N_a with x0 = 11, 10, 9 at 2.5e11, 5e11, 1e12 (b = 0.01, a = b (x0 - 6)^2),
    y = N/N_a with y0 = 2.5 at every budget (a2 = 0.02, b2 = a2 s^2, s = (4.5 - y0)/(y0 - 1)).

Like the trainer, it writes result.json atomically and logs "done after N steps" last."""
import argparse
import json
import math
import os
import time

R0 = {4e9: 6.0, 8e9: 0.01}
X0 = {4e9: 8.0, 8e9: 9.0}
D0 = {4e10: 40.0, 8e10: 42.0}
HOLISTIC_X0 = {2.5e11: 11.0, 5e11: 10.0, 1e12: 9.0}
HOLISTIC_Y0 = 2.5

parser = argparse.ArgumentParser()
parser.add_argument("--config", required=True)
parser.add_argument("--out", required=True)
parser.add_argument("--resume", action="store_true")
parser.add_argument("--device")
parser.add_argument("--threads")
args = parser.parse_args()

config = json.load(open(args.config))
plan = config["plan"]
ratio, compute = plan["ratio_target"], plan["compute"]
time.sleep(float(os.environ.get("FAKE_TRAIN_SECONDS", "0.3")))
if os.environ.get("FAKE_PLANT") == "holistic":
    triad = plan["triad"]
    x, y = triad["M"] / triad["N_a"], triad["N"] / triad["N_a"]
    b = 0.01
    a = b * (HOLISTIC_X0[compute] - 6) ** 2
    s = (4.5 - HOLISTIC_Y0) / (HOLISTIC_Y0 - 1)
    p = plan["triad_target"].get("d_position")
    p = 0.5 if p is None else p
    loss = 2.5 + a / (x - 6) + b * x + 0.02 / (y - 1) + 0.02 * s * s / (4.5 - y)
    loss += 0.05 * (p - 0.4) ** 2
elif os.environ.get("FAKE_PLANT") == "d":
    loss = 2.5 + 1e-3 * (plan["d_model"] - D0[compute]) ** 2
elif plan.get("triad_target"):
    x = plan["triad"]["M"] / plan["triad"]["N_a"]
    b = 0.01
    a = b * (X0[compute] - 6) ** 2
    loss = 2.5 + a / (x - 6) + b * x
else:
    loss = 3.0 + 0.05 * math.log(ratio / R0[compute]) ** 2
result = {
    "status": "done", "reason": "", "val_loss": loss, "final_train_loss": loss + 0.1,
    "steps": config["steps"], "steps_planned": config["steps"], "tokens": config["tokens"],
    "flops": compute, "wall_seconds": 0.3, "peak_flops_per_second": 0, "peak_source": "",
    "run_id": "", "diverged_step": -1,
}
tmp = os.path.join(args.out, "result.json.tmp")
with open(tmp, "w") as f:
    json.dump(result, f)
os.replace(tmp, os.path.join(args.out, "result.json"))
print(f"fake: done after {config['steps']} steps, val loss {loss:.4f}", flush=True)
