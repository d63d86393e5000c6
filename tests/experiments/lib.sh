# Shared helpers for the tests that drive the moescale programs. Source it; $1 of the test
# is the directory of the built programs.
set -euo pipefail
BIN=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/moescale-test-XXXXXX")
trap 'rm -rf "$TMP"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# Every column but wall_seconds (timings differ between runs of the same sweep).
values() { cut -d, -f1-21 "$1"; }

# Each run of a sweep directory has exactly one launch that ended done, and none that failed.
check_done_once() {
  local out=$1 n=0
  for run in "$out"/runs/*/; do
    local done failed
    done=$(grep -c '"outcome":"done"' "$run/attempts.jsonl" || true)
    failed=$(grep -c '"outcome":"failed"' "$run/attempts.jsonl" || true)
    [[ "$done" == 1 ]] || fail "$run finished $done times (attempts: $(cat "$run/attempts.jsonl"))"
    [[ "$failed" == 0 ]] || fail "$run failed $failed times"
    n=$((n + 1))
  done
  echo "$n runs done exactly once"
}
