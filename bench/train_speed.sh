#!/usr/bin/env bash
# Training throughput and MFU of `moescale train` on CPU for three model sizes, side by side
# with the same model and training step in Python on Debian's python3-torch (the same LibTorch).
#
#   bench/train_speed.sh [BUILD_DIR=build] [STEPS=40]
#
# Both sides: batch 16 x context 256, vocab 8192, torch intra-op threads 1, OpenBLAS on all
# cores (the fastest setting here; see the thread note in bench/RESULTS.md). MFU = model
# training FLOPs/s (moe/accounting.h, logits included) / the GEMM peak the trainer measures at
# start-up (best fp32 1024^3 GEMM).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
steps=${2:-40}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$build/bin/markov_shards" "$tmp/data" 2000000 20000 >/dev/null
echo "| label | d_model | params (N_a / N) | C++ tokens/s | C++ MFU | Python tokens/s | C++ / Python |"
echo "|---|---|---|---|---|---|---|"
for label in 1M 5M 10M; do
  out=$tmp/run-$label
  "$build/bin/moescale" train --data "$tmp/data" --out "$out" --label "$label" --ratio 1 \
    --vocab 8192 --batch-size 16 --tokens $(( (steps + 10) * 16 * 256 )) --log-every 10 \
    --eval-every 100000 --eval-tokens 256 --threads 1 >/dev/null 2>&1
  read -r cpp mfu <<<"$(/usr/bin/python3 - "$out" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")][1:]  # skip warm-up window
print(sum(l["tokens_per_s"] for l in lines) / len(lines), sum(l["mfu"] for l in lines) / len(lines))
PY
)"
  py=$(/usr/bin/python3 "$root/bench/reference_moe.py" "$out/config.json" --steps "$steps" | \
       /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["tokens_per_s"])')
  dims=$(/usr/bin/python3 -c "import json; c=json.load(open('$out/config.json')); p=c['plan']; print(c['model']['d_model'], '%.3g / %.3g' % (p['params_active'], p['params_total']))")
  read -r d params <<<"$dims"
  peak=$(/usr/bin/python3 -c "import json; print('%.3g' % json.load(open('$out/result.json'))['peak_flops_per_second'])")
  printf '| %s | %s | %s | %.0f | %.1f%% | %.0f | %.2f |\n' "$label" "$d" "$params" "$cpp" \
    "$(echo "$mfu * 100" | bc -l)" "$py" "$(echo "$cpp / $py" | bc -l)"
done
echo
echo "GEMM peak measured by the trainer: $peak FLOP/s (fp32, 1024^3, OpenBLAS)"
