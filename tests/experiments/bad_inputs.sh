#!/usr/bin/env bash
# The bad-input catalogue: every subcommand, given input it cannot use, exits with status 2 and
# exactly one line on stderr, "moescale <cmd>: error: ...", that names the input (file, flag,
# column, key) and says what to change. No case may crash (exit status >= 128), dump core or
# run past its timeout. Then: a train that stopped at bad input does not block the corrected
# command, and the one corrupt input that is not an error, a corrupt checkpoint, which
# train --resume reports and falls back from (to an older checkpoint, or to step 0).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
M=$BIN/moescale
cd "$TMP"
mkdir -p out err
CASES=0
FAILED=()

# bad NAME 'fragment naming the input' 'fragment saying what to change' COMMAND...
bad() {
  local name=$1 what=$2 fix=$3 status=0 why=
  shift 3
  [[ -n $what && -n $fix ]] || fail "$name: an empty fragment would match any message"
  CASES=$((CASES + 1))
  timeout -k 5 60 "$@" </dev/null >"out/$name" 2>"err/$name" || status=$?
  local text lines
  text=$(cat "err/$name")
  lines=$(awk 'END { print NR }' "err/$name")
  if ((status == 124 || status == 137)); then
    why="still running after 60 s"
  elif ((status >= 128)); then
    why="killed by signal $((status - 128))"
  elif grep -qiE 'core dumped|terminate called|stack trace|Exception raised from' "err/$name"; then
    why="crash output on stderr"
  elif ((status != 2)); then
    why="exit status $status, expected 2"
  elif ((lines != 1)); then
    why="stderr has $lines lines, expected 1"
  elif [[ $text != "moescale"*": error: "* ]]; then
    why="not a 'moescale <cmd>: error: ...' line"
  elif [[ $text != *"$what"* ]]; then
    why="does not name the input ('$what')"
  elif [[ $text != *"$fix"* ]]; then
    why="does not say what to change ('$fix')"
  fi
  if [[ -n $why ]]; then
    FAILED+=("$name")
    echo "FAIL $name: $why; stderr: $text"
  else
    echo "ok   $name: $text"
  fi
}

# ---- fixtures ---------------------------------------------------------------------------------
"$BIN/markov_shards" data 20000 4000  # vocabulary 64, ids < 48
printf 'The first document.\fThe second one.\n' >good.txt
: >empty.txt
printf 'caf\xe9 au lait\n' >latin1.txt
mkdir -p notext && printf 'x\n' >notext/readme.md
mkdir -p wrongmagic truncated
cp data/train.bin wrongmagic/train.bin
printf 'JUNK' | dd of=wrongmagic/train.bin conv=notrunc status=none
head -c 3000 data/train.bin >truncated/train.bin

# A file that cannot be read: mode 000 where that blocks reading. As root it does not, so there
# a directory of the same name stands in for the file, and the message to expect changes.
if [[ $(id -u) == 0 ]]; then
  echo "note: running as root, where mode 000 does not block reading; 'unreadable' files are directories"
fi
unreadable() {  # unreadable PATH: makes PATH unreadable
  if [[ $(id -u) == 0 ]]; then
    mkdir -p "$1"
  else
    printf 'x\n' >"$1"
    chmod 000 "$1"
  fi
}
# What the message for an unreadable file must say to do: for a mode-000 file, the same for
# every program; for the directory, $1.
unreadable_fix() {
  if [[ $(id -u) == 0 ]]; then echo "$1"; else echo "Permission denied); check the path and its permissions"; fi
}

