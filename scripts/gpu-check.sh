#!/usr/bin/env bash
# Checks annforge on a machine with an NVIDIA GPU: the whole test suite, compute-sanitizer's
# memcheck and racecheck on the GPU tests, and bench/compare_gpu on a SIFT slice, on MNIST and on 1M generated
# vectors; writes OUT/summary.md (and prints it). Every step runs under a timeout; a step that
# fails is recorded and the next one still runs; the script exits 1 when any step failed.
#
#   scripts/gpu-check.sh [--prebuilt DIR] [--out DIR]
#     --prebuilt DIR  use the binaries, libraries and xz-packed data that scripts/gpu-pack.sh put
#                     into DIR (e.g. .gpu-carry): nothing is built
#     (without it)    build with CUDA from source (scripts/build.sh into build-gpu) and use data/
#                     when the data sets are there, else vectors made by 'annforge gen'
#     --out DIR       where the logs, JSON reports and summary.md go (default gpu-check-out)
#     --extra DIR     (with --prebuilt; repeatable) more xz-packed data in DIR/data/, unpacked over
#                     the carry's: a sift-vl-1m/base.rest.bvecs there is appended to base.bvecs,
#                     so a data set too large for one carry can travel in two calls (the first
#                     carry stays on a warm machine; see bench/README.md)
# It writes 8 files at most (summary.md, setup.log, tests.log, sanitizer.log, bench.log and
# compare_{sift,mnist,generated}.json), so all of them come back from the device tool's $OUT.
# Environment:
#   GPU_TEST_FILTER      gtest filter of the GPU tests for the sanitizer (default
#                        '*Gpu*:*GPU*:*Cuda*:*CUDA*': the GPU cases of the parameterised tests
#                        end in "Gpu")
#   GPU_RACECHECK_FILTER gtest filter for racecheck (default '*Gpu*:-*RealData*:*Extend*:*IndexFormat*')
#   GPU_CHECK_BUDGET     seconds for all steps together (default 450); each step's timeout is
#                        cut to what is left, and a step with under 20 s left is skipped
#   GPU_CHECK_GENERATE   N,DIM of the generated benchmark (default 1000000,128; empty: none)
#   GPU_CHECK_CLUSTERS   N,DIM,CLUSTERS of a generated float set of many clusters that
#                        'annforge gen' makes there (seed 2026, 10,000 queries; default
#                        1000000,64,5000 as bench/run_all.sh's clusters-5k; empty: none),
#                        benchmarked with the GPU's exact ground truth
#   GPU_CHECK_TEST_FILTER gtest filter of the tests step (default: every test)
#   GPU_CHECK_SCALE      N,DIM of a generated uint8 set built end to end with --device gpu (issue
#                        15's 100000000,96: gen, exact top-10 of 1,000 queries on the GPU, plan,
#                        build in the pieces the GPU's memory asks for, search; default empty:
#                        not run; ~10 GB of disk at 100M x 96)
#   GPU_CHECK_PLAN       1 (default): the memory plan's device peak against the one measured
#                        (ANNFORGE_TRACE's sampled cudaMemGetInfo) on each data set; 0: not run
#   GPU_CHECK_THREADS    CPU threads of the benchmarks (default all)
#   GPU_RACECHECK_ARGS   more racecheck arguments (default: RAFT's and CUB's kernels excluded,
#                        '--kernel-name-exclude kns=raft --kernel-name-exclude kns=cub': RAFT's
#                        warp-synchronous select_k floods the log with potential-hazard warnings
#                        and took the whole step's time, 2026-12-04)
#   GPU_CHECK_MEMCHECK_CAP, GPU_CHECK_RACECHECK_CAP  seconds at most for memcheck (180) and racecheck (240)
#   GPU_CHECK_SKIP       step names to leave out, e.g. "tests python sanitizer racecheck bench-mnist"
#   GPU_CHECK_BENCH_ARGS more compare_gpu arguments for every benchmark (e.g. "--repeat 3")
#   CUDA_HOME            the CUDA toolkit (default /usr/local/cuda), for nvcc, its lib64 and
#                        compute-sanitizer
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
root=$(pwd)

