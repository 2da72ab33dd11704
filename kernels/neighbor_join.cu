// Kernel and launcher of neighbor_join.hpp.
#include "kernels/neighbor_join.hpp"

#include <raft/core/resource/cuda_stream.hpp>

#include "kernels/block_sort.cuh"
#include "kernels/cuda_check.hpp"
#include "kernels/launch.cuh"

namespace annforge::cuda {
namespace {

constexpr int kThreads = 128;

// A block per row. Shared slots: the current list (known distances), then fanout^2 two-hop ids
// (distance unknown, marked +inf). A sort by id drops repeats, keeping a listed copy over an
// unknown one; only the survivors' distances are computed; a sort by distance gives the list.
template <typename T>
__global__ void join_kernel(const T* data, int64_t rows, int64_t dim, MetricSpec metric, const uint32_t* ids,
                            const float* distances, int k, int fanout, int capacity, uint32_t* out_ids,
                            float* out_distances, unsigned long long* changed_rows) {
  extern __shared__ unsigned char shared[];
  float* slot_distances = reinterpret_cast<float*>(shared);
  uint32_t* slot_ids = reinterpret_cast<uint32_t*>(slot_distances + capacity);
  const float inf = __int_as_float(0x7f800000);
  const int lane = threadIdx.x & 31, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  for (int64_t v = blockIdx.x; v < rows; v += gridDim.x) {
    const uint32_t* list = ids + v * k;
    for (int i = threadIdx.x; i < capacity; i += blockDim.x) {
      uint32_t id = kInvalid;
      float d = inf;
      if (i < k) {
        id = list[i];
        d = distances[v * k + i];
      } else if (i < k + fanout * fanout) {
        const int hop = (i - k) / fanout, p = (i - k) % fanout;
        const uint32_t via = list[hop];
        id = via == kInvalid ? kInvalid : ids[static_cast<int64_t>(via) * k + p];
        if (id == static_cast<uint32_t>(v)) id = kInvalid;
      }
      // A listed id with an unknown distance cannot occur; +inf marks "to compute".
      slot_ids[i] = id;
      slot_distances[i] = id == kInvalid ? inf : d;
    }
    block_sort_unique(slot_distances, slot_ids, capacity);  // sorted by distance; unknowns (+inf) last
    // Survivors with unknown distance sit after the known ones: compute them, a warp each.
    const T* row_v = data + v * dim;
    const float inverse_v = metric.inverse_norms ? metric.inverse_norms[v] : 0.0f;
    for (int i = warp; i < capacity; i += warps) {
      const uint32_t id = slot_ids[i];
      if (id == kInvalid || slot_distances[i] != inf) continue;
      const float inverse_u = metric.inverse_norms ? metric.inverse_norms[id] : 0.0f;
      const float d = warp_row_distance(row_v, data + static_cast<int64_t>(id) * dim, static_cast<int>(dim),
                                        metric.metric, inverse_v, inverse_u, lane);
      if (lane == 0) slot_distances[i] = d;
    }
    block_bitonic_sort<ByDistance>(slot_distances, slot_ids, capacity);
    __shared__ int changed;
    if (threadIdx.x == 0) changed = 0;
    __syncthreads();
    for (int j = threadIdx.x; j < k; j += blockDim.x) {
      out_ids[v * k + j] = slot_ids[j];
      out_distances[v * k + j] = slot_distances[j];
      if (slot_ids[j] != list[j]) changed = 1;
    }
    __syncthreads();
    if (threadIdx.x == 0 && changed) atomicAdd(changed_rows, 1ull);
    __syncthreads();
  }
}

}  // namespace

void join_neighbors_of_neighbors(const raft::resources& res, const DeviceMatrix& data, MetricSpec metric,
                                 const uint32_t* ids, const float* distances, int k, int fanout, uint32_t* out_ids,
                                 float* out_distances, unsigned long long* changed_rows) {
  if (data.rows == 0) return;
  fanout = std::min(fanout, k);
  int capacity = 32;
  while (capacity < k + fanout * fanout) capacity <<= 1;
  if (capacity > 8 * kThreads) {
    throw Error(ErrorCode::Unsupported, "neighbour join: k + fanout^2 = " + std::to_string(k + fanout * fanout) +
                                            " exceeds " + std::to_string(8 * kThreads));
  }
  const size_t shared = static_cast<size_t>(capacity) * (sizeof(float) + sizeof(uint32_t));
  const int blocks = grid_for(data.rows, 1);
  cudaStream_t stream = stream_of(res);
  auto launch = [&](auto* typed) {
    join_kernel<<<blocks, kThreads, shared, stream>>>(typed, data.rows, data.dim, metric, ids, distances, k, fanout,
                                                      capacity, out_ids, out_distances, changed_rows);
  };
  switch (data.type) {
    case ElementType::Float32: launch(static_cast<const float*>(data.data)); break;
    case ElementType::UInt8: launch(static_cast<const uint8_t*>(data.data)); break;
    case ElementType::Int8: launch(static_cast<const int8_t*>(data.data)); break;
  }
  ANNFORGE_CUDA_CHECK_LAUNCH("join_neighbors_of_neighbors");
}

}  // namespace annforge::cuda
