#!/usr/bin/env bash
# Issue 15's scale run on a CPU machine: N x 96 float vectors from `annforge gen` (seed 2026,
# 1,000 queries, exact top-10 by `annforge gt`) built with `--memory-limit` (the plan picks the
# pieces), for N = 1M (limit 410M) and 10M (limit 4G): build seconds, the process's peak
# resident set (/usr/bin/time; the input file is mapped and its touched pages count in it),
# recall@10 and queries/s per beam. Writes OUT/scale.txt.
#   bench/scale_10m.sh [OUT]        (default /tmp/annforge-scale; ~15 GB of disk at 10M)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${1:-/tmp/annforge-scale}
cli=${CLI:-build-cpu/annforge}
threads=${THREADS:-2}
mkdir -p "$out"
for spec in 1000000:410M 10000000:4G; do
  n=${spec%%:*}
  limit=${spec#*:}
  dir="$out/$n"
  mkdir -p "$dir"
  if [ ! -f "$dir/gt.ivecs" ]; then
    "$cli" gen --n "$n" --dim 96 --clusters 1000 --seed 2026 --out "$dir/base.fbin" --queries 1000 --queries-out "$dir/query.fbin" > /dev/null
    "$cli" gt --data "$dir/base.fbin" --queries "$dir/query.fbin" --k 10 --out "$dir/gt.ivecs" --threads "$threads" > /dev/null
  fi
  echo "== $n x 96 float32, --memory-limit $limit"
  "$cli" plan --data "$dir/base.fbin" --memory-limit "$limit" --threads "$threads" | grep -E "peak|partitions"
  /usr/bin/time -f "time %e s, max rss %M KB" "$cli" build --data "$dir/base.fbin" --out "$dir/index.afi" \
    --memory-limit "$limit" --threads "$threads" 2>&1 | tail -2
  "$cli" search --index "$dir/index.afi" --queries "$dir/query.fbin" --gt "$dir/gt.ivecs" --beam 32,64,128 \
    --threads "$threads" | grep recall
  rm -f "$dir/index.afi"
done 2>&1 | tee "$out/scale.txt"