prebuilt=""
out=gpu-check-out
extras=()
while [ $# -gt 0 ]; do
  case "$1" in
    --prebuilt) prebuilt=${2:?--prebuilt needs a folder}; shift 2 ;;
    --extra) extras+=("$(cd "${2:?--extra needs a folder}" && pwd)"); shift 2 ;;
    --out) out=${2:?--out needs a folder}; shift 2 ;;
    -h|--help) sed -n '2,/^set /{/^set /d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) echo "gpu-check.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"
out=$(cd "$out" && pwd)
[ -n "$prebuilt" ] && prebuilt=$(cd "$prebuilt" 2>/dev/null && pwd || echo "$prebuilt")

# The real-data cases are left out of the sanitizer run: memcheck slows kernels ~100x.
filter=${GPU_TEST_FILTER:-'*Gpu*:*GPU*:*Cuda*:*CUDA*:-*RealData*'}
skip=" ${GPU_CHECK_SKIP:-} "
read -r -a bench_args <<<"${GPU_CHECK_BENCH_ARGS:-}"
skipped() { [[ "$skip" == *" $1 "* ]]; }
budget=${GPU_CHECK_BUDGET:-450}
generate=${GPU_CHECK_GENERATE-1000000,128}
clusters=${GPU_CHECK_CLUSTERS-1000000,64,5000}
test_filter=${GPU_CHECK_TEST_FILTER:-*}
threads=${GPU_CHECK_THREADS:-$(nproc)}
cuda_home=${CUDA_HOME:-/usr/local/cuda}
work=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")
trap 'rm -rf "$work"' EXIT
start=$(date +%s)
deadline=$((start + budget))

setup_log="$out/setup.log"
: > "$setup_log"
: > "$out/bench.log"
steps=()     # "name|status|detail"
failed=0
log() { printf '%s\n' "$*" | tee -a "$setup_log"; }
record() {   # NAME STATUS DETAIL
  steps+=("$1|$2|$3")
  [ "$2" = failed ] && failed=1
  printf '== %-16s %-8s %s\n' "$1" "$2" "$3"
}
# run_step NAME CAP LOG COMMAND...: runs COMMAND under a timeout of CAP seconds (less when the
# budget runs short), appending its output to LOG; sets step_rc (124: timed out, 125: skipped).
run_step() {
  local name=$1 cap=$2 logfile=$3 left limit
  shift 3
  left=$((deadline - $(date +%s) - 5))
  limit=$cap
  [ "$left" -lt "$limit" ] && limit=$left
  if [ "$limit" -lt 20 ]; then
    step_rc=125
    printf '\n==== %s: skipped, only %d s of the %d s budget left\n' "$name" "$left" "$budget" >> "$logfile"
    return
  fi
  printf '\n==== %s (timeout %d s): %s\n' "$name" "$limit" "$*" >> "$logfile"
  local t0
  t0=$(date +%s)
  timeout --kill-after=10 "$limit" "$@" >> "$logfile" 2>&1
  step_rc=$?
  step_seconds=$(( $(date +%s) - t0 ))
  printf '==== %s: exit %d after %d s\n' "$name" "$step_rc" "$step_seconds" >> "$logfile"
}
rc_text() {  # a run_step exit status in words
  case "$1" in
    0) echo "ok" ;;
    124|137) echo "timed out" ;;
    125) echo "out of time" ;;
    *) echo "exit $1" ;;
  esac
}

