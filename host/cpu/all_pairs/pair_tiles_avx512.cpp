// The AVX-512 kernels of pair_tiles.hpp. The functions carry their instruction set as a target
// attribute (the file is compiled for the baseline), so inline functions from the headers above
// are compiled for the baseline too and no AVX-512 code can leak into the rest of the program.
// A tile is 6 rows x NP panels of 16 columns: 6 * NP accumulators (24 of the 32 registers at
// NP = 4), NP panel loads and 6 broadcasts per step, so the multiply-add units set the pace.
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "host/cpu/all_pairs/pair_epilogue_avx512.hpp"
#include "host/cpu/all_pairs/pair_tiles.hpp"

// GCC 12 warns about its own _mm512_undefined_ps() inside the intrinsics (a false positive;
// as "uninitialized" too, once round_row_bf16's reduction inlines with its scale).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#define ANNFORGE_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,bmi,bmi2")))
#define ANNFORGE_AVX512_INLINE ANNFORGE_AVX512 inline __attribute__((always_inline))

namespace annforge::cpu {
namespace {

constexpr int kTileRows = kDotBlockRows;  // 6

// Float layout: one dimension per step, fp32 multiply-adds (the AVX2 kernel's operations in
// its order, lane by lane: the same dots bit for bit).
struct FloatTiles {
  using Acc = __m512;
  static ANNFORGE_AVX512_INLINE Acc zero() { return _mm512_setzero_ps(); }
  static ANNFORGE_AVX512_INLINE Acc load_panel(const float* panel, size_t offset, int step) {
    return _mm512_loadu_ps(panel + offset + step * 16);
  }
  static ANNFORGE_AVX512_INLINE Acc broadcast(const float* row, int step) { return _mm512_set1_ps(row[step]); }
  static ANNFORGE_AVX512_INLINE Acc multiply_add(Acc acc, Acc b, Acc x) { return _mm512_fmadd_ps(x, b, acc); }
  static ANNFORGE_AVX512_INLINE int steps(int dim) { return dim; }
  static ANNFORGE_AVX512_INLINE size_t panel_stride(int dim) { return static_cast<size_t>(dim) * 16; }
  static ANNFORGE_AVX512_INLINE const float* row(const TileBlock& block, int r) {
    return static_cast<const float*>(block.rows) + static_cast<size_t>(r) * block.dim;
  }
  static ANNFORGE_AVX512_INLINE const float* panel(const TileBlock& block, int p) {
    return static_cast<const float*>(block.panels) + static_cast<size_t>(p) * block.dim * 16;
  }
  static ANNFORGE_AVX512_INLINE __m512 dots(Acc acc, const TileBlock&, int, const TileBlock&, int) { return acc; }
};

// Bytes layout: four dimensions per step, vpdpbusd (uint8 panel x int8 broadcast, exact int32
// sums), the corrections added before the conversion to float.
struct ByteTiles {
  using Acc = __m512i;
  static ANNFORGE_AVX512_INLINE Acc zero() { return _mm512_setzero_si512(); }
  static ANNFORGE_AVX512_INLINE Acc load_panel(const uint8_t* panel, size_t offset, int step) {
    return _mm512_loadu_si512(panel + offset + step * 64);
  }
  static ANNFORGE_AVX512_INLINE Acc broadcast(const int8_t* row, int step) {
    int32_t four;
    std::memcpy(&four, row + step * 4, sizeof(four));
    return _mm512_set1_epi32(four);
  }
  // vpdpbusd in asm: GCC 12's builtin copies each accumulator in and out of a spare register
  // (and spills) around every instruction of a 24-accumulator tile.
  static ANNFORGE_AVX512_INLINE Acc multiply_add(Acc acc, Acc b, Acc x) {
    asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(b), "v"(x));
    return acc;
  }
  static ANNFORGE_AVX512_INLINE int steps(int dim4) { return dim4 / 4; }
  static ANNFORGE_AVX512_INLINE size_t panel_stride(int dim4) { return static_cast<size_t>(dim4 / 4) * 64; }
  static ANNFORGE_AVX512_INLINE const int8_t* row(const TileBlock& block, int r) {
    return static_cast<const int8_t*>(block.rows) + static_cast<size_t>(r) * block.dim;
  }
  static ANNFORGE_AVX512_INLINE const uint8_t* panel(const TileBlock& block, int p) {
    return static_cast<const uint8_t*>(block.panels) + static_cast<size_t>(p) * (block.dim / 4) * 64;
  }
  // The true dots of row `row` of `a` against the 16 columns from `column` of `b`.
  static ANNFORGE_AVX512_INLINE __m512 dots(Acc acc, const TileBlock& a, int row, const TileBlock& b, int column) {
    const __m512i corrections = _mm512_add_epi32(_mm512_loadu_si512(b.column_corrections + column),
                                                 _mm512_set1_epi32(a.row_corrections[row]));
    return _mm512_cvtepi32_ps(_mm512_add_epi32(acc, corrections));
  }
};

// Bf16 layout: two dimensions per step, vdpbf16ps (each lane adds the two products of a bf16
// pair to its fp32 sum). Approximate dots (bf16's rounding).
struct Bf16Tiles {
  using Acc = __m512;
  static ANNFORGE_AVX512_INLINE Acc zero() { return _mm512_setzero_ps(); }
  static ANNFORGE_AVX512_INLINE Acc load_panel(const uint8_t* panel, size_t offset, int step) {
    return _mm512_castsi512_ps(_mm512_loadu_si512(panel + offset + step * 64));
  }
  static ANNFORGE_AVX512_INLINE Acc broadcast(const uint16_t* row, int step) {
    int32_t pair;
    std::memcpy(&pair, row + step * 2, sizeof(pair));
    return _mm512_castsi512_ps(_mm512_set1_epi32(pair));
  }
  // In asm: the instruction needs no target attribute then (only CPUs with AVX512_BF16 call
  // this kernel), and GCC 12 keeps the accumulators in place as with vpdpbusd above.
  static ANNFORGE_AVX512_INLINE Acc multiply_add(Acc acc, Acc b, Acc x) {
    asm("vdpbf16ps %2, %1, %0" : "+v"(acc) : "v"(b), "v"(x));
    return acc;
  }
  static ANNFORGE_AVX512_INLINE int steps(int dim32) { return dim32 / 2; }
  static ANNFORGE_AVX512_INLINE size_t panel_stride(int dim32) { return static_cast<size_t>(dim32 / 2) * 64; }
  static ANNFORGE_AVX512_INLINE const uint16_t* row(const TileBlock& block, int r) {
    return static_cast<const uint16_t*>(block.rows) + static_cast<size_t>(r) * block.dim;
  }
  static ANNFORGE_AVX512_INLINE const uint8_t* panel(const TileBlock& block, int p) {
    return static_cast<const uint8_t*>(block.panels) + static_cast<size_t>(p) * (block.dim / 2) * 64;
  }
  static ANNFORGE_AVX512_INLINE __m512 dots(Acc acc, const TileBlock&, int, const TileBlock&, int) { return acc; }
};

// The tile's sums: named accumulators inside the loop (an array there stays in memory with
// GCC 12), written to `acc` once at the end.
#define ANNFORGE_STEP_ROW(r)                                              \
  {                                                                       \
    const typename L::Acc x = L::broadcast(a + (r) * dim, step);          \
    c##r##0 = L::multiply_add(c##r##0, b0, x);                            \
    if (NP > 1) c##r##1 = L::multiply_add(c##r##1, b1, x);                \
    if (NP > 1) c##r##2 = L::multiply_add(c##r##2, b2, x);                \
    if (NP > 1) c##r##3 = L::multiply_add(c##r##3, b3, x);                \
  }
#define ANNFORGE_DECLARE_ROW(r) \
  typename L::Acc c##r##0 = L::zero(), c##r##1 = L::zero(), c##r##2 = L::zero(), c##r##3 = L::zero();
#define ANNFORGE_STORE_ROW(r)          \
  acc[r][0] = c##r##0;                 \
  if constexpr (NP > 1) {              \
    acc[r][1] = c##r##1;               \
    acc[r][2] = c##r##2;               \
    acc[r][3] = c##r##3;               \
  }

template <class L, int NP, class Row, class Panel>
ANNFORGE_AVX512_INLINE void compute(const Row* a, int dim, const Panel* panel, typename L::Acc (&acc)[kTileRows][NP]) {
  static_assert(NP == 1 || NP == 4, "tiles of 1 or 4 panels");
  static_assert(kTileRows == 6, "six rows per tile");
  const size_t stride = L::panel_stride(dim);
  const int steps = L::steps(dim);
  ANNFORGE_DECLARE_ROW(0) ANNFORGE_DECLARE_ROW(1) ANNFORGE_DECLARE_ROW(2)
  ANNFORGE_DECLARE_ROW(3) ANNFORGE_DECLARE_ROW(4) ANNFORGE_DECLARE_ROW(5)
  for (int step = 0; step < steps; ++step) {
    const typename L::Acc b0 = L::load_panel(panel, 0, step);
    const typename L::Acc b1 = NP > 1 ? L::load_panel(panel, stride, step) : b0;
    const typename L::Acc b2 = NP > 1 ? L::load_panel(panel, 2 * stride, step) : b0;
    const typename L::Acc b3 = NP > 1 ? L::load_panel(panel, 3 * stride, step) : b0;
    ANNFORGE_STEP_ROW(0) ANNFORGE_STEP_ROW(1) ANNFORGE_STEP_ROW(2)
    ANNFORGE_STEP_ROW(3) ANNFORGE_STEP_ROW(4) ANNFORGE_STEP_ROW(5)
  }
  ANNFORGE_STORE_ROW(0) ANNFORGE_STORE_ROW(1) ANNFORGE_STORE_ROW(2)
  ANNFORGE_STORE_ROW(3) ANNFORGE_STORE_ROW(4) ANNFORGE_STORE_ROW(5)
}
#undef ANNFORGE_STEP_ROW
#undef ANNFORGE_DECLARE_ROW
#undef ANNFORGE_STORE_ROW

// --- dots stored ---------------------------------------------------------------------------------

template <class L, int NP>
ANNFORGE_AVX512_INLINE void store_tile(const TileBlock& a, int r0, const TileBlock& b, int p, float* c, int ldc) {
  typename L::Acc acc[kTileRows][NP];
  compute<L, NP>(L::row(a, r0), a.dim, L::panel(b, p), acc);
#pragma GCC unroll 8
  for (int r = 0; r < kTileRows; ++r) {
#pragma GCC unroll 4
    for (int j = 0; j < NP; ++j) {
      _mm512_storeu_ps(c + static_cast<size_t>(r0 + r) * ldc + (p + j) * 16, L::dots(acc[r][j], a, r0 + r, b, (p + j) * 16));
    }
  }
}

// Groups of four panels outer (they stay in L1 while every row tile passes), rows inner.
template <class L>
ANNFORGE_AVX512 void store_dots(const TileBlock& a, int a_rows, const TileBlock& b, int panels_count, float* c, int ldc) {
  int p = 0;
  for (; p + 4 <= panels_count; p += 4) {
    for (int r0 = 0; r0 < a_rows; r0 += kTileRows) store_tile<L, 4>(a, r0, b, p, c, ldc);
  }
  for (; p < panels_count; ++p) {
    for (int r0 = 0; r0 < a_rows; r0 += kTileRows) store_tile<L, 1>(a, r0, b, p, c, ldc);
  }
}

// Plain dots of rows against panels of another set in layout L (dot_block.hpp's kernel for
// fp32, pair_tiles.hpp's Bf16DotsKernel for bf16); `dim` in L's elements per row.
template <class L, class T>
ANNFORGE_AVX512 void plain_dots(const T* a, int a_rows, int dim, const T* panels, int panels_count, float* c, int ldc) {
  TileBlock rows, columns;
  rows.rows = a;
  rows.dim = dim;
  columns.panels = panels;
  columns.dim = dim;
  store_dots<L>(rows, a_rows, columns, panels_count, c, ldc);
}

// --- distances stored -------------------------------------------------------------------------

// The tile's rows r0 .. r0 + 5 against the NP panels from p, as distances (the formula of
// pair_filter.hpp); a row's own column gets +infinity.
template <class L, int NP>
ANNFORGE_AVX512_INLINE void distance_tile(const TileBlock& block, int r0, int p, const PairTerms& terms, float* out,
                                          int ldo) {
  typename L::Acc acc[kTileRows][NP];
  compute<L, NP>(L::row(block, r0), block.dim, L::panel(block, p), acc);
#pragma GCC unroll 4
  for (int j = 0; j < NP; ++j) {
    const int c0 = (p + j) * 16;
    const ColumnTerms columns = column_terms(terms, c0);
#pragma GCC unroll 8
    for (int r = 0; r < kTileRows; ++r) {
      const int row = r0 + r;
      const __m512 dot = L::dots(acc[r][j], block, row, block, c0);
      _mm512_storeu_ps(out + static_cast<size_t>(r) * ldo + c0, distances_from_dots(dot, row, columns, terms));
    }
  }
}

template <class L>
ANNFORGE_AVX512 void tile_distances(const TileBlock& block, int row0, int count, const PairTerms& terms, float* out,
                                    int ldo) {
  const int panels_count = panel_count(count);
  int p = 0;
  for (; p + 4 <= panels_count; p += 4) distance_tile<L, 4>(block, row0, p, terms, out, ldo);
  for (; p < panels_count; ++p) distance_tile<L, 1>(block, row0, p, terms, out, ldo);
}

// --- bf16 rounding ---------------------------------------------------------------------------

// bf16.hpp's to_bf16 on 16 lanes (round to nearest even by integer arithmetic, the same
// bits); returns the squared norm of the rounded row.
ANNFORGE_AVX512 float round_row_bf16(const float* x, const float* centre, float scale, int dim, uint16_t* out) {
  const __m512 factor = _mm512_set1_ps(scale);
  __m512 norm = _mm512_setzero_ps();
  const __m512i bias = _mm512_set1_epi32(0x7FFF), one = _mm512_set1_epi32(1);
  const __m512i high = _mm512_set1_epi32(static_cast<int>(0xFFFF0000u));
  for (int d = 0; d < dim; d += 16) {
    const __mmask16 mask = dim - d >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (dim - d)) - 1);
    __m512 v = _mm512_maskz_loadu_ps(mask, x + d);
    if (centre != nullptr) v = _mm512_sub_ps(v, _mm512_maskz_loadu_ps(mask, centre + d));
    if (scale != 1.0f) v = _mm512_mul_ps(v, factor);
    __m512i bits = _mm512_castps_si512(v);
    bits = _mm512_add_epi32(bits, _mm512_add_epi32(bias, _mm512_and_si512(_mm512_srli_epi32(bits, 16), one)));
    const __m512 rounded = _mm512_maskz_mov_ps(mask, _mm512_castsi512_ps(_mm512_and_si512(bits, high)));
    norm = _mm512_fmadd_ps(rounded, rounded, norm);
    _mm256_mask_storeu_epi16(out + d, mask, _mm512_cvtepi32_epi16(_mm512_srli_epi32(bits, 16)));
  }
  return _mm512_reduce_add_ps(norm);
}

