// SIMD kernels of graph optimisation (graph_optimize.cpp).
//
// Detour words: the inner step of detour counting for one vector and one neighbour w at rank j:
// which of the vector's ranks w's list makes detourable, as the bits of one word. The vector's
// list sits in a collision-free slot table of 2^kDetourSlotBits entries, each (id << 6 | rank)
// or kEmptyDetourSlot, found by a multiplicative hash of the id.
#pragma once

#include <cstdint>

namespace annforge::cpu {

constexpr int kDetourSlotBits = 13;
constexpr uint32_t kEmptyDetourSlot = 0xFFFFFFFFu;
// Ids must stay below this for (id << 6 | rank) to fit and never equal the empty slot.
constexpr uint32_t kDetourSlotIdLimit = (1u << 26) - 1;

inline uint32_t detour_slot_of(uint32_t id, uint32_t multiplier) { return (id * multiplier) >> (32 - kDetourSlotBits); }

// Bit r set when the vector's rank-r neighbour is at position p < r of `via` (w's list, its
// first k - 1 entries read) and j < r (core::is_detour). k <= 64.
using DetourWordsKernel = uint64_t (*)(const uint32_t* via, int k, int j, const uint32_t* slots, uint32_t multiplier);
// AVX-512 (16 lookups per gather) where the CPU has it, else null.
DetourWordsKernel avx512_detour_words_kernel();
// AVX2 (8 lookups per gather) where the CPU has AVX2 + FMA, else null (graph_optimize_avx2.cpp).
DetourWordsKernel avx2_detour_words_kernel();
// The AVX-512 kernel, else the AVX2 one, else null (the portable counting).
inline DetourWordsKernel detour_words_kernel() {
  const DetourWordsKernel wide = avx512_detour_words_kernel();
  return wide != nullptr ? wide : avx2_detour_words_kernel();
}

// core::merge_forward_and_reverse (kernels/shared/prune_core.hpp), the same output, with each
// repeat check one compare of the id against 16 written ids at a time. degree <= 64.
using MergeEdgesKernel = int (*)(const uint32_t* forward, const uint32_t* reverse, int reverse_count, int degree,
                                 uint32_t* out);
// AVX-512 where the CPU has it, else null.
MergeEdgesKernel avx512_merge_edges_kernel();

}  // namespace annforge::cpu
