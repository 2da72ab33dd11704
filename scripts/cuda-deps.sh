#!/usr/bin/env bash
# Installs what the CUDA backend builds with, into .deps/ (ignored): RAFT 26.10 from the
# libraft-cu13 wheel with librmm-cu13 and rapids-logger (pip --no-deps --target: the CUDA Toolkit
# at /usr/local/cuda supplies nvcc and cuBLAS), and CMake 4 from pip, which RAFT's CMake package
# demands. Idempotent and quiet when everything is there. Prints, on its last line, nothing; the
# paths are fixed (see scripts/build.sh):
#   .deps/rapids/{libraft,librmm,rapids_logger}/lib64/cmake   CMAKE_PREFIX_PATH
#   .deps/cmake4/cmake/data/bin/cmake                         CMake 4
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

rapids=.deps/rapids
cmake4=.deps/cmake4
pip_python=${PIP_PYTHON:-python3}

have_rapids() {
  [ -f "$rapids/libraft/lib64/cmake/raft/raft-config.cmake" ] &&
    [ -d "$rapids/librmm/lib64/cmake" ] && [ -d "$rapids/rapids_logger/lib64/cmake" ]
}
have_cmake4() { [ -x "$cmake4/cmake/data/bin/cmake" ]; }

pip_install() {
  if ! "$pip_python" -m pip --version >/dev/null 2>&1; then
    echo "cuda-deps.sh: error: '$pip_python -m pip' is not available; set PIP_PYTHON to a Python with pip" >&2
    exit 1
  fi
  "$pip_python" -m pip install -q --disable-pip-version-check --root-user-action=ignore "$@"
}

if ! have_rapids; then
  echo "cuda-deps.sh: installing RAFT 26.10 wheels (libraft-cu13, librmm-cu13, rapids-logger) into $rapids"
  rm -rf "$rapids"
  pip_install --no-deps --target "$rapids" 'libraft-cu13==26.10.*' 'librmm-cu13==26.10.*' 'rapids-logger==0.3.*'
  have_rapids || { echo "cuda-deps.sh: error: the RAFT wheels installed without their CMake packages" >&2; exit 1; }
fi
if ! have_cmake4; then
  echo "cuda-deps.sh: installing CMake 4 (pip) into $cmake4"
  rm -rf "$cmake4"
  pip_install --target "$cmake4" 'cmake>=4.0,<5'
  have_cmake4 || { echo "cuda-deps.sh: error: pip's cmake has no cmake/data/bin/cmake" >&2; exit 1; }
fi
