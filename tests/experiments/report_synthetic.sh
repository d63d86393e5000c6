#!/usr/bin/env bash
# moescale report on a synthetic sweep directory with a planted r*(C, S): every figure file,
# report.md's numbers equal to fit.json's, and the planted law recovered; a sweep whose r* lies
# above its ratios is reported as such; the load-balance series merges short logging windows.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
/usr/bin/python3 "$HERE/synthetic_sweep.py" make "$TMP/sweep"
"$BIN/moescale" report "$TMP/sweep" --bootstrap 100 >/dev/null || fail "moescale report failed"
/usr/bin/python3 "$HERE/synthetic_sweep.py" check "$TMP/sweep"
/usr/bin/python3 "$HERE/synthetic_sweep.py" make-edge "$TMP/edge"
"$BIN/moescale" report "$TMP/edge" --bootstrap 20 >/dev/null || fail "moescale report (edge) failed"
/usr/bin/python3 "$HERE/synthetic_sweep.py" check-edge "$TMP/edge"
/usr/bin/python3 "$HERE/synthetic_sweep.py" check-load "$TMP/load"
