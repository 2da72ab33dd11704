#!/usr/bin/env bash
# `annforge build` under mpirun (ctest, with 2 and 4 ranks): the same index file byte for byte
# as one process with the same pieces and one thread per rank, recall@10 against exact ground
# truth, the per-rank report of --json, and the failures: a rank that dies (SIGKILL) or runs
# out of memory ends the job with a non-zero exit, an error naming the rank, and no index file.
# Usage: cli_distributed.sh ANNFORGE MPIEXEC NP WORKDIR
set -uo pipefail
annforge=$1 mpiexec=$2 np=$3 work=$4
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
run() { "$here/run_mpi.sh" "$mpiexec" "$np" "$annforge" "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1

"$annforge" gen --n 40000 --dim 32 --clusters 40 --seed 7 --out base.fbin --queries 300 --queries-out q.fbin >/dev/null ||
  fail "gen"
"$annforge" gt --data base.fbin --queries q.fbin --k 10 --out gt.ivecs >/dev/null || fail "gt"
pieces=$((np > 4 ? np : 4))

# The same pieces, one thread per rank: the one-process build's file, byte for byte.
"$annforge" build --data base.fbin --out one.afi --partitions "$pieces" --threads 1 >/dev/null || fail "one-process build"
run build --data base.fbin --out ranks.afi --partitions "$pieces" --threads 1 --json >report.json 2>err.txt ||
  fail "distributed build: $(cat err.txt)"
cmp one.afi ranks.afi || fail "the $np-rank index differs from the one-process index"
/usr/bin/python3 - "$np" "$pieces" <<'PY' || fail "report: $(cat report.json)"
import json, sys
r = json.load(open("report.json"))
np_, pieces = int(sys.argv[1]), int(sys.argv[2])
assert r["ranks"] == np_ and r["pieces"] == pieces, r
ranks = r["per_rank"]
assert [x["rank"] for x in ranks] == list(range(np_)), ranks
assert sum(x["pieces"] for x in ranks) == pieces, ranks
assert all(x["pieces"] >= 1 and x["bytes_sent"] > 0 and x["bytes_received"] > 0 for x in ranks), ranks
PY
recall=$("$annforge" search --index ranks.afi --queries q.fbin --gt gt.ivecs --beam 64 --json |
  /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["results"][0]["recall"])') || fail "search"
/usr/bin/python3 -c "import sys; sys.exit(0 if $recall >= 0.95 else 1)" || fail "recall@10 at beam 64: $recall < 0.95"

# Another command under mpirun runs once (on rank 0).
lines=$(run info --index ranks.afi | grep -c "rows") || true
[ "$lines" -ge 1 ] && [ "$(run info --index ranks.afi | wc -l)" -eq "$("$annforge" info --index ranks.afi | wc -l)" ] ||
  fail "info under mpirun did not run exactly once"

# A rank out of memory: every rank stops, the error names it, no file.
last=$((np - 1))
ANNFORGE_MPI_FAULT="$last:oom" run build --data base.fbin --out oom.afi --partitions "$pieces" >out.txt 2>err.txt &&
  fail "a rank out of memory: exit 0"
grep -q "rank $last of $np, the pieces' kNN lists: out of memory" err.txt || fail "oom message: $(cat err.txt)"
[ "$(grep -c 'annforge build: error' err.txt)" -eq 1 ] || fail "the error is printed once: $(cat err.txt)"
ls oom.afi* >/dev/null 2>&1 && fail "a failed build left $(ls oom.afi*)"

# A rank killed: the job ends non-zero, the launcher names the rank, no file.
ANNFORGE_MPI_FAULT="$last:kill" run build --data base.fbin --out killed.afi --partitions "$pieces" >out.txt 2>err.txt &&
  fail "a killed rank: exit 0"
grep -q "rank $last" err.txt || fail "the killed rank is not named: $(cat err.txt)"
ls killed.afi* >/dev/null 2>&1 && fail "a killed build left $(ls killed.afi*)"

# A missing input: every rank fails reading it; one message names the file.
run build --data missing.fbin --out missing.afi >out.txt 2>err.txt && fail "missing input: exit 0"
grep -q "missing.fbin" err.txt || fail "missing input message: $(cat err.txt)"
echo "ok: $np ranks, $pieces pieces, recall@10 $recall at beam 64"
