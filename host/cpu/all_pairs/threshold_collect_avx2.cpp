// The AVX2 kernel of threshold_collect.hpp (compiled with -mavx2).
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <vector>

#include "host/cpu/distance/lane_positions.hpp"
#include "host/cpu/all_pairs/threshold_collect.hpp"

namespace annforge::cpu {
namespace {

int avx2_collect(const float* values, int count, float cut, uint32_t* positions) {
  const __m256 limit = _mm256_set1_ps(cut);
  const __m256 infinity = _mm256_set1_ps(std::numeric_limits<float>::infinity());
  const std::array<uint64_t, 256>& packed_positions = packed_lane_positions();
  int found = 0, i = 0;
  for (; i + 8 <= count; i += 8) {
    const __m256 x = _mm256_loadu_ps(values + i);
    const int mask = _mm256_movemask_ps(_mm256_and_ps(_mm256_cmp_ps(x, limit, _CMP_LE_OQ),
                                                      _mm256_cmp_ps(x, infinity, _CMP_LT_OQ)));
    const __m256i offsets = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<long long>(packed_positions[mask])));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(positions + found), _mm256_add_epi32(offsets, _mm256_set1_epi32(i)));
    found += __builtin_popcount(static_cast<unsigned>(mask));
  }
  for (; i < count; ++i) {
    positions[found] = static_cast<uint32_t>(i);
    found += values[i] <= cut && values[i] < std::numeric_limits<float>::infinity();
  }
  return found;
}

// (value, position) as one integer key that orders as the values do, ties by position: the value's
// bits with negative values flipped (-0 made +0 first, so that the two tie as comparisons see
// them), above the position.
inline uint64_t ordered_key(float value, int position) {
  value += 0.0f;
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  bits ^= (bits >> 31) != 0 ? 0xFFFFFFFFu : 0x80000000u;
  return uint64_t{bits} << 32 | static_cast<uint32_t>(position);
}

// Lanes that keep the minimum at step (K, J) of a bitonic sort of 8 (lane i meets lane i ^ J).
constexpr int bitonic_min_lanes(int k, int j) {
  int mask = 0;
  for (int i = 0; i < 8; ++i) {
    if (((i & j) == 0) == ((i & k) == 0)) mask |= 1 << i;
  }
  return mask;
}

template <int K, int J>
inline __m256 bitonic_step(__m256 x) {
  const __m256i partner_lanes = _mm256_xor_si256(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(J));
  const __m256 partner = _mm256_permutevar8x32_ps(x, partner_lanes);
  return _mm256_blend_ps(_mm256_max_ps(x, partner), _mm256_min_ps(x, partner), bitonic_min_lanes(K, J));
}

// The 8 lanes of x in ascending order (six compare-exchange steps).
inline __m256 sorted_lanes(__m256 x) {
  x = bitonic_step<2, 1>(x);
  x = bitonic_step<4, 2>(x);
  x = bitonic_step<4, 1>(x);
  x = bitonic_step<8, 4>(x);
  x = bitonic_step<8, 2>(x);
  return bitonic_step<8, 1>(x);
}

// few_smallest on AVX2 (the nearest-centroid searches' selection, where an insertion scan with
// unpredictable branches over every centroid was the partition's largest cost on this path):
// each of 8 lanes keeps its smallest value (want <= 8; its two smallest up to 16) through min /
// max steps: entries of the array whose want-th smallest is at or above the array's. The values
// at or under that cut (typically want to 2 * want of them) become keys, sorted; the want
// smallest are the answer. want > 16: every finite value a key.
int avx2_few_smallest(const float* values, int count, int want, int* positions, float* out) {
  constexpr float kInfinity = std::numeric_limits<float>::infinity();
  thread_local std::vector<uint64_t> key_store;
  key_store.resize(static_cast<size_t>(count) + 8);
  uint64_t* keys = key_store.data();
  int passed = 0;
  if (want > 16) {
    for (int i = 0; i < count; ++i) {
      if (values[i] < kInfinity) keys[passed++] = ordered_key(values[i], i);
    }
  } else {
    const __m256 infinity = _mm256_set1_ps(kInfinity);
    __m256 first = infinity, second = infinity;
    alignas(32) float tail[8];
    const int whole = count / 8 * 8;
    auto keep = [&](__m256 x) {
      const __m256 low = _mm256_min_ps(first, x);
      second = _mm256_min_ps(second, _mm256_max_ps(first, x));
      first = low;
    };
    for (int i = 0; i < whole; i += 8) keep(_mm256_loadu_ps(values + i));
    if (whole < count) {
      std::fill(tail, tail + 8, kInfinity);
      std::copy(values + whole, values + count, tail);
      keep(_mm256_load_ps(tail));
    }
    // Up to 8: the want-th of the lanes' minima, sorted in registers; 9 to 16: the want-th of
    // both kept values of every lane.
    alignas(32) float kept[16];
    float cut_value;
    if (want <= 8) {
      _mm256_store_ps(kept, sorted_lanes(first));
      cut_value = kept[want - 1];
    } else {
      _mm256_store_ps(kept, first);
      _mm256_store_ps(kept + 8, second);
      std::nth_element(kept, kept + (want - 1), kept + 16);
      cut_value = kept[want - 1];
    }
    const __m256 cut = _mm256_set1_ps(cut_value);
    for (int i = 0; i < count; i += 8) {
      const __m256 x = i < whole ? _mm256_loadu_ps(values + i) : _mm256_load_ps(tail);
      unsigned mask = static_cast<unsigned>(_mm256_movemask_ps(
          _mm256_and_ps(_mm256_cmp_ps(x, cut, _CMP_LE_OQ), _mm256_cmp_ps(x, infinity, _CMP_LT_OQ))));
      while (mask != 0) {
        const int position = i + __builtin_ctz(mask);
        keys[passed++] = ordered_key(values[position], position);
        mask &= mask - 1;
      }
    }
  }
  // The want smallest keys, ascending.
  const int found = std::min(want, passed);
  if (passed <= 32) {
    for (int i = 1; i < passed; ++i) {  // a short list: insertion sort
      const uint64_t key = keys[i];
      int at = i;
      for (; at > 0 && keys[at - 1] > key; --at) keys[at] = keys[at - 1];
      keys[at] = key;
    }
  } else {
    std::partial_sort(keys, keys + found, keys + passed);
  }
  for (int i = 0; i < found; ++i) {
    positions[i] = static_cast<int>(keys[i] & 0xFFFFFFFFu);
    out[i] = values[positions[i]];
  }
  return found;
}

