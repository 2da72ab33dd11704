// One level of a random-projection tree on the GPU: every segment of the current level (see
// kernels/shared/partition_core.hpp) picks two of its members at random, projects its members on
// the line through them, and is sorted along it, so that its halves become the next level's
// segments. After `levels` levels the leaves are balanced blocks of nearby vectors.
#pragma once

#include <cstdint>

#include <raft/core/resources.hpp>

#include "kernels/distance_tiles.hpp"

namespace annforge::cuda {

// Scratch for forest levels over n positions with up to 2^max_level segments.
struct ForestScratch {
  float* directions;      // 2^max_level x dim
  float* offsets;         // 2^max_level
  uint64_t* keys;         // n
  uint64_t* keys_sorted;  // n
  uint32_t* order_out;    // n
  void* sort_temp;        // sort_temp_bytes
  size_t sort_temp_bytes;
};

// Bytes of cub radix-sort scratch for n keys.
size_t forest_sort_temp_bytes(int64_t n);

// Splits every segment of `level` of `order` (n row ids) in two; the result is written back into
// `order`. `inverse_norms` (cosine, else nullptr) scales rows to unit length first.
void forest_split_level(const raft::resources& res, const DeviceMatrix& data, const float* inverse_norms,
                        uint32_t* order, int level, uint64_t seed, ForestScratch& scratch);

// members[leaf * side + p] = order[segment_start(leaf) + p] for p < the leaf's size, else
// kInvalidId: the leaves of `level` as padded blocks of `side` slots.
void leaf_members(const raft::resources& res, const uint32_t* order, int64_t n, int level, int64_t first_leaf,
                  int64_t leaves, int side, uint32_t* members);

// order[i] = i for i < n.
void fill_identity(const raft::resources& res, uint32_t* order, int64_t n);

}  // namespace annforge::cuda
