// Kernels and launchers of graph_prune.hpp.
#include "kernels/graph_prune.hpp"

#include <raft/core/resource/cuda_stream.hpp>

#include "kernels/cuda_check.hpp"
#include "kernels/launch.cuh"
#include "kernels/shared/prune_core.hpp"

namespace annforge::cuda {
namespace {

constexpr int kThreads = 128;


__device__ __forceinline__ uint32_t hash_slot(uint32_t id, int mask) { return (id * 2654435761u) & mask; }

// A block per row. The row's list goes into a shared open-addressing table id -> rank; every pair
// (neighbour at rank j, its entry at position p) is looked up, and a detour is counted against
// the direct edge to that entry when core::is_detour says so.
__global__ void prune_kernel(const uint32_t* knn, int64_t rows, int k, int degree, int table_size, uint32_t* pruned) {
  extern __shared__ unsigned char shared[];
  uint32_t* table_ids = reinterpret_cast<uint32_t*>(shared);
  int* table_ranks = reinterpret_cast<int*>(table_ids + table_size);
  unsigned* counts = reinterpret_cast<unsigned*>(table_ranks + table_size);
  uint16_t* detours = reinterpret_cast<uint16_t*>(counts + k);
  uint16_t* kept = detours + k;
  const int mask = table_size - 1;
  for (int64_t v = blockIdx.x; v < rows; v += gridDim.x) {
    const uint32_t* list = knn + v * k;
    for (int i = threadIdx.x; i < table_size; i += blockDim.x) table_ids[i] = kInvalid;
    for (int i = threadIdx.x; i < k; i += blockDim.x) counts[i] = 0;
    __syncthreads();
    for (int r = threadIdx.x; r < k; r += blockDim.x) {
      const uint32_t id = list[r];
      uint32_t slot = hash_slot(id, mask);
      while (true) {
        const uint32_t previous = atomicCAS(&table_ids[slot], kInvalid, id);
        if (previous == kInvalid || previous == id) break;
        slot = (slot + 1) & mask;
      }
      table_ranks[slot] = r;  // an id listed twice (never, after the merge) keeps either rank
    }
    __syncthreads();
    const int pairs = (k - 1) * (k - 1);
    for (int e = threadIdx.x; e < pairs; e += blockDim.x) {
      const int j = e / (k - 1), p = e % (k - 1);
      const uint32_t via = list[j];
      const uint32_t target = knn[static_cast<int64_t>(via) * k + p];
      uint32_t slot = hash_slot(target, mask);
      int rank = -1;
      while (true) {
        const uint32_t here = table_ids[slot];
        if (here == target) {
          rank = table_ranks[slot];
          break;
        }
        if (here == kInvalid) break;
        slot = (slot + 1) & mask;
      }
      if (rank >= 0 && core::is_detour(j, p, rank)) atomicAdd(&counts[rank], 1u);
    }
    __syncthreads();
    for (int r = threadIdx.x; r < k; r += blockDim.x) detours[r] = static_cast<uint16_t>(min(counts[r], 65535u));
    __syncthreads();
    if (threadIdx.x == 0) core::select_by_detours(detours, k, degree, kept);
    __syncthreads();
    for (int e = threadIdx.x; e < degree; e += blockDim.x) pruned[v * degree + e] = list[kept[e]];
    __syncthreads();
  }
}

// Rank p of every row's pruned list, in one launch per rank: in-edges from vectors that rank
// this one higher arrive first and survive the cap of `degree` (order within a rank is the
// atomics' order).
__global__ void reverse_rank_kernel(const uint32_t* pruned, int64_t rows, int degree, int rank, uint32_t* reverse,
                                    int* reverse_count) {
  for (int64_t v = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; v < rows;
       v += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const uint32_t u = pruned[v * degree + rank];
    if (u == kInvalid) continue;
    const int slot = atomicAdd(&reverse_count[u], 1);
    if (slot < degree) reverse[static_cast<int64_t>(u) * degree + slot] = static_cast<uint32_t>(v);
  }
}

__global__ void merge_kernel(const uint32_t* pruned, const uint32_t* reverse, const int* reverse_count, int64_t rows,
                             int degree, uint32_t* graph) {
  for (int64_t v = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; v < rows;
       v += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    uint32_t* out = graph + v * degree;
    const int filled = core::merge_forward_and_reverse(pruned + v * degree, reverse + v * degree,
                                                       min(reverse_count[v], degree), degree, out);
    for (int e = filled; e < degree; ++e) out[e] = kInvalid;
  }
}

}  // namespace

void prune_by_detours(const raft::resources& res, const uint32_t* knn, int64_t rows, int k, int degree,
                      uint32_t* pruned) {
  if (rows == 0 || degree == 0) return;
  int table_size = 64;
  while (table_size < 2 * k) table_size <<= 1;
  const size_t shared = table_size * (sizeof(uint32_t) + sizeof(int)) + k * sizeof(unsigned) +
                        2 * static_cast<size_t>(k) * sizeof(uint16_t);
  const int blocks = grid_for(rows, 1);
  prune_kernel<<<blocks, kThreads, shared, stream_of(res)>>>(knn, rows, k, degree, table_size, pruned);
  ANNFORGE_CUDA_CHECK_LAUNCH("prune_by_detours");
}

void merge_reverse_edges(const raft::resources& res, const uint32_t* pruned, int64_t rows, int degree,
                         uint32_t* reverse, int* reverse_count, uint32_t* graph) {
  if (rows == 0 || degree == 0) return;
  cudaStream_t stream = stream_of(res);
  ANNFORGE_CUDA_CHECK(cudaMemsetAsync(reverse_count, 0, rows * sizeof(int), stream));
  const int blocks = grid_for(rows, 256);
  for (int rank = 0; rank < degree; ++rank) {
    reverse_rank_kernel<<<blocks, 256, 0, stream>>>(pruned, rows, degree, rank, reverse, reverse_count);
    ANNFORGE_CUDA_CHECK_LAUNCH("reverse edges");
  }
  merge_kernel<<<blocks, 256, 0, stream>>>(pruned, reverse, reverse_count, rows, degree, graph);
  ANNFORGE_CUDA_CHECK_LAUNCH("merge reverse edges");
}

}  // namespace annforge::cuda
