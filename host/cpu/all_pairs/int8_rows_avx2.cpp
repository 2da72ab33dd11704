// The int8 layout's row work of pair_tiles.hpp (largest value, quantisation, sums of rows, a
// scaled dot) on AVX2 + FMA, for CPUs without the AVX-512 tiles: float rows as int8 codes there
// (ClusterBlock::load_codes) spent more in this work, done one value at a time (nearbyint a
// library call), than the vpmaddwd dots saved. The same values as the portable loops: products
// and differences in the same order, rounding by MXCSR (to nearest even, as nearbyint), sums in
// double row by row (the file is compiled with -ffp-contract=off: no product and difference
// fused into one FMA). The functions carry their instruction set as a target attribute (the
// file is compiled for the baseline).
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "host/cpu/all_pairs/pair_tiles.hpp"
#include "host/cpu/distance/distance.hpp"

namespace annforge::cpu {
namespace {

#define ANNFORGE_AVX2 __attribute__((target("avx2,fma")))

ANNFORGE_AVX2 float largest_scaled(const float* x, const float* centre, float scale, int dim) {
  const __m256 factor = _mm256_set1_ps(scale);
  const __m256 magnitude = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  __m256 largest = _mm256_setzero_ps();
  int d = 0;
  for (; d + 8 <= dim; d += 8) {
    __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + d), factor);
    if (centre != nullptr) v = _mm256_sub_ps(v, _mm256_loadu_ps(centre + d));
    largest = _mm256_max_ps(largest, _mm256_and_ps(v, magnitude));
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, largest);
  float result = *std::max_element(lanes, lanes + 8);
  for (; d < dim; ++d) result = std::max(result, std::fabs(x[d] * scale - (centre != nullptr ? centre[d] : 0.0f)));
  return result;
}

ANNFORGE_AVX2 void quantize_row_int8(const float* x, const float* centre, float scale, float factor, int dim,
                                     int8_t* out) {
  const __m256 by = _mm256_set1_ps(scale), times = _mm256_set1_ps(factor);
  const __m256i high = _mm256_set1_epi32(127), low = _mm256_set1_epi32(-127);
  // Eight int32 codes packed to eight bytes: within each 128-bit lane to 16 bits, then to 8.
  const __m256i to_bytes = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,  //
                                            0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  int d = 0;
  for (; d + 8 <= dim; d += 8) {
    __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + d), by);
    if (centre != nullptr) v = _mm256_sub_ps(v, _mm256_loadu_ps(centre + d));
    const __m256i code = _mm256_max_epi32(low, _mm256_min_epi32(high, _mm256_cvtps_epi32(_mm256_mul_ps(v, times))));
    const __m256i bytes = _mm256_shuffle_epi8(code, to_bytes);
    const uint32_t first = static_cast<uint32_t>(_mm256_extract_epi32(bytes, 0));
    const uint32_t second = static_cast<uint32_t>(_mm256_extract_epi32(bytes, 4));
    std::memcpy(out + d, &first, 4);
    std::memcpy(out + d + 4, &second, 4);
  }
  for (; d < dim; ++d) {
    const float v = x[d] * scale - (centre != nullptr ? centre[d] : 0.0f);
    out[d] = static_cast<int8_t>(std::min(127.0f, std::max(-127.0f, std::nearbyint(v * factor))));
  }
}

// 16 dimensions at a time, their sums in four registers of doubles, over blocks of 64 rows: a
// block's rows stay in cache across its slabs of dimensions (a slab's pass over every row of a
// cluster read each row's next line from beyond L2: a cluster of 1 KiB rows is more than L2).
// Every dimension's sum adds the rows in row order, as one pass over all rows would.
ANNFORGE_AVX2 void sum_rows(const float* const* rows, const float* scales, int count, int dim, double* sum) {
  constexpr int kBlockRows = 64;
  const int whole = dim / 16 * 16;
  for (int d = 0; d < dim; ++d) sum[d] = 0.0;
  for (int r0 = 0; r0 < count; r0 += kBlockRows) {
    const int r1 = std::min(count, r0 + kBlockRows);
    for (int d = 0; d < whole; d += 16) {
      __m256d s0 = _mm256_loadu_pd(sum + d), s1 = _mm256_loadu_pd(sum + d + 4), s2 = _mm256_loadu_pd(sum + d + 8),
              s3 = _mm256_loadu_pd(sum + d + 12);
      for (int r = r0; r < r1; ++r) {
        const __m256 by = _mm256_set1_ps(scales != nullptr ? scales[r] : 1.0f);
        const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(rows[r] + d), by);
        const __m256 w = _mm256_mul_ps(_mm256_loadu_ps(rows[r] + d + 8), by);
        s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
        s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
        s2 = _mm256_add_pd(s2, _mm256_cvtps_pd(_mm256_castps256_ps128(w)));
        s3 = _mm256_add_pd(s3, _mm256_cvtps_pd(_mm256_extractf128_ps(w, 1)));
      }
      _mm256_storeu_pd(sum + d, s0);
      _mm256_storeu_pd(sum + d + 4, s1);
      _mm256_storeu_pd(sum + d + 8, s2);
      _mm256_storeu_pd(sum + d + 12, s3);
    }
    for (int d = whole; d < dim; ++d) {
      double s = sum[d];
      for (int r = r0; r < r1; ++r) s += rows[r][d] * (scales != nullptr ? scales[r] : 1.0f);
      sum[d] = s;
    }
  }
}

ANNFORGE_AVX2 double scaled_dot(const float* x, float scale, const float* y, int dim) {
  const __m256 by = _mm256_set1_ps(scale);
  __m256d sum0 = _mm256_setzero_pd(), sum1 = _mm256_setzero_pd();
  int d = 0;
  for (; d + 8 <= dim; d += 8) {
    const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + d), by);
    const __m256 w = _mm256_loadu_ps(y + d);
    sum0 = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), _mm256_cvtps_pd(_mm256_castps256_ps128(w)), sum0);
    sum1 = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), _mm256_cvtps_pd(_mm256_extractf128_ps(w, 1)),
                           sum1);
  }
  alignas(32) double lanes[4];
  _mm256_store_pd(lanes, _mm256_add_pd(sum0, sum1));
  double result = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  for (; d < dim; ++d) result += double{x[d] * scale} * y[d];
  return result;
}

const Int8RowKernels kAvx2RowKernels{largest_scaled, quantize_row_int8, sum_rows, scaled_dot};

}  // namespace

const Int8RowKernels* avx2_int8_row_kernels() { return cpu_has_avx2_fma() ? &kAvx2RowKernels : nullptr; }

}  // namespace annforge::cpu
