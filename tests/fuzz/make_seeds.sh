#!/usr/bin/env bash
# Regenerates the seed corpus (corpus/<harness>/) from tiny matrices: a few valid files of
# every type, a misaligned .npy, and small indexes (float32, uint8, int8; l2, ip, cosine; one
# row; one with an upper level). Needs the annforge CLI (argument 1, default build/annforge) and Debian's python3-numpy.
#   tests/fuzz/make_seeds.sh [path/to/annforge]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cli=${1:-$here/../../build/annforge}
corpus=$here/corpus
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rm -rf "$corpus"
mkdir -p "$corpus"

/usr/bin/python3 - "$work" <<'PY'
import struct, sys
import numpy as np
out = sys.argv[1]
rng = np.random.default_rng(5)
f = rng.standard_normal((6, 4)).astype(np.float32)
u = rng.integers(0, 256, (6, 4), dtype=np.uint8)
i = rng.integers(-128, 128, (6, 4), dtype=np.int8)
ids = rng.integers(0, 6, (3, 4), dtype=np.int32); ids[1, 3] = -1

def texmex(path, m):
    with open(path, "wb") as fh:
        for row in m:
            fh.write(struct.pack("<i", m.shape[1])); fh.write(row.tobytes())
def bigann(path, m):
    with open(path, "wb") as fh:
        fh.write(struct.pack("<II", *m.shape)); fh.write(m.tobytes())

texmex(f"{out}/a.fvecs", f); texmex(f"{out}/b.fvecs", f[:1, :1])
texmex(f"{out}/a.bvecs", u); texmex(f"{out}/b.bvecs", u[:2])
bigann(f"{out}/a.fbin", f); bigann(f"{out}/b.fbin", f[:1])
bigann(f"{out}/a.u8bin", u); bigann(f"{out}/a.i8bin", i)
texmex(f"{out}/a.ivecs", ids); bigann(f"{out}/a.ibin", ids)
bigann(f"{out}/levels.u8bin", rng.integers(0, 256, (600, 2), dtype=np.uint8))
np.save(f"{out}/a.npy", f); np.save(f"{out}/b.npy", u); np.save(f"{out}/c.npy", i)
# float16 and float64, converted at read.
bigann(f"{out}/a.f16bin", f.astype(np.float16)); bigann(f"{out}/b.f16bin", f[:1].astype(np.float16))
np.save(f"{out}/e.npy", f.astype(np.float16)); np.save(f"{out}/g.npy", f.astype(np.float64))
# A header whose length is not a multiple of 4: the float data starts misaligned.
with open(f"{out}/d.npy", "wb") as fh:
    d = b"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
    d += b" " * ((4 - (10 + len(d) + 1) % 4) % 4 + 2) + b"\n"
    fh.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(d)) + d + f[:2, :3].tobytes())
PY

seed() {  # seed HARNESS FILE...
  mkdir -p "$corpus/$1"
  local harness=$1; shift
  for file in "$@"; do cp "$file" "$corpus/$harness/$(basename "$file")"; done
}
for ext in fvecs bvecs fbin f16bin u8bin i8bin npy ivecs ibin; do seed "fuzz_read_$ext" "$work"/*."$ext"; done

"$cli" build --data "$work/a.fbin" --out "$work/l2-f32.afi" --degree 3 >/dev/null
"$cli" build --data "$work/a.u8bin" --out "$work/ip-u8.afi" --degree 2 --metric ip >/dev/null
"$cli" build --data "$work/a.i8bin" --out "$work/cos-i8.afi" --degree 4 --metric cosine >/dev/null
"$cli" build --data "$work/b.fbin" --out "$work/one-row.afi" --degree 1 >/dev/null
# 600 rows of degree 8: large enough for an upper level (index format version 2).
"$cli" build --data "$work/levels.u8bin" --out "$work/levels-u8.afi" --degree 8 >/dev/null
seed fuzz_load_index "$work"/*.afi
seed fuzz_load_index_checksummed "$work"/*.afi
# fuzz_load_search reads its knobs (k, beam) from one byte after the index.
mkdir -p "$corpus/fuzz_load_search"
for file in "$work"/*.afi; do
  cp "$file" "$corpus/fuzz_load_search/$(basename "$file")"
  printf '\x35' >>"$corpus/fuzz_load_search/$(basename "$file")"
done
echo "make_seeds.sh: $(find "$corpus" -type f | wc -l) seeds in $corpus"
