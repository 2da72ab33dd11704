#!/usr/bin/env bash
# Issue 16's rank table: one data set built in P pieces by 1 process and under mpirun with 2
# and 4 ranks on this machine (the ranks share its cores: this measures the distributed
# build's overhead, not a speed-up), then searched: build seconds, each rank's seconds per
# stage and bytes exchanged (`build --json`), peak resident set of the launcher's whole job
# (/usr/bin/time), recall@10 per beam. Writes OUT/ranks.txt and OUT/ranks-R.json.
#   bench/mpi_ranks.sh [DATA QUERIES GT] [OUT]
# Default: all of sift-vl-1m from data/ (scripts/data.sh), 8 pieces (PIECES=8); METRIC=cosine
# (or ip) for embedding sets. Give the ranks a mapped file (annforge convert to .fbin / .u8bin):
# .fvecs / .bvecs are read whole by every rank.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
data=${1:-data/sift-vl-1m/base.bvecs}
queries=${2:-data/sift-vl-1m/query.bvecs}
gt=${3:-data/sift-vl-1m/groundtruth.ivecs}
out=${4:-/tmp/annforge-mpi}
cli=${CLI:-build-cpu/annforge}
pieces=${PIECES:-8}
metric=()
[ -n "${METRIC:-}" ] && metric=(--metric "$METRIC")
mkdir -p "$out"
# Single-copy transfers between the ranks (Linux CMA); tests/mpi/run_mpi.sh's default copies twice.
export OMPI_MCA_btl_vader_single_copy_mechanism=${OMPI_MCA_btl_vader_single_copy_mechanism:-cma}
{
  echo "== $(date -u +%F) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; $data, $pieces pieces"
  for ranks in 1 2 4; do
    echo "-- $ranks rank(s)"
    launch=(env ANNFORGE_TRACE=1)  # one process: its stage times (stderr), for the table
    [ "$ranks" -gt 1 ] && launch=(tests/mpi/run_mpi.sh "$(command -v mpiexec)" "$ranks")
    /usr/bin/time -f "time %e s, max rss of the job's largest process %M KB" "${launch[@]}" "$cli" build \
      --data "$data" --out "$out/index.afi" --partitions "$pieces" "${metric[@]}" --json > "$out/ranks-$ranks.json"
    cat "$out/ranks-$ranks.json"
    "$cli" search --index "$out/index.afi" --queries "$queries" --gt "$gt" --beam 32,64,128 | grep recall
    rm -f "$out/index.afi"
  done
} 2>&1 | tee "$out/ranks.txt"
