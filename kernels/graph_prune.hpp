// The CPU engine's graph optimisation on the GPU: rank-based detour pruning of the kNN lists
// (core::is_detour / core::select_by_detours), reverse edges gathered rank by rank, and the merge
// of forward and reverse edges (core::merge_forward_and_reverse).
#pragma once

#include <cstdint>

#include <raft/core/resources.hpp>

namespace annforge::cuda {

// knn: rows x k ids (every entry valid), nearest first; pruned: rows x degree.
void prune_by_detours(const raft::resources& res, const uint32_t* knn, int64_t rows, int k, int degree,
                      uint32_t* pruned);

// graph (rows x degree) from the pruned lists; `reverse` (rows x degree) and `reverse_count`
// (rows) are scratch.
void merge_reverse_edges(const raft::resources& res, const uint32_t* pruned, int64_t rows, int degree,
                         uint32_t* reverse, int* reverse_count, uint32_t* graph);

}  // namespace annforge::cuda
