#!/usr/bin/env bash
# `moescale train --nproc-per-node 2 --device cpu`: two ranks over Gloo train as one process that
# accumulates the same two micro-batches (--micro-batch B/2); a stop and a resume from the
# sharded checkpoint give the uninterrupted run bit for bit; a resume with another rank count
# is refused in one line; a killed rank ends the run cleanly (no hang) with a checkpoint that
# resumes; the bad rank counts are refused before any rank starts.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
"$BIN/markov_shards" "$TMP/data" >/dev/null
args=(--data "$TMP/data" --label tiny --ratio 1 --experts 4 --top-k 2 --context 32 --vocab 64
  --batch-size 8 --width-multiple 1 --eval-tokens 512 --log-every 5 --eval-every 10)
short=("${args[@]}" --tokens $((40 * 8 * 32)))
T=$BIN/moescale-train

# Two run directories hold the same run: every metrics line equal but its timings, and the
# same final validation loss.
same_run() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import json, sys
drop = lambda l: {k: v for k, v in l.items() if k not in ("tokens_per_s", "mfu")}
rd = lambda d: [drop(json.loads(l)) for l in open(f"{d}/metrics.jsonl")]
a, b = sys.argv[1:3]
assert rd(a) == rd(b), f"{a} and {b}: the metrics differ"
va, vb = (json.load(open(f"{d}/result.json"))["val_loss"] for d in (a, b))
assert va == vb, (va, vb)
PY
}

"$T" "${short[@]}" --out "$TMP/one" --micro-batch 4 >"$TMP/one.log" 2>&1 || { cat "$TMP/one.log"; fail "one rank"; }
"$T" "${short[@]}" --out "$TMP/two" --nproc-per-node 2 >"$TMP/two.log" 2>&1 || { cat "$TMP/two.log"; fail "two ranks"; }
# The same experiment: the same run id, both ranks' micro-batches in every number.
grep -q "micro_batch_size\": 4" "$TMP/two/config.json" || fail "two ranks of 8 sequences: micro-batch 4"
/usr/bin/python3 - "$TMP" <<'PY' || fail "see above"
import json, sys
tmp = sys.argv[1]
rd = lambda d: [json.loads(l) for l in open(f"{tmp}/{d}/metrics.jsonl")]
one, two = rd("one"), rd("two")
assert len(one) == len(two) == 8, (len(one), len(two))
worst = 0.0
for a, b in zip(one, two):
    for k in ("train_loss", "aux_loss", "z_loss", "grad_norm", "val_loss"):
        if k in a:
            rel = abs(a[k] - b[k]) / abs(a[k])
            worst = max(worst, rel)
            assert rel < 1e-5, (a["step"], k, a[k], b[k])
    assert a["tokens_per_expert"] == b["tokens_per_expert"], a["step"]  # both ranks' routing
ra, rb = (json.load(open(f"{tmp}/{d}/result.json")) for d in ("one", "two"))
assert ra["run_id"] == rb["run_id"], (ra["run_id"], rb["run_id"])
print(f"two ranks = one process with two micro-batches: worst relative difference {worst:.1e}")
PY
ls "$TMP/two/checkpoints/"step-*/optimizer-1-of-2.pt >/dev/null || fail "no shard of rank 1"
# Buckets of 4 KiB: sums start during the backward, as each bucket's gradients are done, and
# the gradients a rank does not own are dropped there. The same numbers as one bucket.
MOESCALE_BUCKET_BYTES=4096 "$T" "${short[@]}" --out "$TMP/buckets" --nproc-per-node 2 >"$TMP/bk.log" 2>&1 ||
  { cat "$TMP/bk.log"; fail "two ranks, small buckets"; }
same_run "$TMP/two" "$TMP/buckets" || fail "4 KiB buckets changed the run"
echo "4 KiB buckets summed during the backward: the same run, bit for bit"

# Stop at step 13 and resume: the uninterrupted two-rank run, bit for bit.
set +e
"$T" "${short[@]}" --out "$TMP/resumed" --nproc-per-node 2 --stop-at-step 13 >"$TMP/r1.log" 2>&1
code=$?
set -e
[[ $code -eq 130 && -d "$TMP/resumed/checkpoints/step-00000013" ]] ||
  { cat "$TMP/r1.log"; fail "stop at 13: exit $code"; }
