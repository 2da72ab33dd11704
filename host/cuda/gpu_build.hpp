// The GPU build: vectors streamed up, an initial kNN graph (exact tiles for small inputs; else
// a random-projection forest whose balanced leaves get exact all-pairs distances by batched GEMM
// and select_k), neighbour-join rounds to repair leaf borders, detour pruning and reverse edges
// on the device, and the graph streamed back.
#pragma once

#include "annforge.hpp"
#include "host/cpu/knn_graph.hpp"
#include "host/cuda/gpu_context.hpp"

namespace annforge::cuda {

// Fills index.graph, graph_degree and entry_points; returns how many rows a search from the
// entry points cannot reach (the caller joins such islands on the host).
int64_t build_on_gpu(GpuContext& gpu, Index& index, const BuildParams& params);

// The kNN lists of `view` (k per row, nearest first, no self) as build_on_gpu builds them before
// pruning, downloaded: a piece of a partitioned or distributed build (cpu::PieceKnnBuild).
cpu::KnnGraph knn_lists_on_gpu(GpuContext& gpu, const DatasetView& view, Metric metric, int k,
                               const BuildParams& params);

// The knobs of the forest stage, from BuildParams and (for tuning runs) the environment:
// ANNFORGE_GPU_TREES, ANNFORGE_GPU_LEAF, ANNFORGE_GPU_FANOUT, ANNFORGE_GPU_ROUNDS.
struct ForestSettings {
  int trees = 6;
  int leaf_size = 1024;  // target rows per leaf (the largest leaf is at most this)
  int fanout = 16;       // neighbours of neighbours per join round: fanout^2 candidates
  int rounds = 1;        // join rounds
};
ForestSettings forest_settings(const BuildParams& params);

}  // namespace annforge::cuda
