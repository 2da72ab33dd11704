#!/usr/bin/env bash
# Runs bench/compare_cpu on every kind of data annforge is judged on, one set after another, and
# writes each set's table, JSON and plot plus one summary table to OUT (default bench/results/all):
#
#   set           data                                                       metric  recall
#   sift          sift-vl-1m: 1M x 128 uint8 SIFT descriptors               l2      ids
#   mnist         MNIST: 60K x 784 uint8                                     l2      ids
#   wordtext      wordtext-1m: 1M x 256 float32 sentence embeddings         cosine  ids
#   wordtext-ip   wordtext-ip: the same sentences, un-normalised             ip      ids
#   clusters-5k   annforge gen: 1M x 64 float32 in 5,000 clusters            l2      ids
#   clusters-50k  annforge gen: 1M x 64 float32 in 50,000 clusters           l2      ids
#   duplicates    annforge gen: 1M x 96 float32, a tenth exact copies        l2      ties
#
# The real sets are unpacked from ../shared/data when missing (scripts/data.sh; the wordtext sets
# rebuild their vectors, ~2 minutes and 1 GB each). The generated sets are made once, seeded,
# with their exact ground truth (annforge gt), under data/generated/. Every system gets the same
# threads; the peers default to annforge, hnswlib and exact (hnswlib's build is most of the time:
# ~4 minutes for 1M SIFT on 2 cores, ~8 for wordtext).
#
#   bench/run_all.sh [--rows N] [--sets LIST] [--threads T] [--systems LIST] [--widths LIST]
#                    [--out DIR] [--bin DIR]
#     --rows N      the first N base rows of each set (generated sets are generated with N rows);
#                   ground truth is then computed over the slice by compare_cpu
#     --sets LIST   comma-separated subset of the sets above (default: all)
#     --bin DIR     the build folder holding annforge and bench/compare_cpu (default build)
#     --hnswlib-cache DIR  where hnswlib's indexes are kept between runs (default
#                   data/hnswlib-cache; "none" builds every time): a kept index is loaded and
#                   searched again, its build time is the one measured when it was built (the
#                   table's parameter line says when)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

rows=""
sets="sift,mnist,wordtext,wordtext-ip,clusters-5k,clusters-50k,duplicates"
threads=$(nproc)
systems="annforge,hnswlib,exact"
widths="16,32,64,128,256"
out="bench/results/all"
bin="build"
hnswlib_cache="data/hnswlib-cache"
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) rows=$2; shift 2 ;;
    --sets) sets=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --systems) systems=$2; shift 2 ;;
    --widths) widths=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --bin) bin=$2; shift 2 ;;
    --hnswlib-cache) hnswlib_cache=$2; shift 2 ;;
    *) echo "run_all.sh: unknown argument '$1' (see the comment at the top of bench/run_all.sh)" >&2; exit 2 ;;
  esac
done
cli="$bin/annforge"
compare="$bin/bench/compare_cpu"
for tool in "$cli" "$compare"; do
  [ -x "$tool" ] || { echo "run_all.sh: $tool is missing; build first (scripts/build.sh)" >&2; exit 1; }
done
mkdir -p "$out"

# unpack_real SET: the real set's files under data/SET, from ../shared/data.
unpack_real() {
  local set=$1
  [ -f "data/$set/query.${2}" ] && return 0
  if [ ! -x ../shared/data/unpack ]; then
    echo "run_all.sh: data/$set is missing and ../shared/data/unpack is not there" >&2
    return 1
  fi
  ../shared/data/unpack data "$set" >&2
}

# generated NAME N DIM CLUSTERS DUPLICATES: base, queries and exact top-100 under
# data/generated/NAME-N/, made once.
generated() {
  local name=$1 n=$2 dim=$3 clusters=$4 duplicates=$5
  local dir="data/generated/$name-$n"
  if [ ! -f "$dir/groundtruth.ivecs" ]; then
    mkdir -p "$dir"
    echo "run_all.sh: generating $dir" >&2
    "$cli" gen --n "$n" --dim "$dim" --clusters "$clusters" --duplicates "$duplicates" --seed 2026 \
      --out "$dir/base.fbin" --queries 10000 --queries-out "$dir/query.fbin" >&2
    "$cli" gt --data "$dir/base.fbin" --queries "$dir/query.fbin" --k 100 --out "$dir/groundtruth.ivecs" \
      --threads "$threads" >&2
  fi
  echo "$dir"
}

