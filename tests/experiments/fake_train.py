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

Like the trainer, it writes result.json atomically and logs "done after N steps" last."""
import argparse
import json
import math
import os
import time

R0 = {4e9: 6.0, 8e9: 0.01}
X0 = {4e9: 8.0, 8e9: 9.0}
D0 = {4e10: 40.0, 8e10: 42.0}

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
if os.environ.get("FAKE_PLANT") == "d":
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
