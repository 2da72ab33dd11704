// The AVX-512 kernels of graph_optimize_kernels.hpp. The functions carry their instruction set
// as a target attribute (the file is compiled for the baseline).
#include <immintrin.h>

#include "host/cpu/graph/graph_optimize_kernels.hpp"
#include "host/cpu/distance/distance.hpp"

#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12's _mm512_undefined_*()

namespace annforge::cpu {
namespace {

#define ANNFORGE_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,bmi,bmi2,popcnt")))

// 16 of w's ids per step, hashed, their slots gathered and verified, the passing ranks turned
// into bits.
ANNFORGE_AVX512 uint64_t avx512_detour_words(
    const uint32_t* via, int k, int j, const uint32_t* slots, uint32_t multiplier) {
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i spread = _mm512_set1_epi32(static_cast<int>(multiplier));
  const __m512i rank_mask = _mm512_set1_epi32(63);
  const __m512i via_rank = _mm512_set1_epi32(j);
  const __m512i one = _mm512_set1_epi64(1);
  __m512i bits = _mm512_setzero_si512();
  const int positions = k - 1;
  for (int p0 = 0; p0 < positions; p0 += 16) {
    const __mmask16 valid = positions - p0 >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << (positions - p0)) - 1);
    const __m512i id = _mm512_maskz_loadu_epi32(valid, via + p0);
    const __m512i slot = _mm512_srli_epi32(_mm512_mullo_epi32(id, spread), 32 - kDetourSlotBits);
    const __m512i entry =
        _mm512_mask_i32gather_epi32(_mm512_set1_epi32(-1), valid, slot, reinterpret_cast<const int*>(slots), 4);
    const __m512i rank = _mm512_and_si512(entry, rank_mask);
    const __m512i position = _mm512_add_epi32(lane, _mm512_set1_epi32(p0));
    // In the list (the slot holds this id), and rank > max(j, p).
    const __mmask16 pass = _mm512_mask_cmpeq_epi32_mask(valid, _mm512_srli_epi32(entry, 6), id) &
                           _mm512_cmpgt_epi32_mask(rank, _mm512_max_epi32(via_rank, position));
    const __m512i low = _mm512_cvtepu32_epi64(_mm512_castsi512_si256(rank));
    const __m512i high = _mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64(rank, 1));
    bits = _mm512_or_si512(bits, _mm512_maskz_sllv_epi64(static_cast<__mmask8>(pass), one, low));
    bits = _mm512_or_si512(bits, _mm512_maskz_sllv_epi64(static_cast<__mmask8>(pass >> 8), one, high));
  }
  return static_cast<uint64_t>(_mm512_reduce_or_epi64(bits));
}

// The written ids live in four registers (64 lanes); a candidate is added when no lane among the
// first `filled` holds it.
class WrittenIds {
 public:
  ANNFORGE_AVX512 WrittenIds(uint32_t* out) : out_(out) {
    for (__m512i& part : parts_) part = _mm512_set1_epi32(-1);
  }
  ANNFORGE_AVX512 void add(uint32_t id) {
    const __m512i probe = _mm512_set1_epi32(static_cast<int>(id));
    const __mmask16 seen = _mm512_cmpeq_epi32_mask(parts_[0], probe) | _mm512_cmpeq_epi32_mask(parts_[1], probe) |
                           _mm512_cmpeq_epi32_mask(parts_[2], probe) | _mm512_cmpeq_epi32_mask(parts_[3], probe);
    if (seen) return;
    // The lane for entry `filled_` takes the id (ids equal to the -1 fill cannot occur: ids are
    // below 2^32 - 1).
    const int part = filled_ >> 4;
    parts_[part] = _mm512_mask_set1_epi32(parts_[part], static_cast<__mmask16>(1u << (filled_ & 15)), static_cast<int>(id));
    out_[filled_++] = id;
  }
  int filled() const { return filled_; }

 private:
  uint32_t* out_;
  __m512i parts_[4];
  int filled_ = 0;
};

ANNFORGE_AVX512 int avx512_merge_edges(const uint32_t* forward, const uint32_t* reverse, int reverse_count, int degree,
                                       uint32_t* out) {
  WrittenIds written(out);
  const int protected_edges = (degree + 1) / 2;
  for (int e = 0; e < protected_edges; ++e) written.add(forward[e]);
  for (int e = 0; e < reverse_count && written.filled() < degree; ++e) written.add(reverse[e]);
  for (int e = protected_edges; e < degree && written.filled() < degree; ++e) written.add(forward[e]);
  return written.filled();
}

}  // namespace

MergeEdgesKernel avx512_merge_edges_kernel() { return cpu_has_avx512() ? avx512_merge_edges : nullptr; }

DetourWordsKernel avx512_detour_words_kernel() { return cpu_has_avx512() ? avx512_detour_words : nullptr; }

}  // namespace annforge::cpu
