#!/usr/bin/env python3
"""The PyTorch row of bench/compare_gpu: an exact kNN graph of a base file (each row's k nearest
rows by L2, itself included) with torch.cdist + torch.topk over blocks of rows, on the GPU, in
float32. It prints ONE JSON line on stdout (everything else goes to stderr):

  {"system": "torch", "seconds": ..., "vectors_per_second": ..., "blocks": ..., "device": ...,
   "torch": ..., "recall_vs_float64": ..., "recall_vs_annforge_exact": ..., ...}

or {"skipped": "reason"} (exit 0) when numpy, torch or a CUDA device is missing, or
{"error": "message"} (exit 1) when the run fails.

usage: python3 bench/torch_knn_graph.py --base FILE [--rows N] [--k 33] [--repeat R]
           [--sample ROWS.ibin] [--reference IDS.ibin] [--check-k 10] [--block-rows B]

Timing: each timed run starts from the base rows in host memory (a contiguous numpy array, read
and made resident before any timing) and ends with the (rows x k) ids in a host tensor, after
torch.cuda.synchronize(): the host-to-device copy of the vectors (in their own type; uint8 is
widened to float32 on the GPU), every block's cdist + topk, and the copy of the ids back. One
untimed warm-up (CUDA context, cuBLAS handle, the kernels) comes first and is reported apart.
TF32 is turned off, so the matrix products are plain float32.

Checks, on a sample of rows (--sample: an .ibin of row numbers, e.g. written by compare_gpu;
otherwise 1,000 rows drawn here with a fixed seed):
  recall_vs_float64          the first --check-k neighbours other than the row itself against an
                             exact float64 recomputation of those rows' distances to every row
  recall_vs_float64_ties     the same, counting an id whose float64 distance equals the
                             check-k-th true distance as a hit (exact ties are common in uint8)
  recall_vs_annforge_exact   against --reference: an .ibin of (sample x check-k) ids, each row's
                             nearest other rows from annforge's exact GPU graph (compare_gpu)
  recall_vs_annforge_exact_ties   the share of ranks at which both lists, each sorted by float64
                             distance, hold the same distance (tie-blind, and a wrong id in
                             either list counts against it)

Formats (annforge's): .bvecs .fvecs (texmex), .u8bin .i8bin .fbin (big-ann-benchmarks), .npy.
--device cpu runs the same code on the CPU: only for trying the script out, not a measurement.
"""
import argparse
import json
import os
import sys
import time


def emit(obj, code=0):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()
    sys.exit(code)


def log(message):
    sys.stderr.write("torch_knn_graph: " + message + "\n")
    sys.stderr.flush()


# ---- annforge's vector formats, in numpy ------------------------------------------------------

