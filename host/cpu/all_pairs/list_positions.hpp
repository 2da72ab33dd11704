// Where candidates already sit in a kNN list: the clustered stage's merges drop (or lower) the
// candidates a row's list holds, once per row and cluster (1M wordtext: ~6.6M merges of up to 48
// candidates into lists of 48). A hash set of the list filled per merge was most of that time;
// here each candidate is compared with the whole list at once, 16 (AVX-512) or 8 (AVX2) ids per
// compare.
#pragma once

#include <cstdint>

namespace annforge::cpu {

// positions[c] = the index of ids[c] in list[0, k), or -1 where the list does not hold it; the
// list's ids are distinct (kInvalidId tail slots included: no candidate is kInvalidId).
using ListPositionsKernel = void (*)(const uint32_t* list, int k, const uint32_t* ids, int count, int* positions);
// AVX-512, else AVX2, for k <= kListPositionsMaxK; null elsewhere (ANNFORGE_SIMD=scalar).
constexpr int kListPositionsMaxK = 64;
ListPositionsKernel list_positions_kernel();
void scalar_list_positions(const uint32_t* list, int k, const uint32_t* ids, int count, int* positions);

}  // namespace annforge::cpu
