// Kernels and launchers of forest_partition.hpp.
#include "kernels/forest_partition.hpp"

#include <cub/device/device_radix_sort.cuh>
#include <raft/core/resource/cuda_stream.hpp>

#include "kernels/cuda_check.hpp"
#include "kernels/launch.cuh"
#include "kernels/shared/partition_core.hpp"

namespace annforge::cuda {
namespace {



template <typename T>
__device__ __forceinline__ float element(const T* row, int64_t c, float scale) {
  return static_cast<float>(row[c]) * scale;
}

// A block per segment: direction a - b between two random members, offset so that the key of a
// row is its signed distance (times |a - b|) from the plane halfway between a and b.
template <typename T>
__global__ void split_direction_kernel(const T* data, int64_t dim, const float* inverse_norms, const uint32_t* order,
                                       int64_t n, int level, uint64_t seed, float* directions, float* offsets) {
  const int64_t segment = blockIdx.x;
  const int64_t start = core::segment_start(segment, level, n);
  const int64_t size = core::segment_start(segment + 1, level, n) - start;
  float* direction = directions + segment * dim;
  __shared__ float partial[32];
  float sum = 0.0f;
  if (size >= 2) {
    const uint64_t h = core::mix_bits(seed ^ core::mix_bits((static_cast<uint64_t>(level) << 40) ^ segment));
    const int64_t pa = static_cast<int64_t>(h % static_cast<uint64_t>(size));
    int64_t pb = static_cast<int64_t>((h >> 32) % static_cast<uint64_t>(size - 1));
    if (pb >= pa) ++pb;
    const uint32_t a = order[start + pa], b = order[start + pb];
    const float sa = inverse_norms ? inverse_norms[a] : 1.0f, sb = inverse_norms ? inverse_norms[b] : 1.0f;
    const T* ra = data + static_cast<int64_t>(a) * dim;
    const T* rb = data + static_cast<int64_t>(b) * dim;
    for (int64_t c = threadIdx.x; c < dim; c += blockDim.x) {
      const float xa = element(ra, c, sa), xb = element(rb, c, sb);
      direction[c] = xa - xb;
      sum += 0.5f * (xa * xa - xb * xb);
    }
  } else {
    for (int64_t c = threadIdx.x; c < dim; c += blockDim.x) direction[c] = 0.0f;
  }
  for (int offset = 16; offset > 0; offset >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, offset);
  if ((threadIdx.x & 31) == 0) partial[threadIdx.x / 32] = sum;
  __syncthreads();
  if (threadIdx.x == 0) {
    float total = 0.0f;
    for (int w = 0; w < static_cast<int>(blockDim.x / 32); ++w) total += partial[w];
    offsets[segment] = total;
  }
}

// A warp per position: key = (segment, projection) so that one radix sort orders every segment.
template <typename T>
__global__ void projection_key_kernel(const T* data, int64_t dim, const float* inverse_norms, const uint32_t* order,
                                      int64_t n, int level, const float* directions, const float* offsets,
                                      uint64_t* keys) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * (blockDim.x / 32);
  for (int64_t i = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32; i < n; i += warps) {
    const int64_t segment = core::segment_of(i, level, n);
    const uint32_t id = order[i];
    const T* row = data + static_cast<int64_t>(id) * dim;
    const float* direction = directions + segment * dim;
    const float scale = inverse_norms ? inverse_norms[id] : 1.0f;
    float s = 0.0f;
    for (int64_t c = lane; c < dim; c += 32) s += element(row, c, scale) * direction[c];
    for (int offset = 16; offset > 0; offset >>= 1) s += __shfl_xor_sync(0xffffffffu, s, offset);
    if (lane == 0) {
      const float key = s - offsets[segment];
      keys[i] = (static_cast<uint64_t>(segment) << 32) | core::orderable_bits(__float_as_uint(key));
    }
  }
}

__global__ void leaf_members_kernel(const uint32_t* order, int64_t n, int level, int64_t first_leaf, int64_t leaves,
                                    int side, uint32_t* members) {
  const int64_t total = leaves * side;
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t leaf = first_leaf + e / side;
    const int64_t p = e % side;
    const int64_t start = core::segment_start(leaf, level, n);
    const int64_t size = core::segment_start(leaf + 1, level, n) - start;
    members[e] = p < size ? order[start + p] : kInvalid;
  }
}

__global__ void identity_kernel(uint32_t* order, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    order[i] = static_cast<uint32_t>(i);
  }
}

int bits_for(int64_t values) {
  int bits = 0;
  while ((int64_t{1} << bits) < values) ++bits;
  return bits;
}

}  // namespace

size_t forest_sort_temp_bytes(int64_t n) {
  size_t bytes = 0;
  ANNFORGE_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, bytes, static_cast<const uint64_t*>(nullptr),
                                                      static_cast<uint64_t*>(nullptr),
                                                      static_cast<const uint32_t*>(nullptr),
                                                      static_cast<uint32_t*>(nullptr), static_cast<int>(n)));
  return bytes;
}

void forest_split_level(const raft::resources& res, const DeviceMatrix& data, const float* inverse_norms,
                        uint32_t* order, int level, uint64_t seed, ForestScratch& scratch) {
  const int64_t n = data.rows;
  const int64_t segments = int64_t{1} << level;
  cudaStream_t stream = stream_of(res);
  const int key_blocks = grid_for(n, 8);
  auto launch = [&](auto* typed) {
    split_direction_kernel<<<static_cast<unsigned>(segments), 128, 0, stream>>>(
        typed, data.dim, inverse_norms, order, n, level, seed, scratch.directions, scratch.offsets);
    ANNFORGE_CUDA_CHECK_LAUNCH("split_direction");
    projection_key_kernel<<<key_blocks, 256, 0, stream>>>(typed, data.dim, inverse_norms, order, n, level,
                                                          scratch.directions, scratch.offsets, scratch.keys);
    ANNFORGE_CUDA_CHECK_LAUNCH("projection_key");
  };
  switch (data.type) {
    case ElementType::Float32: launch(static_cast<const float*>(data.data)); break;
    case ElementType::UInt8: launch(static_cast<const uint8_t*>(data.data)); break;
    case ElementType::Int8: launch(static_cast<const int8_t*>(data.data)); break;
  }
  size_t temp_bytes = scratch.sort_temp_bytes;
  ANNFORGE_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(scratch.sort_temp, temp_bytes, scratch.keys,
                                                      scratch.keys_sorted, order, scratch.order_out,
                                                      static_cast<int>(n), 0, 32 + std::max(bits_for(segments), 1),
                                                      stream));
  ANNFORGE_CUDA_CHECK(cudaMemcpyAsync(order, scratch.order_out, n * sizeof(uint32_t), cudaMemcpyDeviceToDevice, stream));
}

void leaf_members(const raft::resources& res, const uint32_t* order, int64_t n, int level, int64_t first_leaf,
                  int64_t leaves, int side, uint32_t* members) {
  const int64_t total = leaves * side;
  if (total == 0) return;
  const int blocks = grid_for(total, 256);
  leaf_members_kernel<<<blocks, 256, 0, stream_of(res)>>>(order, n, level, first_leaf, leaves, side, members);
  ANNFORGE_CUDA_CHECK_LAUNCH("leaf_members");
}

void fill_identity(const raft::resources& res, uint32_t* order, int64_t n) {
  if (n == 0) return;
  const int blocks = grid_for(n, 256);
  identity_kernel<<<blocks, 256, 0, stream_of(res)>>>(order, n);
  ANNFORGE_CUDA_CHECK_LAUNCH("fill_identity");
}

}  // namespace annforge::cuda
