#!/usr/bin/env python3
"""A stand-in for moescale-train in the bracketing test: takes the sweep's arguments, sleeps a
moment (so a kill can land mid-run) and writes result.json with a planted validation loss,
a valley in ln r whose minimum depends on the budget:

    loss = 3 + 0.05 * ln(r / r0(C))^2,   r0 = 6 at C = 4e9 (above the grid's ratios),
                                         r0 = 0.01 at C = 8e9 (below what the planner allows)

Like the trainer, it writes result.json atomically and logs "done after N steps" last."""
import argparse
import json
import math
import os
import time

R0 = {4e9: 6.0, 8e9: 0.01}

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
