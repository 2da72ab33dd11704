// Turns a kNN graph (k neighbours per vector) into the fixed-degree search graph: rank-based
// pruning to `degree` edges, then reverse edges merged in, as in CAGRA.
#pragma once

#include <vector>

#include "host/cpu/knn_graph.hpp"

namespace annforge::cpu {

// rows x degree ids: no self loops, no repeats. Requires knn.k >= degree and rows > degree.
// Takes the kNN graph over and frees it once pruned, so that the reverse-edge stage reuses its
// memory (fresh memory is slow to touch for the first time, on VMs above all).
std::vector<uint32_t> optimize_graph(KnnGraph knn, int degree, int threads, const ProgressCallback& progress);

// The pruning step alone: per vector, `degree` ranks of its kNN list, best first.
std::vector<uint32_t> prune_by_detours(const KnnGraph& knn, int degree, int threads);

// The same for rows [first, first + count) of `knn` (whose lists of all rows it reads): count x
// degree.
std::vector<uint32_t> prune_rows_by_detours(const KnnGraph& knn, int degree, int threads, int64_t first, int64_t count);

// Per row, its pruned forward edges and its `reverse_count[v]` reverse edges (in the order
// collected) merged into `reverse` in place: the first half of the forward edges, then the
// reverse edges, then the other forward edges, no repeats (core::merge_forward_and_reverse).
void merge_forward_and_reverse_rows(const uint32_t* pruned, uint32_t* reverse, const int* reverse_count, int64_t rows,
                                    int degree, int threads);

// Merges reverse edges into a pruned graph, keeping each vector's first half of forward edges.
std::vector<uint32_t> merge_reverse_edges(const std::vector<uint32_t>& pruned, int64_t rows, int degree,
                                          int threads = 1);

}  // namespace annforge::cpu
