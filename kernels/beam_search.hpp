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

// Where each query's walk starts beside the shared entry points: `count` ids per query
// (kInvalid where fewer), the results of the search one level up; `map` (nullable) takes each to
// this graph's ids (a position in the level above -> its position in this level; level 1's
// position -> its row, for the base graph).
struct SearchSeeds {
  const uint32_t* ids = nullptr;
  int count = 0;
  const uint32_t* map = nullptr;
};

// queries: same type and dim as base; graph: nodes x degree; entries: entry node ids (shared by
// every query). A node is a row of base, or, with `row_of`, the row row_of[node] (an upper level
// over its members). Writes queries.rows x k node ids (kInvalidId where fewer were reached) and
// distances.
void graph_search(const raft::resources& res, const DeviceMatrix& base, MetricSpec metric, const uint32_t* graph,
                  int degree, const uint32_t* entries, int entry_count, const DeviceMatrix& queries,
                  const GraphSearchParams& params, uint32_t* out_ids, float* out_distances,
                  const uint32_t* row_of = nullptr, SearchSeeds seeds = {});

// Shared memory one query's block needs (bytes); the launcher checks it against the device.
// `seed_total`: seeds per query plus entry points.
size_t graph_search_shared_bytes(int64_t dim, int beam_width, int degree, int seed_total);

}  // namespace annforge::cuda
