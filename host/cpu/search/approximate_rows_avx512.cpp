// The AVX-512 kernels of approximate_rows.hpp: bf16 rows or int8 codes widened to fp32 on 16
// lanes, against an fp32 query; one template serves both. The functions carry their instruction
// set as a target attribute (the file is compiled for the baseline).
#include <immintrin.h>

#include <cstdint>

#include "annforge.hpp"
#include "host/cpu/search/approximate_rows.hpp"

#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#define ANNFORGE_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")))
#define ANNFORGE_AVX512_INLINE ANNFORGE_AVX512 inline __attribute__((always_inline))

namespace annforge::cpu {
namespace {

// 16 values of a row from element d on, as fp32 (masked past the row's end).
struct Bf16Values {  // bf16 widened by a shift of the 16 bits into the top of each lane
  ANNFORGE_AVX512_INLINE static __m512 load(const void* row, int d, __mmask16 mask) {
    const __m256i bits = _mm256_maskz_loadu_epi16(mask, static_cast<const uint16_t*>(row) + d);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(bits), 16));
  }
};
struct Int8Values {  // int8 codes sign-extended and converted
  ANNFORGE_AVX512_INLINE static __m512 load(const void* row, int d, __mmask16 mask) {
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(mask, static_cast<const int8_t*>(row) + d)));
  }
};

// Sums of kRows rows at a time: dot (q'[d] x[d]) or squared L2 with kL2; with kWeighted (int8
// L2) the prepared query holds dim weights after its dim values: sum w[d] (q'[d] - x[d])^2.
template <class Values, bool kL2, bool kWeighted, int kRows>
ANNFORGE_AVX512_INLINE void sums(const float* q, const void* const* rows, int dim, float* out) {
  __m512 acc[kRows];
  for (int r = 0; r < kRows; ++r) acc[r] = _mm512_setzero_ps();
  for (int d = 0; d < dim; d += 16) {
    const __mmask16 mask = dim - d >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (dim - d)) - 1);
    const __m512 x = _mm512_maskz_loadu_ps(mask, q + d);
    __m512 w = _mm512_setzero_ps();
    if constexpr (kWeighted) w = _mm512_maskz_loadu_ps(mask, q + dim + d);
    for (int r = 0; r < kRows; ++r) {
      const __m512 y = Values::load(rows[r], d, mask);
      if constexpr (kL2) {
        const __m512 diff = _mm512_sub_ps(x, y);
        acc[r] = _mm512_fmadd_ps(kWeighted ? _mm512_mul_ps(diff, w) : diff, diff, acc[r]);
      } else {
        acc[r] = _mm512_fmadd_ps(x, y, acc[r]);
      }
    }
  }
  for (int r = 0; r < kRows; ++r) out[r] = _mm512_reduce_add_ps(acc[r]);
}

template <class Values, bool kL2, bool kWeighted>
ANNFORGE_AVX512 void all_sums(const float* q, const void* const* rows, int count, int dim, float* out) {
  int i = 0;
  for (; i + 4 <= count; i += 4) sums<Values, kL2, kWeighted, 4>(q, rows + i, dim, out + i);
  for (; i < count; ++i) sums<Values, kL2, kWeighted, 1>(q, rows + i, dim, out + i);
}

// The sums, then the metric from them (metric_from_sums, approximate_rows.hpp).
template <class Values, bool kWeightedL2>
ANNFORGE_AVX512_INLINE void distances(Metric metric, const float* prepared, const void* const* rows, int count, int dim,
                                    float* out) {
  if (metric == Metric::L2) {
    all_sums<Values, true, kWeightedL2>(prepared, rows, count, dim, out);
  } else {
    all_sums<Values, false, false>(prepared, rows, count, dim, out);
  }
  metric_from_sums(metric, prepared, dim, count, out);
}

}  // namespace

ANNFORGE_AVX512 void avx512_int8_distances(Metric metric, const float* prepared, const void* const* rows, int count,
                                           int dim, float* out) {
  distances<Int8Values, true>(metric, prepared, rows, count, dim, out);
}

ANNFORGE_AVX512 void avx512_approximate_distances(Metric metric, const float* prepared, const void* const* rows,
                                                  int count, int dim, float* out) {
  distances<Bf16Values, false>(metric, prepared, rows, count, dim, out);
}

}  // namespace annforge::cpu
