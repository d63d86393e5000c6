#!/usr/bin/env bash
# The GPU check: builds moescale against this machine's CUDA LibTorch and runs, on one GPU,
#   - moescale --version (LibTorch, CUDA, the devices it sees);
#   - the gpu-labelled tests (ctest -L gpu): CUDA vs CPU numerics; the grouped expert GEMM vs the
#     loop, forward and backward, with experts that get no tokens; no host synchronisation in a
#     bf16 training step on the grouped path; bf16 training whose loss falls, checkpoint and
#     resume on CUDA; the step captured in a CUDA graph against the eager step, resumed, and the
#     clean fallback where a step cannot be captured;
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
