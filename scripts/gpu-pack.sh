#!/usr/bin/env bash
# Packs what a GPU machine without Debian packages needs to test and benchmark annforge into
# .gpu-carry/ (ignored by git), to travel beside the working tree (the device tool's `carry`;
# the tree and the carry together must stay under 64 MiB):
#   bin/   annforge, annforge_tests, c_api_test (when built), compare_gpu; stripped
#   lib/   libannforge.so (a shared build) and every library the binaries load from this
#          checkout (build folder, .deps/: librmm.so, librapids_logger.so, ...)
#   data/  xz -6: the first N rows of data/sift-vl-1m/base.bvecs (N as large as the budget
#          allows), its query.bvecs and an exact ground truth for those N rows; all of
#          data/mnist; SHA256SUMS of the uncompressed files
#   wheel/ the Python package with the CUDA backend (cp312 abi3), where a Python >= 3.12 is here
#   MANIFEST.txt   what is there: rows, sources, sizes, git commit, build settings
# scripts/gpu-check.sh --prebuilt .gpu-carry runs it there.
#
#   scripts/gpu-pack.sh [--no-build] [--cpu-only]
#     --no-build   pack the build folder as it is
#     --cpu-only   build without CUDA (tries the packing on a machine without nvcc)
# Environment: BUILD_DIR (default build-gpu), GPU_PACK_OUT (default .gpu-carry),
#   GPU_PACK_BUDGET_MIB (default 56: the whole carry), CUDA_ARCHITECTURES (default 90: H100/H200),
#   GPU_PACK_CHUNK_ROWS (default 25000: the SIFT slice grows in steps of this many rows),
#   GPU_PACK_CACHE (default BUILD_DIR/gpu-pack-cache: the compressed data, kept between runs).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)

build=1
cuda=ON
for arg in "$@"; do
  case "$arg" in
    --no-build) build=0 ;;
    --cpu-only) cuda=OFF ;;
    -h|--help) sed -n '2,/^set /{/^set /d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) echo "gpu-pack.sh: unknown argument $arg (see --help)" >&2; exit 2 ;;
  esac
done

build_dir=${BUILD_DIR:-build-gpu}
out=${GPU_PACK_OUT:-.gpu-carry}
budget_mib=${GPU_PACK_BUDGET_MIB:-56}
budget=$((budget_mib * 1024 * 1024))
archs=${CUDA_ARCHITECTURES:-90}
chunk_rows=${GPU_PACK_CHUNK_ROWS:-25000}
jobs=$(nproc)
sift=data/sift-vl-1m
mnist=data/mnist
gt_k=100

