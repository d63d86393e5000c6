#!/usr/bin/env bash
# `moescale reproduce --preset smoke`: default corpus -> byte tokenizer -> grid -> sweep -> fits
# -> report, end to end in seconds-scale; then a rerun does nothing again (resumable).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
out=$TMP/smoke
"$BIN/moescale" reproduce --preset smoke --out "$out" >"$TMP/log" 2>&1 || { tail -20 "$TMP/log"; fail "reproduce failed"; }
grep -q "report: $out/sweep/report/report.md" "$TMP/log" || fail "reproduce did not say where the report is"
[[ $(grep -c ',done,' "$out/sweep/results.csv") == 9 ]] || fail "not 9 runs done: $(cat "$out/sweep/results.csv")"
for f in report.md fit.json ratio_curves.png rstar_vs_compute.png frontier.png load_balance.png; do
  [[ -s $out/sweep/report/$f ]] || fail "missing $f"
done
"$BIN/moescale" reproduce --preset smoke --out "$out" >"$TMP/log2" 2>&1 || fail "rerun failed"
grep -q "9 runs, 9 finished, 0 to do" "$TMP/log2" || fail "the rerun did not skip the finished runs"
grep -q "up to date" "$TMP/log2" || fail "the rerun re-tokenized the corpus"
echo "PASS: reproduce --preset smoke end to end, and a rerun skipped everything"