run_set() {  # run_set NAME BASE QUERIES GT METRIC RECALL
  local name=$1 base=$2 queries=$3 gt=$4 metric=$5 recall=$6
  local args=(--base "$base" --queries "$queries" --gt "$gt" --metric "$metric" --recall "$recall"
              --threads "$threads" --systems "$systems" --widths "$widths"
              --json "$out/$name.json" --plot "$out/$name.png")
  [ -n "$rows" ] && args+=(--rows "$rows")
  [ "$hnswlib_cache" != none ] && args+=(--hnswlib-cache "$hnswlib_cache")
  echo "== run_all.sh: $name (${rows:-all} rows, $metric, recall by $recall)" >&2
  "$compare" "${args[@]}" | tee "$out/$name.txt"
}

gen_rows=${rows:-1000000}
IFS=, read -r -a wanted <<<"$sets"
for set in "${wanted[@]}"; do
  case "$set" in
    sift) unpack_real sift-vl-1m bvecs
          run_set sift data/sift-vl-1m/base.bvecs data/sift-vl-1m/query.bvecs data/sift-vl-1m/groundtruth.ivecs l2 ids ;;
    mnist) unpack_real mnist bvecs
           run_set mnist data/mnist/base.bvecs data/mnist/query.bvecs data/mnist/groundtruth.ivecs l2 ids ;;
    wordtext) unpack_real wordtext-1m fvecs
              run_set wordtext data/wordtext-1m/base.fvecs data/wordtext-1m/query.fvecs data/wordtext-1m/groundtruth.ivecs cosine ids ;;
    wordtext-ip) unpack_real wordtext-ip fvecs
                 run_set wordtext-ip data/wordtext-ip/base.fvecs data/wordtext-ip/query.fvecs data/wordtext-ip/groundtruth.ivecs ip ids ;;
    clusters-5k) dir=$(generated clusters-5k "$gen_rows" 64 5000 0)
                 run_set clusters-5k "$dir/base.fbin" "$dir/query.fbin" "$dir/groundtruth.ivecs" l2 ids ;;
    clusters-50k) dir=$(generated clusters-50k "$gen_rows" 64 50000 0)
                  run_set clusters-50k "$dir/base.fbin" "$dir/query.fbin" "$dir/groundtruth.ivecs" l2 ids ;;
    duplicates) dir=$(generated duplicates "$gen_rows" 96 $((gen_rows / 2000)) 0.1)
                run_set duplicates "$dir/base.fbin" "$dir/query.fbin" "$dir/groundtruth.ivecs" l2 ties ;;
    *) echo "run_all.sh: unknown set '$set'" >&2; exit 2 ;;
  esac
done

# One summary table from the JSON reports: build s and queries/s at equal recall, annforge and
# hnswlib side by side, with annforge's ratio.
/usr/bin/python3 - "$out" "${wanted[@]}" <<'PY' | tee "$out/summary.md"
import json, os, sys
out, sets = sys.argv[1], sys.argv[2:]
targets = ["0.90", "0.95", "0.99"]
def cell(system, t):
    v = (system.get("at_recall") or {}).get(t)
    if v is not None:
        return v, f"{v:,.0f}"
    low = (system.get("at_recall_at_least") or {}).get(t)
    if low is not None:
        return None, f">= {low:,.0f}"
    return None, "-"
print("| set | rows | metric | annforge build s | hnswlib build s | " +
      " | ".join(f"q/s @{t} annforge / hnswlib (ratio)" for t in targets) + " |")
print("|---|---:|---|---:|---:|" + "---:|" * len(targets))
for name in sets:
    path = os.path.join(out, name + ".json")
    if not os.path.exists(path):
        continue
    report = json.load(open(path))
    systems = {s.get("system", s.get("label")): s for s in report.get("systems", [])}
    a, h = systems.get("annforge", {}), systems.get("hnswlib", {})
    cells = []
    for t in targets:
        av, at = cell(a, t)
        hv, ht = cell(h, t)
        ratio = f" ({av / hv:.2f}x)" if av and hv else ""
        cells.append(f"{at} / {ht}{ratio}")
    fmt = lambda s: f"{s['build_seconds']:.2f}" if "build_seconds" in s else "-"
    print(f"| {name} | {report.get('rows', '?'):,} | {report.get('metric', '?')} | {fmt(a)} | {fmt(h)} | " + " | ".join(cells) + " |")
PY
