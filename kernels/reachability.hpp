// How many rows a graph search cannot reach from the entry points: a breadth-first search on the
// device, one launch per level over all rows. The build joins islands on the host only when this
// is non-zero, so the common case costs a few milliseconds instead of a host pass over the graph.
#pragma once

#include <cstdint>
#include <vector>

#include <raft/core/resources.hpp>

namespace annforge::cuda {

// `graph` in device memory; `entries` (host) are copied up.
int64_t count_unreachable(const raft::resources& res, const uint32_t* graph, int64_t rows, int degree,
                          const std::vector<uint32_t>& entries);

}  // namespace annforge::cuda
