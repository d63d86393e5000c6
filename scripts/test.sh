#!/usr/bin/env bash
# README's second command: install what is missing, build, run the whole test suite.
#   ./scripts/test.sh                 everything (unit, slow; gpu tests skip without CUDA)
#   ./scripts/test.sh -L unit         only the fast unit tests (any ctest arguments work)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./scripts/setup.sh
./scripts/build.sh
ctest --test-dir build --output-on-failure --timeout 1800 "$@"
