// The epilogue the AVX-512 tile kernels share (pair_tiles_avx512.cpp, pair_tiles_amx.cpp): 16
// columns of pair_filter.hpp's distances from their dots, operation for operation as the
// scalar formula of pair_filter.hpp (the tests' reference). Included only by files
// whose kernels carry AVX-512 as a target attribute; these functions carry it too, so that they
// inline into those kernels and into nothing else.
#pragma once

#include <immintrin.h>

#include "host/cpu/all_pairs/pair_filter.hpp"

#define ANNFORGE_EPILOGUE_AVX512 \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma"))) inline __attribute__((always_inline))

namespace annforge::cpu {

// The terms of the 16 columns from c0, loaded once for every row of a tile.
struct ColumnTerms {
  __m512 add, mul;
  __m512i ids;
};

ANNFORGE_EPILOGUE_AVX512 ColumnTerms column_terms(const PairTerms& terms, int c0) {
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  return {_mm512_loadu_ps(terms.add + c0), _mm512_loadu_ps(terms.mul + c0),
          _mm512_add_epi32(_mm512_set1_epi32(c0), lane)};
}

// max((mul[row] * mul[c]) * -scale * dot + (add[row] + add[c]), floor) for the 16 columns,
// +infinity at the row's own column.
ANNFORGE_EPILOGUE_AVX512 __m512 distances_from_dots(__m512 dot, int row, const ColumnTerms& columns,
                                                    const PairTerms& terms) {
  const __m512 factor =
      _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(terms.mul[row]), columns.mul), _mm512_set1_ps(-terms.scale));
  const __m512 sum = _mm512_add_ps(_mm512_set1_ps(terms.add[row]), columns.add);
  const __m512 d = _mm512_max_ps(_mm512_fmadd_ps(factor, dot, sum), _mm512_set1_ps(terms.floor));
  return _mm512_mask_blend_ps(_mm512_cmpeq_epi32_mask(columns.ids, _mm512_set1_epi32(row)), d,
                              _mm512_set1_ps(__builtin_inff()));
}

}  // namespace annforge::cpu

#undef ANNFORGE_EPILOGUE_AVX512
