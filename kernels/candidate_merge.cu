// Kernels and launchers of candidate_merge.hpp.
#include "kernels/candidate_merge.hpp"

#include <raft/core/resource/cuda_stream.hpp>

#include "kernels/block_sort.cuh"
#include "kernels/cuda_check.hpp"
#include "kernels/launch.cuh"

namespace annforge::cuda {
namespace {



__global__ void scatter_kernel(const uint32_t* members, int64_t leaves, int side, int kk, const float* local_distances,
                               const uint32_t* local_positions, int64_t slots, int64_t slot_offset,
                               uint32_t* candidate_ids, float* candidate_distances) {
  const int64_t total = leaves * side * kk;
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t local_row = e / kk;  // leaf * side + position
    const int j = static_cast<int>(e - local_row * kk);
    const uint32_t row = members[local_row];
    if (row == kInvalid) continue;
    const int64_t leaf = local_row / side;
    const float d = local_distances[e];
    const uint32_t position = local_positions[e];
    const bool valid = position < static_cast<uint32_t>(side) && d < __int_as_float(0x7f800000);
    const uint32_t id = valid ? members[leaf * side + position] : kInvalid;
    const int64_t at = static_cast<int64_t>(row) * slots + slot_offset + j;
    candidate_ids[at] = id;
    candidate_distances[at] = id == kInvalid ? __int_as_float(0x7f800000) : d;
  }
}

// A block per row; `capacity` (power of two, <= 8 x blockDim) shared slots.
__global__ void merge_kernel(int64_t rows, int64_t slots, const uint32_t* candidate_ids,
                             const float* candidate_distances, int k, int capacity, uint32_t* out_ids,
                             float* out_distances) {
  extern __shared__ unsigned char shared[];
  float* distances = reinterpret_cast<float*>(shared);
  uint32_t* ids = reinterpret_cast<uint32_t*>(distances + capacity);
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    for (int i = threadIdx.x; i < capacity; i += blockDim.x) {
      const bool real = i < slots;
      const uint32_t id = real ? candidate_ids[row * slots + i] : kInvalid;
      ids[i] = id;
      distances[i] = id == kInvalid ? __int_as_float(0x7f800000) : candidate_distances[row * slots + i];
    }
    block_sort_unique(distances, ids, capacity);
    for (int j = threadIdx.x; j < k; j += blockDim.x) {
      const bool have = j < capacity;
      out_ids[row * k + j] = have ? ids[j] : kInvalid;
      out_distances[row * k + j] = have ? distances[j] : __int_as_float(0x7f800000);
    }
    __syncthreads();
  }
}

__global__ void place_kernel(int64_t rows, int kk, const uint32_t* positions, const float* distances,
                             uint32_t first_id, int64_t width, int64_t column, uint32_t* out_ids,
                             float* out_distances) {
  const int64_t total = rows * kk;
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = e / kk;
    const int j = static_cast<int>(e - r * kk);
    const float d = distances[e];
    const bool valid = d < __int_as_float(0x7f800000);
    out_ids[r * width + column + j] = valid ? first_id + positions[e] : kInvalid;
    out_distances[r * width + column + j] = valid ? d : __int_as_float(0x7f800000);
  }
}

// A thread per row.
__global__ void drop_self_kernel(int64_t rows, int64_t first_row, int k, const uint32_t* ids_with_self,
                                 const float* distances_with_self, uint32_t* ids, float* distances) {
  for (int64_t r = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; r < rows;
       r += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const uint32_t self = static_cast<uint32_t>(first_row + r);
    const uint32_t* in_ids = ids_with_self + r * (k + 1);
    const float* in_distances = distances_with_self + r * (k + 1);
    int out = 0;
    for (int j = 0; j <= k && out < k; ++j) {
      if (in_ids[j] == self) continue;
      ids[r * k + out] = in_ids[j];
      distances[r * k + out] = in_distances[j];
      ++out;
    }
  }
}

}  // namespace

void place_tile_selection(const raft::resources& res, int64_t rows, int kk, const uint32_t* positions,
                          const float* distances, uint32_t first_id, int64_t width, int64_t column, uint32_t* out_ids,
                          float* out_distances) {
  const int64_t total = rows * kk;
  if (total == 0) return;
  const int blocks = grid_for(total, 256);
  place_kernel<<<blocks, 256, 0, stream_of(res)>>>(rows, kk, positions, distances, first_id, width, column, out_ids,
                                                   out_distances);
  ANNFORGE_CUDA_CHECK_LAUNCH("place_tile_selection");
}

void drop_self(const raft::resources& res, int64_t rows, int64_t first_row, int k, const uint32_t* ids_with_self,
               const float* distances_with_self, uint32_t* ids, float* distances) {
  if (rows == 0) return;
  const int blocks = grid_for(rows, 256);
  drop_self_kernel<<<blocks, 256, 0, stream_of(res)>>>(rows, first_row, k, ids_with_self, distances_with_self, ids,
                                                       distances);
  ANNFORGE_CUDA_CHECK_LAUNCH("drop_self");
}

void scatter_leaf_candidates(const raft::resources& res, const uint32_t* members, int64_t leaves, int side, int kk,
                             const float* local_distances, const uint32_t* local_positions, int64_t slots,
                             int64_t slot_offset, uint32_t* candidate_ids, float* candidate_distances) {
  const int64_t total = leaves * side * kk;
  if (total == 0) return;
  const int blocks = grid_for(total, 256);
  scatter_kernel<<<blocks, 256, 0, stream_of(res)>>>(members, leaves, side, kk, local_distances, local_positions,
                                                     slots, slot_offset, candidate_ids, candidate_distances);
  ANNFORGE_CUDA_CHECK_LAUNCH("scatter_leaf_candidates");
}

void merge_candidates(const raft::resources& res, int64_t rows, int64_t slots, const uint32_t* candidate_ids,
                      const float* candidate_distances, int k, uint32_t* out_ids, float* out_distances) {
  if (rows == 0) return;
  int capacity = 32;
  while (capacity < slots) capacity <<= 1;
  const int threads = std::max(32, std::min(capacity / 2, 512));
  if (capacity > 8 * threads) {
    throw Error(ErrorCode::Unsupported, "merge_candidates: " + std::to_string(slots) + " candidates per row exceed " +
                                            std::to_string(8 * threads));
  }
  const size_t shared = static_cast<size_t>(capacity) * (sizeof(float) + sizeof(uint32_t));
  const int blocks = grid_for(rows, 1);
  merge_kernel<<<blocks, threads, shared, stream_of(res)>>>(rows, slots, candidate_ids, candidate_distances, k,
                                                            capacity, out_ids, out_distances);
  ANNFORGE_CUDA_CHECK_LAUNCH("merge_candidates");
}

}  // namespace annforge::cuda
