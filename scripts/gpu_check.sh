#!/usr/bin/env bash
# The GPU check: builds moescale against this machine's CUDA LibTorch and runs, on one GPU,
#   - moescale --version (LibTorch, CUDA, the devices it sees);
#   - the gpu-labelled tests (ctest -L gpu): CUDA vs CPU numerics; the grouped expert GEMM vs the
#     loop, forward and backward, with experts that get no tokens; no host synchronisation in a
#     bf16 training step on the grouped path; bf16 training whose loss falls, checkpoint and
#     resume on CUDA; the step captured in a CUDA graph against the eager step, resumed, and the
#     clean fallback where a step cannot be captured;
#   - two NCCL ranks against one process accumulating the same micro-batches (two GPUs or more);
#   - the GPU training benchmark (bench/gpu_speed.sh: 30M and 100M labels, bf16, context 1024,
#     against the same model in Python on the same torch).
# It writes OUT/summary.md (and the logs beside it) and exits non-zero when a test fails or skips.
#
#   scripts/gpu_check.sh [OUT=${OUT:-gpu-check}]
#
# Environment: PYTHON, a Python whose torch is the CUDA LibTorch to build against (default: the
# project's .venv, else /opt/torch/.venv, else python3); CMAKE_ARGS, more configure flags.
# Dependencies the machine lacks may be carried as Debian packages in .device/debs
# (../shared/device/bundle.sh): they are unpacked into /opt/deps and used from there.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
out=${1:-${OUT:-gpu-check}}
mkdir -p "$out"
out=$(cd "$out" && pwd)
start=$(date +%s)

py=${PYTHON:-}
for candidate in "$root/.venv/bin/python" /opt/torch/.venv/bin/python "$(command -v python3 || true)"; do
  [[ -n "$py" ]] && break
  [[ -x "$candidate" ]] && "$candidate" -c 'import torch' 2>/dev/null && py=$candidate
done
[[ -n "$py" ]] || { echo "gpu_check: no Python with torch: set PYTHON=/path/to/python" >&2; exit 2; }
libtorch=$("$py" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')

prefix=""
if compgen -G ".device/debs/*.deb" >/dev/null; then
  deps=/opt/deps
  mkdir -p "$deps"
  for f in .device/debs/*.deb; do dpkg -x "$f" "$deps"; done
  prefix="-DCMAKE_PREFIX_PATH=$deps/usr;$deps/usr/lib/x86_64-linux-gnu/cmake"
  export LD_LIBRARY_PATH="$deps/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
  export CPATH="$deps/usr/include:${CPATH:-}"
fi

{
  echo "# moescale GPU check, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo '```'
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
  "$py" -c 'import torch; print("python torch", torch.__version__, "cuda", torch.version.cuda)'
  echo '```'
} >"$out/summary.md"

echo "gpu_check: building into build-cuda against $libtorch"
# shellcheck disable=SC2086
cmake -S . -B build-cuda -G Ninja -DCMAKE_BUILD_TYPE=Release -DMOESCALE_LIBTORCH="$libtorch" \
  -DMOESCALE_WITH_CERES=OFF -DMOESCALE_WITH_SENTENCEPIECE=OFF ${prefix:+"$prefix"} \
  ${CMAKE_ARGS:-} >"$out/configure.log" 2>&1 || { tail -30 "$out/configure.log"; exit 1; }
cmake --build build-cuda -j "$(nproc)" >"$out/build.log" 2>&1 || { tail -40 "$out/build.log"; exit 1; }
build_s=$(( $(date +%s) - start ))

{
  echo
  echo "## moescale --version (build ${build_s} s)"
  echo '```'
  build-cuda/bin/moescale --version
  echo '```'
} >>"$out/summary.md"

status=0
ctest --test-dir build-cuda -L gpu --output-on-failure >"$out/ctest-gpu.log" 2>&1 || status=1
skipped=$(grep -c "Skipped" "$out/ctest-gpu.log" || true)
[[ "$skipped" == 0 ]] || status=1
{
  echo
  echo "## ctest -L gpu ($skipped skipped)"
  echo '```'
  grep -E "Test +#|tests passed|tests failed" "$out/ctest-gpu.log" || true
  echo '```'
} >>"$out/summary.md"

# Two NCCL ranks, where the machine has two GPUs: the run of one process that accumulates the
# same two micro-batches, to bf16 rounding.
gpus=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | wc -l)
{
  echo
  echo "## Two NCCL ranks ($gpus GPU(s))"
  echo
  if (( gpus >= 2 )); then
    build-cuda/bin/markov_shards "$out/ranks-data" >/dev/null
    r=(--data "$out/ranks-data" --label tiny --ratio 1 --experts 4 --top-k 2 --context 32 --vocab 64
      --batch-size 8 --width-multiple 8 --tokens $((40 * 8 * 32)) --eval-tokens 512 --log-every 5
      --device cuda --dtype bf16)
    if build-cuda/bin/moescale train "${r[@]}" --out "$out/ranks-one" --micro-batch 4 >"$out/ranks-one.log" 2>&1 &&
       build-cuda/bin/moescale train "${r[@]}" --out "$out/ranks-two" --nproc-per-node 2 >"$out/ranks-two.log" 2>&1; then
      "$py" - "$out" <<'PY' || status=1
import json, sys
rd = lambda d: [json.loads(l) for l in open(f"{sys.argv[1]}/{d}/metrics.jsonl")]
worst = max(abs(a["train_loss"] - b["train_loss"]) / a["train_loss"] for a, b in zip(rd("ranks-one"), rd("ranks-two")))
print(f"two NCCL ranks vs one process with two micro-batches: worst relative loss difference {worst:.1e}")
assert worst < 2e-2
PY
    else
      echo "FAILED: see ranks-one.log, ranks-two.log"
      status=1
    fi
  else
    echo "not run: one GPU (NCCL needs a device per rank)"
  fi
} >>"$out/summary.md"

{
  echo
  echo "## Training speed (bench/gpu_speed.sh)"
  echo
  bench/gpu_speed.sh build-cuda "$py" 2>&1 || status=1
} >>"$out/summary.md"

echo >>"$out/summary.md"
echo "total $(( $(date +%s) - start )) s, status $status" >>"$out/summary.md"
cat "$out/summary.md"
exit $status