csv() {  # csv FILE ROW... : results.csv-like columns
  local file=$1
  shift
  {
    echo "run_id,compute,sparsity,ratio_achieved,params_active,tokens,val_loss,status"
    printf '%s\n' "$@"
  } >"$file"
}
rows=()
i=0
for c in 1e15 3e15 1e16; do
  for r in 0.25 0.5 1 2 4; do
    i=$((i + 1))
    n=$(awk -v c="$c" 'BEGIN { printf "%.0f", (c / 6)^0.5 }')
    loss=$(awk -v c="$c" -v r="$r" 'BEGIN { l = log(r / 1.2); printf "%.4f", 3 + 20 * c^-0.1 + 0.05 * l * l }')
    rows+=("r$i,$c,0.8235,$r,$n,$n,$loss,done")
  done
done
csv good.csv "${rows[@]}"
csv nonnumeric.csv "${rows[@]:0:4}" "r99,1e15,0.8235,lots,1000,1000,3.5,done"
csv nan.csv "${rows[@]:0:4}" "r99,1e15,0.8235,1.5,1000,1000,nan,done"
csv nonpositive.csv "${rows[@]:0:4}" "r99,0,0.8235,1.5,1000,1000,3.5,done"
csv few.csv "${rows[@]:0:2}"
csv ragged.csv "${rows[@]:0:4}" "r99,1e15,0.8235"
sed 's/,val_loss,/,loss,/' good.csv >nolosscol.csv
: >empty.csv
unreadable unreadable.csv
unreadable unreadable.txt
mkdir -p sweep-none sweep-nan sweep-nocol sweep-few sweep-empty sweep-unreadable
: >sweep-empty/results.csv
unreadable sweep-unreadable/results.csv
cp nan.csv sweep-nan/results.csv
cp nolosscol.csv sweep-nocol/results.csv
cp few.csv sweep-few/results.csv

base=$'label = 100K\ncontext = 32\nvocab = 64\nbatch-size = 4\neval-tokens = 256'
printf '%s\ncompute = 4e9\nratio = 1\n' "$base" >good.grid
printf '%s\ncompute = 4e9\nratio = 1\nlearning-rate = 0.1\n' "$base" >unknown-key.grid
printf '%s\ncompute = 4e9\nratio = ,\n' "$base" >empty-list.grid
printf '%s\ncompute = 4e9\nratio = 0.5 -1\n' "$base" >impossible.grid
printf '%s\ncompute = 1e3\nratio = 1\n' "$base" >tiny.grid
sed 's/vocab = 64/vocab = 32/' good.grid >small-vocab.grid
printf '%s\ndevice-memory = 64MB\n' "$(cat good.grid)" >too-big.grid

# A tiny run: 20 steps of 4 x 32 tokens; the vocabulary (64) comes from data/meta.json.
T=(--label 100K --context 32 --batch-size 4 --tokens 2560 --eval-tokens 256 --threads 1)
printf '{"model": {}, "tokens": 1000, "learning_rate": 0.1}\n' >unknown-key.json
printf '{"model": {"d_model": \n' >garbage.json
: >empty.json
unreadable unreadable.json

# A run directory with checkpoints at steps 1 and 2, stopped as by SIGINT (exit status 130).
status=0
timeout 120 "$M" train "${T[@]}" --data data --out run --checkpoint-every 1 --stop-at-step 2 \
  >run.log 2>&1 || status=$?
[[ $status == 130 ]] || { cat run.log; fail "the fixture run ended with status $status, not 130"; }
[[ -f run/checkpoints/step-00000001/model.pt && -f run/checkpoints/step-00000002/model.pt ]] ||
  fail "the fixture run has no checkpoints at steps 1 and 2: $(ls -R run)"
cp -r run run-corrupt-config
cp -r run run-all-corrupt
printf '{"model": ' >run-corrupt-config/config.json

# ---- the catalogue ----------------------------------------------------------------------------
# the dispatcher
bad cmd-unknown "'frobnicate'" "moescale --help" "$M" frobnicate
bad cmd-missing "no command" "moescale --help" "$M"
bad cmd-flag "'--frobnicate'" "moescale --help" "$M" --frobnicate

