#!/usr/bin/env bash
# Installs every package that moescale's build, tests, corpus and figures need: Debian packages,
# and LibTorch as PyPI's torch wheel (pinned in scripts/requirements-torch.txt) in the project's
# virtual environment .venv. Idempotent: what is installed is left alone, and when everything is
# present it does nothing (no apt-get update, no pip). Uses sudo when not run as root.
#
#   ./scripts/setup.sh            build + tests + default corpus + figures
#   ./scripts/setup.sh --bench    also clang (fuzzing), scipy and hyperfine (benchmarks)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# LibTorch: the pinned torch wheel in .venv (README "Building against your own LibTorch" for others).
install_torch() {
  local pinned
  pinned=$(sed -n 's/^torch==//p' scripts/requirements-torch.txt)
  if .venv/bin/python -c "import sys, numpy, torch; sys.exit(torch.__version__.split('+')[0] != '$pinned')" \
      2>/dev/null; then
    echo "setup: torch $pinned present in .venv"
    return
  fi
  echo "setup: installing torch $pinned (PyPI, CUDA build, ~5 GB) into .venv"
  [[ -x .venv/bin/python ]] || /usr/bin/python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r scripts/requirements-torch.txt
}

packages=(
  # build
  build-essential cmake ninja-build ccache pkg-config git
  # libraries (see README "Dependencies")
  python3-venv libceres-dev libfmt-dev catch2 libboost-program-options-dev
  nlohmann-json3-dev nettle-dev libsentencepiece-dev libopenblas0-pthread
  # headers of Gloo, whose code the torch wheel carries (runs of several CPU ranks)
  libgloo-dev
  # default corpus: real English prose from Debian's archive (README "Data")
  bible-kjv-text bible-kjv dict-gcide linux-doc-6.1
  # figures
  python3-matplotlib python3-numpy
  # local single-node Slurm for the job-array test
  slurm-wlm munge
)
if [[ "${1:-}" == "--bench" ]]; then
  packages+=(python3-scipy clang libclang-rt-14-dev hyperfine)
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup: all ${#packages[@]} Debian packages present"
  install_torch
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 2; }
  sudo="sudo"
fi
echo "setup: installing ${#missing[@]} packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# OpenBLAS as the system BLAS/LAPACK for Ceres (the fitter): its GEMMs run ~3.7x faster than ATLAS.
for alt in libblas.so.3-x86_64-linux-gnu liblapack.so.3-x86_64-linux-gnu; do
  target=$(update-alternatives --list "$alt" 2>/dev/null | grep openblas-pthread | head -n1 || true)
  [[ -z "$target" ]] || $sudo update-alternatives --set "$alt" "$target" >/dev/null
done
install_torch
echo "setup: done"
