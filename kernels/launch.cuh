// What every kernel launcher shares: the stream of the RAFT resources, the grid of a
// grid-stride loop, and the empty-slot id.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include <raft/core/resource/cuda_stream.hpp>
#include <raft/core/resources.hpp>

#include "annforge.hpp"

namespace annforge::cuda {

// annforge.hpp's kInvalidId, as a name device code uses for empty slots and padding.
constexpr uint32_t kInvalid = kInvalidId;

inline cudaStream_t stream_of(const raft::resources& res) { return raft::resource::get_cuda_stream(res).get(); }

// Blocks for a grid-stride loop over `work` items, `per_block` per block (the loop covers any
// remainder); at most 2^20 blocks.
inline int grid_for(int64_t work, int64_t per_block) {
  return static_cast<int>(std::clamp<int64_t>((work + per_block - 1) / per_block, 1, int64_t{1} << 20));
}

}  // namespace annforge::cuda
