// The AVX2 + FMA kernels of approximate_rows.hpp, for CPUs without AVX-512 (Zen 3, Intel client
// cores): bf16 rows or int8 codes widened to fp32 on 8 lanes, against an fp32 query. The same
// sums as approximate_rows_avx512.cpp on half the lanes; the last dim % 8 elements are summed
// one by one (no masked byte loads here, and a row's end may be the end of its array). The
// functions carry their instruction set as a target attribute (the file is compiled for the
// baseline).
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "annforge.hpp"
#include "host/cpu/search/approximate_rows.hpp"

#define ANNFORGE_AVX2 __attribute__((target("avx2,fma")))
#define ANNFORGE_AVX2_INLINE ANNFORGE_AVX2 inline __attribute__((always_inline))

namespace annforge::cpu {
namespace {

// 8 values of a row from element d on, as fp32; one value for the tail.
struct Bf16Values {  // bf16 widened by a shift of the 16 bits into the top of each lane
  ANNFORGE_AVX2_INLINE static __m256 load(const void* row, int d) {
    const __m128i bits = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(row) + d));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(bits), 16));
  }
  static float one(const void* row, int d) {
    const uint32_t bits = static_cast<uint32_t>(static_cast<const uint16_t*>(row)[d]) << 16;
    float value;
    std::memcpy(&value, &bits, sizeof value);
    return value;
  }
};
struct Int8Values {  // int8 codes sign-extended and converted
  ANNFORGE_AVX2_INLINE static __m256 load(const void* row, int d) {
    const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(static_cast<const int8_t*>(row) + d));
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes));
  }
  static float one(const void* row, int d) { return static_cast<float>(static_cast<const int8_t*>(row)[d]); }
};

ANNFORGE_AVX2_INLINE float horizontal_sum(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
}

// Sums of kRows rows at a time: dot (q'[d] x[d]) or squared L2 with kL2; with kWeighted (int8
// L2) the prepared query holds dim weights after its dim values: sum w[d] (q'[d] - x[d])^2.
template <class Values, bool kL2, bool kWeighted, int kRows>
ANNFORGE_AVX2_INLINE void sums(const float* q, const void* const* rows, int dim, float* out) {
  __m256 acc[kRows];
  for (int r = 0; r < kRows; ++r) acc[r] = _mm256_setzero_ps();
  const int wide = dim & ~7;
  for (int d = 0; d < wide; d += 8) {
    const __m256 x = _mm256_loadu_ps(q + d);
    __m256 w = _mm256_setzero_ps();
    if constexpr (kWeighted) w = _mm256_loadu_ps(q + dim + d);
    for (int r = 0; r < kRows; ++r) {
      const __m256 y = Values::load(rows[r], d);
      if constexpr (kL2) {
        const __m256 diff = _mm256_sub_ps(x, y);
        acc[r] = _mm256_fmadd_ps(kWeighted ? _mm256_mul_ps(diff, w) : diff, diff, acc[r]);
      } else {
        acc[r] = _mm256_fmadd_ps(x, y, acc[r]);
      }
    }
  }
  for (int r = 0; r < kRows; ++r) {
    float sum = horizontal_sum(acc[r]);
    for (int d = wide; d < dim; ++d) {
      const float y = Values::one(rows[r], d);
      if constexpr (kL2) {
        const float diff = q[d] - y;
        sum += (kWeighted ? diff * q[dim + d] : diff) * diff;
      } else {
        sum += q[d] * y;
      }
    }
    out[r] = sum;
  }
}

template <class Values, bool kL2, bool kWeighted>
ANNFORGE_AVX2 void all_sums(const float* q, const void* const* rows, int count, int dim, float* out) {
  int i = 0;
  for (; i + 4 <= count; i += 4) sums<Values, kL2, kWeighted, 4>(q, rows + i, dim, out + i);
  for (; i < count; ++i) sums<Values, kL2, kWeighted, 1>(q, rows + i, dim, out + i);
}

// The sums, then the metric from them (metric_from_sums, approximate_rows.hpp).
template <class Values, bool kWeightedL2>
ANNFORGE_AVX2_INLINE void distances(Metric metric, const float* prepared, const void* const* rows, int count, int dim,
                                    float* out) {
  if (metric == Metric::L2) {
    all_sums<Values, true, kWeightedL2>(prepared, rows, count, dim, out);
  } else {
    all_sums<Values, false, false>(prepared, rows, count, dim, out);
  }
  metric_from_sums(metric, prepared, dim, count, out);
}

}  // namespace

ANNFORGE_AVX2 void avx2_int8_distances(Metric metric, const float* prepared, const void* const* rows, int count,
                                       int dim, float* out) {
  distances<Int8Values, true>(metric, prepared, rows, count, dim, out);
}

ANNFORGE_AVX2 void avx2_approximate_distances(Metric metric, const float* prepared, const void* const* rows, int count,
                                              int dim, float* out) {
  distances<Bf16Values, false>(metric, prepared, rows, count, dim, out);
}

}  // namespace annforge::cpu
