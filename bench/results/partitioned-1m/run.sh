#!/bin/bash
cd "$(dirname "$0")/../../.."  # the repository root
for p in 1 4 8 16; do
  echo "== sift 1M, partitions $p"
  /usr/bin/time -f "time %e s, max rss %M KB" build-cpu/annforge build --data data/sift-vl-1m/base.bvecs --out ${OUT:-/tmp}/s$p.afi --partitions $p --threads 2 2>&1 | tail -2
  build-cpu/annforge search --index ${OUT:-/tmp}/s$p.afi --queries data/sift-vl-1m/query.bvecs --gt data/sift-vl-1m/groundtruth.ivecs --beam 16,32,64,128 --threads 2 | grep recall
  rm -f ${OUT:-/tmp}/s$p.afi
done
for p in 1 8; do
  echo "== wordtext 1M, partitions $p"
  /usr/bin/time -f "time %e s, max rss %M KB" build-cpu/annforge build --data data/wordtext-1m/base.fvecs --metric cosine --out ${OUT:-/tmp}/w$p.afi --partitions $p --threads 2 2>&1 | tail -2
  build-cpu/annforge search --index ${OUT:-/tmp}/w$p.afi --queries data/wordtext-1m/query.fvecs --gt data/wordtext-1m/groundtruth.ivecs --beam 32,64,128 --threads 2 | grep recall
  rm -f ${OUT:-/tmp}/w$p.afi
done
