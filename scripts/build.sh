#!/usr/bin/env bash
# Installs what is missing (scripts/deps.sh), configures with CMake + Ninja (Release) and builds
# every target with one job per core.
#   scripts/build.sh [CMAKE ARGS...]     e.g. scripts/build.sh -DANNFORGE_CUDA=OFF
# Environment: BUILD_DIR (default build, relative to the repository root);
#              ANNFORGE_CUDA=AUTO|ON|OFF, passed to CMake as -DANNFORGE_CUDA=... when set.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/deps.sh

build_dir=${BUILD_DIR:-build}
args=()
[ -n "${ANNFORGE_CUDA:-}" ] && args+=("-DANNFORGE_CUDA=${ANNFORGE_CUDA}")
args+=("$@")

# Configure when the build folder has never been configured, or when settings are given. Otherwise
# the build itself re-runs CMake whenever a CMakeLists.txt or cmake/ file changes, and cached
# settings (e.g. ANNFORGE_CUDA) stay as they were.
if [ ! -f "$build_dir/CMakeCache.txt" ] || { [ ! -f "$build_dir/build.ninja" ] && [ ! -f "$build_dir/Makefile" ]; }; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "${args[@]}"
elif [ ${#args[@]} -gt 0 ]; then
  cmake -S . -B "$build_dir" "${args[@]}"
fi

cmake --build "$build_dir" -j "$(nproc)"