# ---- 1. the machine ----------------------------------------------------------------------------
gpu_name=$(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | head -1)
driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -1)
have_gpu=no
if [ -n "$gpu_name" ]; then have_gpu=yes; fi
nvcc_bin=""
if [ -x "$cuda_home/bin/nvcc" ]; then nvcc_bin="$cuda_home/bin/nvcc"; elif command -v nvcc >/dev/null 2>&1; then nvcc_bin=$(command -v nvcc); fi
nvcc_version=$([ -n "$nvcc_bin" ] && "$nvcc_bin" --version 2>/dev/null | grep -i release | sed 's/.*release/release/' || echo "no nvcc")
sanitizer=""
if [ -x "$cuda_home/bin/compute-sanitizer" ]; then sanitizer="$cuda_home/bin/compute-sanitizer";
elif command -v compute-sanitizer >/dev/null 2>&1; then sanitizer=$(command -v compute-sanitizer); fi
torch_version=$(timeout 60 python3 -c 'import torch; print(torch.__version__, "CUDA" if torch.cuda.is_available() else "no CUDA device")' 2>/dev/null || echo "not importable by python3")
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
if [ -n "$prebuilt" ]; then
  commit=$(sed -n 's/^git commit: //p' "$prebuilt/MANIFEST.txt" 2>/dev/null | head -1)
  commit="${commit:-unknown} (from $prebuilt/MANIFEST.txt)"
else
  commit="$(git rev-parse HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes')"
fi
log "gpu-check.sh $(date -u '+%Y-%m-%d %H:%M:%S UTC') on $(hostname)"
log "GPU: ${gpu_name:-none (nvidia-smi found none)}; driver ${driver:-none}"
log "nvcc: $nvcc_version; compute-sanitizer: ${sanitizer:-not found}; python3 torch: $torch_version"
log "CPU: ${cpu:-unknown}, $(nproc) threads; benchmarks use $threads"
log "commit: $commit"

# ---- 2. binaries and data ----------------------------------------------------------------------
bin=""
data=""
data_note=""
if [ -n "$prebuilt" ]; then
  bin="$prebuilt/bin"
  if [ ! -x "$bin/annforge" ] || [ ! -x "$bin/annforge_tests" ] || [ ! -x "$bin/compare_gpu" ]; then
    record setup failed "$prebuilt/bin lacks annforge, annforge_tests or compare_gpu (run scripts/gpu-pack.sh)"
  fi
  export LD_LIBRARY_PATH="$prebuilt/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  [ -d "$cuda_home/lib64" ] && export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$cuda_home/lib64"
  # Unpack the data (xz, or Python's lzma where xz is missing) into a layout like data/.
  data="$work/data"
  unpack_failed=""
  for f in $(cd "$prebuilt/data" 2>/dev/null && find . -name '*.xz' | sort); do
    target="$data/${f#./}"
    target=${target%.xz}
    mkdir -p "$(dirname "$target")"
    if command -v xz >/dev/null 2>&1; then
      xz -dc "$prebuilt/data/$f" > "$target" || unpack_failed="$unpack_failed $f"
    else
      python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"), 1 << 20)' \
        "$prebuilt/data/$f" "$target" || unpack_failed="$unpack_failed $f"
    fi
  done
  check="no SHA256SUMS"
  if [ -f "$prebuilt/data/SHA256SUMS" ]; then
    if (cd "$data" && sha256sum --quiet -c "$prebuilt/data/SHA256SUMS") >> "$setup_log" 2>&1; then check="checksums ok"; else check="CHECKSUM MISMATCH"; unpack_failed="$unpack_failed (checksums)"; fi
  fi
  sift_rows=$(sed -n 's/^sift rows: //p' "$prebuilt/MANIFEST.txt" 2>/dev/null)
  data_note="carried data unpacked to $data ($check): sift-vl-1m first ${sift_rows:-?} rows, mnist"
  for extra in "${extras[@]}"; do
    for f in $(cd "$extra/data" 2>/dev/null && find . -name '*.xz' | sort); do
      target="$data/${f#./}"
      target=${target%.xz}
      mkdir -p "$(dirname "$target")"
      xz -dc "$extra/data/$f" > "$target" || unpack_failed="$unpack_failed $extra/$f"
    done
    if [ -f "$data/sift-vl-1m/base.rest.bvecs" ]; then
      cat "$data/sift-vl-1m/base.rest.bvecs" >> "$data/sift-vl-1m/base.bvecs" && rm "$data/sift-vl-1m/base.rest.bvecs"
    fi
    data_note="$data_note; plus $extra: sift-vl-1m now $(($(stat -c %s "$data/sift-vl-1m/base.bvecs") / 132)) rows"
  done
  if [ -n "$unpack_failed" ]; then record setup failed "unpacking failed:$unpack_failed"; fi
