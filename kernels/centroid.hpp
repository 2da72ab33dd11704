// The row nearest the data's centroid (the first search entry point, as on the CPU): column sums
// in double precision, then one pass of squared distances with an atomic arg-min.
#pragma once

#include <cstdint>

#include <raft/core/resources.hpp>

#include "kernels/distance_tiles.hpp"

namespace annforge::cuda {

// Returns the row id (synchronises the stream).
uint32_t nearest_to_centroid(const raft::resources& res, const DeviceMatrix& data);

}  // namespace annforge::cuda