say() { printf '== %s\n' "$*"; }
size_of() { stat -c %s "$1"; }
mib() { awk -v b="$1" 'BEGIN { printf "%.2f MiB", b / 1048576 }'; }
bytes_under() { find "$@" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'; }

# ---- 1. build ----------------------------------------------------------------------------------
if [ "$build" = 1 ]; then
  say "building $build_dir (ANNFORGE_CUDA=$cuda, shared library, CUDA architectures $archs)"
  # Without MPI: the lent machine is not known to have Debian's OpenMPI 4 (libmpi.so.40), and a
  # CLI linked with it would not start there (the distributed build's GPU pieces need both).
  BUILD_DIR=$build_dir ANNFORGE_CUDA=$cuda bash scripts/build.sh \
    -DCMAKE_CUDA_ARCHITECTURES="$archs" -DBUILD_SHARED_LIBS=ON -DANNFORGE_BUILD_TESTS=ON -DANNFORGE_BUILD_BENCH=ON \
    -DANNFORGE_MPI=OFF
fi
for f in annforge tests/annforge_tests bench/compare_gpu; do
  [ -x "$build_dir/$f" ] || { echo "gpu-pack.sh: $build_dir/$f is missing; build first (or drop --no-build)" >&2; exit 1; }
done
cache_value() { sed -n "s/^$1:[A-Z]*=//p" "$build_dir/CMakeCache.txt" | head -1; }
with_cuda=no
if grep -q 'ANNFORGE_HAVE_CUDA' "$build_dir/build.ninja" 2>/dev/null; then with_cuda=yes; fi
if [ "$cuda" = ON ] && [ "$build" = 1 ] && [ "$with_cuda" = no ]; then
  echo "gpu-pack.sh: warning: $build_dir has no CUDA backend compiled in (see the CMake output above)" >&2
fi

new="$out.new"
rm -rf "$new"
mkdir -p "$new/bin" "$new/lib" "$new/data/sift-vl-1m" "$new/data/mnist"
cache=${GPU_PACK_CACHE:-$build_dir/gpu-pack-cache}
mkdir -p "$cache"

# ---- 2. binaries and the libraries they load from this checkout --------------------------------
say "binaries"
binaries=(annforge tests/annforge_tests bench/compare_gpu)
[ -x "$build_dir/tests/c_api_test" ] && binaries+=(tests/c_api_test)
for f in "${binaries[@]}"; do
  cp "$build_dir/$f" "$new/bin/"
  strip --strip-unneeded "$new/bin/$(basename "$f")" 2>/dev/null || true
done
# Library folders of this checkout, for ldd to resolve what the RUNPATHs may not.
search_path="$root/$build_dir"
for d in .deps/rapids/librmm/lib64 .deps/rapids/rapids_logger/lib64 .deps/rapids/libraft/lib64 .deps/rapids/libraft_cu13.libs; do
  [ -d "$d" ] && search_path="$search_path:$root/$d"
done
system_libs=""
missing_libs=""
for f in "$new"/bin/*; do
  while read -r name arrow path rest; do
    [ "$arrow" = "=>" ] || continue
    if [ "$path" = "not" ]; then missing_libs="$missing_libs $name"; continue; fi
    case "$(readlink -f "$path")" in
      "$root"/*)
        if [ ! -f "$new/lib/$name" ]; then
          cp -L "$path" "$new/lib/$name"
          strip --strip-unneeded "$new/lib/$name" 2>/dev/null || true
        fi ;;
      *) system_libs="$system_libs $name=$path" ;;
    esac
  done < <(LD_LIBRARY_PATH="$search_path${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ldd "$f" 2>/dev/null || true)
done
# RMM and its logger, where this build has them (the CUDA backend loads them).
if [ "$with_cuda" = yes ]; then
  for lib in .deps/rapids/librmm/lib64/librmm.so .deps/rapids/rapids_logger/lib64/librapids_logger.so; do
    if [ -f "$lib" ] && [ ! -f "$new/lib/$(basename "$lib")" ]; then
      cp -L "$lib" "$new/lib/" && strip --strip-unneeded "$new/lib/$(basename "$lib")" 2>/dev/null || true
    fi
  done
fi
system_libs=$(tr ' ' '\n' <<<"$system_libs" | sed '/^$/d' | sort -u)
if [ -n "$missing_libs" ]; then
  echo "gpu-pack.sh: warning: libraries not found here:$missing_libs" >&2
fi

# ---- 2b. the Python package, as a wheel for the machine's Python -------------------------------
# The lent machine's python3 is 3.12 with NumPy and pytest (device KINDS.md): a cp312 abi3 wheel
# with the CUDA backend, built here by a Python >= 3.12 (GPU_PACK_PYTHON, default python3.12 on
# PATH or pyenv's 3.12.1) in a venv of its own (nanobind and scikit-build-core from PyPI, once);
# without HDF5 input (the machine has no Debian libhdf5), so that it loads only libstdc++, libc
# and the CUDA toolkit's cuBLAS beside the RMM libraries it carries.
# Left out, with a line saying so, where no such Python is here or the build has no CUDA.
wheel_python=${GPU_PACK_PYTHON:-$(command -v python3.12 || echo /root/.pyenv/versions/3.12.1/bin/python)}
if [ "$with_cuda" = yes ] && [ -x "$wheel_python" ]; then
  say "the Python package (wheel, CUDA architectures $archs)"
  wheel_venv=.venv-gpu-wheel
  [ -x "$wheel_venv/bin/python" ] || "$wheel_python" -m venv "$wheel_venv"
  wheel_pip=("$wheel_venv/bin/python" -m pip --disable-pip-version-check -q)
  "$wheel_venv/bin/python" -c 'import nanobind, scikit_build_core' 2>/dev/null ||
    "${wheel_pip[@]}" install "nanobind>=2.0" "scikit-build-core>=0.10"
  source scripts/cuda-env.sh
  annforge_cuda_setup ON
  mkdir -p "$new/wheel"
  CMAKE_EXECUTABLE=$ANNFORGE_CUDA_CMAKE "${wheel_pip[@]}" wheel --no-deps --no-build-isolation -w "$new/wheel" \
    --config-settings=cmake.define.ANNFORGE_CUDA=ON \
    --config-settings="cmake.define.CMAKE_CUDA_COMPILER=$ANNFORGE_NVCC" \
    --config-settings="cmake.define.CMAKE_PREFIX_PATH=$ANNFORGE_CUDA_PREFIX" \
    --config-settings="cmake.define.CMAKE_CUDA_ARCHITECTURES=$archs" \
    --config-settings=cmake.define.ANNFORGE_HDF5=OFF \
    --config-settings="build-dir=build-python/gpu-{wheel_tag}" .
else
  echo "gpu-pack.sh: no Python wheel (needs a CUDA build and a Python >= 3.12: GPU_PACK_PYTHON)" >&2
fi

# ---- 3. data -----------------------------------------------------------------------------------
for f in "$sift/base.bvecs" "$sift/query.bvecs" "$mnist/base.bvecs" "$mnist/query.bvecs" "$mnist/groundtruth.ivecs"; do
  [ -f "$f" ] || { echo "gpu-pack.sh: $f is missing (scripts/data.sh unpacks the data sets)" >&2; exit 1; }
done

# xz -6 of a file, cached in $cache under a name that changes with the source's size and time.
compressed() {  # SOURCE -> prints the cached .xz path
  local source=$1 key
  key=$(printf '%s' "$source" | tr '/' '_')-$(stat -c '%s-%Y' "$source").xz
  if [ ! -f "$cache/$key" ]; then
    xz -6 -T1 -c "$source" > "$cache/$key.tmp" && mv "$cache/$key.tmp" "$cache/$key"
  fi
  echo "$cache/$key"
}

say "MNIST and the SIFT queries (xz -6; cached in $cache)"
# MNIST's base (the largest) in the background while the others compress.
cp "$(compressed "$mnist/base.bvecs")" "$new/data/mnist/base.bvecs.xz" &
background=$!
cp "$(compressed "$mnist/query.bvecs")" "$new/data/mnist/query.bvecs.xz"
cp "$(compressed "$mnist/groundtruth.ivecs")" "$new/data/mnist/groundtruth.ivecs.xz"
cp "$(compressed "$sift/query.bvecs")" "$new/data/sift-vl-1m/query.bvecs.xz"
wait "$background" || { echo "gpu-pack.sh: compressing $mnist/base.bvecs failed" >&2; exit 1; }
fixed_bytes=$(bytes_under "$new")

# The SIFT slice: chunks of $chunk_rows rows, each its own xz stream (xz -d reads the streams of
# a file one after the other, so the chunks concatenate), added while the whole carry fits.
dim=$(od -An -t d4 -N4 "$sift/base.bvecs" | tr -d ' ')
row_bytes=$((4 + dim))
total_rows=$(( $(size_of "$sift/base.bvecs") / row_bytes ))
chunk_count=$(( (total_rows + chunk_rows - 1) / chunk_rows ))
sift_key=$(stat -c '%s-%Y' "$sift/base.bvecs")
chunk_file() { echo "$cache/sift-base-$sift_key-r$chunk_rows-c$(printf %04d "$1").xz"; }
compress_chunks() {  # FIRST LAST: compress the chunks FIRST..LAST not yet cached, $jobs at a time
  local c
  for ((c = $1; c <= $2; c++)); do
    [ -f "$(chunk_file "$c")" ] || printf '%d %s\n' "$c" "$(chunk_file "$c")"
  done | xargs -r -n 2 -P "$jobs" bash -c '
      set -euo pipefail
      total_rows=$1 chunk_rows=$2 row_bytes=$3 source=$4 c=$5 file=$6
      rows=$(( total_rows - c * chunk_rows )); [ "$rows" -gt "$chunk_rows" ] && rows=$chunk_rows
      dd if="$source" bs=1M iflag=skip_bytes,count_bytes skip=$((c * chunk_rows * row_bytes)) \
         count=$((rows * row_bytes)) status=none | xz -6 -T1 > "$file.tmp"
      mv "$file.tmp" "$file"' _ "$total_rows" "$chunk_rows" "$row_bytes" "$sift/base.bvecs"
}

gt_reserve=$((2700 * 1024))   # the slice's ground truth, 10K x 100 ids (xz: ~2.5 MiB at 425K rows), measured below
manifest_reserve=$((16 * 1024))
available=$((budget - fixed_bytes - gt_reserve - manifest_reserve))
if [ "$available" -le 0 ]; then
  echo "gpu-pack.sh: binaries and MNIST alone ($(mib "$fixed_bytes")) leave no room under $budget_mib MiB" >&2
  exit 1
fi

say "SIFT slice: chunks of $chunk_rows rows while the carry stays under $budget_mib MiB"
fit_chunks() {  # prints how many leading chunks fit in $available (compressing as needed)
  local used=0 count=0 c size next
  compress_chunks 0 0
  size=$(size_of "$(chunk_file 0)")
  next=$(( available / size + 1 ))
  while :; do
    [ "$next" -ge "$chunk_count" ] && next=$((chunk_count - 1))
    compress_chunks "$count" "$next"
    for ((c = count; c <= next; c++)); do
      size=$(size_of "$(chunk_file "$c")")
      if [ $((used + size)) -gt "$available" ]; then echo "$count"; return; fi
      used=$((used + size)); count=$((count + 1))
    done
    if [ "$count" -ge "$chunk_count" ]; then echo "$count"; return; fi
    next=$((count + 1))
  done
}
chunks=$(fit_chunks)

# The ground truth of the slice (CPU exact_knn through the CLI), then a check of the total: if
# it did not fit its reserve, one chunk less.
while :; do
  [ "$chunks" -ge 1 ] || { echo "gpu-pack.sh: not even one SIFT chunk fits" >&2; exit 1; }
  rows=$((chunks * chunk_rows)); [ "$rows" -gt "$total_rows" ] && rows=$total_rows
  gt_cache="$cache/sift-gt-$sift_key-$(stat -c '%s-%Y' "$sift/query.bvecs")-n$rows-k$gt_k.ivecs.xz"
  if [ ! -f "$gt_cache" ]; then
    say "exact ground truth of the first $rows rows for the 10K queries (k = $gt_k, CPU, $jobs threads)"
    "$build_dir/annforge" gt --data "$sift/base.bvecs" --rows "$rows" --queries "$sift/query.bvecs" --k "$gt_k" \
      --threads "$jobs" --out "$cache/gt.ivecs"
    xz -6 -T1 -c "$cache/gt.ivecs" > "$gt_cache.tmp" && mv "$gt_cache.tmp" "$gt_cache"
    rm -f "$cache/gt.ivecs"
  fi
  slice_bytes=0
  for ((c = 0; c < chunks; c++)); do slice_bytes=$((slice_bytes + $(size_of "$(chunk_file "$c")"))); done
  total=$((fixed_bytes + slice_bytes + $(size_of "$gt_cache") + manifest_reserve))
  [ "$total" -le "$budget" ] && break
  chunks=$((chunks - 1))
done
for ((c = 0; c < chunks; c++)); do cat "$(chunk_file "$c")"; done > "$new/data/sift-vl-1m/base.bvecs.xz"
cp "$gt_cache" "$new/data/sift-vl-1m/groundtruth.ivecs.xz"
if [ "$rows" -lt 100000 ]; then
  echo "gpu-pack.sh: warning: the SIFT slice has $rows rows; RealData.SiftSlice100K needs 100,000" >&2
fi

# Checksums of the uncompressed files, for gpu-check.sh to verify after unpacking.
say "checksums"
(
  cd "$new/data"
  for f in */*.xz; do
    printf '%s  %s\n' "$(xz -dc "$f" | sha256sum | cut -d' ' -f1)" "${f%.xz}"
  done
) > "$new/data/SHA256SUMS"

