#!/usr/bin/env bash
# Installs what is missing, builds every target and unpacks the real data sets when ../shared is
# beside the repository; runs the checking build (the test suite under AddressSanitizer +
# UndefinedBehaviorSanitizer with every fuzz harness's seeds, scripts/sanitize.sh, then each
# libFuzzer harness for FUZZ_SECONDS, scripts/fuzz.sh), the Python package's pytest suite
# (scripts/python.sh), the test suite on the AVX2 kernels where the CPU has AVX-512, and last the
# whole test suite.
# Exits non-zero when a test fails, a sanitizer reports, or a fuzzer finds a crash.
# Environment: BUILD_DIR (default build); ANNFORGE_CUDA=AUTO|ON|OFF (see scripts/build.sh);
#              SANITIZE=0 skips the sanitizer build and the fuzzers; FUZZ_SECONDS (default 60
#              per harness, 0 skips the fuzzers).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build_dir=${BUILD_DIR:-build}
bash scripts/build.sh "$@"
bash scripts/data.sh

if [ "${SANITIZE:-1}" != 0 ]; then
  echo "== test.sh: the test suite under AddressSanitizer + UndefinedBehaviorSanitizer (scripts/sanitize.sh)"
  bash scripts/sanitize.sh
  fuzz_seconds=${FUZZ_SECONDS:-60}
  if [ "$fuzz_seconds" != 0 ]; then
    echo "== test.sh: each fuzz harness for ${fuzz_seconds} s (scripts/fuzz.sh)"
    bash scripts/fuzz.sh "$fuzz_seconds"
  fi
fi

# The Python package: built into .venv with pip (scikit-build-core + nanobind), its pytest suite.
echo "== test.sh: the Python package (scripts/python.sh)"
bash scripts/python.sh

# The ctest of the CMake that configured the build (CMake 4 from .deps when CUDA is on).
ctest_bin=$(sed -n 's/^CMAKE_CTEST_COMMAND:INTERNAL=//p' "$build_dir/CMakeCache.txt")

# Where the CPU has AVX-512, the suite once more on the AVX2 kernels (ANNFORGE_SIMD=avx2): the
# path a CPU without AVX-512 (Zen 3, Intel client cores) takes, which CI would not run otherwise.
# The MPI and install cases are left out (they run no kernel that the rest do not).
if grep -q -m1 -w avx512f /proc/cpuinfo 2>/dev/null; then
  echo "== test.sh: the test suite on the AVX2 kernels (ANNFORGE_SIMD=avx2; $build_dir)"
  ANNFORGE_SIMD=avx2 "${ctest_bin:-ctest}" --test-dir "$build_dir" --output-on-failure -j2 -LE "mpi|install"
fi

# The main suite last, so that its summary closes the output.
echo "== test.sh: the test suite ($build_dir)"
"${ctest_bin:-ctest}" --test-dir "$build_dir" --output-on-failure -j2