inline __mmask16 first_lanes(int n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1);
}

ANNFORGE_AVX512 float largest_scaled(const float* x, const float* centre, float scale, int dim) {
  const __m512 factor = _mm512_set1_ps(scale);
  __m512 largest = _mm512_setzero_ps();
  for (int d = 0; d < dim; d += 16) {
    const __mmask16 mask = first_lanes(dim - d);
    __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(mask, x + d), factor);
    if (centre != nullptr) v = _mm512_sub_ps(v, _mm512_maskz_loadu_ps(mask, centre + d));
    largest = _mm512_max_ps(largest, _mm512_abs_ps(v));
  }
  return _mm512_reduce_max_ps(largest);
}

// cvtps2dq rounds by MXCSR: to nearest even unless a caller changed the mode (nearbyint, the
// portable path's rounding, follows the same mode).
ANNFORGE_AVX512 void quantize_row_int8(const float* x, const float* centre, float scale, float factor, int dim,
                                       int8_t* out) {
  const __m512 by = _mm512_set1_ps(scale), times = _mm512_set1_ps(factor);
  const __m512i high = _mm512_set1_epi32(127), low = _mm512_set1_epi32(-127);
  for (int d = 0; d < dim; d += 16) {
    const __mmask16 mask = first_lanes(dim - d);
    __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(mask, x + d), by);
    if (centre != nullptr) v = _mm512_sub_ps(v, _mm512_maskz_loadu_ps(mask, centre + d));
    const __m512i code = _mm512_max_epi32(low, _mm512_min_epi32(high, _mm512_cvtps_epi32(_mm512_mul_ps(v, times))));
    _mm512_mask_cvtepi32_storeu_epi8(out + d, mask, code);
  }
}

