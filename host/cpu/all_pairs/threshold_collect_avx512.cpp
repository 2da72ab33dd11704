// AVX-512 kernels of threshold_collect.hpp. The functions carry their instruction set as a
// target attribute (the file is compiled for the baseline), as in pair_tiles_avx512.cpp.
#include <immintrin.h>

#include <cstdint>

#include "host/cpu/all_pairs/threshold_collect.hpp"

// GCC 12 warns about its own _mm512_undefined_*() inside the intrinsics (a false positive; as
// "uninitialized" too where rank_block's register arrays inline it).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#define ANNFORGE_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,bmi,bmi2,popcnt")))

namespace annforge::cpu {
namespace {

ANNFORGE_AVX512 int avx512_collect(const float* values, int count, float cut, uint32_t* positions) {
  const __m512 limit = _mm512_set1_ps(cut);
  const __m512 infinity = _mm512_set1_ps(__builtin_inff());
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  int found = 0;
  for (int i = 0; i < count; i += 16) {
    const __mmask16 valid = count - i >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << (count - i)) - 1);
    const __m512 x = _mm512_maskz_loadu_ps(valid, values + i);
    const __mmask16 pass = _mm512_mask_cmp_ps_mask(valid, x, limit, _CMP_LE_OQ) & _mm512_cmp_ps_mask(x, infinity, _CMP_LT_OQ);
    // Compressed in a register and stored whole (a compressing store to memory is slow on Zen 4).
    const __m512i passing = _mm512_maskz_compress_epi32(pass, _mm512_add_epi32(lane, _mm512_set1_epi32(i)));
    _mm512_storeu_si512(positions + found, passing);
    found += __builtin_popcount(pass);
  }
  return found;
}

// Each of the 16 lanes keeps the T smallest values it sees (sorted, through min/max steps):
// 16 * T distinct entries of the array, so the largest of them bounds the k-th smallest from
// above for k <= 16 * T.
template <int T>
ANNFORGE_AVX512 float lane_bound(const float* values, int count) {
  __m512 kept[T];
  for (int t = 0; t < T; ++t) kept[t] = _mm512_set1_ps(__builtin_inff());
  for (int i = 0; i < count; i += 16) {
    const __mmask16 valid = count - i >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << (count - i)) - 1);
    __m512 x = _mm512_mask_loadu_ps(_mm512_set1_ps(__builtin_inff()), valid, values + i);
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
      const __m512 low = _mm512_min_ps(kept[t], x);
      x = _mm512_max_ps(kept[t], x);
      kept[t] = low;
    }
  }
  return _mm512_reduce_max_ps(kept[T - 1]);
}

ANNFORGE_AVX512 float avx512_kth_bound(const float* values, int count, int k) {
  switch ((k + 15) / 16) {
    case 1: return lane_bound<1>(values, count);
    case 2: return lane_bound<2>(values, count);
    case 3: return lane_bound<3>(values, count);
    case 4: return lane_bound<4>(values, count);
    case 5: return lane_bound<5>(values, count);
    case 6: return lane_bound<6>(values, count);
    case 7: return lane_bound<7>(values, count);
    case 8: return lane_bound<8>(values, count);
  }
  return __builtin_inff();
}

// `want` rounds of a vector minimum: the smallest value, its lowest position, then that position
// masked out (few_smallest's path for want <= 3 or > 16).
ANNFORGE_AVX512 int extract_smallest(const float* values, int count, int want, int* positions, float* out) {
  constexpr int kMaxVectors = 16;  // count <= 256
  const __m512 infinity = _mm512_set1_ps(__builtin_inff());
  __m512 v[kMaxVectors];
  const int vectors = (count + 15) / 16;
  for (int i = 0; i < vectors; ++i) {
    const int left = count - i * 16;
    const __mmask16 valid = left >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << left) - 1);
    v[i] = _mm512_mask_loadu_ps(infinity, valid, values + i * 16);
  }
  int found = 0;
  for (; found < want && found < count; ++found) {
    __m512 low = v[0];
    for (int i = 1; i < vectors; ++i) low = _mm512_min_ps(low, v[i]);
    const float smallest = _mm512_reduce_min_ps(low);
    if (!(smallest < __builtin_inff())) break;
    const __m512 target = _mm512_set1_ps(smallest);
    for (int i = 0; i < vectors; ++i) {
      const __mmask16 hit = _mm512_cmp_ps_mask(v[i], target, _CMP_EQ_OQ);
      if (hit == 0) continue;
      const int lane = __builtin_ctz(hit);
      positions[found] = i * 16 + lane;
      out[found] = smallest;
      v[i] = _mm512_mask_blend_ps(static_cast<__mmask16>(1u << lane), v[i], infinity);
      break;
    }
  }
  return found;
}