else
  run_step build 1800 "$setup_log" env BUILD_DIR=build-gpu ANNFORGE_CUDA=ON bash scripts/build.sh -DCMAKE_CUDA_ARCHITECTURES=90
  if [ "$step_rc" != 0 ]; then
    record build failed "scripts/build.sh: $(rc_text "$step_rc") (setup.log)"
  else
    record build ok "build-gpu (CUDA, from source, ${step_seconds} s; the step budget starts after it)"
  fi
  deadline=$(( $(date +%s) + budget ))
  bin="$root/build-gpu"
  mkdir -p "$work/bin"
  for f in annforge tests/annforge_tests tests/c_api_test bench/compare_gpu; do
    [ -x "$bin/$f" ] && ln -sf "$bin/$f" "$work/bin/$(basename "$f")"
  done
  bin="$work/bin"
  if [ -f data/sift-vl-1m/base.bvecs ] || [ -f data/mnist/base.bvecs ]; then
    data="$root/data"
    data_note="the repository's data/ ($(ls data | tr '\n' ' '))"
  elif [ -x "$bin/annforge" ]; then
    data="$work/data"
    mkdir -p "$data/generated"
    "$bin/annforge" gen --n 300000 --dim 128 --type uint8 --out "$data/generated/base.u8bin" \
      --queries 10000 --queries-out "$data/generated/query.u8bin" >> "$setup_log" 2>&1
    data_note="no data/ here: 300,000 x 128 uint8 vectors and 10,000 queries from 'annforge gen' (seed 7); the real-data tests skip"
  fi
fi
log "data: ${data_note:-none}"
# Libraries the binaries cannot find (cuBLAS, say, where CUDA's lib64 is elsewhere): looked for in
# the CUDA toolkits and in the NVIDIA wheels of python3 (PyTorch's), and their folders added.
missing() {
  local f m
  for f in "$bin"/*; do
    [ -x "$f" ] || continue
    m=$(ldd "$f" 2>/dev/null | awk '/not found/ { print $1 }' | tr '\n' ' ')
    [ -n "$m" ] && printf '%s: %s' "$(basename "$f")" "$m"
  done
}
missing_libs=$(missing)
if [ -n "$missing_libs" ]; then
  wheels=$(timeout 30 python3 -c 'import nvidia, os; print(" ".join(nvidia.__path__))' 2>/dev/null || true)
  for name in $(tr ' ' '\n' <<<"$missing_libs" | grep '\.so' | sort -u); do
    found=$(find "$cuda_home"/ /usr/local/cuda*/ $wheels -maxdepth 5 -name "$name" 2>/dev/null | head -1)
    if [ -n "$found" ]; then
      LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$(dirname "$found")"
      export LD_LIBRARY_PATH
      log "libraries: $name found at $found; its folder added to LD_LIBRARY_PATH"
    fi
  done
  missing_libs=$(missing)
fi
if [ -n "$missing_libs" ]; then
  record libraries failed "not found:$missing_libs(LD_LIBRARY_PATH=$LD_LIBRARY_PATH)"
else
  log "libraries: every binary finds all of its libraries"
fi
[ -n "$prebuilt" ] && ! printf '%s\n' "${steps[@]}" | grep -q '^setup|failed' && record setup ok "$data_note"

export ANNFORGE_CLI="$bin/annforge"
export ANNFORGE_DATA_DIR="$data"
export ANNFORGE_DATA="$data"

