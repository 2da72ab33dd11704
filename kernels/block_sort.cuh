// Bitonic sort of (distance, id) pairs in shared memory by a whole thread block: the merge step of
// candidate lists (kNN stage, graph search). `n` is a power of two; every thread of the block must
// call it; it synchronises before and after.
#pragma once

#include <cstdint>

#include "annforge.hpp"
#include "kernels/shared/neighbor_list.hpp"

namespace annforge::cuda {

// Orders by (distance, id): core::nearer.
struct ByDistance {
  __device__ __forceinline__ static bool before(float da, uint32_t ia, float db, uint32_t ib) {
    return core::nearer(da, ia, db, ib);
  }
};
// Orders by (id, distance): duplicates of an id become neighbours, the nearest copy first.
struct ById {
  __device__ __forceinline__ static bool before(float da, uint32_t ia, float db, uint32_t ib) {
    return ia < ib || (ia == ib && da < db);
  }
};

template <typename Order>
__device__ void block_bitonic_sort(float* distances, uint32_t* ids, int n) {
  __syncthreads();
  for (int size = 2; size <= n; size <<= 1) {
    for (int stride = size >> 1; stride > 0; stride >>= 1) {
      for (int i = threadIdx.x; i < n / 2; i += blockDim.x) {
        // The i-th comparator of this step: pairs (lo, lo + stride).
        const int lo = 2 * i - (i & (stride - 1));
        const int hi = lo + stride;
        const bool ascending = (lo & size) == 0;
        const float dl = distances[lo], dh = distances[hi];
        const uint32_t il = ids[lo], ih = ids[hi];
        const bool swap = ascending ? Order::before(dh, ih, dl, il) : Order::before(dl, il, dh, ih);
        if (swap) {
          distances[lo] = dh;
          distances[hi] = dl;
          ids[lo] = ih;
          ids[hi] = il;
        }
      }
      __syncthreads();
    }
  }
}

// Sorts `n` candidates (power of two; padding entries hold kInvalidId at +inf) into unique ids
// nearest first: a sort by id, duplicates after the first turned into padding, a sort by distance.
__device__ inline void block_sort_unique(float* distances, uint32_t* ids, int n) {
  block_bitonic_sort<ById>(distances, ids, n);
  // Mark in a second pass so that no thread reads an entry another has already rewritten.
  bool duplicate[8];
  int m = 0;
  for (int i = threadIdx.x; i < n; i += blockDim.x, ++m) {
    if (m < 8) duplicate[m] = i > 0 && ids[i] == ids[i - 1] && ids[i] != kInvalidId;
  }
  __syncthreads();
  m = 0;
  for (int i = threadIdx.x; i < n; i += blockDim.x, ++m) {
    if (m < 8 && duplicate[m]) {
      ids[i] = kInvalidId;
      distances[i] = __int_as_float(0x7f800000);  // +inf
    }
  }
  block_bitonic_sort<ByDistance>(distances, ids, n);
}

}  // namespace annforge::cuda
