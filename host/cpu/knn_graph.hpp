// The kNN-graph stage of a build: k nearest neighbours of every vector among the others.
// Replaceable by design: brute force and NN-Descent produce the same structure, and the graph
// optimisation that follows does not care which one ran.
#pragma once

#include <algorithm>
#include <vector>

#include "annforge.hpp"
#include "host/cpu/all_pairs/float_dots.hpp"
#include "host/cpu/distance/distance.hpp"
#include "host/cpu/partition/partition.hpp"

namespace annforge::cpu {

// The kNN degree a CPU build prunes from: the caller's, or 3/2 x the graph degree (BuildParams).
inline int cpu_intermediate_degree(const BuildParams& params, int degree) {
  return params.intermediate_degree != 0 ? std::max(params.intermediate_degree, degree)
                                         : std::max(degree + 1, degree * 3 / 2);
}

// The partition's mean cluster size for rows of `dim` elements of `type`: float rows see their
// dots' cost on the default path (float_dots_cost_divisor). clustered_knn and the memory plan
// both take it.
inline int cpu_cluster_size(int64_t dim, ElementType type) {
  return default_cluster_size(dim, type == ElementType::Float32 ? float_dots_cost_divisor() : 1);
}

// Whether the clustered kNN stage reads rows of `row_bytes` where they are instead of copying them
// in cluster order (cpu_backend.cpp; the memory plan follows it). The copy's cost grows with the
// bytes (fresh pages: 1 GB for 1M x 256 float32), the scattered reads' cost without it with the
// rows. 1M wordtext (1 KiB rows; AMD EPYC Zen 4, 2 threads, 2026-12-06): build 19.18 -> 18.75 s,
// peak resident 2,506 -> 1,503 MB, recall@10 at beam 64 0.9186 -> 0.9189; 1M SIFT (128-byte
// rows) without the copy: 9.84 -> 10.53 s (NN-Descent 1.08 -> 1.75 s over scattered rows).
// ANNFORGE_CPU_ROWS_IN_PLACE=1 / 2 forces either way.
constexpr size_t kRowsInPlaceBytes = 1024;
inline bool cpu_rows_in_place(size_t row_bytes) { return row_bytes >= kRowsInPlaceBytes; }

struct KnnGraph {
  int64_t rows = 0;
  int k = 0;
  std::vector<uint32_t> ids;      // rows x k, nearest first, no self, no repeats
  std::vector<float> distances;   // rows x k
};

// Exact neighbours of each query among `distance.base()`. With `exclude_self`, queries are the
// base itself (row i is query i) and i is left out of its own list.
void brute_force_neighbors(const Distance& distance, const DatasetView& queries, int k, bool exclude_self,
                           int threads, const ProgressCallback& progress, uint32_t* ids, float* distances);

KnnGraph brute_force_knn_graph(const Distance& distance, int k, int threads, const ProgressCallback& progress);

struct NNDescentParams {
  int k = 64;
  int sample = 0;  // candidates offered per vector and round; 0: max(8, k / 6)
  int max_iterations = 20;
  float termination = 0.001f;
  int threads = 0;
  uint64_t seed = 42;
};
// An approximate kNN graph from an overlapping partition: exact all-pairs distances inside
// each cluster (read from one contiguous block, in cache), each vector's lists from its
// clusters merged. A good start for NN-Descent.
// With a projection (host/cpu/partition/projection.hpp), members are first ranked by distance between
// projected rows and only the nearest `exact_candidates` get an exact distance.
// `float_dots`: the dot products of float clusters' all-pairs pass (float_dots.hpp).
struct FirstPass {
  const std::vector<float>* projected = nullptr;  // rows x dim projected rows; null: exact only
  int dim = 0;
  int exact_candidates = 0;
  FloatDots float_dots = default_float_dots();
  // Float rows on the AVX-512 tiles: int8 tiles, bf16 tiles or fp32 as probe_float_dots
  // (dots_probe.hpp) finds them to keep the rows' nearest neighbours (where float_dots is the
  // default path); or int8 always / never.
  enum class Int8 { Probe, Always, Never };
  Int8 int8 = Int8::Probe;
};
// `start`, where it holds rows x k lists (a first partition's), is what the pairs are merged
// into (its k-th distances are the members' first thresholds); `decided`, where given, receives
// `first_pass` with the tiles the probe chose, so that a second partition over the same rows
// takes them without probing again.
KnnGraph cluster_knn_graph(const Distance& distance, const Partition& partition, int k, int threads, uint64_t seed,
                           const FirstPass& first_pass, const ProgressCallback& progress, KnnGraph start = {},
                           FirstPass* decided = nullptr);

// NN-Descent rounds that improve `initial` (rows x k, every list full), which they take over.
KnnGraph nn_descent_knn_graph(const Distance& distance, KnnGraph initial, const NNDescentParams& params,
                              const ProgressCallback& progress);

}  // namespace annforge::cpu