# gtest's closing lines -> "N passed, N failed, N skipped (of N)"
gtest_counts() {  # LOGFILE FROM_LINE
  tail -n +"$2" "$1" | awk '
    /^\[==========\] [0-9]+ tests? from .* ran/ { total = $2 }
    /^\[  PASSED  \] [0-9]+ test/ { passed = $4 }
    /^\[  FAILED  \] [0-9]+ tests?, listed below/ { failed = $4 }
    /^\[  SKIPPED \] [0-9]+ tests?, listed below/ { skipped = $4 }
    END { printf "%d passed, %d failed, %d skipped (of %d)", passed, failed, skipped, total }'
}

# ---- 3. the tests ------------------------------------------------------------------------------
tests_log="$out/tests.log"
: > "$tests_log"
test_summary="not run"
if skipped tests; then
  test_summary="skipped (GPU_CHECK_SKIP)"
  record tests skipped "GPU_CHECK_SKIP"
elif [ -x "$bin/annforge_tests" ]; then
  from=$(($(wc -l < "$tests_log") + 1))
  run_step tests 300 "$tests_log" "$bin/annforge_tests" --gtest_color=no "--gtest_filter=$test_filter"
  test_summary=$(gtest_counts "$tests_log" "$from")
  if [ "$step_rc" = 0 ]; then record tests ok "$test_summary"; else record tests failed "$test_summary; $(rc_text "$step_rc") (tests.log)"; fi
else
  record tests failed "no annforge_tests binary"
fi
if [ -x "$bin/c_api_test" ] && ! skipped tests; then
  run_step c_api_test 60 "$tests_log" "$bin/c_api_test"
  if [ "$step_rc" = 0 ]; then record c_api_test ok "passed"; else record c_api_test failed "$(rc_text "$step_rc") (tests.log)"; fi
fi

