#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz) with clang, ASan and UBSan in a build directory of
# their own, runs each for SECONDS seconds in one process, and prints per harness the executions
# run, the corpus size and any crash (its input is kept under BUILD/artifacts/<harness>/).
#
#   bench/fuzz.sh [BUILD] [SECONDS]        defaults: build-fuzz 60
#
# The corpus a run grows is BUILD/corpus/<harness>, seeded from tests/fuzz/corpus/<harness> and
# the kept inputs in tests/fuzz/regressions/<harness> (both only read). Exit status 1 when any
# harness crashed. Needs clang++ and libclang-rt-dev (libFuzzer, sanitizer runtimes).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build-fuzz}
seconds=${2:-60}
harnesses=(shard grid train_config csv)

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DMOESCALE_FUZZ=ON -DMOESCALE_WITH_TORCH=OFF -DMOESCALE_WITH_CERES=OFF \
  -DMOESCALE_WITH_SENTENCEPIECE=OFF -DMOESCALE_BUILD_TESTS=OFF -DMOESCALE_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j2 --target "${harnesses[@]/#/fuzz_}"

build=$(cd "$build" && pwd)
export TMPDIR="$build/tmp"  # the harnesses' scratch files
mkdir -p "$TMPDIR"
status=0
summary=()
for name in "${harnesses[@]}"; do
  corpus="$build/corpus/$name"
  artifacts="$build/artifacts/$name/"
  log="$build/fuzz_$name.log"
  mkdir -p "$corpus" "$artifacts"
  echo "== fuzz_$name: $seconds s"
  rc=0
  "$build/bin/fuzz_$name" "$corpus" "$root/tests/fuzz/corpus/$name" \
    "$root/tests/fuzz/regressions/$name" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  files=$(find "$corpus" -type f | wc -l)
  crash=$(grep -m1 -E '^(==[0-9]+==ERROR|SUMMARY: |fuzz_[a-z_]+: defect|.*runtime error:)' "$log" \
            || true)
  kept=$(find "$artifacts" -type f | sort | tr '\n' ' ')
  line="fuzz_$name: ${execs:-?} executions, corpus $files files"
  if [[ $rc -ne 0 ]]; then
    status=1
    line+=", CRASH: ${crash:-exit status $rc} (input: ${kept:-none kept}; log: $log)"
  else
    line+=", no crash"
  fi
  echo "$line"
  summary+=("$line")
done
echo
echo "== summary"
printf '%s\n' "${summary[@]}"
exit $status