def read_vectors(np, path, rows=None):
    """The first `rows` rows (all when None) of a vector file as a C-contiguous numpy array in
    host memory (a copy, so that later timing never waits on the disk)."""
    name = path.lower()
    size = os.path.getsize(path)
    if name.endswith(".bvecs") or name.endswith(".fvecs"):
        element = np.uint8 if name.endswith(".bvecs") else np.float32
        with open(path, "rb") as f:
            head = f.read(4)
        if len(head) < 4:
            raise ValueError(path + ": empty file")
        dim = int(np.frombuffer(head, dtype="<i4")[0])
        if dim <= 0:
            raise ValueError(path + ": bad dimension %d in the first row" % dim)
        row_bytes = 4 + dim * np.dtype(element).itemsize
        if size % row_bytes != 0:
            raise ValueError(path + ": size %d is not a multiple of the row size %d" % (size, row_bytes))
        n = size // row_bytes
        if rows is not None:
            n = min(n, rows)
        raw = np.memmap(path, dtype=np.uint8, mode="r", shape=(n, row_bytes))
        dims = np.ascontiguousarray(raw[:, :4]).view("<i4").reshape(-1)
        if n and not (dims == dim).all():
            raise ValueError(path + ": rows of different dimensions")
        data = np.ascontiguousarray(raw[:, 4:]).view(element)
        return data.reshape(n, dim)
    if name.endswith(".u8bin") or name.endswith(".i8bin") or name.endswith(".fbin"):
        element = {".u8bin": np.uint8, ".i8bin": np.int8, ".fbin": np.float32}[os.path.splitext(name)[1]]
        header = np.fromfile(path, dtype="<u4", count=2)
        if header.size < 2:
            raise ValueError(path + ": no 8-byte header")
        n, dim = int(header[0]), int(header[1])
        if size < 8 + n * dim * np.dtype(element).itemsize:
            raise ValueError(path + ": shorter than its header's %d x %d" % (n, dim))
        if rows is not None:
            n = min(n, rows)
        return np.array(np.memmap(path, dtype=element, mode="r", offset=8, shape=(n, dim)))
    if name.endswith(".npy"):
        data = np.load(path, mmap_mode="r")
        if data.ndim != 2:
            raise ValueError(path + ": not a 2-D array")
        if rows is not None:
            data = data[:rows]
        return np.array(data, order="C", copy=True)
    raise ValueError(path + ": unknown extension (expected .bvecs .fvecs .u8bin .i8bin .fbin .npy)")


def read_ibin(np, path):
    header = np.fromfile(path, dtype="<u4", count=2)
    if header.size < 2:
        raise ValueError(path + ": no 8-byte header")
    n, k = int(header[0]), int(header[1])
    ids = np.fromfile(path, dtype="<u4", count=n * k, offset=8)
    if ids.size != n * k:
        raise ValueError(path + ": shorter than its header's %d x %d" % (n, k))
    return ids.reshape(n, k).astype(np.int64)


# ---- the kNN graph ---------------------------------------------------------------------------

