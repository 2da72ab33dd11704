// The AVX2 kernel of threshold_collect.hpp (compiled with -mavx2).
#include <immintrin.h>

#include <array>
#include <limits>

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

}  // namespace

CollectKernel avx2_collect_kernel() { return avx2_collect; }

}  // namespace annforge::cpu
