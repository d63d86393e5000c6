#!/usr/bin/env bash
# A bad grid fails before any run starts, with exit status 2 and one line naming the entry.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
"$BIN/markov_shards" "$TMP/data"
expect() {  # expect NAME 'grid text' 'message part'
  local name=$1 text=$2 want=$3 status=0
  printf '%s\n' "$text" >"$TMP/$name.grid"
  "$BIN/moescale" sweep --grid "$TMP/$name.grid" --data "$TMP/data" --out "$TMP/$name" \
    2>"$TMP/$name.err" >/dev/null || status=$?
  [[ $status == 2 ]] || fail "$name: exit status $status, expected 2"
  [[ $(wc -l <"$TMP/$name.err") == 1 ]] || fail "$name: stderr is not one line: $(cat "$TMP/$name.err")"
  grep -qF -- "$want" "$TMP/$name.err" || fail "$name: '$(cat "$TMP/$name.err")' lacks '$want'"
  [[ ! -d "$TMP/$name/runs" ]] || fail "$name: a run directory was created"
  echo "ok $name: $(cat "$TMP/$name.err")"
}
base=$'label = 100K\ncontext = 32\nvocab = 64\nbatch-size = 4\neval-tokens = 2048'
expect unknown-key "$base"$'\ncompute = 4e9\nratio = 1\nlearning-rate = 0.1' "unknown key 'learning-rate'"
expect empty-list "$base"$'\ncompute = 4e9\nratio = ,' "ratio is an empty list"
expect no-compute "$base"$'\nratio = 1' "compute is missing"
expect bad-number "$base"$'\ncompute = 4e9 lots\nratio = 1' "compute = 'lots' is not a number"
expect impossible "$base"$'\ncompute = 4e9\nratio = 0.5 -1' "run compute=4e+09 experts=16 ratio=-1 label=100K seed=0 is impossible"
expect top-k "$base"$'\ncompute = 4e9\nratio = 1\nexperts = 4\ntop-k = 6' "--top-k 6 exceeds the 4 routed experts"
expect tiny-budget "$base"$'\ncompute = 1e3\nratio = 1' "less than one step"
expect both-axes "$base"$'\ncompute = 4e9\nratio = 1\nsparsity = 0.8235\nexperts = 16' "sparsity or experts, not both"
expect vocab "label = 100K"$'\ncontext = 32\nvocab = 16\ncompute = 4e9\nratio = 1' "vocab"
echo "PASS"
