#!/usr/bin/env python3
"""What Python costs annforge, what batching buys, and annforge beside hnswlib and FAISS from
Python, in one process on the same arrays.

1. Overhead: annforge.build and Index.search from Python against the time the same calls spent
   inside the C++ library (annforge._annforge._library_seconds(): measured around the C++ call,
   inside the binding); the difference is what the binding adds (array checks, wrapping, the
   GIL, the progress hook's calls).
2. The anti-pattern beside batching: vectors added one call at a time from a Python loop
   (hnswlib add_items per vector; annforge extend per vector) against one batch call, in
   vectors/s.
3. annforge, hnswlib (M16, efC200) and FAISS (IndexHNSWFlat M32, efC40) built and searched from
   Python on the same arrays: build seconds, recall@10 and queries/s at a few widths.

Writes OUT.json, OUT.md and OUT.png (matplotlib, where installed).

    .venv/bin/python bench/python_overhead.py --data data/sift-vl-1m --rows 1000000 --threads 2 \\
        --out bench/results/python-sift1m
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

import annforge
from annforge import _annforge


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def first_file(folder, names):
    for name in names:
        path = os.path.join(folder, name)
        if os.path.exists(path):
            return path
    raise SystemExit(f"python_overhead.py: none of {names} in {folder}")


def recall_at(found, truth, k=10):
    found = np.asarray(found)[:, :k].astype(np.int64)
    truth = np.asarray(truth)[:, :k].astype(np.int64)
    hits = 0
    for f, t in zip(found, truth):
        hits += len(np.intersect1d(f, t, assume_unique=False))
    return hits / (len(found) * k)


def timed(call):
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


def overhead(base, queries, truth, threads, repeats):
    """Python call time against the library's own time, for build and a search batch (with the
    search's recall@10 at width 64, so that the build's speed stands beside its quality)."""
    rows = []
    index = None
    found = None
    for _ in range(repeats):
        index, total = timed(lambda: annforge.build(base, threads=threads, progress=False))
        inside = _annforge._library_seconds()
        rows.append({"call": "build", "python_s": total, "library_s": inside})
    for _ in range(repeats):
        (found, _), total = timed(lambda: index.search(queries, k=10, beam_width=64, threads=threads))
        inside = _annforge._library_seconds()
        rows.append({"call": f"search ({len(queries)} queries, width 64)", "python_s": total, "library_s": inside})
    summary = []
    for call in dict.fromkeys(r["call"] for r in rows):
        mine = [r for r in rows if r["call"] == call]
        py = statistics.median(r["python_s"] for r in mine)
        lib = statistics.median(r["library_s"] for r in mine)
        added = statistics.median(r["python_s"] - r["library_s"] for r in mine)
        summary.append({"call": call, "python_s": py, "library_s": lib, "added_s": added,
                        "added_percent": 100.0 * added / lib if lib > 0 else 0.0, "runs": len(mine),
                        "vectors_per_s": len(base) / py if call == "build" else None,
                        "recall_at_10": recall_at(found, truth) if call != "build" else None})
    return index, summary


def one_at_a_time(base, threads, count):
    """Vectors added one call each from a Python loop, against one batch call, in vectors/s."""
    out = []
    part = base[:count]
    try:
        import hnswlib
        dim = base.shape[1]
        index = hnswlib.Index(space="l2", dim=dim)
        index.init_index(max_elements=count, M=16, ef_construction=200)
        index.set_num_threads(1)
        _, seconds = timed(lambda: [index.add_items(part[i:i + 1].astype(np.float32), [i]) for i in range(count)])
        out.append({"system": "hnswlib add_items, one vector per call", "vectors": count, "vectors_per_s": count / seconds})
        batch = hnswlib.Index(space="l2", dim=dim)
        batch.init_index(max_elements=count, M=16, ef_construction=200)
        batch.set_num_threads(threads)
        _, seconds = timed(lambda: batch.add_items(part.astype(np.float32), np.arange(count)))
        out.append({"system": f"hnswlib add_items, one batch ({threads} threads)", "vectors": count,
                    "vectors_per_s": count / seconds})
    except ImportError:
        pass
    # annforge: an index of the same rows, then extend by one vector per call and by 100 per
    # call (each call links its rows into the graph; its cost follows the rows it adds), against
    # one build of all of them.
    index = annforge.build(part, threads=threads, progress=False)
    extra = base[count:count + 1000]
    if len(extra) > 0:
        _, seconds = timed(lambda: [index.extend(extra[i:i + 1], threads=threads) for i in range(len(extra))])
        out.append({"system": f"annforge extend of a {count}-row index, one vector per call", "vectors": len(extra),
                    "vectors_per_s": len(extra) / seconds})
    extra = base[count + 1000:count + 11000]
    if len(extra) > 0:
        _, seconds = timed(lambda: [index.extend(extra[i:i + 100], threads=threads) for i in range(0, len(extra), 100)])
        out.append({"system": f"annforge extend of a {count + 1000}-row index, 100 vectors per call",
                    "vectors": len(extra), "vectors_per_s": len(extra) / seconds})
    _, seconds = timed(lambda: annforge.build(part, threads=threads, progress=False))
    out.append({"system": f"annforge build, one batch ({threads} threads)", "vectors": count, "vectors_per_s": count / seconds})
    return out


def compare(base, queries, truth, threads, widths, metric):
    """annforge, hnswlib and FAISS built and searched from Python on the same arrays."""
    results = []
    as_float = None

    def float_rows():
        nonlocal as_float
        if as_float is None:
            as_float = np.ascontiguousarray(base, dtype=np.float32)
        return as_float

    queries_f = np.ascontiguousarray(queries, dtype=np.float32)
    index, seconds = timed(lambda: annforge.build(base, metric=metric, threads=threads, progress=False))
    curve = []
    for w in widths:
        (ids, _), s = timed(lambda: index.search(queries, k=10, beam_width=w, threads=threads))
        curve.append({"width": w, "recall": recall_at(ids, truth), "qps": len(queries) / s})
    results.append({"system": "annforge", "build_s": seconds, "curve": curve})
    try:
        import hnswlib
        space = {"l2": "l2", "ip": "ip", "cosine": "cosine"}[metric]
        h = hnswlib.Index(space=space, dim=base.shape[1])
        h.init_index(max_elements=len(base), M=16, ef_construction=200)
        h.set_num_threads(threads)
        _, seconds = timed(lambda: h.add_items(float_rows(), np.arange(len(base))))
        curve = []
        for w in widths:
            h.set_ef(w)
            (ids, _), s = timed(lambda: h.knn_query(queries_f, k=10))
            curve.append({"width": w, "recall": recall_at(ids, truth), "qps": len(queries) / s})
        results.append({"system": "hnswlib M16 efC200", "build_s": seconds, "curve": curve})
    except ImportError:
        print("python_overhead.py: hnswlib not installed (Debian: python3-hnswlib); skipped", file=sys.stderr)
    try:
        import faiss
        faiss.omp_set_num_threads(threads)
        if metric == "l2":
            f = faiss.IndexHNSWFlat(base.shape[1], 32)
        else:
            f = faiss.IndexHNSWFlat(base.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
        f.hnsw.efConstruction = 40
        data = float_rows()
        q = queries_f
        if metric == "cosine":
            data = data / np.linalg.norm(data, axis=1, keepdims=True)
            q = q / np.linalg.norm(q, axis=1, keepdims=True)
        _, seconds = timed(lambda: f.add(data))
        curve = []
        for w in widths:
            f.hnsw.efSearch = w
            (_, ids), s = timed(lambda: f.search(q, 10))
            curve.append({"width": w, "recall": recall_at(ids, truth), "qps": len(queries) / s})
        results.append({"system": "faiss HNSW32 efC40", "build_s": seconds, "curve": curve})
    except ImportError:
        print("python_overhead.py: faiss not installed (Debian: python3-faiss); skipped", file=sys.stderr)
    return results


def write_report(out, report):
    os.makedirs(os.path.dirname(os.path.abspath(out)) or ".", exist_ok=True)
    with open(out + ".json", "w") as fh:
        json.dump(report, fh, indent=2)
    lines = [f"# annforge from Python: {report['data']} ({report['rows']} x {report['dim']} {report['dtype']})", "",
             f"{report['cpu']}, {report['threads']} threads, {report['date']}, annforge {report['version']}, "
             f"Python {report['python']}.", "", "## What the binding adds", "",
             "| call | Python call s | inside the library s | added s | added % |", "|---|---:|---:|---:|---:|"]
    for r in report["overhead"]:
        lines.append(f"| {r['call']} | {r['python_s']:.4f} | {r['library_s']:.4f} | {r['added_s']:.6f} | "
                     f"{r['added_percent']:.3f} |")
    build = report["overhead"][0]
    searched = report["overhead"][1]
    lines += ["", f"(medians of {build['runs']} runs) Build from Python: {build['vectors_per_s']:,.0f} vectors/s; "
              f"its search at width 64: recall@10 {searched['recall_at_10']:.4f}.", "",
              "## One vector per call against one batch", "", "| how | vectors | vectors/s |", "|---|---:|---:|"]
    for r in report["one_at_a_time"]:
        lines.append(f"| {r['system']} | {r['vectors']} | {r['vectors_per_s']:,.0f} |")
    if not report["compare"]:
        with open(out + ".md", "w") as fh:
            fh.write("\n".join(lines) + "\n")
        print("\n".join(lines))
        return
    lines += ["", "## annforge, hnswlib and FAISS from Python", "",
              "| system | build s | " + " | ".join(f"w={c['width']} recall / q/s" for c in report["compare"][0]["curve"]) + " |",
              "|---|---:|" + "---:|" * len(report["compare"][0]["curve"])]
    for r in report["compare"]:
        cells = " | ".join(f"{c['recall']:.4f} / {c['qps']:,.0f}" for c in r["curve"])
        lines.append(f"| {r['system']} | {r['build_s']:.2f} | {cells} |")
    with open(out + ".md", "w") as fh:
        fh.write("\n".join(lines) + "\n")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for r in report["compare"]:
            ax.plot([c["recall"] for c in r["curve"]], [c["qps"] for c in r["curve"]], marker="o",
                    label=f"{r['system']} (build {r['build_s']:.1f} s)")
        ax.set_xlabel("recall@10")
        ax.set_ylabel("queries/s")
        ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
        ax.legend()
        ax.set_title(f"From Python: {report['data']} {report['rows']} rows, {report['threads']} threads")
        fig.tight_layout()
        fig.savefig(out + ".png", dpi=110)
    except ImportError:
        pass
    print("\n".join(lines))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="data/sift-vl-1m", help="folder with base, query and groundtruth files")
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--metric", default="l2", choices=["l2", "ip", "cosine"])
    p.add_argument("--repeats", type=int, default=3, help="runs of each overhead measurement")
    p.add_argument("--single", type=int, default=2000, help="vectors for the one-per-call comparison")
    p.add_argument("--widths", default="32,64,128,256")
    p.add_argument("--skip-compare", action="store_true", help="leave out the hnswlib / FAISS comparison")
    p.add_argument("--out", default="bench/results/python")
    a = p.parse_args()

    base_path = first_file(a.data, ["base.bvecs", "base.fvecs", "base.fbin", "base.u8bin", "base.npy"])
    query_path = first_file(a.data, ["query.bvecs", "query.fvecs", "queries.fbin", "query.fbin", "query.npy", "queries.npy"])
    base = annforge.read_vectors(base_path, max_rows=a.rows)
    base = np.ascontiguousarray(base)  # texmex files are already copied into one block; others stay mapped
    queries = np.ascontiguousarray(annforge.read_vectors(query_path))
    # Ground truth for exactly these rows (a slice has its own neighbours).
    truth, _ = annforge.exact_knn(base, queries, k=10, metric=a.metric, threads=a.threads)

    _, summary = overhead(base, queries, truth, a.threads, a.repeats)
    single = one_at_a_time(base, a.threads, min(a.single, len(base)))
    widths = [int(w) for w in a.widths.split(",")]
    compared = [] if a.skip_compare else compare(base, queries, truth, a.threads, widths, a.metric)
    report = {
        "data": os.path.basename(os.path.normpath(a.data)), "rows": int(base.shape[0]), "dim": int(base.shape[1]),
        "dtype": str(base.dtype), "threads": a.threads, "cpu": cpu_name(), "date": time.strftime("%Y-%m-%d"),
        "version": annforge.__version__, "python": platform.python_version(), "overhead": summary,
        "one_at_a_time": single, "compare": compared,
    }
    write_report(a.out, report)


if __name__ == "__main__":
    main()
