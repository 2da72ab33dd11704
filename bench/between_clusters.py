#!/usr/bin/env python3
"""Queries that fall between well separated clusters: annforge's own search, its hnswlib export
and native hnswlib, recall@10 per width. The kNN graph of such data has no edge between
clusters; see NOTES.md (issue 13, "Found, not fixed").

    .venv/bin/python bench/between_clusters.py [--rows 6000] [--dim 24] [--clusters 20]
"""
import argparse
import os
import tempfile

import numpy as np

import annforge


def clustered(rows, dim, clusters, seed):
    """A mixture whose centres depend on the seed: base and queries come from different ones."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 4, (clusters, dim))
    labels = rng.integers(0, clusters, rows)
    return (centres[labels] + rng.normal(0, 1, (rows, dim))).astype(np.float32)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=6000)
    p.add_argument("--dim", type=int, default=24)
    p.add_argument("--clusters", type=int, default=20)
    p.add_argument("--queries", type=int, default=200)
    a = p.parse_args()
    import hnswlib
    base = clustered(a.rows, a.dim, a.clusters, 1)
    queries = clustered(a.queries, a.dim, a.clusters, 2)
    truth, _ = annforge.exact_knn(base, queries, k=10)

    def recall(found):
        return sum(len(set(f[:10]) & set(t[:10])) for f, t in zip(found.tolist(), truth.tolist())) / (len(truth) * 10)

    with tempfile.TemporaryDirectory() as folder:
        for degree in (16, 32):
            index = annforge.build(base, graph_degree=degree, progress=False)
            path = os.path.join(folder, f"d{degree}.hnsw")
            index.export(path)
            exported = hnswlib.Index(space="l2", dim=a.dim)
            exported.load_index(path)
            native = hnswlib.Index(space="l2", dim=a.dim)
            native.init_index(a.rows, M=degree // 2, ef_construction=200)
            native.add_items(base)
            for ef in (64, 256):
                exported.set_ef(ef)
                native.set_ef(ef)
                print(f"degree {degree} width {ef}: annforge {recall(index.search(queries, k=10, beam_width=ef)[0]):.4f}"
                      f"  exported to hnswlib {recall(exported.knn_query(queries, k=10)[0]):.4f}"
                      f"  native hnswlib M{degree // 2} {recall(native.knn_query(queries, k=10)[0]):.4f}")


if __name__ == "__main__":
    main()
