// The AVX2 + FMA kernel of dot_block.hpp (this file is compiled with -mavx2 -mfma): a 6 x 16
// tile of dots in 12 accumulators, two panel loads and six broadcasts per dimension, so the FMA
// units, not the loads, set the pace.
#include <immintrin.h>

#include <cstddef>

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

}  // namespace

DotBlockKernel avx2_dot_block_kernel() { return avx2_dot_block; }

}  // namespace annforge::cpu
