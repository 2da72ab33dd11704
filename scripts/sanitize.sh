#!/usr/bin/env bash
# The checking build: the CPU library, CLI, test suite and libFuzzer harnesses compiled by clang
# with AddressSanitizer + UndefinedBehaviorSanitizer (undefined behaviour is fatal) and libFuzzer's
# coverage instrumentation, then the whole test suite and every harness's seed corpus run under
# them. Any sanitizer report fails the run. CUDA is off in this build (nvcc takes no host
# sanitizer flags; scripts/gpu-check.sh runs compute-sanitizer where a GPU is lent).
#   scripts/sanitize.sh [CTEST ARGS...]
# Environment: SANITIZE_BUILD_DIR (default build-sanitize).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/deps.sh
build_dir=${SANITIZE_BUILD_DIR:-build-sanitize}
if [ ! -f "$build_dir/build.ninja" ]; then
  CC=clang CXX=clang++ cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
    -DANNFORGE_CUDA=OFF -DANNFORGE_SANITIZE=ON -DANNFORGE_FUZZ=ON -DANNFORGE_BUILD_BENCH=OFF >/dev/null
fi
cmake --build "$build_dir" -j "${BUILD_JOBS:-$(nproc)}"

# Leaks are reported (and fail) too; a report stops the process with a non-zero exit.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir "$build_dir" --output-on-failure -j "$(nproc)" "$@"
