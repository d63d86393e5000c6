#!/usr/bin/env bash
# The data layer's benchmark (bench/RESULTS.md, "Data: tokenizer and shard reader").
#   bench/bench_data.sh [BUILD_DIR] [WORK_DIR]
# Prepares the default corpus and its BPE 8192 shards (timed, from scratch), measures the
# tokenizer's throughput on it with 1 and 2 threads, then writes a 1 GB shard of random ids
# under WORK_DIR (default /tmp/moescale-bench; deleted at the end) and measures the reader.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${1:-build}
work=${2:-/tmp/moescale-bench}
bin=$build/bin
mkdir -p "$work"
trap 'rm -f "$work/shard_1g.bin"' EXIT

echo "## machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
rm -rf "$work/corpus" "$work/data"
/usr/bin/time -f "prepare_corpus: %e s wall, peak RSS %M KB" scripts/prepare_corpus.py "$work/corpus"
/usr/bin/time -f "moescale data: %e s wall, peak RSS %M KB" \
  "$bin/moescale-data" --input "$work/corpus" --out "$work/data" --vocab-size 8192
"$bin/moescale-data" --input "$work/corpus" --out "$work/data" --vocab-size 8192  # cached
du -b "$work"/corpus/*.txt | awk '{s += $1} END {printf "corpus: %.1f MB\n", s / 1e6}'

for threads in 1 2; do
  "$bin/bench_data" tokenize --model "$work/data/tokenizer.model" --threads "$threads" \
    "$work"/corpus/*.txt
done
"$bin/bench_data" tokenize --byte --threads 1 "$work"/corpus/*.txt
"$bin/bench_data" compare-bpe --model "$work/data/tokenizer.model" "$work"/corpus/*.txt

"$bin/bench_data" make-shard "$work/shard_1g.bin" --gb 1 --vocab 8192
"$bin/bench_data" read "$work/shard_1g.bin" --mode vocab
"$bin/bench_data" read "$work/shard_1g.bin" --mode windows --context 1024 --batch 16 --windows 524288
"$bin/bench_data" read "$work/shard_1g.bin" --mode windows --context 256 --batch 64 --windows 1000000
"$bin/bench_data" read "$work/shard_1g.bin" --mode mmap-all
