// The AVX2 + FMA kernel of pair_filter.hpp (this file is compiled with -mavx2 -mfma): eight
// columns per step, both thresholds tested at once, a scalar path only for the few lanes that
// pass.
#include <immintrin.h>

#include <algorithm>
#include <cstddef>

#include "host/cpu/pair_filter.hpp"

namespace annforge::cpu {
namespace {

void avx2_pair_filter(const float* dots, int ld, int row0, int rows, int col0, int cols, const PairTerms& terms,
                      const uint32_t* ids, CandidateBuffers& buffers) {
  CandidateBuffers::Slots slots(buffers);
  const float* thresholds = slots.thresholds();
  const __m256 negative_scale = _mm256_set1_ps(-terms.scale);
  const __m256 floor = _mm256_set1_ps(terms.floor);
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  alignas(32) float distances[8];
  for (int r = 0; r < rows; ++r) {
    const int row = row0 + r;
    const float* row_dots = dots + static_cast<size_t>(r) * ld;
    const __m256 row_add = _mm256_set1_ps(terms.add[row]);
    const __m256 row_mul = _mm256_set1_ps(terms.mul[row]);
    __m256 row_threshold = _mm256_set1_ps(thresholds[row]);
    for (int c = std::max(0, row + 1 - col0); c < cols; c += 8) {
      const int col = col0 + c;
      const __m256 factor = _mm256_mul_ps(_mm256_mul_ps(row_mul, _mm256_loadu_ps(terms.mul + col)), negative_scale);
      const __m256 sum = _mm256_add_ps(row_add, _mm256_loadu_ps(terms.add + col));
      const __m256 d = _mm256_max_ps(_mm256_fmadd_ps(factor, _mm256_loadu_ps(row_dots + c), sum), floor);
      const __m256 pass = _mm256_or_ps(_mm256_cmp_ps(d, row_threshold, _CMP_LT_OQ),
                                       _mm256_cmp_ps(d, _mm256_loadu_ps(thresholds + col), _CMP_LT_OQ));
      unsigned mask = static_cast<unsigned>(_mm256_movemask_ps(pass));
      if (mask == 0) continue;
      if (cols - c < 8) {  // lanes past the last column
        const __m256i valid = _mm256_cmpgt_epi32(_mm256_set1_epi32(cols - c), lanes);
        mask &= static_cast<unsigned>(_mm256_movemask_ps(_mm256_castsi256_ps(valid)));
        if (mask == 0) continue;
      }
      _mm256_store_ps(distances, d);
      do {
        const int lane = __builtin_ctz(mask);
        mask &= mask - 1;
        if (!slots.owns(row, col + lane)) continue;
        slots.offer(row, ids[col + lane], distances[lane]);
        slots.offer(col + lane, ids[row], distances[lane]);
      } while (mask != 0);
      row_threshold = _mm256_set1_ps(thresholds[row]);
    }
  }
}

}  // namespace

PairFilterKernel avx2_pair_filter_kernel() { return avx2_pair_filter; }

}  // namespace annforge::cpu