# plan
bad plan-flag "--frobnicate" "moescale plan --help" "$M" plan --compute 1e15 --frobnicate
bad plan-no-compute "--compute is required" "e.g. --compute" "$M" plan --ratio 1
bad plan-width-multiple "--width-multiple 0" "e.g. 8" "$M" plan --compute 1e15 --width-multiple 0
bad plan-not-number "--compute 'lots'" "such as 0.5" "$M" plan --compute lots
bad plan-nan "--compute 'nan'" "finite number, e.g." "$M" plan --compute nan
bad plan-ratio-zero "--ratio 0" "> 0" "$M" plan --compute 1e15 --ratio 0
bad plan-ratio-negative "--ratio -0.5" "> 0" "$M" plan --compute 1e15 --ratio -0.5
bad plan-top-k "--top-k 6" "--experts" "$M" plan --compute 1e15 --experts 4 --top-k 6
bad plan-tiny-budget "--compute 1e+03" "raise --compute" "$M" plan --compute 1e3
bad plan-triad-two "--triad '1e9,1e8'" "e.g. --triad" "$M" plan --triad 1e9,1e8
bad plan-triad-m "M/N_a = 5" "must exceed 6" "$M" plan --triad 5e8,1e8,2e9
bad plan-triad-n "N/N_a = 40" "lower N or use more routed experts" "$M" plan --triad 1e9,1e8,4e9
bad plan-triad-d "--d-model 64" "feasible interval" "$M" plan --triad 9.345e8,1.005e8,2.01e9 --d-model 64
bad plan-triad-kv "--kv-heads 3" "must divide --heads 8" "$M" plan --triad 9.345e8,1.005e8,2.01e9 --kv-heads 3
bad plan-holistic-law "--m-law '1'" "must be two numbers K,A" "$M" plan --holistic 1e19 --m-law 1
bad plan-d-position "--d-position 1.5" "between 0 and 1" "$M" plan --compute 1e12 --label 100K --m-over-na 9 --n-over-na 2 --experts 8 --top-k 1 --d-position 1.5
bad plan-m-law-ratio "--m-law and --d-position" "give --m-over-na and --n-over-na too" "$M" plan --compute 1e12 --m-law 1e3,0.3
bad plan-holistic-huge "need d of" "check the triad or the laws" "$M" plan --holistic 1e19 --m-law 1,2
bad plan-label "--label 3Q" "use" "$M" plan --compute 1e15 --label 3Q
bad plan-hold "--hold sideways" "use flops or active" "$M" plan --compute 1e15 --hold sideways
bad plan-grid-missing "nope.grid" "check the path" "$M" plan --grid nope.grid

# data
bad data-flag "--frobnicate" "moescale data --help" "$M" data --input good.txt --out d1 --frobnicate
bad data-no-input "--input is required" "text to tokenize" "$M" data --out d1
bad data-missing "nope.txt" "--input takes" "$M" data --input nope.txt --out d1
bad data-empty "empty.txt" "nothing to tokenize" "$M" data --input empty.txt --out d1
bad data-no-text "notext" "no *.txt" "$M" data --input notext --out d1
bad data-unreadable "unreadable.txt" "$(unreadable_fix "holds no *.txt file")" "$M" data --input unreadable.txt --out d1
bad data-not-utf8 "latin1.txt" "UTF-8" "$M" data --input latin1.txt --out d1 --tokenizer byte
bad data-tokenizer "--tokenizer wordpiece" "bpe or byte" "$M" data --input good.txt --out d1 --tokenizer wordpiece
bad data-byte-vocab "--vocab-size" "257" "$M" data --input good.txt --out d1 --tokenizer byte --vocab-size 300
bad data-separator "--doc-separator tab" "formfeed or blank-line" "$M" data --input good.txt --out d1 --doc-separator tab
bad data-check-magic "wrongmagic/train.bin" "moescale data" "$M" data --check wrongmagic/train.bin
bad data-check-truncated "truncated/train.bin" "re-create" "$M" data --check truncated/train.bin
bad data-check-range "data/train.bin" "--vocab >=" "$M" data --check data --vocab-size 32

