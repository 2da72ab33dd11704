"""The CUDA backend from Python: the package holds the backend scripts/python.sh built it with,
and where a GPU is usable, a build and a search on it reach the CPU's recall against exact
ground truth with the same graph invariants. Without a GPU the device tests skip with a reason."""
import os

import numpy as np
import pytest

import annforge
from conftest import clustered, recall

info = annforge.system_info()
needs_gpu = pytest.mark.skipif(not info["gpu_available"], reason=f"no usable GPU: {info['gpu']}")


def test_the_package_holds_the_backend_it_was_built_with():
    expected = os.environ.get("ANNFORGE_EXPECT_CUDA")
    if expected is None:
        pytest.skip("ANNFORGE_EXPECT_CUDA is not set (scripts/python.sh sets it from what it built)")
    assert ("cuda" in info["backends"]) == (expected == "1"), info


def test_auto_takes_the_cpu_without_a_gpu(data):
    if info["gpu_available"]:
        pytest.skip("this machine has a usable GPU")
    base, _ = data
    index = annforge.build(base, graph_degree=16, device="auto", progress=False)
    assert index.backend == "cpu"


@needs_gpu
def test_gpu_build_and_search(data):
    base, queries = data
    index = annforge.build(base, metric="l2", graph_degree=16, device="gpu", progress=False)
    assert index.backend == "cuda"
    graph = index.graph
    assert graph.shape == (6000, 16) and graph.max() < 6000
    assert not np.any(graph == np.arange(6000)[:, None]), "no self loops"
    assert all(len(set(row)) == 16 for row in graph.tolist()), "no repeated neighbours"
    truth, _ = annforge.exact_knn(base, queries, k=10, metric="l2")
    gpu_ids, gpu_distances = index.search(queries, k=10, beam_width=64, device="gpu")
    cpu_ids, _ = index.search(queries, k=10, beam_width=64, device="cpu")
    assert recall(gpu_ids, truth) >= 0.95
    assert recall(cpu_ids, truth) >= 0.95
    assert np.all(np.diff(gpu_distances, axis=1) >= 0)


@needs_gpu
@pytest.mark.parametrize("metric", ["ip", "cosine"])
def test_gpu_metrics(metric, data):
    base, queries = data
    index = annforge.build(base, metric=metric, graph_degree=16, device="gpu", progress=False)
    truth, _ = annforge.exact_knn(base, queries, k=10, metric=metric)
    ids, _ = index.search(queries, k=10, beam_width=128, device="gpu")
    assert recall(ids, truth) >= 0.9


@needs_gpu
def test_gpu_exact_knn_matches_the_cpu(data):
    base, queries = data
    cpu_ids, cpu_distances = annforge.exact_knn(base, queries, k=10, device="cpu")
    gpu_ids, gpu_distances = annforge.exact_knn(base, queries, k=10, device="gpu")
    np.testing.assert_allclose(gpu_distances, cpu_distances, rtol=1e-3, atol=1e-3)
    assert recall(gpu_ids, cpu_ids) >= 0.99


@needs_gpu
def test_cuda_arrays_are_copied_once_to_the_host(data):
    cupy = pytest.importorskip("cupy")
    base, queries = data
    reference = annforge.build(base, graph_degree=16, device="cpu", threads=1, progress=False)
    from_gpu = annforge.build(cupy.asarray(base), graph_degree=16, device="cpu", threads=1, progress=False)
    assert np.array_equal(from_gpu.graph, reference.graph), "the same rows, the same graph"
    ids, _ = from_gpu.search(cupy.asarray(queries), k=10, device="cpu")
    reference_ids, _ = reference.search(queries, k=10, device="cpu")
    assert np.array_equal(ids, reference_ids)
    # Rows apart in GPU memory, and float16 (converted once, as on the host).
    apart = cupy.asarray(np.ascontiguousarray(np.hstack([base, base])))[:, :24]
    assert np.array_equal(annforge.build(apart, graph_degree=16, device="cpu", threads=1, progress=False).graph,
                          reference.graph)
    half = annforge.build(cupy.asarray(base.astype(np.float16)), graph_degree=16, device="gpu", progress=False)
    assert half.rows == len(base)
