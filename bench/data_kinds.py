#!/usr/bin/python3
"""Kinds of data beyond the shipped sets, generated with NumPy (seeded), each built and searched
by annforge's CLI and, where Debian's python3-hnswlib is installed, by hnswlib (M 16,
efConstruction 200) on the same rows: recall@10 against exact neighbours (`annforge gt`) and
queries/s per width. A table goes to stdout and to --work/data_kinds.md.

  bench/data_kinds.py --annforge build-cpu/annforge --work /tmp/kinds
  bench/data_kinds.py --annforge build-cpu/annforge --work /tmp/kinds --kinds rogue,one-direction --no-hnswlib

Kinds (--rows rows each, 1,000 queries from the same distribution):
  mixture        96-d Gaussian mixture (1,000 centres N(0, 1), spread 0.5), cosine: the reference
  rogue          mixture with 30x the mean row norm added to dimension 0, cosine ("rogue
                 dimensions" of some embedding models: every cosine ~0.999)
  one-direction  mixture with 3x the mean row norm added along the diagonal, cosine (mean cosine
                 ~0.98: embeddings whose average direction dominates)
  low2           2-d uniform, L2
  sparse         1024-d, 3% non-zero exponential values, cosine (bag-of-words-like; rows / 2)
  half-zero      128-d: 64 Gaussian dimensions and 64 always zero, L2 (no structure: hard for
                 any graph index)
  mips           64-d clustered directions with log-normal norms, inner product
"""
import argparse, json, os, subprocess, sys, time
import numpy as np

try:
    import hnswlib
except ImportError:
    hnswlib = None

KINDS = ["mixture", "rogue", "one-direction", "low2", "sparse", "half-zero", "mips"]
METRIC = {"mixture": "cosine", "rogue": "cosine", "one-direction": "cosine", "low2": "l2", "sparse": "cosine",
          "half-zero": "l2", "mips": "ip"}


def generate(kind, rows, rng):
    """rows + 1,000 vectors of one kind (the last 1,000 are the queries)."""
    n = rows + 1000
    if kind in ("mixture", "rogue", "one-direction"):
        centres = rng.standard_normal((1000, 96))
        x = centres[rng.integers(0, 1000, n)] + 0.5 * rng.standard_normal((n, 96))
        norm = np.linalg.norm(x, axis=1).mean()
        if kind == "rogue":
            x[:, 0] += 30 * norm
        elif kind == "one-direction":
            x += 3 * norm / np.sqrt(96)
        return x
    if kind == "low2":
        return rng.random((n, 2))
    if kind == "sparse":
        n = rows // 2 + 1000
        x = np.zeros((n, 1024))
        mask = rng.random(x.shape) < 0.03
        x[mask] = rng.exponential(1.0, mask.sum())
        return x
    if kind == "half-zero":
        x = np.zeros((n, 128))
        x[:, :64] = rng.standard_normal((n, 64))
        return x
    if kind == "mips":
        centres = rng.standard_normal((500, 64))
        x = centres[rng.integers(0, 500, n)] + 0.5 * rng.standard_normal((n, 64))
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        return x * rng.lognormal(0.0, 0.5, (n, 1))
    raise ValueError(kind)


def write_fbin(path, x):
    with open(path, "wb") as out:
        np.array(x.shape, dtype=np.int32).tofile(out)
        x.astype(np.float32).tofile(out)


def read_ivecs(path):
    raw = np.fromfile(path, dtype=np.int32)
    return raw.reshape(-1, raw[0] + 1)[:, 1:]


def run(args):
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--annforge", default="build-cpu/annforge")
    parser.add_argument("--work", required=True)
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--rows", type=int, default=200000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--beams", default="16,32,64,128")
    parser.add_argument("--no-hnswlib", action="store_true")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    beams = [int(b) for b in args.beams.split(",")]
    lines = ["| kind | metric | system | build s | " + " | ".join(f"width {b}" for b in beams) + " |",
             "|---|---|---|---:|" + "---:|" * len(beams)]
    for kind in args.kinds.split(","):
        metric = METRIC[kind]
        x = generate(kind, args.rows, np.random.default_rng(KINDS.index(kind) + 1)).astype(np.float32)
        base, queries = x[:-1000], x[-1000:]
        prefix = os.path.join(args.work, kind)
        write_fbin(prefix + ".fbin", base)
        write_fbin(prefix + "-q.fbin", queries)
        run([args.annforge, "gt", "--data", prefix + ".fbin", "--queries", prefix + "-q.fbin", "--metric", metric,
             "--k", "10", "--out", prefix + "-gt.ivecs", "--threads", str(args.threads)])
        built = json.loads(run([args.annforge, "build", "--data", prefix + ".fbin", "--metric", metric, "--out",
                                prefix + ".afi", "--threads", str(args.threads), "--json"]))
        found = json.loads(run([args.annforge, "search", "--index", prefix + ".afi", "--queries", prefix + "-q.fbin",
                                "--gt", prefix + "-gt.ivecs", "--beam", args.beams, "--threads", str(args.threads),
                                "--json"]))
        cells = [f"{r['recall']:.4f} @ {r['qps']:,.0f}" for r in found["results"]]
        lines.append(f"| {kind} | {metric} | annforge | {built['seconds']:.2f} | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
        if hnswlib is None or args.no_hnswlib:
            continue
        truth = read_ivecs(prefix + "-gt.ivecs")[:, :10]
        index = hnswlib.Index(space=metric, dim=base.shape[1])
        index.init_index(max_elements=len(base), M=16, ef_construction=200)
        index.set_num_threads(args.threads)
        start = time.time()
        index.add_items(base)
        build_seconds = time.time() - start
        cells = []
        for ef in beams:
            index.set_ef(max(ef, 10))
            start = time.time()
            ids, _ = index.knn_query(queries, k=10)
            seconds = time.time() - start
            recall = np.mean([len(set(ids[i]) & set(truth[i])) / 10 for i in range(len(queries))])
            cells.append(f"{recall:.4f} @ {len(queries) / seconds:,.0f}")
        lines.append(f"| {kind} | {metric} | hnswlib | {build_seconds:.2f} | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    with open(os.path.join(args.work, "data_kinds.md"), "w") as out:
        out.write("recall@10 @ queries/s per width (annforge beam, hnswlib ef)\n\n" + "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