# train
bad train-flag "--frobnicate" "moescale train --help" "$M" train "${T[@]}" --data data --out t1 --frobnicate
bad train-no-out "--out is required" "e.g. --out" "$M" train "${T[@]}" --data data
bad train-no-compute "--compute is required" "--tokens" "$M" train --data data --out t1
bad train-not-number "--lr 'fast'" "such as 0.5" "$M" train "${T[@]}" --data data --out t1 --lr fast
bad train-fused-adamw "--fused-adamw sometimes" "use auto, on or off" "$M" train "${T[@]}" --data data --out t1 --fused-adamw sometimes
bad train-cuda-graph "--cuda-graph always" "use auto, on or off" "$M" train "${T[@]}" --data data --out t1 --cuda-graph always
bad train-cuda-graph-cpu "--cuda-graph on needs a CUDA device" "use --cuda-graph auto or off" "$M" train "${T[@]}" --data data --out t1 --cuda-graph on
bad train-config-missing "nope.json" "check the path" "$M" train --config nope.json --data data --out t1
bad train-config-empty "empty.json" "restore or delete" "$M" train --config empty.json --data data --out t1
bad train-config-unreadable "unreadable.json" "$(unreadable_fix "is a directory, not a file; give the path of the file itself")" "$M" train --config unreadable.json --data data --out t1
bad train-config-garbage "garbage.json" "restore or delete" "$M" train --config garbage.json --data data --out t1
bad train-config-key "'learning_rate'" "remove it" "$M" train --config unknown-key.json --data data --out t1
bad train-data-missing "nope" "--data takes" "$M" train "${T[@]}" --data nope --out t1
bad train-wrong-magic "wrongmagic/train.bin" "moescale data" "$M" train "${T[@]}" --data wrongmagic/train.bin --val-data data/val.bin --out t1
bad train-truncated "truncated/train.bin" "re-create" "$M" train "${T[@]}" --data truncated/train.bin --val-data data/val.bin --out t1
bad train-token-range "data/" "--vocab >= 48" "$M" train "${T[@]}" --vocab 32 --data data --out t1
bad train-glob-no-val "--val-data is required" "held-out" "$M" train "${T[@]}" --data 'data/*.bin' --out t1
bad train-micro-batch "--micro-batch 3" "divide --batch-size" "$M" train "${T[@]}" --data data --out t1 --micro-batch 3
bad train-device "--device tpu" "cpu, cuda" "$M" train "${T[@]}" --data data --out t1 --device tpu
bad train-grouped-gemm "--grouped-gemm maybe" "auto, on or off" "$M" train "${T[@]}" --data data --out t1 --grouped-gemm maybe
bad train-other-config "run holds a run of a different config" "another --out" "$M" train "${T[@]}" --ratio 2 --data data --out run
bad train-corrupt-config "run-corrupt-config/config.json" "delete the run directory" "$M" train "${T[@]}" --data data --out run-corrupt-config --resume
bad train-started "run already holds this run" "--resume" "$M" train "${T[@]}" --data data --out run