def choose_block_rows(torch, device, n, requested):
    """Rows per block: the (block x n) float32 distances, cdist's padded copy of the base and
    topk's work space must fit in a share of the free GPU memory."""
    if requested:
        return requested
    if device == "cuda":
        free, _ = torch.cuda.mem_get_info()
    else:
        free = 4 << 30
    budget = min(free * 0.5, 24 << 30)
    rows = int(budget // max(1, n * 4 * 3))
    return max(64, min(rows, 16384, n))


def knn_graph(torch, base_host, k, block_rows, device):
    """(ids as a host int32 tensor, seconds, blocks): host numpy -> host tensor of ids."""
    sync(torch, device)
    start = time.perf_counter()
    base = torch.from_numpy(base_host).to(device).float()
    n = base.shape[0]
    ids = torch.empty((n, k), dtype=torch.int32, device=device)
    blocks = 0
    for first in range(0, n, block_rows):
        last = min(n, first + block_rows)
        distances = torch.cdist(base[first:last], base)
        ids[first:last] = torch.topk(distances, k, dim=1, largest=False, sorted=True)[1].to(torch.int32)
        del distances
        blocks += 1
    ids_host = ids.cpu()
    sync(torch, device)
    return ids_host, time.perf_counter() - start, blocks


def sync(torch, device):
    if device == "cuda":
        torch.cuda.synchronize()


# ---- the checks ------------------------------------------------------------------------------

def float64_truth(torch, np, base_host, rows, check_k, device):
    """For each sampled row: its check_k nearest other rows and the check_k-th distance, from
    float64 distances (exact for 8-bit data) to every row."""
    n = base_host.shape[0]
    sample = torch.from_numpy(base_host[rows]).to(device).double()
    sample_norms = (sample * sample).sum(1, keepdim=True)
    take = min(n, check_k + 1)
    best_d = None
    best_i = None
    step = 65536
    for first in range(0, n, step):
        block = torch.from_numpy(base_host[first:first + step]).to(device).double()
        d = sample_norms + (block * block).sum(1)[None, :] - 2.0 * (sample @ block.T)
        d = d.clamp_min(0)
        t = min(take, block.shape[0])
        values, index = torch.topk(d, t, dim=1, largest=False, sorted=True)
        index = index + first
        if best_d is None:
            best_d, best_i = values, index
        else:
            both_d = torch.cat([best_d, values], 1)
            both_i = torch.cat([best_i, index], 1)
            t = min(take, both_d.shape[1])
            best_d, order = torch.topk(both_d, t, dim=1, largest=False, sorted=True)
            best_i = torch.gather(both_i, 1, order)
    best_d = best_d.cpu().numpy()
    best_i = best_i.cpu().numpy()
    truth = []
    threshold = []
    for s, row in enumerate(rows):
        keep = [int(i) for i in best_i[s] if int(i) != row][:check_k]
        truth.append(keep)
        # The check_k-th distance, recomputed from the differences as distances64 computes the
        # found ids' distances, so that an exact tie compares equal.
        threshold.append(distances64(np, base_host, row, keep).max() if keep else float("inf"))
    return truth, threshold


def distances64(np, base_host, row, ids):
    a = base_host[row].astype(np.float64)
    b = base_host[ids].astype(np.float64)
    return ((b - a) ** 2).sum(1)


def others(row_ids, row, count):
    """The first `count` ids of a neighbour list, leaving out the row itself."""
    return [int(i) for i in row_ids if int(i) != row][:count]


def recall(np, found, expected, base_host=None, rows=None, thresholds=None):
    """Mean share of each expected list found; with thresholds, an id as near as the last
    expected one (an exact tie) counts too."""
    hits = 0
    total = 0
    for s, (f, e) in enumerate(zip(found, expected)):
        e_set = set(int(x) for x in e)
        total += len(e)
        if thresholds is None:
            hits += sum(1 for x in f if x in e_set)
            continue
        d = distances64(np, base_host, rows[s], f) if f else []
        limit = thresholds[s] * (1 + 1e-9)
        hits += min(len(e), sum(1 for x, dx in zip(f, d) if x in e_set or dx <= limit))
    return hits / total if total else float("nan")


def distance_agreement(np, found, expected, base_host, rows):
    """Like recall, but tie-blind: the share of ranks at which the two lists, each sorted by its
    float64 distances, hold the same distance (so two different ids at an exactly equal distance
    agree, and a wrong id in either list does not)."""
    hits = 0
    total = 0
    for s, (f, e) in enumerate(zip(found, expected)):
        df = np.sort(distances64(np, base_host, rows[s], f)) if f else np.zeros(0)
        de = np.sort(distances64(np, base_host, rows[s], e)) if e else np.zeros(0)
        total += len(e)
        m = min(len(df), len(de))
        hits += int((np.abs(df[:m] - de[:m]) <= 1e-9 * np.maximum(1.0, de[:m])).sum())
    return hits / total if total else float("nan")


# ---- main ------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", required=True)
    parser.add_argument("--rows", type=int, default=None, help="use the first N rows")
    parser.add_argument("--k", type=int, default=33, help="neighbours per row, the row itself included")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs; the best is reported")
    parser.add_argument("--sample", help=".ibin of the row numbers to check")
    parser.add_argument("--sample-size", type=int, default=1000, help="rows to check without --sample")
    parser.add_argument("--reference", help=".ibin of (sample x check-k) reference ids (annforge's exact graph)")
    parser.add_argument("--check-k", type=int, default=10)
    parser.add_argument("--block-rows", type=int, default=0, help="rows per block (default: fit the free GPU memory)")
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"],
                        help="cpu: only for trying the script out without a GPU")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    try:
        import numpy as np
    except Exception as error:  # noqa: BLE001 (any import failure means the row is skipped)
        emit({"system": "torch", "skipped": "numpy is not importable by %s (%s)" % (sys.executable, error)})
    try:
        import torch
    except Exception as error:  # noqa: BLE001
        emit({"system": "torch", "skipped": "torch is not importable by %s (%s)" % (sys.executable, error)})
    device = args.device
    if device == "cuda" and not torch.cuda.is_available():
        emit({"system": "torch", "skipped": "torch %s sees no CUDA device (torch.cuda.is_available() is False)"
              % torch.__version__, "torch": torch.__version__})

    try:
        result = run(args, np, torch, device)
    except Exception as error:  # noqa: BLE001 (reported as the row's error)
        emit({"system": "torch", "error": "%s: %s" % (type(error).__name__, error)}, 1)
    emit(result)


