#!/usr/bin/env bash
# Training throughput, MFU and peak memory of `moescale train` on one CUDA GPU at the paper's 30M
# and 100M labels (bf16, context 1024), side by side with the same model and step in Python on the
# same torch (bench/reference_moe.py), eager; the C++ side with its step captured in a CUDA graph
# (--cuda-graph auto) and without (off). Run by scripts/gpu_check.sh.
#
#   bench/gpu_speed.sh BUILD_DIR PYTHON [STEPS=30]
#
# Both sides: 16 routed + 1 shared experts, top-2, ratio 1, batch 64 x 1024 tokens, vocab 8192,
# synthetic tokens. MFU = model training FLOPs/s (moe/accounting.h) / the device's bf16 dense peak.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "$1" && pwd)
py=$2
steps=${3:-30}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$build/bin/markov_shards" "$tmp/data" 20000000 200000 >/dev/null
# One C++ run: prints "tokens/s MFU captured" over the windows after the first (the warm-up's).
cpp_run() {  # LABEL OUT CUDA_GRAPH
  "$build/bin/moescale" train --data "$tmp/data" --out "$2" --label "$1" --ratio 1 \
    --experts 16 --top-k 2 --shared 1 --context 1024 --vocab 8192 --batch-size 64 \
    --device cuda --dtype bf16 --tokens $(( (steps + 10) * 64 * 1024 )) --log-every 10 \
    --eval-every 100000 --eval-tokens 8192 --cuda-graph "$3" >"$2.log" 2>&1 || { cat "$2.log"; exit 1; }
  "$py" - "$2" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")][1:]
print(sum(l["tokens_per_s"] for l in lines) / len(lines), sum(l["mfu"] for l in lines) / len(lines),
      int(all(l.get("cuda_graph", False) for l in lines)), max(l.get("peak_memory_gib", 0) for l in lines))
PY
}
echo "| label | N_a / N | C++ tokens/s (graph off) | C++ tokens/s (graph auto) | captured | C++ MFU | C++ peak GiB | estimate GiB | Python tokens/s | Python peak GiB | C++ / Python |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for label in 30M 100M; do
  read -r eager _ _ _ <<<"$(cpp_run "$label" "$tmp/eager-$label" off)"
  out=$tmp/run-$label
  read -r cpp mfu captured peak <<<"$(cpp_run "$label" "$out" auto)"
  est=$("$build/bin/moescale" plan --compute 1e18 --label "$label" --ratio 1 --experts 16 --top-k 2 \
    --shared 1 --context 1024 --vocab 8192 --batch-size 64 --dtype bf16 --json |
    "$py" -c 'import json, sys; print(json.load(sys.stdin)["memory"]["bytes_per_rank"]["total"] / 2**30)')
  ref=$("$py" "$root/bench/reference_moe.py" "$out/config.json" --steps "$steps")
  "$py" - "$out" "$label" "$eager" "$cpp" "$captured" "$mfu" "$peak" "$est" "$ref" <<'PY'
import json, sys
out, label = sys.argv[1], sys.argv[2]
eager, cpp, captured, mfu, peak, est = (float(v) for v in sys.argv[3:9])
ref = json.loads(sys.argv[9])
p = json.load(open(out + "/config.json"))["plan"]
print(f"| {label} | {p['params_active']:.3g} / {p['params_total']:.3g} | {eager:.0f} | {cpp:.0f} | "
      f"{'yes' if captured else 'no'} | {100 * mfu:.1f}% | {peak:.1f} | {est:.1f} | {ref['tokens_per_s']:.0f} | "
      f"{ref.get('peak_memory_gib', 0):.1f} | {cpp / ref['tokens_per_s']:.2f} |")
PY
done