// 32 dimensions at a time, their sums in four registers, over blocks of 64 rows: a block's rows
// stay in cache across its slabs of dimensions (as in the AVX2 kernel, int8_rows_avx2.cpp).
// Every dimension's sum adds the rows in row order.
ANNFORGE_AVX512 void sum_rows(const float* const* rows, const float* scales, int count, int dim, double* sum) {
  constexpr int kBlockRows = 64;
  for (int d = 0; d < dim; ++d) sum[d] = 0.0;
  for (int r0 = 0; r0 < count; r0 += kBlockRows) {
    const int r1 = std::min(count, r0 + kBlockRows);
    for (int d = 0; d < dim; d += 32) {
      const __mmask16 first = first_lanes(dim - d), second = first_lanes(std::max(0, dim - d - 16));
      __m512d s0 = _mm512_maskz_loadu_pd(static_cast<__mmask8>(first), sum + d);
      __m512d s1 = _mm512_maskz_loadu_pd(static_cast<__mmask8>(first >> 8), sum + d + 8);
      __m512d s2 = _mm512_maskz_loadu_pd(static_cast<__mmask8>(second), sum + d + 16);
      __m512d s3 = _mm512_maskz_loadu_pd(static_cast<__mmask8>(second >> 8), sum + d + 24);
      for (int r = r0; r < r1; ++r) {
        const __m512 by = _mm512_set1_ps(scales != nullptr ? scales[r] : 1.0f);
        const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(first, rows[r] + d), by);
        const __m512 w = _mm512_mul_ps(_mm512_maskz_loadu_ps(second, rows[r] + d + 16), by);
        s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm512_castps512_ps256(v)));
        s1 = _mm512_add_pd(s1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))));
        s2 = _mm512_add_pd(s2, _mm512_cvtps_pd(_mm512_castps512_ps256(w)));
        s3 = _mm512_add_pd(s3, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(w), 1))));
      }
      _mm512_mask_storeu_pd(sum + d, static_cast<__mmask8>(first), s0);
      _mm512_mask_storeu_pd(sum + d + 8, static_cast<__mmask8>(first >> 8), s1);
      _mm512_mask_storeu_pd(sum + d + 16, static_cast<__mmask8>(second), s2);
      _mm512_mask_storeu_pd(sum + d + 24, static_cast<__mmask8>(second >> 8), s3);
    }
  }
}

