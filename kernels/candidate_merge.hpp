// Candidate lists into kNN lists on the GPU: the leaf results of each tree are scattered into
// per-row candidate slots, and each row's candidates are merged into its k nearest distinct ids.
#pragma once

#include <cstdint>

#include <raft/core/resources.hpp>

namespace annforge::cuda {

// For leaf-local top-k results (rows = leaves x side, kk columns of local positions and
// distances), writes each member's kk candidates as global ids into its own slot range
// [slot_offset, slot_offset + kk) of a row-major (n x slots) candidate array.
void scatter_leaf_candidates(const raft::resources& res, const uint32_t* members, int64_t leaves, int side, int kk,
                             const float* local_distances, const uint32_t* local_positions, int64_t slots,
                             int64_t slot_offset, uint32_t* candidate_ids, float* candidate_distances);

// out[r] = the k nearest distinct valid ids of row r's `slots` candidates (row-major n x slots),
// nearest first; kInvalidId / +inf fill what is missing.
void merge_candidates(const raft::resources& res, int64_t rows, int64_t slots, const uint32_t* candidate_ids,
                      const float* candidate_distances, int k, uint32_t* out_ids, float* out_distances);

// Per-tile selections into a wider candidate array: positions (rows x kk, relative to a tile of
// the base starting at `first_id`) become ids, written with their distances into columns
// [column, column + kk) of a (rows x width) array; positions at +inf become kInvalidId.
void place_tile_selection(const raft::resources& res, int64_t rows, int kk, const uint32_t* positions,
                          const float* distances, uint32_t first_id, int64_t width, int64_t column, uint32_t* out_ids,
                          float* out_distances);

// A kNN graph without self loops: from rows x (k + 1) lists of row first_row + r, drops the
// row itself (or the last entry when the row is not listed, as with exact duplicates).
void drop_self(const raft::resources& res, int64_t rows, int64_t first_row, int k, const uint32_t* ids_with_self,
               const float* distances_with_self, uint32_t* ids, float* distances);

}  // namespace annforge::cuda