// Each key's rank is the number of keys below it (keys are distinct). Counted transposed: the
// ranks of up to 64 keys sit in eight registers, and every key of the list, broadcast, adds one
// to the lanes of the keys above it (a compare and a masked add per register; the earlier form,
// a popcount per key and register into one scalar sum, was a dependency chain twice as long).
// The keys of rank < k are written at their rank.
template <int V>
ANNFORGE_AVX512 void rank_block(const uint64_t* keys, int count, int first, int k, uint64_t* out) {
  __m512i key[V], rank[V];
  __mmask8 valid[V];
  for (int v = 0; v < V; ++v) {
    const int left = count - first - v * 8;
    valid[v] = left >= 8 ? 0xFF : left > 0 ? static_cast<__mmask8>((1u << left) - 1) : 0;
    key[v] = _mm512_maskz_loadu_epi64(valid[v], keys + first + v * 8);
    rank[v] = _mm512_setzero_si512();
  }
  const __m512i one = _mm512_set1_epi64(1);
  for (int j = 0; j < count; ++j) {
    const __m512i other = _mm512_set1_epi64(static_cast<long long>(keys[j]));
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) {
      rank[v] = _mm512_mask_add_epi64(rank[v], _mm512_cmplt_epu64_mask(other, key[v]), rank[v], one);
    }
  }
  alignas(64) uint64_t ranks[V * 8];
  for (int v = 0; v < V; ++v) _mm512_store_si512(ranks + v * 8, rank[v]);
  const int here = count - first < V * 8 ? count - first : V * 8;
  for (int i = 0; i < here; ++i) {
    if (ranks[i] < static_cast<uint64_t>(k)) out[ranks[i]] = keys[first + i];
  }
}

ANNFORGE_AVX512 int avx512_rank_select(const uint64_t* keys, int count, int k, uint64_t* out) {
  int first = 0;
  for (; count - first > 32; first += 64) rank_block<8>(keys, count, first, k, out);
  if (count - first > 16) {
    rank_block<4>(keys, count, first, k, out);
  } else if (count - first > 0) {
    rank_block<2>(keys, count, first, k, out);
  }
  return count < k ? count : k;
}

// Lanes that keep the minimum at step (k, j) of a bitonic sort of 16: lane i meets lane i ^ j
// and keeps the smaller where its half of the k-block is ascending and it is the lower lane.
constexpr uint16_t bitonic_min_lanes(int k, int j) {
  uint16_t mask = 0;
  for (int i = 0; i < 16; ++i) {
    if (((i & j) == 0) == ((i & k) == 0)) mask = static_cast<uint16_t>(mask | (1u << i));
  }
  return mask;
}

// The 16 lanes of x in ascending order (a bitonic network: ten compare-exchange steps).
ANNFORGE_AVX512 inline __m512 sorted_lanes(__m512 x) {
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  constexpr int kSteps[10][2] = {{2, 1}, {4, 2}, {4, 1}, {8, 4}, {8, 2}, {8, 1}, {16, 8}, {16, 4}, {16, 2}, {16, 1}};
#pragma GCC unroll 10
  for (const auto& step : kSteps) {
    const __m512 partner = _mm512_permutexvar_ps(_mm512_xor_si512(lane, _mm512_set1_epi32(step[1])), x);
    x = _mm512_mask_blend_ps(bitonic_min_lanes(step[0], step[1]), _mm512_max_ps(x, partner),
                             _mm512_min_ps(x, partner));
  }
  return x;
}

