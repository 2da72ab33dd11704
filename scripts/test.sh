#!/usr/bin/env bash
# Installs what is missing, builds every target, unpacks the real data sets when ../shared is
# beside the repository, and runs the whole test suite. Exits non-zero when a test fails.
# Environment: BUILD_DIR (default build); ANNFORGE_CUDA=AUTO|ON|OFF (see scripts/build.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build_dir=${BUILD_DIR:-build}
bash scripts/build.sh "$@"
bash scripts/data.sh
# The ctest of the CMake that configured the build (CMake 4 from .deps when CUDA is on).
ctest_bin=$(sed -n 's/^CMAKE_CTEST_COMMAND:INTERNAL=//p' "$build_dir/CMakeCache.txt")
"${ctest_bin:-ctest}" --test-dir "$build_dir" --output-on-failure -j2
