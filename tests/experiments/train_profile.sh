#!/usr/bin/env bash
# `moescale train --profile FILE`: a Chrome trace of steps 5..14 with the step's parts scoped, as
# bench/profile_step.sh reads it (bench/profile_ops.py), and a run that ends as without it.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
"$BIN/markov_shards" "$TMP/data" >/dev/null
args=(--data "$TMP/data" --label tiny --ratio 1 --experts 4 --top-k 1 --context 32 --vocab 64
  --batch-size 4 --width-multiple 1 --tokens $((20 * 4 * 32)) --eval-tokens 256 --log-every 5)
"$BIN/moescale" train "${args[@]}" --out "$TMP/a" --profile "$TMP/trace.json" >"$TMP/a.log" 2>&1 ||
  { cat "$TMP/a.log"; fail "train --profile failed"; }
"$BIN/moescale" train "${args[@]}" --out "$TMP/b" >"$TMP/b.log" 2>&1 || { cat "$TMP/b.log"; fail "train failed"; }
/usr/bin/python3 - "$TMP" <<'PY' || fail "see above"
import json, sys
tmp = sys.argv[1]
t = json.load(open(f"{tmp}/trace.json"))
ev = t["traceEvents"] if isinstance(t, dict) else t
for scope in ("forward", "backward", "clip", "optimizer"):
    n = sum(1 for e in ev if e.get("name") == f"moescale::{scope}")
    assert n == 10, f"moescale::{scope}: {n} events, not one per profiled step (10)"
assert any(e.get("name") == "aten::mm" for e in ev), "no GEMM in the trace"
a, b = (json.load(open(f"{tmp}/{d}/result.json")) for d in "ab")
assert a["val_loss"] == b["val_loss"], (a["val_loss"], b["val_loss"])  # profiling changes nothing
print("trace: 10 steps of each scope; the profiled run ends with the same loss")
PY
/usr/bin/python3 "$HERE/../../bench/profile_ops.py" "$TMP/trace.json" "$TMP/trace.json" \
  >"$TMP/ops.md" || fail "profile_ops.py failed on the trace"
grep -q "| forward | GEMM |" "$TMP/ops.md" || { cat "$TMP/ops.md"; fail "no forward GEMM row"; }
echo "PASS: train --profile writes the trace bench/profile_ops.py reads"
