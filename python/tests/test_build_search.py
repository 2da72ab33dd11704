"""Build and search through Python: recall against exact ground truth, the graph's invariants
through its zero-copy view, save/load, extend, export, and each metric and dtype."""
import os
import sys

import numpy as np
import pytest

import annforge
from conftest import clustered, recall


def test_build_search_recall(data):
    base, queries = data
    index = annforge.build(base, metric="l2", graph_degree=16, threads=2, progress=False)
    assert (index.rows, index.dim, index.graph_degree, index.metric, index.backend) == (6000, 24, 16, "l2", "cpu")
    ids, distances = index.search(queries, k=10, beam_width=64)
    assert ids.shape == (200, 10) and ids.dtype == np.uint32
    assert distances.shape == (200, 10) and distances.dtype == np.float32
    truth, truth_distances = annforge.exact_knn(base, queries, k=10, metric="l2")
    assert recall(ids, truth) >= 0.95
    # Distances are the squared L2 of the returned rows, nearest first.
    expected = ((base[ids[0]] - queries[0]) ** 2).sum(axis=1)
    np.testing.assert_allclose(distances[0], expected, rtol=1e-4, atol=1e-3)
    assert np.all(np.diff(distances, axis=1) >= 0)


def test_graph_view_invariants_and_zero_copy(data):
    base, _ = data
    index = annforge.build(base, graph_degree=16, progress=False)
    graph = index.graph
    assert graph.shape == (6000, 16) and graph.dtype == np.uint32
    assert not graph.flags.writeable
    assert graph.max() < 6000
    assert not np.any(graph == np.arange(6000)[:, None]), "no self loops"
    assert all(len(set(row)) == 16 for row in graph.tolist()), "no repeated neighbours"
    # The same memory on every access: a view, not a copy.
    assert index.graph.__array_interface__["data"][0] == graph.__array_interface__["data"][0]


def test_input_is_used_in_place_and_kept_alive():
    base = clustered(3000, 16, seed=3)
    queries = base[:50].copy()
    index = annforge.build(base, graph_degree=16, progress=False)
    del base  # the index holds the array
    ids, _ = index.search(queries, k=1)
    assert np.array_equal(ids[:, 0], np.arange(50))


@pytest.mark.parametrize("metric", ["l2", "ip", "cosine"])
def test_each_metric(metric, data):
    base, queries = data
    index = annforge.build(base, metric=metric, graph_degree=16, progress=False)
    ids, _ = index.search(queries, k=10, beam_width=64)
    truth, _ = annforge.exact_knn(base, queries, k=10, metric=metric)
    assert recall(ids, truth) >= 0.9


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.float16, np.float64])
def test_each_dtype(dtype):
    rng = np.random.default_rng(4)
    if dtype == np.uint8:
        base = rng.integers(0, 256, (3000, 32)).astype(np.uint8)
    elif dtype == np.int8:
        base = rng.integers(-128, 128, (3000, 32)).astype(np.int8)
    else:
        base = clustered(3000, 32, seed=5).astype(dtype)
    index = annforge.build(base, graph_degree=16, progress=False)
    # float16 / float64 are converted to float32 once; 8-bit types are kept as they are.
    assert index.dtype == {np.uint8: "uint8", np.int8: "int8"}.get(dtype, "float32")
    ids, _ = index.search(base[:100], k=10)
    truth, _ = annforge.exact_knn(base, base[:100], k=10)
    assert recall(ids, truth) >= 0.9


def test_pytorch_cpu_tensor_if_installed(data):
    torch = pytest.importorskip("torch")
    base, queries = data
    index = annforge.build(torch.from_numpy(base), graph_degree=16, progress=False)
    ids, _ = index.search(torch.from_numpy(queries), k=10)
    truth, _ = annforge.exact_knn(base, queries, k=10)
    assert recall(ids, truth) >= 0.95


def test_save_load_round_trip(tmp_path, data):
    base, queries = data
    index = annforge.build(base, graph_degree=16, progress=False)
    path = str(tmp_path / "index.afi")
    index.save(path)
    loaded = annforge.load(path)
    assert (loaded.rows, loaded.dim, loaded.metric) == (index.rows, index.dim, index.metric)
    assert np.array_equal(loaded.graph, index.graph)
    assert np.array_equal(loaded.search(queries, k=10)[0], index.search(queries, k=10)[0])
    # A second save of the loaded index is byte for byte the first.
    again = str(tmp_path / "again.afi")
    loaded.save(again)
    assert open(path, "rb").read() == open(again, "rb").read()
    # No temporary left behind.
    assert sorted(os.listdir(tmp_path)) == ["again.afi", "index.afi"]


def test_extend_keeps_old_views_valid(data):
    base, queries = data
    index = annforge.build(base[:4000], graph_degree=16, progress=False)
    old_graph = index.graph
    before = old_graph.copy()
    index.extend(base[4000:])
    assert index.rows == 6000
    assert np.array_equal(old_graph, before), "a view taken before extend still shows that graph"
    assert index.graph.shape == (6000, 16)
    ids, _ = index.search(queries, k=10)
    truth, _ = annforge.exact_knn(base, queries, k=10)
    assert recall(ids, truth) >= 0.9


def test_extend_grows_a_graph_its_first_rows_capped(data):
    # A graph over r rows holds r - 1 links per row; extended, it grows to the degree asked
    # (it kept r - 1 for good before, and a one-row index could not be extended).
    base, queries = data
    index = annforge.build(base[:5], progress=False)
    assert index.graph_degree == 4
    index.extend(base[5:])
    assert index.graph.shape == (len(base), 32)
    ids, _ = index.search(queries, k=10)
    truth, _ = annforge.exact_knn(base, queries, k=10)
    assert recall(ids, truth) >= 0.95
    one = annforge.build(base[:1], progress=False)
    assert one.graph_degree == 0
    one.extend(base[1:2000], graph_degree=16)
    assert one.graph.shape == (2000, 16)


