#!/usr/bin/env bash
# One run on 1 and on 2 CPU ranks (Gloo), and the memory estimate (moe/memory.h) against the
# measured peak RSS, with and without --checkpoint-activations. Label 5M, context 256, vocab
# 4096, synthetic tokens; 20 steps per run; tokens/s averaged over the metrics lines after the
# first. Peak RSS is GNU time's maximum resident set (of the largest rank under the launcher).
#
#   bench/ranks_memory.sh BUILD_DIR [STEPS=20]
set -euo pipefail
build=$(cd "$1" && pwd)
steps=${2:-20}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$build/bin/markov_shards" "$tmp/data" 4000000 200000 >/dev/null
base=(--data "$tmp/data" --label 5M --context 256 --vocab 4096 --eval-tokens 4096 --log-every 5
  --eval-every 100000)
echo "| run | ranks | micro-batch | tokens/s | peak RSS (GiB, measured) | estimate per rank (GiB) | measured / estimate |"
echo "|---|---|---|---|---|---|---|"
row() {  # NAME BATCH RANKS EXTRA...
  local name=$1 batch=$2 ranks=$3
  shift 3
  local args=("${base[@]}" --batch-size "$batch" --tokens $((steps * batch * 256)) "$@")
  /usr/bin/time -f "%M" -o "$tmp/$name.rss" "$build/bin/moescale" train "${args[@]}" \
    --nproc-per-node "$ranks" --out "$tmp/$name" >"$tmp/$name.log" 2>&1 ||
    { cat "$tmp/$name.log"; exit 1; }
  local est
  est=$("$build/bin/moescale" plan --compute 1e15 --label 5M --context 256 --vocab 4096 \
    --batch-size "$batch" "$@" --nproc-per-node "$ranks" --json |
    /usr/bin/python3 -c 'import json,sys; m=json.load(sys.stdin)["memory"]; print(m["bytes_per_rank"]["total"], m["micro_batch"])')
  /usr/bin/python3 - "$tmp/$name" "$(tail -1 "$tmp/$name.rss")" $est "$name" "$ranks" <<'PY'
import json, sys
run, rss_kb, est, micro, name, ranks = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
lines = [json.loads(l) for l in open(run + "/metrics.jsonl")][1:]
tps = sum(l["tokens_per_s"] for l in lines) / len(lines)
rss = rss_kb * 1024 / 2**30
print(f"| {name} | {ranks} | {micro} | {tps:.0f} | {rss:.2f} | {est / 2**30:.2f} | {rss * 2**30 / est:.2f} |")
PY
}
row "batch 16" 16 1
row "batch 16, 2 ranks" 16 2
row "batch 32" 32 1
row "batch 32, 2 ranks" 32 2
row "batch 32, checkpointed" 32 1 --checkpoint-activations
