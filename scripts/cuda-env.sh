#!/usr/bin/env bash
# Sourced by scripts/build.sh and scripts/python.sh: where the CUDA backend can be built, finds
# nvcc and installs RAFT and CMake 4 (scripts/cuda-deps.sh), so that the CLI's build and the
# Python package's build decide alike. After `annforge_cuda_setup MODE` (AUTO, ON or OFF):
#   ANNFORGE_NVCC         nvcc's path, or empty where the CUDA backend is not built
#   ANNFORGE_CUDA_CMAKE   CMake 4 (RAFT's CMake package needs it), or empty
#   ANNFORGE_CUDA_PREFIX  the RAFT, RMM and rapids-logger CMake folders (CMAKE_PREFIX_PATH), or empty
# MODE ON without nvcc is an error (exit 1); AUTO without it builds the CPU backend alone.
annforge_cuda_setup() {
  local mode=$1 root cuda_home
  ANNFORGE_NVCC=""
  ANNFORGE_CUDA_CMAKE=""
  ANNFORGE_CUDA_PREFIX=""
  [ "$mode" = "OFF" ] && return 0
  cuda_home=${CUDA_HOME:-/usr/local/cuda}
  if [ -x "$cuda_home/bin/nvcc" ]; then
    ANNFORGE_NVCC="$cuda_home/bin/nvcc"
  elif command -v nvcc >/dev/null 2>&1; then
    ANNFORGE_NVCC=$(command -v nvcc)
  fi
  if [ -z "$ANNFORGE_NVCC" ]; then
    if [ "$mode" = "ON" ]; then
      echo "cuda-env.sh: error: ANNFORGE_CUDA=ON but no nvcc was found (set CUDA_HOME or put nvcc on PATH)" >&2
      return 1
    fi
    return 0
  fi
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  bash "$root/scripts/cuda-deps.sh"
  ANNFORGE_CUDA_CMAKE="$root/.deps/cmake4/cmake/data/bin/cmake"
  ANNFORGE_CUDA_PREFIX="$root/.deps/rapids/libraft/lib64/cmake;$root/.deps/rapids/librmm/lib64/cmake;$root/.deps/rapids/rapids_logger/lib64/cmake"
}
