#!/usr/bin/env bash
# Training throughput and MFU of `moescale train` on CPU for four model sizes, side by side
# with the same model and training step in Python on the same torch wheel (the project's .venv,
# hence the same LibTorch), eager and under torch.compile (inductor).
#
#   bench/train_speed.sh [BUILD_DIR=build] [STEPS=30]
#
# Both sides: batch 16 x context 256, vocab 8192, torch's default intra-op threads (all cores:
# OpenMP + MKL in the wheel; 2 threads trained 1.8x faster than 1 here, bench/RESULTS.md).
# MFU = model training FLOPs/s (moe/accounting.h, logits included) / the GEMM peak the trainer
# measures at start-up (best fp32 1024^3 GEMM).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
steps=${2:-30}
py=$root/.venv/bin/python
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$build/bin/markov_shards" "$tmp/data" 2000000 20000 >/dev/null
echo "| label | d_model | params (N_a / N) | C++ tokens/s | C++ MFU | Python eager tokens/s | Python compiled tokens/s | C++ / eager | C++ / compiled |"
echo "|---|---|---|---|---|---|---|---|---|"
# label[:d_model]: 10M:512 is the 10M label widened to d_model 512 (the MFU target's size).
for spec in 1M 5M 10M 10M:512; do
  label=${spec%%:*}
  width=()
  [[ "$spec" == *:* ]] && width=(--d-model "${spec#*:}")
  out=$tmp/run-${spec/:/-}
  "$build/bin/moescale" train --data "$tmp/data" --out "$out" --label "$label" --ratio 1 \
    --vocab 8192 --batch-size 16 --context 256 --tokens $(( (steps + 10) * 16 * 256 )) \
    --log-every 10 --eval-every 100000 --eval-tokens 256 "${width[@]}" >/dev/null 2>&1
  eager=$("$py" "$root/bench/reference_moe.py" "$out/config.json" --steps "$steps" 2>/dev/null | tail -n1)
  compiled=$("$py" "$root/bench/reference_moe.py" "$out/config.json" --steps "$steps" --compile \
             2>/dev/null | tail -n1)
  "$py" - "$out" "$spec" "$eager" "$compiled" <<'PY'
import json, sys
out, label, eager, compiled = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
lines = [json.loads(l) for l in open(out + "/metrics.jsonl")][1:]  # skip the warm-up window
cpp = sum(l["tokens_per_s"] for l in lines) / len(lines)
mfu = sum(l["mfu"] for l in lines) / len(lines)
c = json.load(open(out + "/config.json"))
p = c["plan"]
e, k = eager["tokens_per_s"], compiled["tokens_per_s"]
print(f"| {label} | {c['model']['d_model']} | {p['params_active']:.3g} / {p['params_total']:.3g} | "
      f"{cpp:.0f} | {100 * mfu:.1f}% | {e:.0f} | {k:.0f} | {cpp / e:.2f} | {cpp / k:.2f} |")
PY
done
peak=$("$py" -c "import json; print('%.3g' % json.load(open('$tmp/run-10M/result.json'))['peak_flops_per_second'])")
echo
echo "GEMM peak measured by the trainer: $peak FLOP/s (fp32, 1024^3); torch $("$py" -c 'import torch; print(torch.__version__, torch.get_num_threads(), "threads")')"