def run(args, np, torch, device):
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    base_host = read_vectors(np, args.base, args.rows)
    n, dim = base_host.shape
    k = min(args.k, n)
    log("%d x %d %s rows of %s, k = %d, device %s" % (n, dim, base_host.dtype, args.base, k, device))

    # Warm-up: CUDA context, cuBLAS handle, the cdist / topk kernels, on a small block.
    start = time.perf_counter()
    warm_rows = min(n, 4096)
    warm = torch.from_numpy(base_host[:warm_rows]).to(device).float()
    torch.topk(torch.cdist(warm[:256], warm), min(k, warm_rows), dim=1, largest=False)
    sync(torch, device)
    warmup_seconds = time.perf_counter() - start
    del warm

    block_rows = choose_block_rows(torch, device, n, args.block_rows)
    times = []
    ids = None
    blocks = 0
    for r in range(max(1, args.repeat)):
        ids = None
        if device == "cuda":
            torch.cuda.empty_cache()
        ids, seconds, blocks = knn_graph(torch, base_host, k, block_rows, device)
        times.append(seconds)
        log("run %d: %.3f s (%d blocks of %d rows)" % (r + 1, seconds, blocks, block_rows))
    best = min(times)
    ids = ids.numpy()

    # Checks on a sample of rows.
    if args.sample:
        rows = [int(r) for r in read_ibin(np, args.sample)[:, 0]]
    else:
        rng = np.random.default_rng(args.seed)
        rows = sorted(int(r) for r in rng.choice(n, size=min(n, args.sample_size), replace=False))
    if rows and (min(rows) < 0 or max(rows) >= n):
        raise ValueError("--sample: a row number outside the %d rows" % n)
    check_k = min(args.check_k, k - 1, n - 1)
    found = [others(ids[r], r, check_k) for r in rows]
    truth, thresholds = float64_truth(torch, np, base_host, rows, check_k, device)
    result = {
        "system": "torch",
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu",
        "dtype": "float32",
        "tf32": False,
        "method": "torch.cdist (float32) + torch.topk per block of rows",
        "rows": n,
        "dim": dim,
        "element_type": str(base_host.dtype),
        "k": k,
        "block_rows": block_rows,
        "blocks": blocks,
        "repeat": len(times),
        "seconds": best,
        "seconds_all": times,
        "vectors_per_second": n / best,
        "warmup_seconds": warmup_seconds,
        "sample": len(rows),
        "check_k": check_k,
        "recall_vs_float64": recall(np, found, truth),
        "recall_vs_float64_ties": recall(np, found, truth, base_host, rows, thresholds),
    }
    if args.reference:
        reference = read_ibin(np, args.reference)
        if reference.shape[0] != len(rows) or reference.shape[1] < check_k:
            raise ValueError("--reference: %d x %d ids for %d sampled rows and check-k %d"
                             % (reference.shape[0], reference.shape[1], len(rows), check_k))
        expected = [[int(x) for x in reference[s, :check_k]] for s in range(len(rows))]
        result["recall_vs_annforge_exact"] = recall(np, found, expected)
        result["recall_vs_annforge_exact_ties"] = distance_agreement(np, found, expected, base_host, rows)
    return result


if __name__ == "__main__":
    main()
