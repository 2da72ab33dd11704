"""Type stubs for annforge (the engine is the compiled module annforge._annforge)."""

from typing import Any, Callable, Dict, Literal, Optional, Tuple, Union

import numpy as np
import numpy.typing as npt

__version__: str
INVALID_ID: int
"""The id of a missing neighbour (k larger than the data): 2**32 - 1, with distance +inf."""

Metric = Literal["l2", "ip", "cosine"]
DeviceName = Literal["auto", "cpu", "gpu"]
ProgressArg = Union[None, bool, Callable[[str, int, int], Any]]
ArrayLike2D = Any
"""A 2-D row-major host array (each row contiguous, rows packed or apart): NumPy, a CPU torch.Tensor, anything with the buffer protocol
or DLPack. float32 / uint8 / int8 are used in place; float16 / float64 converted to float32."""

class Error(Exception):
    """Base class of every error annforge raises."""

class InvalidArgumentError(Error, ValueError): ...
class FileError(Error, OSError): ...
class FormatError(Error, ValueError): ...
class UnsupportedError(Error, RuntimeError): ...
class NoDeviceError(Error, RuntimeError): ...
class InternalError(Error, RuntimeError): ...

class Index:
    """A built index: the vectors, the fixed-degree graph and its search levels."""

    def __len__(self) -> int: ...
    @property
    def rows(self) -> int: ...
    @property
    def dim(self) -> int: ...
    @property
    def graph_degree(self) -> int: ...
    @property
    def metric(self) -> str: ...
    @property
    def dtype(self) -> str: ...
    @property
    def backend(self) -> str: ...
    @property
    def graph(self) -> npt.NDArray[np.uint32]:
        """(rows, graph_degree) neighbour ids, read-only, without a copy."""
    def search(self, queries: ArrayLike2D, k: int = 10, beam_width: int = 64, threads: int = 0,
               device: DeviceName = "auto", progress: Optional[Callable[[str, int, int], Any]] = None
               ) -> Tuple[npt.NDArray[np.uint32], npt.NDArray[np.float32]]:
        """Searches a batch: (ids, distances), each (queries, k), nearest first. Distances:
        squared L2, -inner product, or 1 - cosine. Safe to call from several threads at once."""
    def extend(self, vectors: ArrayLike2D, threads: int = 0, seed: int = 42,
               progress: Optional[Callable[[str, int, int], Any]] = None,
               graph_degree: int = 32) -> None:
        """Adds a batch of vectors (copied into the index) and links them into the graph, at a
        cost that follows the batch, not the index. Views of the graph taken before stay valid
        (they show the graph as it was; while one is held, extend works on a copy). The index
        keeps its degree, unless it had too few rows for it (r rows hold r - 1 links each):
        then it grows to graph_degree."""
    def save(self, path: str) -> None:
        """Saves the index atomically (a temporary name, then a rename)."""
    def export(self, path: str, format: Literal["hnswlib", "faiss"] = "hnswlib", threads: int = 0,
               seed: int = 42, links: Literal["index", "diverse"] = "index") -> None:
        """Writes a file that stock hnswlib (load_index) or FAISS (read_index) loads. links:
        "index" (level 0 is the index graph as it is) or "diverse" (each row's links chosen again
        by HNSW's heuristic: more queries/s in those libraries at equal recall, a longer export)."""

def build(vectors: ArrayLike2D, metric: Metric = "l2", graph_degree: int = 32, device: DeviceName = "auto",
          threads: int = 0, progress: ProgressArg = None, *, seed: int = 42, intermediate_degree: int = 0,
          partitions: int = 0, memory_limit: int = 0) -> Index:
    """Builds an index over all rows of `vectors` in one call (the GIL released meanwhile)."""

def plan(rows: int, dim: int, dtype: Literal["float32", "uint8", "int8"] = "float32", metric: Metric = "l2",
         graph_degree: int = 32, device: DeviceName = "auto", threads: int = 0, partitions: int = 0,
         memory_limit: int = 0) -> Dict[str, Any]:
    """What a build will take before any work: stages (name, host_bytes, device_bytes, seconds),
    peak_host_bytes, peak_device_bytes, partitions and partitions_why, fits and refusal."""

def load(path: str) -> Index: ...
def exact_knn(base: ArrayLike2D, queries: ArrayLike2D, k: int = 10, metric: Metric = "l2", threads: int = 0,
              device: DeviceName = "cpu") -> Tuple[npt.NDArray[np.uint32], npt.NDArray[np.float32]]:
    """Exact k nearest neighbours by blocked brute force (ground truth)."""
def read_vectors(path: str, max_rows: int = -1, member: str = "") -> npt.NDArray[Any]:
    """A vector file as a read-only array (a view of the file's mapping where it can be):
    .fvecs .bvecs .fbin .f16bin .u8bin .i8bin .npy .hdf5 (member: 'train' by default)."""
def read_neighbors(path: str, member: str = "") -> npt.NDArray[np.uint32]:
    """Neighbour ids: .ivecs, .ibin, or an .hdf5 file's 'neighbors'."""
def system_info() -> dict:
    """version, backends, cpu_simd, gpu_available, gpu, hdf5."""