# The Python package's tests (python/tests, test_gpu.py's GPU cases among them) with the wheel
# gpu-pack.sh built, where the carry has one and python3 is 3.12 or later; into tests.log.
wheel=""
[ -n "$prebuilt" ] && wheel=$(ls "$prebuilt"/wheel/*.whl 2>/dev/null | head -1)
if skipped python; then
  record python skipped "GPU_CHECK_SKIP"
elif [ -z "$wheel" ]; then
  record python skipped "no wheel in the carry (gpu-pack.sh builds one where a Python >= 3.12 is)"
elif ! python3 -c 'import sys, numpy, pytest; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then
  record python skipped "python3 here is older than 3.12 or lacks NumPy / pytest"
else
  site="$work/site"
  python3 -m pip install -q --no-index --no-deps --no-compile --target "$site" "$wheel" >> "$tests_log" 2>&1
  run_step python 240 "$tests_log" env PYTHONPATH="$site" ANNFORGE_EXPECT_CUDA=1 \
    sh -c 'cd "$0/python/tests" && python3 -m pytest -q -p no:cacheprovider -rs .' "$root"
  py_line=$(grep -E '[0-9]+ (passed|failed)' "$tests_log" | tail -1)
  if [ "$step_rc" = 0 ]; then record python ok "${py_line:-passed}"; else record python failed "${py_line:-} $(rc_text "$step_rc") (tests.log)"; fi
fi

# ---- 4. compute-sanitizer on the GPU tests -----------------------------------------------------
sanitizer_log="$out/sanitizer.log"
: > "$sanitizer_log"
sanitizer_line="not run"
if skipped sanitizer; then
  sanitizer_line="skipped (GPU_CHECK_SKIP)"
  record sanitizer skipped "GPU_CHECK_SKIP"
elif [ "$have_gpu" = no ]; then
  sanitizer_line="skipped: no GPU (nvidia-smi found none)"
  record sanitizer skipped "$sanitizer_line"
elif [ -z "$sanitizer" ]; then
  sanitizer_line="skipped: compute-sanitizer not found (CUDA_HOME=$cuda_home, PATH)"
  record sanitizer skipped "$sanitizer_line"
elif [ ! -x "$bin/annforge_tests" ]; then
  sanitizer_line="skipped: no annforge_tests binary"
  record sanitizer failed "$sanitizer_line"
else
  from=$(($(wc -l < "$sanitizer_log") + 1))
  run_step sanitizer "${GPU_CHECK_MEMCHECK_CAP:-180}" "$sanitizer_log" "$sanitizer" --tool memcheck --error-exitcode 99 --print-limit 50 \
    "$bin/annforge_tests" --gtest_color=no "--gtest_filter=$filter"
  summary_line=$(grep -a 'ERROR SUMMARY' "$sanitizer_log" | tail -1 | sed 's/^========= //')
  counts=$(gtest_counts "$sanitizer_log" "$from")
  sanitizer_line="memcheck, --gtest_filter=$filter: ${summary_line:-no ERROR SUMMARY line}; tests $counts"
  if [ "$step_rc" = 0 ]; then record sanitizer ok "$sanitizer_line"; else record sanitizer failed "$sanitizer_line; $(rc_text "$step_rc") (sanitizer.log)"; fi
  # racecheck: shared-memory hazards between the threads of a block (the bitonic sorts, the
  # pruning's rank tables, the search's shared beam). Slower than memcheck, so a narrower filter.
  if ! skipped racecheck; then
    race_filter=${GPU_RACECHECK_FILTER:-'*Gpu*:-*RealData*:*Extend*:*IndexFormat*'}
    read -r -a race_args <<<"${GPU_RACECHECK_ARGS---kernel-name-exclude kns=raft --kernel-name-exclude kns=cub}"
    run_step racecheck "${GPU_CHECK_RACECHECK_CAP:-240}" "$sanitizer_log" "$sanitizer" --tool racecheck --racecheck-report hazard --error-exitcode 99 "${race_args[@]}" \
      --print-limit 50 "$bin/annforge_tests" --gtest_color=no "--gtest_filter=$race_filter"
    race_summary=$(grep -a 'RACECHECK SUMMARY\|ERROR SUMMARY' "$sanitizer_log" | tail -1 | sed 's/^========= //')
    race_line="racecheck, --gtest_filter=$race_filter: ${race_summary:-no summary line}"
    sanitizer_line="$sanitizer_line; $race_line"
    if [ "$step_rc" = 0 ]; then record racecheck ok "$race_line"; else record racecheck failed "$race_line; $(rc_text "$step_rc") (sanitizer.log)"; fi
  fi
fi

# ---- 5. the benchmarks -------------------------------------------------------------------------
bench_log="$out/bench.log"
torch_script="$root/bench/torch_knn_graph.py"
tables=()   # "title|stdout file"
bench() {   # NAME TITLE CAP ARGS...
  local name=$1 title=$2 cap=$3
  shift 3
  local stdout="$work/compare_$name.md"
  : > "$stdout"
  if skipped "bench-$name"; then record "bench-$name" skipped "GPU_CHECK_SKIP"; return; fi
  if [ ! -x "$bin/compare_gpu" ]; then record "bench-$name" failed "no compare_gpu binary"; return; fi
  run_step "bench-$name" "$cap" "$bench_log" sh -c '"$@" > "$0"; rc=$?; cat "$0"; exit $rc' "$stdout" \
    "$bin/compare_gpu" "$@" "${bench_args[@]}" --threads "$threads" --torch-script "$torch_script" --json "$out/compare_$name.json"
  tables+=("$title|$stdout")
  local verdict
  verdict=$(grep -a 'vectors/s end to end' "$stdout" | sed 's/.*: \(NOT MEASURED\|NOT MET\|MET\).*/\1/' | head -1)
  if [ "$step_rc" = 0 ]; then
    record "bench-$name" ok "target: ${verdict:-?}"
  else
    record "bench-$name" failed "$(rc_text "$step_rc") (bench.log)"
  fi
}
if [ -f "$data/sift-vl-1m/base.bvecs" ]; then
  sift_gt=()
  [ -f "$data/sift-vl-1m/groundtruth.ivecs" ] && sift_gt=(--gt "$data/sift-vl-1m/groundtruth.ivecs")
  bench sift "sift-vl-1m ($(($(stat -c %s "$data/sift-vl-1m/base.bvecs") / 132)) rows)" 180 \
    --base "$data/sift-vl-1m/base.bvecs" --queries "$data/sift-vl-1m/query.bvecs" "${sift_gt[@]}"
