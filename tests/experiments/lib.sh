# Shared helpers for the tests that drive the moescale programs. Source it; $1 of the test
# is the directory of the built programs.
set -euo pipefail
BIN=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/moescale-test-XXXXXX")
[[ -n "${KEEP_TMP:-}" ]] || trap 'rm -rf "$TMP"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# Every column but wall_seconds (timings differ between runs of the same sweep), cells
# unquoted, joined by '|'.
values() {
  /usr/bin/python3 -c 'import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
skip = rows[0].index("wall_seconds")
for r in rows: print("|".join(r[:skip] + r[skip + 1:]))' "$1"
}

# Each run of a sweep directory was trained to the end exactly once, and no launch failed. The
# trainer's own log counts completions: a kill -9 of the sweep between a trainer's exit and the
# sweep's attempts.jsonl line leaves a done run with no "done" attempt, which is not a rerun.
check_done_once() {
  local out=$1 n=0
  for run in "$out"/runs/*/; do
    local done failed
    done=$(grep -c ': done after' "$run/train.log" 2>/dev/null || true)
    failed=$(grep -c '"outcome":"failed"' "$run/attempts.jsonl" 2>/dev/null || true)
    done=${done:-0} failed=${failed:-0}  # no file: no line
    [[ "$done" == 1 ]] || fail "$run trained to the end $done times (log: $(grep -h 'after' "$run/train.log"))"
    [[ "$failed" == 0 ]] || fail "$run failed $failed times"
    n=$((n + 1))
  done
  echo "$n runs done exactly once"
}

# $TMP/bin/moescale-sweep with tests/experiments/fake_train.py as the moescale-train beside
# it (the sweep runs the trainer in its own directory): runs of planted losses in no time.
stand_in_trainer() {
  mkdir -p "$TMP/bin"
  cp "$BIN/moescale-sweep" "$TMP/bin/"
  install -m 755 "$HERE/fake_train.py" "$TMP/bin/moescale-train"
}
