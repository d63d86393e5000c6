#!/usr/bin/env bash
# Switching -DMOESCALE_LIBTORCH in a configured build folder uses the new LibTorch, not the
# cached one: configure once with the LibTorch under another path (a symlink), then with its
# real path, and check where the cached library paths point after each.
#   libtorch_switch.sh SOURCE_DIR TORCH_ROOT
set -euo pipefail
src=$1
torch=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ln -s "$torch" "$tmp/other-torch"
configure() {
  cmake -S "$src" -B "$tmp/build" -G Ninja -DMOESCALE_BUILD_TESTS=OFF -DMOESCALE_BUILD_BENCH=OFF \
    -DMOESCALE_LIBTORCH="$1" >"$tmp/configure.log" 2>&1 || { cat "$tmp/configure.log"; exit 1; }
}
check() {
  local want=$1
  for var in Torch_DIR TORCH_LIBRARY c10_LIBRARY; do
    value=$(sed -n "s/^$var:[A-Z]*=//p" "$tmp/build/CMakeCache.txt")
    [[ "$value" == "$want"/* ]] || { echo "FAIL: $var=$value, expected under $want"; exit 1; }
  done
}
configure "$tmp/other-torch"
check "$tmp/other-torch"
configure "$torch"
grep -q "LibTorch changed from $tmp/other-torch" "$tmp/configure.log" || {
  echo "FAIL: the switch was not noticed"; cat "$tmp/configure.log"; exit 1; }
check "$torch"
echo "PASS: the cached LibTorch follows -DMOESCALE_LIBTORCH"
