// The positions of the values at or below a cut (and below +infinity), in order: the streaming
// step of top-k selection over a row of distances. The AVX2 version compares eight values at a
// time and compacts the passing positions through a lookup table, with no branch per value
// (a few percent pass, at unpredictable places).
#pragma once

#include <cstdint>

namespace annforge::cpu {

// Writes the positions into `positions`, which must hold count + 16 entries; returns how many.
using CollectKernel = int (*)(const float* values, int count, float cut, uint32_t* positions);
// AVX-512 or AVX2 where the CPU has it (ANNFORGE_SIMD=avx2 or scalar to force the others).
CollectKernel collect_kernel();
CollectKernel scalar_collect_kernel();

// A value at or above the k-th smallest of values[0, count) (+infinity counts as a value), for
// k <= 128: the cut of a top-k selection without a sorted sample. With AVX-512 each of 16
// lanes keeps its ceil(k / 16) smallest; the largest kept value is typically near rank 1.5-2k.
// Null where the CPU has no AVX-512 (or for k > 128: the kernel then returns +infinity).
using KthBoundKernel = float (*)(const float* values, int count, int k);
KthBoundKernel kth_bound_kernel();

// The `want` smallest finite values of values[0, count) for count <= 256, ascending, ties by
// lower position: their positions and values; returns how many (fewer where fewer are finite).
// For nearest-centroid searches over a few dozen centroids. AVX-512, else AVX2 (any count
// there); null where the CPU has neither.
using FewSmallestKernel = int (*)(const float* values, int count, int want, int* positions, float* out);
FewSmallestKernel few_smallest_kernel();

// The min(k, count) smallest of `count` distinct keys, ascending, into out[0, min(k, count)):
// ranks counted with vector compares (O(count^2 / 8), branch-free), for the short candidate
// lists of a top-k selection (up to a few hundred). Returns min(k, count). Null where the CPU
// has no AVX-512.
using RankSelectKernel = int (*)(const uint64_t* keys, int count, int k, uint64_t* out);
RankSelectKernel rank_select_kernel();
// The same for keys that need not be distinct (equal keys rank by position), on AVX2's four
// 64-bit lanes (any CPU with AVX2, AVX-512 ones too): for a few dozen keys, where std::sort's
// unpredictable branches cost more. Null where the CPU has no AVX2.
RankSelectKernel stable_rank_select_kernel();

}  // namespace annforge::cpu
