import numpy as np
import pytest


def clustered(rows, dim, clusters=20, seed=0, dtype=np.float32, rank=6):
    """Rows from a mixture of low-rank Gaussian clusters (intrinsic dimension `rank`, as real
    embeddings have), the same mixture for every seed, so base and queries match."""
    shape = np.random.default_rng(1000 + dim)
    centres = shape.normal(0, 4, (clusters, dim))
    axes = shape.normal(0, 1, (clusters, rank, dim))
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, clusters, rows)
    coords = rng.normal(0, 1, (rows, rank))
    rows_ = centres[labels] + np.einsum("nr,nrd->nd", coords, axes[labels]) + rng.normal(0, 0.05, (rows, dim))
    return rows_.astype(dtype)


def recall(found, truth, k=10):
    hits = sum(len(set(f[:k]) & set(t[:k])) for f, t in zip(found.tolist(), truth.tolist()))
    return hits / (len(found) * k)


@pytest.fixture(scope="package")
def data():
    base = clustered(6000, 24, seed=1)
    queries = clustered(200, 24, seed=2)
    return base, queries
