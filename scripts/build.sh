#!/usr/bin/env bash
# Installs what is missing (scripts/deps.sh; scripts/cuda-deps.sh where nvcc is found), configures
# with CMake + Ninja (Release) and builds every target with one job per core.
#   scripts/build.sh [CMAKE ARGS...]     e.g. scripts/build.sh -DANNFORGE_CUDA=OFF
# Environment: BUILD_DIR (default build, relative to the repository root);
#              ANNFORGE_CUDA=AUTO|ON|OFF (default AUTO): the CUDA backend is built where nvcc is
#              found (CUDA_HOME, default /usr/local/cuda, or PATH), with RAFT and CMake 4 from
#              scripts/cuda-deps.sh; OFF builds the CPU backend alone with the system's CMake.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/deps.sh

build_dir=${BUILD_DIR:-build}
cuda_mode=${ANNFORGE_CUDA:-AUTO}
cmake_bin=cmake
args=("-DANNFORGE_CUDA=${cuda_mode}")

source scripts/cuda-env.sh
annforge_cuda_setup "$cuda_mode" || { echo "build.sh: the CUDA backend cannot be built" >&2; exit 1; }
if [ -n "$ANNFORGE_NVCC" ]; then
  cmake_bin=$ANNFORGE_CUDA_CMAKE
  args+=("-DCMAKE_CUDA_COMPILER=$ANNFORGE_NVCC" "-DCMAKE_PREFIX_PATH=$ANNFORGE_CUDA_PREFIX")
fi
args+=("$@")

# A build folder configured by another CMake (the system's 3.x vs CMake 4 for CUDA) cannot be
# reused: start it afresh.
if [ -f "$build_dir/CMakeCache.txt" ]; then
  cached=$(sed -n 's/^CMAKE_COMMAND:INTERNAL=//p' "$build_dir/CMakeCache.txt")
  wanted=$(command -v "$cmake_bin" || echo "$cmake_bin")
  if [ -n "$cached" ] && [ "$(readlink -f "$cached")" != "$(readlink -f "$wanted")" ]; then
    echo "build.sh: $build_dir was configured by $cached; reconfiguring it with $wanted"
    rm -rf "$build_dir"
  fi
fi

if [ ! -f "$build_dir/CMakeCache.txt" ] || { [ ! -f "$build_dir/build.ninja" ] && [ ! -f "$build_dir/Makefile" ]; }; then
  "$cmake_bin" -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "${args[@]}"
else
  "$cmake_bin" -S . -B "$build_dir" "${args[@]}" >/dev/null
fi

"$cmake_bin" --build "$build_dir" -j "${BUILD_JOBS:-$(nproc)}"
