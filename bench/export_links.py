#!/usr/bin/python3
"""Level-0 links of the hnswlib export (`annforge export --links index|diverse`) against
hnswlib's own index, all searched by hnswlib (Debian's python3-hnswlib) in one process on the
same queries: recall@10 and queries/s per ef, and queries/s at recall 0.90 / 0.95 / 0.99
(log-interpolated). Usage (sift-vl-1m from ../shared/data, 2 threads):

  bench/export_links.py --annforge build-cpu/annforge --data data/sift-vl-1m --work /tmp/links
  bench/export_links.py --annforge build-cpu/annforge --data data/wordtext-1m --metric cosine \
      --work /tmp/links-wordtext
  bench/export_links.py --annforge build-cpu/annforge --data data/wordtext-ip --metric ip \
      --rows 200000 --work /tmp/links-wordtext-ip

hnswlib's own index (M 16, efConstruction 200) is built once and kept in --work (about 5
minutes for 1M rows on 2 cores). With --library faiss the exports are written for FAISS and set
beside FAISS's own IndexHNSWFlat (M 32, efConstruction 40, FAISS's default), searched by Debian's
python3-faiss; --rows N takes the first N rows (exact ground truth recomputed by `annforge gt`)."""
import argparse, json, math, os, subprocess, sys, time
import numpy as np
import hnswlib
try:
    import faiss
except ImportError:
    faiss = None


def read_vecs(path, dtype):
    raw = np.fromfile(path, dtype=np.uint8)
    dim = raw[:4].view(np.int32)[0]
    width = 4 + dim * np.dtype(dtype).itemsize
    return raw.reshape(-1, width)[:, 4:].copy().view(dtype)


class Searcher:
    """One library's index behind set_ef / search."""

    def __init__(self, library, path, space, dim, threads):
        self.library = library
        if library == "faiss":
            faiss.omp_set_num_threads(threads)
            self.index = faiss.read_index(path)
        else:
            self.index = hnswlib.Index(space=space, dim=dim)
            self.index.load_index(path)
            self.index.set_num_threads(threads)

    def set_ef(self, ef):
        if self.library == "faiss":
            self.index.hnsw.efSearch = ef
        else:
            self.index.set_ef(ef)

    def search(self, queries):
        if self.library == "faiss":
            return self.index.search(queries, 10)[1]
        return self.index.knn_query(queries, k=10)[0]


def sweep(library, path, space, queries, truth, efs, threads):
    index = Searcher(library, path, space, queries.shape[1], threads)
    index.set_ef(32)
    index.search(queries[:2000])  # warm the pages
    points = []
    for ef in efs:
        index.set_ef(ef)
        best = 0.0
        for _ in range(2):
            start = time.time()
            ids = index.search(queries)
            best = max(best, len(queries) / (time.time() - start))
        hits = sum(len(set(ids[i]) & set(truth[i])) for i in range(len(queries)))
        points.append({"ef": ef, "recall": hits / (10 * len(queries)), "qps": best})
    return points