# sweep
bad sweep-flag "--frobnicate" "moescale sweep --help" "$M" sweep --grid good.grid --data data --out s1 --frobnicate
bad sweep-no-grid "--grid is required" "e.g. --grid" "$M" sweep --data data --out s1
bad sweep-grid-missing "nope.grid" "check the path" "$M" sweep --grid nope.grid --data data --out s1
bad sweep-unknown-key "unknown key 'learning-rate'" "moescale sweep --help" "$M" sweep --grid unknown-key.grid --data data --out s1
bad sweep-empty-list "ratio is an empty list" "give at least one value" "$M" sweep --grid empty-list.grid --data data --out s1
bad sweep-impossible "ratio=-1" "> 0" "$M" sweep --grid impossible.grid --data data --out s1
bad sweep-tiny-budget "tiny.grid" "raise --compute" "$M" sweep --grid tiny.grid --data data --out s1
bad sweep-data-missing "nope" "--data takes" "$M" sweep --grid good.grid --data nope --out s1
bad sweep-token-range "data/" "--vocab >= 48" "$M" sweep --grid small-vocab.grid --data data --out s1
bad sweep-devices "--devices tpu" "use cpu or cuda" "$M" sweep --grid good.grid --data data --out s1 --devices tpu
bad sweep-memory "cannot fit 61 MiB per device" "set nproc-per-node, micro-batch or checkpoint-activations" "$M" sweep --grid too-big.grid --data data --out s1
bad plan-device-memory "--device-memory 'lots'" "80GB" "$M" plan --compute 1e15 --device-memory lots

# fit
bad fit-law "unknown law 'fancy'" "use power" "$M" fit fancy --input good.csv
bad fit-flag "--frobnicate" "moescale fit --help" "$M" fit power --input good.csv --frobnicate
bad fit-no-input "--input is required" "e.g. --input" "$M" fit power
bad fit-missing "nope.csv" "check the path" "$M" fit power --input nope.csv
bad fit-empty "empty.csv" "expected a CSV header" "$M" fit power --input empty.csv
bad fit-directory "sweep-none" "give the CSV file" "$M" fit power --input sweep-none
bad fit-unreadable "unreadable.csv" "$(unreadable_fix "is a directory; give the CSV file inside it")" "$M" fit power --input unreadable.csv
bad fit-not-number "nonnumeric.csv: line 6, column ratio_achieved" "correct the cell or delete the row" "$M" fit isoflop --input nonnumeric.csv
bad fit-nan "nan.csv: line 6, column val_loss" "correct the cell or delete the row" "$M" fit isoflop --input nan.csv
bad fit-no-column "no column val_loss" "--column loss=NAME" "$M" fit power --input nolosscol.csv
bad fit-nonpositive "nonpositive.csv: line 6, column compute" "must be > 0" "$M" fit power --input nonpositive.csv
bad fit-few-points "few.csv: power: 2 points" "give at least 3" "$M" fit power --input few.csv
bad fit-named-column "no column lossy for role loss" "--column loss=NAME" "$M" fit power --input good.csv --column loss=lossy
bad fit-ragged "ragged.csv: line 6" "header has 8 columns" "$M" fit power --input ragged.csv
bad fit-where "--where sparsity=0.5" "holds 0.8235" "$M" fit isoflop --input good.csv --where sparsity=0.5
bad fit-role "--column Q=foo" "roles are" "$M" fit power --input good.csv --column Q=foo
bad fit-seed "--seed -1" "non-negative integer" "$M" fit power --input good.csv --seed=-1

# report
bad report-flag "--frobnicate" "moescale report --help" "$M" report sweep-none --frobnicate
bad report-no-dir "--sweep is required" "moescale report" "$M" report
bad report-missing-dir "nope/results.csv" "moescale sweep --out nope" "$M" report nope
bad report-no-results "sweep-none/results.csv" "moescale sweep --out sweep-none" "$M" report sweep-none
bad report-empty "sweep-empty/results.csv" "expected a CSV header" "$M" report sweep-empty --no-figures
bad report-unreadable "sweep-unreadable/results.csv" "$(unreadable_fix "is a directory; give the CSV file inside it")" "$M" report sweep-unreadable --no-figures
bad report-nan "sweep-nan/results.csv: line 6, column val_loss" "correct the cell or delete the row" "$M" report sweep-nan --no-figures
bad report-no-column "sweep-nocol/results.csv: no column val_loss" "rerun the sweep" "$M" report sweep-nocol --no-figures
bad report-few-runs "sweep-few/results.csv" "let the sweep finish" "$M" report sweep-few --no-figures

