#!/usr/bin/env bash
# Builds the project with AddressSanitizer + UndefinedBehaviorSanitizer (-DMOESCALE_SANITIZE=ON)
# in its own build directory and runs the unit tests under them.
#
#   ./scripts/sanitize.sh                          build-asan, the whole project
#   ./scripts/sanitize.sh build-asan-core -DMOESCALE_WITH_TORCH=OFF -DMOESCALE_WITH_CERES=OFF
#                                                  a faster torch-free build
#
# Arguments after the build directory go to cmake. Any ASan or UBSan report fails the test that
# triggered it (undefined behaviour is fatal: -fno-sanitize-recover). Leak checking is on and
# needs no suppressions. JOBS (default 2) sets the build's parallelism.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${1:-build-asan}
shift || true
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMOESCALE_SANITIZE=ON "$@"
cmake --build "$build" -j"${JOBS:-2}"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:check_initialization_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir "$build" -L unit --output-on-failure --timeout 1800
