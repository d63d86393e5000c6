#!/usr/bin/env bash
# Quality at equal training FLOPs on the default corpus: an MoE (8 routed experts, top-2, no
# shared expert) against the dense SwiGLU model of the same active FLOPs (one FFN of width
# 2 x d_expert, same attention), same tokens, same seed, same data order.
#
#   bench/moe_vs_dense.sh [BUILD_DIR=build] [COMPUTE=8e12] [DATA=build/test-data/default-2048/data]
#
# DATA defaults to the test suite's default corpus (BPE 2048); it is prepared when missing.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
compute=${2:-8e12}
data=${3:-$build/test-data/default-2048/data}
[[ -f $data/meta.json ]] || bash "$root/tests/experiments/default_corpus.sh" "$build/bin" "$(dirname "$data")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$build/bin/moescale" train --data "$data" --out "$tmp/moe" --label tiny --ratio 1 --experts 8 \
  --top-k 2 --shared 0 --compute "$compute" --eval-tokens 131072 --threads 1 >"$tmp/moe.log" 2>&1
/usr/bin/python3 - "$tmp/moe/config.json" "$tmp/dense.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
m = c["model"]
m["d_expert"] = m["d_expert"] * (m["top_k"] + m["n_shared_experts"])  # same active width
m["n_experts"], m["top_k"], m["n_shared_experts"] = 0, 2, 0
c["plan"] = {}
json.dump(c, open(sys.argv[2], "w"))
PY
"$build/bin/moescale" train --config "$tmp/dense.json" --data "$data" --out "$tmp/dense" \
  --threads 1 >"$tmp/dense.log" 2>&1
/usr/bin/python3 - "$tmp" <<'PY'
import json, sys
t = sys.argv[1]
rows = []
for name in ("moe", "dense"):
    r = json.load(open(f"{t}/{name}/result.json"))
    c = json.load(open(f"{t}/{name}/config.json"))["model"]
    rows.append((name, c, r))
print("| model | experts x d_expert | tokens | training FLOPs | val loss | wall s |")
print("|---|---|---|---|---|---|")
for name, c, r in rows:
    shape = f"{c['n_experts']} x {c['d_expert']}, top-{c['top_k']}" if c["n_experts"] else f"dense, width {c['d_expert']}"
    print(f"| {name} | {shape} | {r['tokens']} | {r['flops']:.3g} | {r['val_loss']:.4f} | {r['wall_seconds']:.0f} |")
moe, dense = rows[0][2]["val_loss"], rows[1][2]["val_loss"]
print(f"\nMoE - dense val loss: {moe - dense:+.4f} nats ({'MoE lower' if moe < dense else 'MoE NOT lower'})")
PY
