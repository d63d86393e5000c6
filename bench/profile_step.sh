#!/usr/bin/env bash
# Where a training step's time goes, C++ trainer against the same model in Python: both sides
# profiled by the same LibTorch profiler (Kineto, CPU), 10 steps after 5 warm-up steps, same
# config, same wheel (.venv), same threads; bench/profile_ops.py sums each op's self time per
# step part (forward, backward, clip, optimizer) and op family.
#
#   bench/profile_step.sh [BUILD_DIR=build] [LABELS="1M 5M 10M"]
#
# Batch 16 x context 256, vocab 8192, as bench/train_speed.sh.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
labels=${2:-1M 5M 10M}
py=$root/.venv/bin/python
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$build/bin/markov_shards" "$tmp/data" 2000000 20000 >/dev/null
for label in $labels; do
  out=$tmp/run-$label
  "$build/bin/moescale" train --data "$tmp/data" --out "$out" --label "$label" --ratio 1 \
    --vocab 8192 --batch-size 16 --context 256 --tokens $(( 16 * 16 * 256 )) --log-every 10 \
    --eval-every 100000 --eval-tokens 256 --profile "$tmp/cpp-$label.json" >/dev/null 2>&1
  "$py" "$root/bench/reference_moe.py" "$out/config.json" --steps 10 \
    --profile "$tmp/py-$label.json" >/dev/null 2>&1
  d=$("$py" -c "import json; print(json.load(open('$out/config.json'))['model']['d_model'])")
  echo "### label $label (d_model $d): ms per step"
  echo
  "$py" "$root/bench/profile_ops.py" "$tmp/cpp-$label.json" "$tmp/py-$label.json"
  echo
done
echo "torch $("$py" -c 'import torch; print(torch.__version__, torch.get_num_threads(), "threads")')"
