#!/usr/bin/env bash
# The whole path in one go, with no download: installs what is missing, builds, generates
# synthetic clustered vectors, computes exact ground truth, builds an index and searches it,
# printing recall@10 and queries/s per beam width.
# Environment: BUILD_DIR (default build), QUICKSTART_N (base vectors, default 100000).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build_dir=${BUILD_DIR:-build}
n=${QUICKSTART_N:-100000}
dim=96
queries=1000
k=10
demo=data/demo
annforge=$build_dir/annforge

step() { printf '\n== %s\n' "$*"; }

step "1/5 install what is missing and build ($build_dir/)"
bash scripts/build.sh

mkdir -p "$demo"
params="n=$n dim=$dim queries=$queries"
step "2/5 synthetic data: $n x $dim float32 vectors, $queries queries ($demo/)"
if [ -s "$demo/base.fbin" ] && [ -s "$demo/queries.fbin" ] && [ "$(cat "$demo/params" 2>/dev/null)" = "$params" ]; then
  echo "already there: $demo/base.fbin, $demo/queries.fbin"
else
  rm -f "$demo/params" "$demo/groundtruth.ivecs"
  "$annforge" gen --n "$n" --dim "$dim" --out "$demo/base.fbin" \
    --queries "$queries" --queries-out "$demo/queries.fbin"
  echo "$params" > "$demo/params"
fi

step "3/5 exact ground truth, k=$k"
if [ -s "$demo/groundtruth.ivecs" ] && [ "$demo/groundtruth.ivecs" -nt "$demo/base.fbin" ]; then
  echo "already there: $demo/groundtruth.ivecs"
else
  "$annforge" gt --data "$demo/base.fbin" --queries "$demo/queries.fbin" --k "$k" --out "$demo/groundtruth.ivecs"
fi

step "4/5 build the index"
"$annforge" build --data "$demo/base.fbin" --out "$demo/index.afi"

step "5/5 search it: recall@$k and queries/s per beam width"
"$annforge" search --index "$demo/index.afi" --queries "$demo/queries.fbin" --gt "$demo/groundtruth.ivecs" \
  --k "$k" --beam 32,64,128
