#!/usr/bin/env bash
# Installs what the build needs on Debian 12 (or a Debian-like system): the compiler and build
# tools (g++; clang with its sanitizer and libFuzzer runtimes for scripts/sanitize.sh),
# GoogleTest, Google Benchmark, hnswlib's headers and FAISS (the peers of bench/, and the
# export tests' loaders, with their Python modules) and NumPy +
# Matplotlib (for bench plots). Idempotent: prints nothing and installs nothing when all
# are present.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

packages=(cmake ninja-build g++ clang libclang-rt-14-dev libgtest-dev libbenchmark-dev libcli11-dev libhdf5-dev libopenmpi-dev openmpi-bin pkgconf libhnswlib-dev libfaiss-dev python3-hnswlib python3-faiss python3-numpy python3-matplotlib python3-venv python3-dev python3-tqdm)

if ! command -v dpkg >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  echo "deps.sh: no dpkg/apt-get here (not Debian-like); install these by hand if missing:" \
       "${packages[*]}" >&2
  exit 0
fi

missing=()
for p in "${packages[@]}"; do
  # dpkg -s also succeeds for removed packages whose configuration files remain: check the status.
  if ! dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "deps.sh: missing packages: ${missing[*]}; not root and no sudo, so install them as root:" >&2
    echo "  apt-get update && apt-get install --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  sudo=(sudo)
fi

echo "deps.sh: installing ${missing[*]}"
apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300)
if ! "${apt[@]}" update -qq; then
  echo "deps.sh: error: 'apt-get update' failed (see above); could not install: ${missing[*]}" >&2
  exit 1
fi
if ! "${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}"; then
  echo "deps.sh: error: 'apt-get install' failed (see above) for: ${missing[*]}" >&2
  exit 1
fi