def at_recall(points, target):
    for a, b in zip(points, points[1:]):
        if a["recall"] <= target <= b["recall"]:
            t = (target - a["recall"]) / (b["recall"] - a["recall"])
            return math.exp(math.log(a["qps"]) + t * (math.log(b["qps"]) - math.log(a["qps"])))
    return None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--annforge", required=True)
    parser.add_argument("--data", required=True,
                        help="a folder with base and query .bvecs or .fvecs, and groundtruth.ivecs")
    parser.add_argument("--metric", choices=["l2", "cosine", "ip"], default="l2")
    parser.add_argument("--library", choices=["hnswlib", "faiss"], default="hnswlib")
    parser.add_argument("--rows", type=int, default=0, help="the first N rows only (0: all)")
    parser.add_argument("--work", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--degree", type=int, default=0,
                        help="annforge's graph degree (0: its default, 32); FAISS's HNSW32 holds 64 links on level 0")
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    kind, dtype = ("bvecs", np.uint8) if os.path.exists(os.path.join(args.data, "base.bvecs")) else ("fvecs", np.float32)
    base_path = os.path.join(args.data, "base." + kind)
    queries = read_vecs(os.path.join(args.data, "query." + kind), dtype).astype(np.float32)
    rows = ["--rows", str(args.rows)] if args.rows > 0 else []
    if args.rows > 0:
        gt_path = os.path.join(args.work, f"groundtruth-{args.rows}.ivecs")
        if not os.path.exists(gt_path):
            subprocess.run([args.annforge, "gt", "--data", base_path, "--queries", os.path.join(args.data, "query." + kind),
                            "--out", gt_path, "--k", "10", "--metric", args.metric, "--threads", str(args.threads)] + rows,
                           check=True, stdout=subprocess.DEVNULL)
        truth = read_vecs(gt_path, np.int32)[:, :10]
    else:
        truth = read_vecs(os.path.join(args.data, "groundtruth.ivecs"), np.int32)[:, :10]
    own_name = "faiss-hnsw32-efc40" if args.library == "faiss" else "hnswlib-m16-efc200"
    native = os.path.join(args.work, f"native-{own_name}-{args.rows or 'all'}.index")
    result = {"threads": args.threads, "metric": args.metric, "data": args.data, "library": args.library,
              "rows": args.rows}
    if not os.path.exists(native):
        base = read_vecs(base_path, dtype).astype(np.float32)
        if args.rows > 0:
            base = np.ascontiguousarray(base[:args.rows])
        start = time.time()
        if args.library == "faiss":
            if args.metric == "cosine":
                faiss.normalize_L2(base)
            faiss.omp_set_num_threads(args.threads)
            own = faiss.IndexHNSWFlat(base.shape[1], 32,
                                      faiss.METRIC_L2 if args.metric == "l2" else faiss.METRIC_INNER_PRODUCT)
            own.add(base)
            result["native_build_s"] = time.time() - start
            faiss.write_index(own, native)
        else:
            own = hnswlib.Index(space=args.metric, dim=base.shape[1])
            own.init_index(max_elements=base.shape[0], ef_construction=200, M=16)
            own.set_num_threads(args.threads)
            own.add_items(base, np.arange(base.shape[0]))
            result["native_build_s"] = time.time() - start
            own.save_index(native)
        del own, base
    if args.library == "faiss" and args.metric == "cosine":
        queries = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    degree = ["--degree", str(args.degree)] if args.degree > 0 else []
    index_path = os.path.join(args.work, f"annforge-{args.rows or 'all'}{'-d' + str(args.degree) if degree else ''}.idx")
    start = time.time()
    subprocess.run([args.annforge, "build", "--data", base_path, "--metric", args.metric, "--out", index_path,
                    "--threads", str(args.threads)] + rows + degree, check=True, stdout=subprocess.DEVNULL)
    result["degree"] = args.degree or 32
    result["annforge_build_s"] = time.time() - start
    files = {own_name: native}
    for links in ("index", "diverse"):
        path = os.path.join(args.work, f"export-{links}{'-d' + str(args.degree) if degree else ''}.{args.library}")
        done = subprocess.run([args.annforge, "export", "--index", index_path, "--out", path, "--links", links,
                               "--format", args.library, "--threads", str(args.threads), "--json"],
                              check=True, capture_output=True, text=True)
        result[f"export_{links}_s"] = json.loads(done.stdout)["export_seconds"]
        files[f"annforge --links {links}"] = path
    efs = [24, 32, 48, 64, 96, 128, 192, 256]
    result["curves"] = {name: sweep(args.library, path, args.metric, queries, truth, efs, args.threads)
                        for name, path in files.items()}
    own = result["curves"][own_name]
    print(f"annforge build {result['annforge_build_s']:.2f} s; export --links index {result['export_index_s']:.2f} s, "
          f"--links diverse {result['export_diverse_s']:.2f} s")
    print(f"| index searched by {args.library} | q/s @0.90 | q/s @0.95 | q/s @0.99 |")
    print("|---|---:|---:|---:|")
    for name, points in result["curves"].items():
        cells = []
        for target in (0.90, 0.95, 0.99):
            q, ref = at_recall(points, target), at_recall(own, target)
            cells.append("-" if q is None else f"{q:,.0f}" + ("" if ref is None or name == own_name else f" ({q / ref:.2f}x)"))
        print(f"| {name} | " + " | ".join(cells) + " |")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
