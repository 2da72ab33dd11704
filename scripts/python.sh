#!/usr/bin/env bash
# Builds and installs the Python package into .venv (Debian's /usr/bin/python3, a virtual
# environment with the system's site-packages for Debian's NumPy; nanobind, scikit-build-core and
# pytest from PyPI, once), checks annforge's exports in PyPI's hnswlib 0.8.0 and faiss-cpu
# (.venv-pypi-peers; needs the CLI in $BUILD_DIR, default build/), then runs its pytest suite.
# With the CUDA backend where scripts/build.sh builds it (ANNFORGE_CUDA, as there). Idempotent
# and quiet when all is there; the build folders under build-python/ make a second run rebuild
# only what changed.
#   scripts/python.sh            build, install, test
#   scripts/python.sh --no-test  build and install only
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

python=/usr/bin/python3
venv=.venv
build_dir=${BUILD_DIR:-build}
if [ ! -x "$venv/bin/python" ]; then
  if ! "$python" -m venv --help >/dev/null 2>&1 || ! "$python" -c 'import ensurepip' >/dev/null 2>&1; then
    echo "python.sh: $python has no venv/ensurepip (Debian: python3-venv; scripts/deps.sh installs it)" >&2
    exit 1
  fi
  "$python" -m venv --system-site-packages "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check -q)
if ! "$venv/bin/python" -c 'import nanobind, scikit_build_core, pytest, numpy' >/dev/null 2>&1; then
  echo "python.sh: installing nanobind, scikit-build-core and pytest into $venv"
  "${pip[@]}" install "nanobind>=2.0" "scikit-build-core>=0.10" pytest
fi

# The CUDA backend where scripts/build.sh would build it (ANNFORGE_CUDA=AUTO|ON|OFF, default
# AUTO; scripts/cuda-env.sh): scikit-build-core then runs CMake 4 (CMAKE_EXECUTABLE) with RAFT's
# folders, in a build folder of its own (a CMake 3 folder cannot be reused by CMake 4).
cuda_mode=${ANNFORGE_CUDA:-AUTO}
source scripts/cuda-env.sh
annforge_cuda_setup "$cuda_mode" || { echo "python.sh: the CUDA backend cannot be built" >&2; exit 1; }
config=(--config-settings="cmake.define.ANNFORGE_CUDA=$cuda_mode")
if [ -n "$ANNFORGE_NVCC" ]; then
  export CMAKE_EXECUTABLE=$ANNFORGE_CUDA_CMAKE
  config+=(--config-settings="cmake.define.CMAKE_CUDA_COMPILER=$ANNFORGE_NVCC"
           --config-settings="cmake.define.CMAKE_PREFIX_PATH=$ANNFORGE_CUDA_PREFIX"
           --config-settings="build-dir=build-python/cuda-{wheel_tag}")
  # The tests check that the package holds the CUDA backend it was built with.
  export ANNFORGE_EXPECT_CUDA=1
else
  export ANNFORGE_EXPECT_CUDA=0
fi

# No build isolation: the build uses the venv's nanobind and scikit-build-core, offline.
"${pip[@]}" install --no-build-isolation --no-deps "${config[@]}" .

if [ "${1:-}" != "--no-test" ]; then
  # The exports in the PyPI releases of the serving libraries too (Debian's 0.6.2 / 1.7.3 are
  # the ctest ExportLoadedInPython's): a venv of their own, since faiss-cpu brings NumPy 2,
  # which Debian's compiled modules in the main venv cannot load. Skipped (with a line saying
  # so) where PyPI cannot be reached.
  peers=.venv-pypi-peers
  if [ ! -x "$peers/bin/python" ]; then "$python" -m venv "$peers"; fi
  peer_pip=("$peers/bin/python" -m pip --disable-pip-version-check -q)
  if ! "$peers/bin/python" -c 'import hnswlib, faiss, numpy' >/dev/null 2>&1; then
    echo "python.sh: installing hnswlib 0.8.0 and faiss-cpu 1.15.1 from PyPI into $peers"
    "${peer_pip[@]}" install "hnswlib==0.8.0" "faiss-cpu==1.15.1" numpy || true
  fi
  if "$peers/bin/python" -c 'import hnswlib, faiss, numpy' >/dev/null 2>&1 && [ -x "$build_dir/annforge" ]; then
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    echo "== python.sh: annforge's exports in PyPI's hnswlib $("$peers/bin/python" -m pip show hnswlib | sed -n 's/^Version: //p') and faiss-cpu $("$peers/bin/python" -m pip show faiss-cpu | sed -n 's/^Version: //p')"
    "$peers/bin/python" tests/export/load_in_python.py "$build_dir/annforge" data "$work"
  else
    echo "python.sh: skipped the PyPI hnswlib / faiss-cpu export check (not installable here, or no $build_dir/annforge)"
  fi
  # From outside the checkout, so that the installed package (not python/annforge) is imported.
  cd python/tests
  "../../$venv/bin/python" -m pytest -q -p no:cacheprovider .
fi