// For want 4 to 16: a cut from the lanes' minima (the want-th smallest of 16 distinct entries of
// the array is at or above its want-th smallest), the few values at or under it compressed out,
// and those ranked as (value, position) keys. The same result as want rounds of a vector
// minimum (extract_smallest), whose chain of dependent reductions and unpredictable branches
// were a tenth of a 1M-row partition's time: 2-2.5x faster for 6 or 8 of 45-171 values, slower
// for 3 (Intel Xeon with AVX-512; the sort of the lanes is a fixed cost).
ANNFORGE_AVX512 int avx512_few_smallest(const float* values, int count, int want, int* positions, float* out) {
  if (want <= 3 || want > 16) return extract_smallest(values, count, want, positions, out);
  constexpr int kMaxVectors = 16;  // count <= 256
  const __m512 infinity = _mm512_set1_ps(__builtin_inff());
  const __m512 zero = _mm512_setzero_ps();
  __m512 v[kMaxVectors];
  const int vectors = (count + 15) / 16;
  __m512 low = infinity;
  for (int i = 0; i < vectors; ++i) {
    const int left = count - i * 16;
    const __mmask16 valid = left >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << left) - 1);
    // + 0: -0 becomes +0, so that the two tie as the comparisons of extract_smallest see them.
    v[i] = _mm512_add_ps(_mm512_mask_loadu_ps(infinity, valid, values + i * 16), zero);
    low = _mm512_min_ps(low, v[i]);
  }
  alignas(64) float lows[16];
  _mm512_store_ps(lows, sorted_lanes(low));
  const __m512 cut = _mm512_set1_ps(lows[want - 1]);
  // Keys: the value's bits made to order as unsigned integers (negative values flipped), above
  // the position, so that equal values rank by position.
  alignas(64) uint64_t keys[kMaxVectors * 16 + 16];
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i sign = _mm512_set1_epi32(static_cast<int>(0x80000000u));
  int passed = 0;
  for (int i = 0; i < vectors; ++i) {
    const __mmask16 pass = _mm512_cmp_ps_mask(v[i], cut, _CMP_LE_OQ) & _mm512_cmp_ps_mask(v[i], infinity, _CMP_LT_OQ);
    if (pass == 0) continue;
    const __m512i bits = _mm512_castps_si512(v[i]);
    const __m512i flip = _mm512_or_si512(_mm512_srai_epi32(bits, 31), sign);
    const __m512i ordered = _mm512_maskz_compress_epi32(pass, _mm512_xor_si512(bits, flip));
    const __m512i position = _mm512_maskz_compress_epi32(pass, _mm512_add_epi32(lane, _mm512_set1_epi32(i * 16)));
    // (ordered << 32) | position, eight keys per half.
    const __m512i low_keys = _mm512_or_si512(_mm512_slli_epi64(_mm512_cvtepu32_epi64(_mm512_castsi512_si256(ordered)), 32),
                                             _mm512_cvtepu32_epi64(_mm512_castsi512_si256(position)));
    const __m512i high_keys =
        _mm512_or_si512(_mm512_slli_epi64(_mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64(ordered, 1)), 32),
                        _mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64(position, 1)));
    _mm512_storeu_si512(keys + passed, low_keys);
    _mm512_storeu_si512(keys + passed + 8, high_keys);
    passed += __builtin_popcount(pass);
  }
  uint64_t chosen[16];
  const int found = avx512_rank_select(keys, passed, want, chosen);
  for (int i = 0; i < found; ++i) {
    const int position = static_cast<int>(chosen[i] & 0xFFFFFFFFu);
    positions[i] = position;
    out[i] = values[position];
  }
  return found;
}

}  // namespace

RankSelectKernel avx512_rank_select_kernel() { return avx512_rank_select; }

FewSmallestKernel avx512_few_smallest_kernel() { return avx512_few_smallest; }

CollectKernel avx512_collect_kernel() { return avx512_collect; }
KthBoundKernel avx512_kth_bound_kernel() { return avx512_kth_bound; }

}  // namespace annforge::cpu
