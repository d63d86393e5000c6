#!/usr/bin/env bash
# Configures and builds moescale into build/ (Release, Ninja, ccache when present).
# Extra arguments go to cmake, e.g. ./scripts/build.sh -DMOESCALE_LIBTORCH=/opt/libtorch
# (default: the torch wheel that scripts/setup.sh installs into .venv; README "LibTorch").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
jobs=${MOESCALE_JOBS:-$(( $(nproc) < 2 ? 1 : $(nproc) ))}
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build build -j "$jobs"
