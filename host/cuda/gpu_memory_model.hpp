// The GPU build's device memory, as a formula the build checks before it starts and the plan
// (BuildPlan) reports: plain C++, so that both the CUDA code and the host-side plan use it (and
// the CPU-only tests check it against the peaks measured on a GPU).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "annforge.hpp"
#include "kernels/shared/partition_core.hpp"

namespace annforge::cuda_detail {

// The GPU's kNN degree: the caller's, else 2 x degree and at least 64 (at most n - 1).
inline int gpu_intermediate_degree(const BuildParams& params, int64_t n, int degree) {
  const int wanted = params.intermediate_degree != 0 ? params.intermediate_degree : std::max(64, 2 * degree);
  return static_cast<int>(std::min<int64_t>(std::max(wanted, degree), n - 1));
}

// The random-projection forest's shape: levels of balanced splits, the largest leaf, and the
// candidates each tree gives a row.
struct ForestShape {
  int levels;
  int side;  // the largest leaf
  int kk;    // candidates per row per tree
};

inline ForestShape forest_shape(int64_t n, int k, int leaf_target) {
  ForestShape s{0, static_cast<int>(n), 0};
  // Deepen while the largest leaf exceeds the target and the smallest still holds k + 1 rows
  // after the split, so that every tree gives every row k distinct candidates.
  while (core::max_segment_size(s.levels, n) > leaf_target && (n >> (s.levels + 1)) >= k + 1) ++s.levels;
  s.side = static_cast<int>(core::max_segment_size(s.levels, n));
  s.kk = std::min(k, s.side - 1);
  return s;
}

// Leaf distance tiles per batch: at most this many floats (1 GiB).
constexpr int64_t kLeafTileFloats = int64_t{1} << 28;

// Leaves whose tiles are computed together.
inline int64_t leaves_per_batch(const ForestShape& shape) {
  return std::clamp<int64_t>(kLeafTileFloats / (static_cast<int64_t>(shape.side) * shape.side), 1,
                             int64_t{1} << shape.levels);
}

// Measured on an H200 (2026-12-04, ANNFORGE_TRACE's sampled cudaMemGetInfo): the device memory a
// build holds beyond its own buffers (cuBLAS's and RAFT's workspaces, allocation granularity)
// was 79-82 MiB on three data sets, and select_k's transient workspace over a batch of leaf tiles
// 0.5-0.65 bytes per tile element.
constexpr size_t kLibraryWorkspaceBytes = size_t{80} << 20;
constexpr double kSelectWorkspacePerTileFloat = 0.67;

struct GpuBuildBytes {
  size_t fixed = 0;   // the libraries' workspaces
  size_t data = 0;    // the vectors and their norms
  size_t forest = 0;  // the forest stage: the kept lists, one tree's candidates, its sort, a batch of leaf tiles
  size_t join = 0;    // the neighbour-join rounds: the current and the next kNN lists
  size_t graph = 0;   // pruning and reverse edges: the kNN ids and three graph-sized buffers
  size_t total() const { return fixed + data + std::max({forest, join, graph}); }
};

// `leaf_target`: ForestSettings::leaf_size. Small inputs (exact tiles, no forest) are bounded by
// the same formula: their tiles are smaller than a leaf batch.
inline GpuBuildBytes gpu_build_bytes(int64_t n, int64_t dim, size_t element_bytes, int k, int degree,
                                     int leaf_target = 1024) {
  GpuBuildBytes b;
  const size_t rows = static_cast<size_t>(n);
  const size_t kk = static_cast<size_t>(k);
  b.fixed = kLibraryWorkspaceBytes;
  b.data = rows * static_cast<size_t>(dim) * element_bytes + rows * 4;
  if (n > k + 1) {
    const ForestShape shape = forest_shape(n, k, std::max(leaf_target, 2 * k + 2));
    const size_t slots = kk + static_cast<size_t>(shape.kk);
    const size_t segments = size_t{1} << shape.levels;
    const size_t batch_rows = static_cast<size_t>(leaves_per_batch(shape)) * static_cast<size_t>(shape.side);
    const size_t tile_floats = batch_rows * static_cast<size_t>(shape.side);
    const size_t gathered_bytes = element_bytes == 4 ? 4 : 2;  // 8-bit rows travel as fp16
    b.forest = rows * kk * 8                      // the kept lists
               + rows * slots * 8                 // this tree's candidates beside them
               + rows * 24 + rows * 12            // order, sort keys, the radix sort's buffers
               + segments * static_cast<size_t>(dim + 1) * 4 +
               batch_rows * (4 + static_cast<size_t>(dim) * gathered_bytes + static_cast<size_t>(shape.kk) * 8) +
               tile_floats * 4 + static_cast<size_t>(static_cast<double>(tile_floats) * kSelectWorkspacePerTileFloat);
  }
  b.join = 2 * rows * kk * 8 + rows * 8;
  b.graph = rows * kk * 4 + 3 * rows * static_cast<size_t>(degree) * 4 + rows * 4;
  return b;
}

}  // namespace annforge::cuda_detail