elif [ -f "$data/generated/base.u8bin" ]; then
  bench sift "generated 300,000 x 128 uint8 (annforge gen; no sift-vl-1m here)" 180 \
    --base "$data/generated/base.u8bin" --queries "$data/generated/query.u8bin"
else
  record bench-sift skipped "no sift-vl-1m data"
fi
if [ -f "$data/mnist/base.bvecs" ]; then
  bench mnist "MNIST (60,000 x 784 uint8)" 150 \
    --base "$data/mnist/base.bvecs" --queries "$data/mnist/query.bvecs" --gt "$data/mnist/groundtruth.ivecs"
else
  record bench-mnist skipped "no MNIST data"
fi
if [ -z "$generate" ]; then
  record bench-generated skipped "GPU_CHECK_GENERATE is empty"
elif [ "$have_gpu" = no ]; then
  record bench-generated skipped "no GPU: the $generate generated run is for the GPU rows (its CPU ground truth would take minutes)"
else
  bench generated "generated $generate uint8 (compare_gpu --generate)" 200 --generate "$generate"
fi

if [ -z "$clusters" ]; then
  record bench-clusters skipped "GPU_CHECK_CLUSTERS is empty"
elif [ "$have_gpu" = no ]; then
  record bench-clusters skipped "no GPU"
elif IFS=, read -r c_n c_dim c_count <<<"$clusters" && [ -n "$c_count" ]; then
  mkdir -p "$data/generated/clusters"
  c_dir="$data/generated/clusters"
  if "$bin/annforge" gen --n "$c_n" --dim "$c_dim" --clusters "$c_count" --seed 2026 --out "$c_dir/base.fbin" \
       --queries 10000 --queries-out "$c_dir/query.fbin" >> "$bench_log" 2>&1; then
    bench clusters "generated $c_n x $c_dim float in $c_count clusters (annforge gen --seed 2026)" 200 \
      --base "$c_dir/base.fbin" --queries "$c_dir/query.fbin"
  else
    record bench-clusters failed "annforge gen failed (bench.log)"
  fi
else
  record bench-clusters failed "GPU_CHECK_CLUSTERS=$clusters: expected N,DIM,CLUSTERS"
fi

# ---- 5b. scale: a generated set built end to end on the GPU, in pieces where it must be --------
scale=${GPU_CHECK_SCALE:-}
if [ -z "$scale" ]; then
  record scale skipped "GPU_CHECK_SCALE is empty"
elif [ "$have_gpu" = no ]; then
  record scale skipped "no GPU"
elif IFS=, read -r s_n s_dim <<<"$scale" && [ -n "$s_dim" ]; then
  s_dir="$work/scale"
  mkdir -p "$s_dir"
  # uint8 rows (annforge gen --type uint8), 1,000 queries, exact top-10 on the GPU; the build's
  # plan splits the rows into pieces where one piece would not fit the GPU.
  run_step scale 420 "$bench_log" sh -c '
    "$0" gen --n "$1" --dim "$2" --type uint8 --clusters 1000 --seed 2026 --out "$3/base.u8bin" \
      --queries 1000 --queries-out "$3/query.u8bin" &&
    "$0" gt --data "$3/base.u8bin" --queries "$3/query.u8bin" --k 10 --device gpu --out "$3/gt.ivecs" &&
    "$0" plan --data "$3/base.u8bin" --device gpu &&
    ANNFORGE_TRACE=1 "$0" build --data "$3/base.u8bin" --device gpu --out "$3/index.afi" --json > "$3/build.json" &&
    cat "$3/build.json" &&
    "$0" search --index "$3/index.afi" --queries "$3/query.u8bin" --gt "$3/gt.ivecs" --device gpu --beam 32,64,128' \
    "$bin/annforge" "$s_n" "$s_dim" "$s_dir"
  seconds=$(sed -n 's/.*"seconds": *\([0-9.]*\).*/\1/p' "$s_dir/build.json" 2>/dev/null | head -1)
  pieces=$(sed -n 's/.*"partitions": *\([0-9]*\).*/\1/p' "$s_dir/build.json" 2>/dev/null | head -1)
  recall=$(grep -o 'beam *64: recall@10 [0-9.]*' "$bench_log" | tail -1)
  if [ "$step_rc" = 0 ]; then
    record scale ok "$s_n x $s_dim uint8: build ${seconds:-?} s in ${pieces:-?} piece(s); $recall (bench.log)"
  else
    record scale failed "$s_n x $s_dim: $(rc_text "$step_rc") (bench.log)"
  fi
  rm -rf "$s_dir"