// rank_select on AVX2: each key's rank counted transposed, as the AVX-512 kernel does, 16 keys
// at a time in four registers of four 64-bit lanes, every key of the list broadcast against them
// (a signed compare of keys with their top bit flipped is the unsigned order). Equal keys rank by
// position (a key before this one counts when at or below it, after it only when below), so the
// ranks are distinct and every slot below min(count, k) is written once. Keys of rank < k go to
// their rank.
int avx2_rank_select(const uint64_t* keys, int count, int k, uint64_t* out) {
  const __m256i flip = _mm256_set1_epi64x(static_cast<long long>(0x8000000000000000ull));
  const __m256i one = _mm256_set1_epi64x(1);
  for (int first = 0; first < count; first += 16) {
    const int here = std::min(16, count - first);
    alignas(32) uint64_t block[16];
    for (int i = 0; i < 16; ++i) block[i] = i < here ? keys[first + i] : 0;
    __m256i key[4], rank[4], lane[4];
    for (int v = 0; v < 4; ++v) {
      key[v] = _mm256_xor_si256(_mm256_load_si256(reinterpret_cast<const __m256i*>(block + 4 * v)), flip);
      rank[v] = _mm256_setzero_si256();
      lane[v] = _mm256_setr_epi64x(4 * v, 4 * v + 1, 4 * v + 2, 4 * v + 3);
    }
    auto broadcast = [&](int j) {
      return _mm256_xor_si256(_mm256_set1_epi64x(static_cast<long long>(keys[j])), flip);
    };
    // Before the block: one where the other key is at or below (1 + (-1 where above)).
    for (int j = 0; j < first; ++j) {
      const __m256i other = broadcast(j);
#pragma GCC unroll 4
      for (int v = 0; v < 4; ++v) rank[v] = _mm256_add_epi64(rank[v], _mm256_add_epi64(one, _mm256_cmpgt_epi64(other, key[v])));
    }
    // Inside it: at or below for the lanes after the other key's position, below for the others.
    for (int j = first; j < first + here; ++j) {
      const __m256i other = broadcast(j);
      const __m256i at = _mm256_set1_epi64x(j - first);
      for (int v = 0; v < 4; ++v) {
        const __m256i at_or_below = _mm256_add_epi64(one, _mm256_cmpgt_epi64(other, key[v]));
        const __m256i below = _mm256_sub_epi64(_mm256_setzero_si256(), _mm256_cmpgt_epi64(key[v], other));
        rank[v] = _mm256_add_epi64(rank[v], _mm256_blendv_epi8(below, at_or_below, _mm256_cmpgt_epi64(lane[v], at)));
      }
    }
    // After it: one where the other key is below (-(-1)).
    for (int j = first + here; j < count; ++j) {
      const __m256i other = broadcast(j);
#pragma GCC unroll 4
      for (int v = 0; v < 4; ++v) rank[v] = _mm256_sub_epi64(rank[v], _mm256_cmpgt_epi64(key[v], other));
    }
    alignas(32) uint64_t ranks[16];
    for (int v = 0; v < 4; ++v) _mm256_store_si256(reinterpret_cast<__m256i*>(ranks + 4 * v), rank[v]);
    for (int i = 0; i < here; ++i) {
      if (ranks[i] < static_cast<uint64_t>(k)) out[ranks[i]] = keys[first + i];
    }
  }
  return std::min(count, k);
}

}  // namespace

CollectKernel avx2_collect_kernel() { return avx2_collect; }
RankSelectKernel avx2_rank_select_kernel() { return avx2_rank_select; }
FewSmallestKernel avx2_few_smallest_kernel() { return avx2_few_smallest; }

}  // namespace annforge::cpu
