// Batched graph search on the GPU: a thread block per query walks the graph from the entry
// points, keeping a sorted beam of `beam_width` candidates in shared memory and a visited hash
// table beside it; each step expands the nearest unexpanded candidate, computes the distances of
// its unvisited neighbours a warp each, and merges them into the beam with a block sort.
#pragma once

#include <cstdint>

#include <raft/core/resources.hpp>

#include "kernels/distance_tiles.hpp"
#include "kernels/vector_distance.cuh"

namespace annforge::cuda {

struct GraphSearchParams {
  int k = 10;
  int beam_width = 64;
};

// queries: same type and dim as base; graph: base.rows x degree; entries: entry point ids.
// Writes queries.rows x k ids (kInvalidId where fewer were reached) and distances.
void graph_search(const raft::resources& res, const DeviceMatrix& base, MetricSpec metric, const uint32_t* graph,
                  int degree, const uint32_t* entries, int entry_count, const DeviceMatrix& queries,
                  const GraphSearchParams& params, uint32_t* out_ids, float* out_distances);

// Shared memory one query's block needs (bytes); the launcher checks it against the device.
size_t graph_search_shared_bytes(int64_t dim, int beam_width, int degree);

}  // namespace annforge::cuda
