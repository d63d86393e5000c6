#!/usr/bin/env bash
# A few hundred steps on the default corpus with a tiny MoE bring the validation loss well
# below the unigram entropy of the corpus (computed here from the training shard).
#   train_default_corpus.sh BIN_DIR DATA_DIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
data=$(cd "$2" && pwd)
"$BIN/moescale" train --data "$data" --out "$TMP/run" --label tiny --ratio 1 --experts 8 \
  --top-k 1 --shared 1 --tokens $((300 * 16 * 128)) --eval-tokens 32768 --threads 1 \
  >"$TMP/log" 2>&1 || { tail -5 "$TMP/log"; fail "training failed"; }
/usr/bin/python3 - "$data" "$TMP/run" <<'PY'
import json, math, sys
import numpy as np
data, run = sys.argv[1], sys.argv[2]
with open(f"{data}/train.bin", "rb") as f:
    header = np.frombuffer(f.read(1024), dtype="<i4")
    tokens = np.frombuffer(f.read(), dtype="<u2")
assert header[0] == 20240520 and header[2] == len(tokens), "unexpected shard header"
p = np.bincount(tokens).astype(np.float64) / len(tokens)
p = p[p > 0]
entropy = float(-(p * np.log(p)).sum())
result = json.load(open(f"{run}/result.json"))
val = result["val_loss"]
steps = result["steps"]
print(f"unigram entropy {entropy:.3f} nats; val loss after {steps} steps {val:.3f} nats")
if result["status"] != "done" or steps != 300:
    sys.exit(f"FAIL: run {result['status']} after {steps} steps")
if not val < entropy - 0.5:
    sys.exit(f"FAIL: val loss {val:.3f} is not well below the unigram entropy {entropy:.3f}")
print("PASS")
PY
