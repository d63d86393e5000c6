#!/usr/bin/env bash
# Configures and builds moescale into build/ (Release, Ninja, ccache when present).
# Extra arguments go to cmake, e.g. ./scripts/build.sh -DCMAKE_PREFIX_PATH=/opt/libtorch
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
jobs=${MOESCALE_JOBS:-$(( $(nproc) < 2 ? 1 : $(nproc) ))}
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build build -j "$jobs"
