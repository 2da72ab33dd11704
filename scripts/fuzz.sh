#!/usr/bin/env bash
# Runs every libFuzzer harness of tests/fuzz for SECONDS each (default 60), one per core at a time,
# starting from the seed corpus in the repository and growing a working corpus beside the build
# (build-sanitize/fuzz-corpus/<harness>/, kept between runs). Builds them first (scripts/sanitize.sh's
# build folder, clang, ASan + UBSan). A crash, sanitizer report, leak or timeout stops the run
# with a non-zero exit; the input that caused it is saved under build-sanitize/fuzz-findings/.
#   scripts/fuzz.sh [SECONDS] [HARNESS...]
# Environment: SANITIZE_BUILD_DIR (default build-sanitize); FUZZ_PARALLEL (harnesses at once,
# default: the number of cores).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds=${1:-60}
shift || true
build_dir=${SANITIZE_BUILD_DIR:-build-sanitize}
if [ ! -f "$build_dir/fuzz-harnesses.txt" ] || [ ! -f "$build_dir/build.ninja" ]; then
  bash scripts/sanitize.sh -L fuzz >/dev/null  # configures, builds, and checks the seeds once
else
  cmake --build "$build_dir" -j "${BUILD_JOBS:-$(nproc)}" >/dev/null
fi
if [ $# -gt 0 ]; then harnesses=("$@"); else mapfile -t harnesses <"$build_dir/fuzz-harnesses.txt"; fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
findings="$build_dir/fuzz-findings"
mkdir -p "$findings"
# One harness: fuzz it, then print its line of the table (executions, speed, corpus, result).
fuzz_one() {
  local h=$1 corpus="$build_dir/fuzz-corpus/$1" log="$build_dir/fuzz-$1.log" result=ok
  mkdir -p "$corpus"
  # -rss_limit_mb: the harnesses map small files; anything near 2 GiB is a bug worth a report.
  if ! "$build_dir/tests/fuzz/$h" "$corpus" "tests/fuzz/corpus/$h" -max_total_time="$seconds" \
       -rss_limit_mb=2048 -timeout=20 -artifact_prefix="$findings/$h-" -print_final_stats=1 >"$log" 2>&1; then
    result="FAILED (see $log)"
  fi
  local runs speed
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | awk '{s+=$1} END {print s+0}')
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  printf '%-30s %12s %10s %8s %s\n' "$h" "$runs" "${speed:-?}" "$(find "$corpus" -type f | wc -l)" "$result"
  if [ "$result" != ok ]; then
    grep -m1 -A12 -E "ERROR|runtime error|fuzz check failed|deadly signal" "$log" || tail -20 "$log"
    return 1
  fi
}

# As many harnesses at once as there are cores (FUZZ_PARALLEL), each on one core.
parallel=${FUZZ_PARALLEL:-$(nproc)}
status=0
printf '%-30s %12s %10s %8s %s\n' harness executions exec/s corpus result
pids=()
for h in "${harnesses[@]}"; do
  [ -n "$h" ] || continue
  fuzz_one "$h" &
  pids+=($!)
  if [ ${#pids[@]} -ge "$parallel" ]; then
    wait "${pids[0]}" || status=1
    pids=("${pids[@]:1}")
  fi
done
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
[ $status -eq 0 ] || echo "fuzz.sh: a harness failed; the inputs are in $findings" >&2
exit $status
