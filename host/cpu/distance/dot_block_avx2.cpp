// The AVX2 + FMA kernel of dot_block.hpp (this file is compiled with -mavx2 -mfma): a 6 x 16
// tile of dots in 12 accumulators, two panel loads and six broadcasts per dimension, so the FMA
// units, not the loads, set the pace.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "host/cpu/distance/dot_block.hpp"

namespace annforge::cpu {
namespace {

void avx2_dot_block(const float* a, int a_rows, int dim, const float* panels, int panels_count, float* c, int ldc) {
  for (int p = 0; p < panels_count; ++p) {
    const float* panel = panels + static_cast<size_t>(p) * dim * 16;
    for (int i = 0; i < a_rows; i += kDotBlockRows) {
      const float* a0 = a + static_cast<size_t>(i) * dim;
      __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c10 = _mm256_setzero_ps(),
             c11 = _mm256_setzero_ps(), c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(),
             c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps(), c40 = _mm256_setzero_ps(),
             c41 = _mm256_setzero_ps(), c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
      for (int d = 0; d < dim; ++d) {
        const __m256 b0 = _mm256_loadu_ps(panel + d * 16);
        const __m256 b1 = _mm256_loadu_ps(panel + d * 16 + 8);
        __m256 x = _mm256_broadcast_ss(a0 + d);
        c00 = _mm256_fmadd_ps(x, b0, c00);
        c01 = _mm256_fmadd_ps(x, b1, c01);
        x = _mm256_broadcast_ss(a0 + dim + d);
        c10 = _mm256_fmadd_ps(x, b0, c10);
        c11 = _mm256_fmadd_ps(x, b1, c11);
        x = _mm256_broadcast_ss(a0 + 2 * dim + d);
        c20 = _mm256_fmadd_ps(x, b0, c20);
        c21 = _mm256_fmadd_ps(x, b1, c21);
        x = _mm256_broadcast_ss(a0 + 3 * dim + d);
        c30 = _mm256_fmadd_ps(x, b0, c30);
        c31 = _mm256_fmadd_ps(x, b1, c31);
        x = _mm256_broadcast_ss(a0 + 4 * dim + d);
        c40 = _mm256_fmadd_ps(x, b0, c40);
        c41 = _mm256_fmadd_ps(x, b1, c41);
        x = _mm256_broadcast_ss(a0 + 5 * dim + d);
        c50 = _mm256_fmadd_ps(x, b0, c50);
        c51 = _mm256_fmadd_ps(x, b1, c51);
      }
      float* out = c + static_cast<size_t>(i) * ldc + p * 16;
      _mm256_storeu_ps(out, c00);
      _mm256_storeu_ps(out + 8, c01);
      _mm256_storeu_ps(out + ldc, c10);
      _mm256_storeu_ps(out + ldc + 8, c11);
      _mm256_storeu_ps(out + 2 * ldc, c20);
      _mm256_storeu_ps(out + 2 * ldc + 8, c21);
      _mm256_storeu_ps(out + 3 * ldc, c30);
      _mm256_storeu_ps(out + 3 * ldc + 8, c31);
      _mm256_storeu_ps(out + 4 * ldc, c40);
      _mm256_storeu_ps(out + 4 * ldc + 8, c41);
      _mm256_storeu_ps(out + 5 * ldc, c50);
      _mm256_storeu_ps(out + 5 * ldc + 8, c51);
    }
  }
}

// dot_block.hpp's int16 kernel: the 6 x 16 tile as two passes of 3 rows, each step two
// dimensions. A row's pair of int16 is one 32-bit broadcast; vpmaddwd multiplies it with 8
// columns' pairs and adds each column's two products into an int32 lane. Three rows at a time:
// each product needs a register of its own before its add (no fused form in AVX2), and six rows'
// twelve accumulators with them spill out of the 16 registers (1M SIFT: slower than fp32 FMA).
void avx2_int16_dot_block(const int16_t* a, int a_rows, int pairs, const int16_t* panels, int panels_count, float* c,
                          int ldc, float scale) {
  static_assert(kDotBlockRows % 3 == 0, "passes of three rows");
  const size_t stride = static_cast<size_t>(pairs) * 2;
  auto pair_of = [](const int16_t* p) {
    int32_t v;
    std::memcpy(&v, p, sizeof v);
    return _mm256_set1_epi32(v);
  };
  const __m256 factor = _mm256_set1_ps(scale);
  auto store = [&](float* to, __m256i sums) { _mm256_storeu_ps(to, _mm256_mul_ps(_mm256_cvtepi32_ps(sums), factor)); };
  for (int p = 0; p < panels_count; ++p) {
    const int16_t* panel = panels + static_cast<size_t>(p) * pairs * 32;
    for (int i = 0; i < a_rows; i += 3) {
      const int16_t* a0 = a + static_cast<size_t>(i) * stride;
      __m256i c00 = _mm256_setzero_si256(), c01 = _mm256_setzero_si256(), c10 = _mm256_setzero_si256(),
              c11 = _mm256_setzero_si256(), c20 = _mm256_setzero_si256(), c21 = _mm256_setzero_si256();
      for (int t = 0; t < pairs; ++t) {
        const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(panel + t * 32));
        const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(panel + t * 32 + 16));
        __m256i x = pair_of(a0 + 2 * t);
        c00 = _mm256_add_epi32(c00, _mm256_madd_epi16(x, b0));
        c01 = _mm256_add_epi32(c01, _mm256_madd_epi16(x, b1));
        x = pair_of(a0 + stride + 2 * t);
        c10 = _mm256_add_epi32(c10, _mm256_madd_epi16(x, b0));
        c11 = _mm256_add_epi32(c11, _mm256_madd_epi16(x, b1));
        x = pair_of(a0 + 2 * stride + 2 * t);
        c20 = _mm256_add_epi32(c20, _mm256_madd_epi16(x, b0));
        c21 = _mm256_add_epi32(c21, _mm256_madd_epi16(x, b1));
      }
      float* out = c + static_cast<size_t>(i) * ldc + p * 16;
      store(out, c00);
      store(out + 8, c01);
      store(out + ldc, c10);
      store(out + ldc + 8, c11);
      store(out + 2 * ldc, c20);
      store(out + 2 * ldc + 8, c21);
    }
  }
}

}  // namespace

DotBlockKernel avx2_dot_block_kernel() { return avx2_dot_block; }
Int16DotBlockKernel avx2_int16_dot_block_kernel() { return avx2_int16_dot_block; }

}  // namespace annforge::cpu