ANNFORGE_AVX512 double scaled_dot(const float* x, float scale, const float* y, int dim) {
  const __m512 by = _mm512_set1_ps(scale);
  __m512d sum0 = _mm512_setzero_pd(), sum1 = _mm512_setzero_pd();
  for (int d = 0; d < dim; d += 16) {
    const __mmask16 mask = first_lanes(dim - d);
    const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(mask, x + d), by);
    const __m512 w = _mm512_maskz_loadu_ps(mask, y + d);
    sum0 = _mm512_fmadd_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(v)), _mm512_cvtps_pd(_mm512_castps512_ps256(w)), sum0);
    sum1 = _mm512_fmadd_pd(_mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))),
                           _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(w), 1))), sum1);
  }
  return _mm512_reduce_add_pd(_mm512_add_pd(sum0, sum1));
}

const TileKernels kAvx512Kernels = [] {
  TileKernels kernels;
  kernels.dots_float = plain_dots<FloatTiles, float>;
  kernels.distances_float = tile_distances<FloatTiles>;
  kernels.distances_bytes = tile_distances<ByteTiles>;
  kernels.distances_bf16 = tile_distances<Bf16Tiles>;
  kernels.dots_bf16 = plain_dots<Bf16Tiles, uint16_t>;
  kernels.dots_bytes = store_dots<ByteTiles>;
  kernels.round_row_bf16 = round_row_bf16;
  kernels.largest_scaled = largest_scaled;
  kernels.quantize_row_int8 = quantize_row_int8;
  kernels.sum_rows = sum_rows;
  kernels.scaled_dot = scaled_dot;
  return kernels;
}();

}  // namespace

const TileKernels* avx512_kernels() { return &kAvx512Kernels; }

}  // namespace annforge::cpu
