#!/usr/bin/env bash
# README's first command: install what is missing, build, run the main job.
#   ./scripts/reproduce.sh                     the CPU demo (preset cpu-tiny), <= 15 minutes
#   ./scripts/reproduce.sh --preset gpu-small --device cuda     any `moescale reproduce` flags
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./scripts/setup.sh
./scripts/build.sh
exec build/bin/moescale reproduce "$@"
