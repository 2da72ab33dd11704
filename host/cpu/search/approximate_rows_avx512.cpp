// The AVX-512 kernel of approximate_rows.hpp: bf16 rows widened to fp32 on 16 lanes (a shift of
// the 16 bits into the top of each lane), against an fp32 query. The function carries its
// instruction set as a target attribute (the file is compiled for the baseline).
#include <immintrin.h>

#include <cstdint>

#include "annforge.hpp"

#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#define ANNFORGE_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")))
#define ANNFORGE_AVX512_INLINE ANNFORGE_AVX512 inline __attribute__((always_inline))

namespace annforge::cpu {
namespace {

ANNFORGE_AVX512_INLINE __m512 widen(__m256i bf16) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(bf16), 16));
}

// Sums of four rows at a time: dot (or squared L2 with kL2), the last chunk masked.
template <bool kL2, int kRows>
ANNFORGE_AVX512_INLINE void sums(const float* q, const void* const* rows, int dim, float* out) {
  __m512 acc[kRows];
  for (int r = 0; r < kRows; ++r) acc[r] = _mm512_setzero_ps();
  for (int d = 0; d < dim; d += 16) {
    const __mmask16 mask = dim - d >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (dim - d)) - 1);
    const __m512 x = _mm512_maskz_loadu_ps(mask, q + d);
    for (int r = 0; r < kRows; ++r) {
      const __m512 y = widen(_mm256_maskz_loadu_epi16(mask, static_cast<const uint16_t*>(rows[r]) + d));
      if constexpr (kL2) {
        const __m512 diff = _mm512_sub_ps(x, y);
        acc[r] = _mm512_fmadd_ps(diff, diff, acc[r]);
      } else {
        acc[r] = _mm512_fmadd_ps(x, y, acc[r]);
      }
    }
  }
  for (int r = 0; r < kRows; ++r) out[r] = _mm512_reduce_add_ps(acc[r]);
}

template <bool kL2>
ANNFORGE_AVX512 void all_sums(const float* q, const void* const* rows, int count, int dim, float* out) {
  int i = 0;
  for (; i + 4 <= count; i += 4) sums<kL2, 4>(q, rows + i, dim, out + i);
  for (; i < count; ++i) sums<kL2, 1>(q, rows + i, dim, out + i);
}

// Int8 rows: 16 codes widened to fp32 per step. Dot: sum q'[d] code[d]. L2 (kL2): the prepared
// query is dim values in code units, then dim weights (the squared scales):
// sum w[d] (q'[d] - code[d])^2.
ANNFORGE_AVX512_INLINE __m512 widen_codes(__m128i codes) { return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(codes)); }

template <bool kL2, int kRows>
ANNFORGE_AVX512_INLINE void int8_sums(const float* q, const void* const* rows, int dim, float* out) {
  __m512 acc[kRows];
  for (int r = 0; r < kRows; ++r) acc[r] = _mm512_setzero_ps();
  for (int d = 0; d < dim; d += 16) {
    const __mmask16 mask = dim - d >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (dim - d)) - 1);
    const __m512 x = _mm512_maskz_loadu_ps(mask, q + d);
    __m512 w = _mm512_setzero_ps();
    if constexpr (kL2) w = _mm512_maskz_loadu_ps(mask, q + dim + d);
    for (int r = 0; r < kRows; ++r) {
      const __m512 y = widen_codes(_mm_maskz_loadu_epi8(mask, static_cast<const int8_t*>(rows[r]) + d));
      if constexpr (kL2) {
        const __m512 diff = _mm512_sub_ps(x, y);
        acc[r] = _mm512_fmadd_ps(_mm512_mul_ps(diff, w), diff, acc[r]);
      } else {
        acc[r] = _mm512_fmadd_ps(x, y, acc[r]);
      }
    }
  }
  for (int r = 0; r < kRows; ++r) out[r] = _mm512_reduce_add_ps(acc[r]);
}

template <bool kL2>
ANNFORGE_AVX512 void all_int8_sums(const float* q, const void* const* rows, int count, int dim, float* out) {
  int i = 0;
  for (; i + 4 <= count; i += 4) int8_sums<kL2, 4>(q, rows + i, dim, out + i);
  for (; i < count; ++i) int8_sums<kL2, 1>(q, rows + i, dim, out + i);
}

}  // namespace

ANNFORGE_AVX512 void avx512_int8_distances(Metric metric, const float* prepared, const void* const* rows, int count,
                                           int dim, float* out) {
  switch (metric) {
    case Metric::L2: all_int8_sums<true>(prepared, rows, count, dim, out); return;
    case Metric::InnerProduct:
      all_int8_sums<false>(prepared, rows, count, dim, out);
      for (int i = 0; i < count; ++i) out[i] = -out[i];
      return;
    case Metric::Cosine:
      all_int8_sums<false>(prepared, rows, count, dim, out);
      for (int i = 0; i < count; ++i) out[i] = 1.0f - out[i];
      return;
  }
}

ANNFORGE_AVX512 void avx512_approximate_distances(Metric metric, const float* prepared, const void* const* rows,
                                                  int count, int dim, float* out) {
  switch (metric) {
    case Metric::L2: all_sums<true>(prepared, rows, count, dim, out); return;
    case Metric::InnerProduct:
      all_sums<false>(prepared, rows, count, dim, out);
      for (int i = 0; i < count; ++i) out[i] = -out[i];
      return;
    case Metric::Cosine:
      all_sums<false>(prepared, rows, count, dim, out);
      for (int i = 0; i < count; ++i) out[i] = 1.0f - out[i];
      return;
  }
}

}  // namespace annforge::cpu