else
  record scale failed "GPU_CHECK_SCALE=$scale: expected N,DIM"
fi

# ---- 6. the memory plan against the device's measured peak ------------------------------------
plan_lines=()
if [ "${GPU_CHECK_PLAN:-1}" = 1 ] && [ "$have_gpu" = yes ] && [ -x "$bin/annforge" ]; then
  for f in "$data/sift-vl-1m/base.bvecs" "$data/mnist/base.bvecs" "$data/generated/clusters/base.fbin"; do
    [ -f "$f" ] || continue
    name=$(basename "$(dirname "$f")")
    run_step "plan-$name" 60 "$bench_log" sh -c '"$0" plan --data "$1" --device gpu --json > "$2.plan.json" &&
      ANNFORGE_TRACE=1 "$0" build --data "$1" --device gpu --out "$2.index" 2> "$2.trace"; rc=$?; cat "$2.trace"; rm -f "$2.index"; exit $rc' \
      "$bin/annforge" "$f" "$work/plan-$name"
    planned=$(sed -n 's/.*"peak_device_bytes": *\([0-9]*\).*/\1/p' "$work/plan-$name.plan.json" | head -1)
    measured=$(sed -n 's/.*peak \([0-9]*\) MiB).*/\1/p' "$work/plan-$name.trace" | sort -n | tail -1)
    if [ "$step_rc" = 0 ] && [ -n "$planned" ] && [ -n "$measured" ]; then
      line="$name: planned $((planned >> 20)) MiB, measured peak $measured MiB (sampled cudaMemGetInfo above the build's start)"
      record "plan-$name" ok "$line"
    else
      line="$name: $(rc_text "$step_rc"); planned '${planned:-?}' bytes, measured '${measured:-?}' MiB (bench.log)"
      record "plan-$name" failed "$line"
    fi
    plan_lines+=("$line")
  done
fi

# ---- 7. the summary ----------------------------------------------------------------------------
summary="$out/summary.md"
{
  echo "# annforge GPU check"
  echo
  echo "- when: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(( $(date +%s) - start )) s"
  echo "- GPU: ${gpu_name:-none (nvidia-smi found none)}; driver ${driver:-none}"
  echo "- nvcc: $nvcc_version; python3 torch: $torch_version"
  echo "- CPU: ${cpu:-unknown}, $(nproc) threads (benchmarks: --threads $threads)"
  echo "- commit: $commit"
  if [ -n "$prebuilt" ]; then echo "- binaries: prebuilt, $prebuilt"; else echo "- binaries: built here from source (build-gpu)"; fi
  echo "- data: ${data_note:-none}"
  echo "- tests: $test_summary"
  echo "- sanitizer: $sanitizer_line"
  echo
  echo "| step | result | detail |"
  echo "|---|---|---|"
  for s in "${steps[@]}"; do
    IFS='|' read -r name status detail <<<"$s"
    echo "| $name | $status | ${detail//|//} |"
  done
  for t in "${tables[@]}"; do
    title=${t%%|*}
    file=${t#*|}
    echo
    echo "## compare_gpu: $title"
    echo
    if [ -s "$file" ]; then
      grep -av '^# compare_gpu$' "$file" | sed '/^json: /d' | awk 'NF { started = 1 } started'
    else
      echo "(no output; see bench.log)"
    fi
  done
} > "$summary"
echo
cat "$summary"
exit "$failed"