# reproduce
bad repro-flag "--frobnicate" "moescale reproduce --help" "$M" reproduce --frobnicate
bad repro-preset "--preset huge" "use one of" "$M" reproduce --preset huge --out p1
bad repro-gpu-on-cpu "--preset gpu-small" "--device cuda" "$M" reproduce --preset gpu-small --device cpu --out p1
bad repro-paper-unconfirmed "--preset paper costs about" "rerun with --yes" "$M" reproduce --preset paper --out p1
bad repro-data-missing "nope/meta.json" "check the path" "$M" reproduce --preset smoke --data nope --out p1
bad repro-corpus-not-utf8 "latin1.txt" "UTF-8" "$M" reproduce --preset smoke --corpus latin1.txt --out p2

# ---- after bad input, the corrected command runs -------------------------------------------------
# The train cases above stopped at their input in t1, one of them (train-token-range) after
# writing t1/config.json; a different, good config may still use t1.
[[ -f t1/config.json ]] || fail "no train case left t1/config.json, so the next check tests nothing"
status=0
timeout 120 "$M" train "${T[@]}" --data data --out t1 --stop-at-step 1 >t1.out 2>t1.err || status=$?
[[ $status == 130 ]] || fail "the corrected run in t1 ended with status $status: $(cat t1.err)"
echo "ok   retry-after-bad-input: t1 trained once the input was fixed"

# ---- a corrupt checkpoint is reported and skipped, not an error ------------------------------
# The newest checkpoint's model.pt is overwritten: --resume names it, falls back to step 1 and
# finishes the run (exit status 0).
printf 'not a tensor' | dd of=run/checkpoints/step-00000002/model.pt conv=notrunc status=none
status=0
timeout 120 "$M" train "${T[@]}" --data data --out run --resume >resume.out 2>resume.err || status=$?
[[ $status == 0 ]] || { cat resume.err; fail "resume past a corrupt checkpoint: exit status $status"; }
grep -qF "checkpoint run/checkpoints/step-00000002 is corrupt (model.pt checksum mismatch); trying an older one" resume.err ||
  fail "the corrupt checkpoint was not reported: $(cat resume.err)"
grep -qF "resuming run from step-00000001" resume.err || fail "did not resume from step 1: $(cat resume.err)"
grep -q '"status": "done"' run/result.json || fail "the resumed run is not done: $(cat run/result.json)"
echo "ok   corrupt-checkpoint: reported, resumed from the older one, done"
# Every checkpoint corrupt: each is named, and the run restarts from step 0 and finishes.
printf '{"step": ' >run-all-corrupt/checkpoints/step-00000001/state.json
printf '{"step": ' >run-all-corrupt/checkpoints/step-00000002/state.json
status=0
timeout 120 "$M" train "${T[@]}" --data data --out run-all-corrupt --resume >all.out 2>all.err || status=$?
[[ $status == 0 ]] || { cat all.err; fail "resume with every checkpoint corrupt: exit status $status"; }
for step in 1 2; do
  grep -qF "checkpoint run-all-corrupt/checkpoints/step-0000000$step is corrupt (run-all-corrupt/checkpoints/step-0000000$step/state.json: not valid JSON" all.err ||
    fail "corrupt checkpoint $step was not reported: $(cat all.err)"
done
grep -qF "no usable checkpoint in run-all-corrupt/checkpoints: restarting from scratch" all.err ||
  fail "the restart from scratch was not reported: $(cat all.err)"
grep -q '"status": "done"' run-all-corrupt/result.json || fail "the restarted run is not done"
echo "ok   every-checkpoint-corrupt: each reported, restarted from scratch, done"

echo "$CASES bad inputs, ${#FAILED[@]} failed${FAILED[*]:+: ${FAILED[*]}}"
((${#FAILED[@]} == 0)) || fail "${#FAILED[@]} of $CASES bad inputs misbehaved"
echo "PASS"