# ---- 4. the manifest ---------------------------------------------------------------------------
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain --untracked-files=no 2>/dev/null | wc -l)
untracked=$(git status --porcelain 2>/dev/null | grep -c '^??' || true)
{
  echo "annforge GPU carry: made by scripts/gpu-pack.sh on $(date -u '+%Y-%m-%d %H:%M:%S UTC') ($(uname -m))"
  echo "git commit: $commit"
  echo "working tree: $dirty modified tracked files, $untracked untracked (the binaries hold those changes)"
  echo "build: $build_dir, CMAKE_BUILD_TYPE=$(cache_value CMAKE_BUILD_TYPE), ANNFORGE_CUDA=$(cache_value ANNFORGE_CUDA)," \
       "CUDA backend compiled in: $with_cuda, CMAKE_CUDA_ARCHITECTURES=$(cache_value CMAKE_CUDA_ARCHITECTURES)," \
       "BUILD_SHARED_LIBS=$(cache_value BUILD_SHARED_LIBS)"
  echo "budget: $budget_mib MiB for the whole carry"
  echo
  echo "bin/ (stripped):"
  for f in "$new"/bin/*; do printf '  %-22s %10d bytes\n' "$(basename "$f")" "$(size_of "$f")"; done
  echo "lib/ (copied from this checkout; LD_LIBRARY_PATH=<carry>/lib):"
  if [ -z "$(ls -A "$new/lib")" ]; then echo "  (none: the binaries load no library of this checkout)"; fi
  for f in "$new"/lib/*; do [ -e "$f" ] && printf '  %-22s %10d bytes\n' "$(basename "$f")" "$(size_of "$f")"; done
  echo "libraries the binaries load from the system (expected on the GPU machine, e.g. CUDA's lib64):"
  if [ -n "$system_libs" ]; then sed 's/^/  /' <<<"$system_libs"; else echo "  (none listed)"; fi
  echo
  echo "data/ (xz -6, one or more xz streams per file; 'xz -d' or Python's lzma unpacks them;"
  echo "       SHA256SUMS holds the uncompressed files' sums):"
  printf '  %-36s %10d bytes: the first %d of the %d rows of %s (%d-d uint8, %d bytes a row)\n' \
    sift-vl-1m/base.bvecs.xz "$(size_of "$new/data/sift-vl-1m/base.bvecs.xz")" "$rows" "$total_rows" "$sift/base.bvecs" "$dim" "$row_bytes"
  printf '  %-36s %10d bytes: %s, all of it (10,000 queries)\n' \
    sift-vl-1m/query.bvecs.xz "$(size_of "$new/data/sift-vl-1m/query.bvecs.xz")" "$sift/query.bvecs"
  printf '  %-36s %10d bytes: exact %d nearest of each query among those %d rows (annforge gt, CPU);\n' \
    sift-vl-1m/groundtruth.ivecs.xz "$(size_of "$new/data/sift-vl-1m/groundtruth.ivecs.xz")" "$gt_k" "$rows"
  printf '  %-36s %10s        NOT the shipped groundtruth.ivecs, which is for all %d rows\n' "" "" "$total_rows"
  for f in base.bvecs query.bvecs groundtruth.ivecs; do
    printf '  %-36s %10d bytes: %s, all of it\n' "mnist/$f.xz" "$(size_of "$new/data/mnist/$f.xz")" "$mnist/$f"
  done
  echo
  echo "unpacked, data/ is laid out like the repository's data/ (ANNFORGE_DATA_DIR):"
  echo "  sift-vl-1m/{base.bvecs,query.bvecs,groundtruth.ivecs}  mnist/{base.bvecs,query.bvecs,groundtruth.ivecs}"
  echo "sift rows: $rows"
} > "$new/MANIFEST.txt"

rm -rf "$out"
mv "$new" "$out"

# ---- 5. sizes ----------------------------------------------------------------------------------
say "carry: $out"
(cd "$out" && find . -type f | sort | while read -r f; do printf '  %10d  %s\n' "$(size_of "$f")" "${f#./}"; done)
bin_bytes=$(bytes_under "$out/bin")
lib_bytes=$(bytes_under "$out/lib")
data_bytes=$(bytes_under "$out/data")
final=$(bytes_under "$out")
tree=$(git ls-files -z --cached --others --exclude-standard | xargs -0 -r stat -c %s 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
echo "bin $(mib "$bin_bytes"), lib $(mib "$lib_bytes"), data $(mib "$data_bytes") (SIFT slice: $rows rows)"
echo "carry total: $(mib "$final") (budget $budget_mib MiB); working tree that travels with it: $(mib "${tree:-0}");" \
     "together $(mib $((final + ${tree:-0}))) of the tool's 64 MiB"
if [ $((final + ${tree:-0})) -gt $((64 * 1024 * 1024)) ]; then
  echo "gpu-pack.sh: error: the carry and the working tree exceed 64 MiB; lower GPU_PACK_BUDGET_MIB" >&2
  exit 1
fi
