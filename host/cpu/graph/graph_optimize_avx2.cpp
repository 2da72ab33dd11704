// The AVX2 kernel of graph_optimize_kernels.hpp's detour words, for CPUs without AVX-512: eight
// lookups per gather instead of sixteen, the passing ranks turned into bits one by one. The
// function carries its instruction set as a target attribute (the file is compiled for the
// baseline).
#include <immintrin.h>

#include "host/cpu/graph/graph_optimize_kernels.hpp"
#include "host/cpu/distance/distance.hpp"

namespace annforge::cpu {
namespace {

#define ANNFORGE_AVX2 __attribute__((target("avx2,bmi,popcnt")))

// 8 of w's ids per step, hashed, their slots gathered and verified; the ranks that pass (in the
// list, rank > max(j, position)) set their bits.
ANNFORGE_AVX2 uint64_t avx2_detour_words(const uint32_t* via, int k, int j, const uint32_t* slots,
                                         uint32_t multiplier) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i spread = _mm256_set1_epi32(static_cast<int>(multiplier));
  const __m256i rank_mask = _mm256_set1_epi32(63);
  const __m256i via_rank = _mm256_set1_epi32(j);
  uint64_t bits = 0;
  const int positions = k - 1;
  for (int p0 = 0; p0 < positions; p0 += 8) {
    const __m256i valid = _mm256_cmpgt_epi32(_mm256_set1_epi32(positions - p0), lane);
    const __m256i id = _mm256_maskload_epi32(reinterpret_cast<const int*>(via + p0), valid);
    const __m256i slot = _mm256_srli_epi32(_mm256_mullo_epi32(id, spread), 32 - kDetourSlotBits);
    const __m256i entry =
        _mm256_mask_i32gather_epi32(_mm256_set1_epi32(-1), reinterpret_cast<const int*>(slots), slot, valid, 4);
    const __m256i rank = _mm256_and_si256(entry, rank_mask);
    const __m256i position = _mm256_add_epi32(lane, _mm256_set1_epi32(p0));
    const __m256i in_list = _mm256_and_si256(valid, _mm256_cmpeq_epi32(_mm256_srli_epi32(entry, 6), id));
    const __m256i later = _mm256_cmpgt_epi32(rank, _mm256_max_epi32(via_rank, position));
    unsigned pass = static_cast<unsigned>(_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_and_si256(in_list, later))));
    if (pass == 0) continue;
    alignas(32) uint32_t ranks[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(ranks), rank);
    for (; pass != 0; pass &= pass - 1) bits |= uint64_t{1} << ranks[__builtin_ctz(pass)];
  }
  return bits;
}

}  // namespace

DetourWordsKernel avx2_detour_words_kernel() { return cpu_has_avx2_fma() ? avx2_detour_words : nullptr; }

}  // namespace annforge::cpu