@pytest.mark.parametrize("links", ["index", "diverse"])
def test_export_hnswlib_loads_in_hnswlib(tmp_path, data, links):
    hnswlib = pytest.importorskip("hnswlib")
    base, queries = data
    index = annforge.build(base, graph_degree=16, progress=False)
    path = str(tmp_path / "index.hnsw")
    index.export(path, format="hnswlib", links=links)
    served = hnswlib.Index(space="l2", dim=base.shape[1])
    served.load_index(path)
    served.set_ef(64)
    labels, _ = served.knn_query(queries, k=10)
    truth, _ = annforge.exact_knn(base, queries, k=10)
    assert recall(labels, truth) >= 0.9


def test_read_vectors_zero_copy(tmp_path):
    base = clustered(500, 8, seed=6)
    path = tmp_path / "base.npy"
    np.save(path, base)
    read = annforge.read_vectors(str(path))
    assert read.dtype == np.float32 and read.shape == (500, 8)
    assert np.array_equal(read, base)
    assert not read.flags.writeable, "a view of the file's mapping"
    np.save(tmp_path / "half.npy", base.astype(np.float16))
    half = annforge.read_vectors(str(tmp_path / "half.npy"))
    assert half.dtype == np.float32
    assert np.array_equal(half, base.astype(np.float16).astype(np.float32))


def test_rows_apart_are_used_in_place(tmp_path):
    # Every second row of a wider block, and a .fvecs file (a 4-byte header before each row)
    # read in place: the same index as from a packed copy, the array not copied.
    wide = clustered(4000, 12, seed=8)
    apart = wide[::2]
    assert not apart.flags.c_contiguous
    packed = np.ascontiguousarray(apart)
    a = annforge.build(apart, graph_degree=16, threads=1, progress=False)
    b = annforge.build(packed, graph_degree=16, threads=1, progress=False)
    assert np.array_equal(a.graph, b.graph)
    ids_a, d_a = a.search(packed[:20], k=5)
    ids_b, d_b = b.search(apart[:20], k=5)
    assert np.array_equal(ids_a, ids_b) and np.array_equal(d_a, d_b)
    path = tmp_path / "base.fvecs"
    with open(path, "wb") as f:
        for row in packed:
            f.write(np.int32(12).tobytes() + row.tobytes())
    read = annforge.read_vectors(str(path))
    assert read.strides == (4 * 13, 4), "rows read where they lie in the file"
    assert np.array_equal(read, packed)
    c = annforge.build(read, graph_degree=16, threads=1, progress=False)
    assert np.array_equal(c.graph, b.graph)


def test_system_info():
    info = annforge.system_info()
    assert info["version"] == annforge.__version__
    assert "cpu" in info["backends"]
    assert info["cpu_simd"]


def test_repr_and_len(data):
    base, _ = data
    index = annforge.build(base, graph_degree=16, progress=False)
    assert len(index) == 6000
    assert repr(index) == "<annforge.Index 6000 x 24 float32, l2, degree 16, built on cpu>"


def test_progress_bar_on_stderr(data, capsys, monkeypatch):
    """progress=True draws a bar on stderr: tqdm's where installed, else the plain one."""
    base, _ = data
    annforge.build(base[:3000], graph_degree=16, progress=True)
    err = capsys.readouterr().err
    assert "knn" in err or "optimize" in err, err
    # Without tqdm: the plain bar, ending with a newline.
    monkeypatch.setitem(sys.modules, "tqdm", None)
    annforge.build(base[:3000], graph_degree=16, progress=True)
    err = capsys.readouterr().err
    assert "%" in err and err.endswith("\n"), err


def test_plan_and_partitioned_build():
    # The plan before any work: stages, a peak, one piece without a limit (768-byte rows: the
    # one-piece build copies them in cluster order, which pieces spare; see the C++ plan test).
    plan = annforge.plan(1_000_000, 192, dtype="float32", metric="cosine", device="cpu", threads=2)
    assert plan["backend"] == "cpu" and plan["partitions"] == 1 and plan["fits"]
    assert plan["peak_host_bytes"] == max(s["host_bytes"] for s in plan["stages"])
    # Under a limit below that peak: the fewest pieces that fit, saying why.
    limited = annforge.plan(1_000_000, 192, dtype="float32", metric="cosine", device="cpu", threads=2,
                            memory_limit=plan["peak_host_bytes"] * 3 // 4)
    assert limited["fits"] and limited["partitions"] > 1 and "pieces" in limited["partitions_why"]
    with pytest.raises(annforge.InvalidArgumentError, match="dtype"):
        annforge.plan(10, 4, dtype="float16")
    # A build in 4 pieces: the one-piece build's recall.
    base = clustered(20000, 16, seed=5)
    queries = clustered(200, 16, seed=6)
    truth, _ = annforge.exact_knn(base, queries, k=10)
    one = annforge.build(base, threads=2, progress=False, partitions=1)
    four = annforge.build(base, threads=2, progress=False, partitions=4)
    r1 = recall(one.search(queries, k=10, beam_width=32)[0], truth)
    r4 = recall(four.search(queries, k=10, beam_width=32)[0], truth)
    assert r4 >= r1 - 0.01
    with pytest.raises(annforge.UnsupportedError, match="host memory"):
        annforge.build(base, threads=2, progress=False, memory_limit=1024)
