// One local-join round of NN-Descent on the GPU, in its "neighbours of neighbours" form: each
// vector v meets the first `fanout` neighbours of each of its first `fanout` neighbours, keeps
// the k nearest distinct ids among them and its current list. A row reads only the previous
// round's lists (double buffering), so rows never race.
#pragma once

#include <cstdint>

#include <raft/core/resources.hpp>

#include "kernels/distance_tiles.hpp"
#include "kernels/vector_distance.cuh"

namespace annforge::cuda {

// Returns how many rows changed their list.
void join_neighbors_of_neighbors(const raft::resources& res, const DeviceMatrix& data, MetricSpec metric,
                                 const uint32_t* ids, const float* distances, int k, int fanout, uint32_t* out_ids,
                                 float* out_distances, unsigned long long* changed_rows);

}  // namespace annforge::cuda
