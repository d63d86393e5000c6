#!/usr/bin/env bash
# Test fixture: the default corpus (Debian's packages, scripts/prepare_corpus.py) tokenized
# with BPE 2048 into OUTDIR. Both steps skip work already done, so reruns take a second.
#   default_corpus.sh BIN_DIR OUTDIR
set -euo pipefail
bin=$1 out=$2
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
/usr/bin/python3 "$root/scripts/prepare_corpus.py" "$out/corpus"
"$bin/moescale" data --input "$out/corpus" --out "$out/data" --vocab-size 2048