# The same run on one rank cannot read AdamW's shards: one line, exit 2.
set +e
"$T" "${short[@]}" --out "$TMP/resumed" --micro-batch 4 --resume >"$TMP/r2.log" 2>&1
code=$?
set -e
[[ $code -eq 2 ]] || { cat "$TMP/r2.log"; fail "a resume with one rank exited $code, not 2"; }
grep -q "written by 2 rank(s); this run has 1: resume it with --nproc-per-node 2" "$TMP/r2.log" ||
  { cat "$TMP/r2.log"; fail "no line naming the rank counts"; }
"$T" "${short[@]}" --out "$TMP/resumed" --nproc-per-node 2 --resume >"$TMP/r3.log" 2>&1 ||
  { cat "$TMP/r3.log"; fail "resume with two ranks"; }
same_run "$TMP/two" "$TMP/resumed" || fail "the resumed two-rank run differs from the uninterrupted one"
echo "stopped at 13 and resumed from the shards: bit for bit"

# A rank killed mid-run: the launcher ends the run in seconds, names the rank, and the last
# checkpoint resumes.
long=("${args[@]}" --tokens $((4000 * 8 * 32)) --checkpoint-every 20)
"$T" "${long[@]}" --out "$TMP/killed" --nproc-per-node 2 >"$TMP/k1.log" 2>&1 &
launcher=$!
for _ in $(seq 600); do
  compgen -G "$TMP/killed/checkpoints/step-*" >/dev/null && break
  sleep 0.1
done
rank1=$(pgrep -P "$launcher" | while read -r p; do grep -qz MOESCALE_RANK=1 /proc/$p/environ && echo "$p"; done)
[[ -n "$rank1" ]] || fail "no rank 1 under the launcher"
kill -9 "$rank1"
start=$(date +%s)
set +e
wait "$launcher"
code=$?
set -e
took=$(( $(date +%s) - start ))
[[ $code -ne 0 ]] || fail "the run ended 0 with a killed rank"
(( took <= 30 )) || fail "the run took ${took}s to end after a rank died"
grep -q "rank 1 of 2 was killed by signal 9; the other ranks were stopped" "$TMP/k1.log" ||
  { cat "$TMP/k1.log"; fail "no line naming the killed rank"; }
set +e
"$T" "${long[@]}" --out "$TMP/killed" --nproc-per-node 2 --resume --stop-at-step 60 >"$TMP/k2.log" 2>&1
code=$?
set -e
[[ $code -eq 130 ]] || { cat "$TMP/k2.log"; fail "resume after a killed rank: exit $code"; }
grep -q "resuming .* from step-" "$TMP/k2.log" || { cat "$TMP/k2.log"; fail "did not resume from a checkpoint"; }
echo "a killed rank: the run ended after ${took}s, then resumed from its checkpoint"

# A sweep's run of two ranks: launched, done, in results.csv.
cat >"$TMP/ranks.grid" <<'GRID'
label = tiny
context = 32
vocab = 64
experts = 4
top-k = 2
width-multiple = 1
batch-size = 8
eval-tokens = 512
compute = 2e10
ratio = 1
nproc-per-node = 2
GRID
"$BIN/moescale" sweep --grid "$TMP/ranks.grid" --data "$TMP/data" --out "$TMP/sweep" >"$TMP/sw.log" 2>&1 ||
  { cat "$TMP/sw.log"; fail "a sweep of a two-rank run"; }
compgen -G "$TMP/sweep/runs/*/rank-1.log" >/dev/null || fail "the sweep's run did not start two ranks"
grep -q ",done," "$TMP/sweep/results.csv" || { cat "$TMP/sweep/results.csv"; fail "no done row"; }
echo "a sweep's two-rank run: done"

# Bad rank counts: one line each, before any rank starts.
set +e
"$T" "${short[@]}" --out "$TMP/bad" --nproc-per-node 3 >"$TMP/b.log" 2>&1
code=$?
set -e
[[ $code -eq 2 && $(wc -l <"$TMP/b.log") -le 2 ]] || { cat "$TMP/b.log"; fail "--nproc-per-node 3 of 8"; }
grep -q "must split into --nproc-per-node 3 ranks" "$TMP/b.log" || { cat "$TMP/b.log"; fail "message"; }
echo "PASS: two CPU ranks train as one process, resume from shards, survive a killed rank"
