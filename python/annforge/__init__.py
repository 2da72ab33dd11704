"""annforge: build a proximity-graph index over a whole batch of vectors in one call.

    import numpy as np, annforge
    base = np.random.rand(100_000, 96).astype(np.float32)
    index = annforge.build(base, metric="l2", graph_degree=32)
    ids, distances = index.search(base[:10], k=10, beam_width=64)

Arrays are used in place: a row-major 2-D float32, uint8 or int8 NumPy array (or anything
exporting the buffer protocol / DLPack from host memory, such as a CPU PyTorch tensor) is never
copied; the index keeps it alive. Its rows may lie apart (x[::2], a texmex file from
read_vectors) but each row must be contiguous. float16 and float64 are converted to float32 once
(one copy the index owns). Arrays in GPU memory (CuPy, CUDA tensors; where this annforge has the
CUDA backend) are copied once into host memory that the index owns. Other layouts are refused with ValueError (pass np.ascontiguousarray),
other dtypes with TypeError. The GIL is released during build, search, extend, save, load and
export, so other Python threads run meanwhile and several threads may search one index at
once. Ctrl-C stops a long call at its next progress report (every 1/200 of a stage) with
KeyboardInterrupt; nothing is left half-written.
"""

from __future__ import annotations

import sys
import time

from . import _annforge
from ._annforge import (
    INVALID_ID,
    Error,
    FileError,
    FormatError,
    Index,
    InternalError,
    InvalidArgumentError,
    NoDeviceError,
    UnsupportedError,
    __version__,
    exact_knn,
    load,
    plan,
    read_neighbors,
    read_vectors,
    system_info,
)

__all__ = [
    "INVALID_ID", "Error", "FileError", "FormatError", "Index", "InternalError", "InvalidArgumentError",
    "NoDeviceError", "UnsupportedError", "__version__", "build", "exact_knn", "load", "plan", "read_neighbors",
    "read_vectors", "system_info",
]


class _PlainBar:
    """A one-line progress bar on stderr, for terminals without tqdm."""

    def __init__(self):
        self._stage = None
        self._last = 0.0

    def __call__(self, stage, done, total):
        now = time.monotonic()
        if stage == self._stage and done < total and now - self._last < 0.1:
            return
        if stage != self._stage and self._stage is not None:
            sys.stderr.write("\n")
        self._stage, self._last = stage, now
        width = 30
        filled = int(width * done / total) if total else width
        sys.stderr.write(f"\r{stage:<14} [{'#' * filled}{'.' * (width - filled)}] {100.0 * done / max(total, 1):5.1f}%")
        sys.stderr.flush()

    def close(self):
        if self._stage is not None:
            sys.stderr.write("\n")
            sys.stderr.flush()


class _TqdmBar:
    """One tqdm bar per stage."""

    def __init__(self, tqdm):
        self._tqdm = tqdm
        self._bar = None
        self._stage = None

    def __call__(self, stage, done, total):
        if stage != self._stage:
            self.close()
            self._bar = self._tqdm(total=total, desc=stage, leave=False, file=sys.stderr)
            self._stage = stage
        self._bar.update(done - self._bar.n)

    def close(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _progress(progress):
    """(callback or None, close): None shows a bar when stderr is a terminal, True always,
    False never; a callable is called with (stage, done, total) from the calling thread."""
    if progress is None:
        progress = sys.stderr.isatty()
    if progress is False:
        return None, lambda: None
    if callable(progress) and progress is not True:
        return progress, lambda: None
    try:
        from tqdm import tqdm
        bar = _TqdmBar(tqdm)
    except ImportError:
        bar = _PlainBar()
    return bar, bar.close


def build(vectors, metric="l2", graph_degree=32, device="auto", threads=0, progress=None, *, seed=42,
          intermediate_degree=0, partitions=0, memory_limit=0) -> Index:
    """Builds an index over all rows of `vectors` (rows, dim) in one call.

    metric: "l2" (squared Euclidean), "ip" (inner product) or "cosine".
    graph_degree: out-degree of the graph (neighbours per row).
    device: "auto" (the GPU where this build has one), "cpu" or "gpu".
    threads: CPU threads, 0 for all.
    progress: None (a bar when stderr is a terminal), True, False, or a callable
        f(stage, done, total) called from the calling thread.
    seed: the same input and seed give the same index.
    intermediate_degree: degree of the kNN graph before pruning; 0 for the backend's choice.
    partitions: pieces the kNN stage is built in, one after another (CPU); 0: one, or the fewest
        whose plan fits memory_limit.
    memory_limit: host bytes the build may hold (0: no limit); a build whose plan cannot fit is
        refused (UnsupportedError) before any work. See plan().
    """
    callback, close = _progress(progress)
    try:
        return _annforge.build(vectors, metric, graph_degree, device, threads, callback, seed, intermediate_degree,
                               partitions, memory_limit)
    finally:
        close()
