// Packing and the portable kernel of dot_block.hpp; the AVX2 kernel is in dot_block_avx2.cpp.
#include "host/cpu/distance/dot_block.hpp"

#include "host/cpu/distance/distance.hpp"
#include "host/cpu/all_pairs/pair_tiles.hpp"

#include <cstring>

namespace annforge::cpu {

DotBlockKernel avx2_dot_block_kernel();  // dot_block_avx2.cpp
Int16DotBlockKernel avx2_int16_dot_block_kernel();  // dot_block_avx2.cpp

namespace {

void scalar_dot_block(const float* a, int a_rows, int dim, const float* panels, int panels_count, float* c, int ldc) {
  for (int p = 0; p < panels_count; ++p) {
    const float* panel = panels + static_cast<size_t>(p) * dim * 16;
    for (int i = 0; i < a_rows; ++i) {
      float sums[16] = {};
      for (int d = 0; d < dim; ++d) {
        const float x = a[static_cast<size_t>(i) * dim + d];
        // The AVX2 kernel fuses these multiply-adds; the two agree exactly on integer data (and
        // within a rounding on floats). One process uses one kernel, so a pair seen in two
        // clusters gets one distance.
        for (int col = 0; col < 16; ++col) sums[col] += x * panel[d * 16 + col];
      }
      std::memcpy(c + static_cast<size_t>(i) * ldc + p * 16, sums, sizeof(sums));
    }
  }
}

}  // namespace

void pack_panels(const float* rows, int count, int dim, std::vector<float>& panels) {
  const int panels_count = panel_count(count);
  panels.assign(static_cast<size_t>(panels_count) * dim * 16, 0.0f);
  for (int r = 0; r < count; ++r) {
    float* panel = &panels[static_cast<size_t>(r / 16) * dim * 16];
    const int col = r % 16;
    for (int d = 0; d < dim; ++d) panel[d * 16 + col] = rows[static_cast<size_t>(r) * dim + d];
  }
}

void pack_int16_panels(const int16_t* rows, int count, int pairs, std::vector<int16_t>& panels) {
  const int panels_count = panel_count(count);
  panels.assign(static_cast<size_t>(panels_count) * pairs * 32, 0);
  for (int r = 0; r < count; ++r) {
    int16_t* panel = &panels[static_cast<size_t>(r / 16) * pairs * 32];
    const int col = r % 16;
    const int16_t* row = rows + static_cast<size_t>(r) * pairs * 2;
    for (int t = 0; t < pairs; ++t) {
      panel[(t * 16 + col) * 2] = row[2 * t];
      panel[(t * 16 + col) * 2 + 1] = row[2 * t + 1];
    }
  }
}

Int16DotBlockKernel int16_dot_block_kernel() { return cpu_has_avx2_fma() ? avx2_int16_dot_block_kernel() : nullptr; }

DotBlockKernel scalar_dot_block_kernel() { return scalar_dot_block; }

DotBlockKernel dot_block_kernel() {
  if (const TileKernels* tiles = avx512_tile_kernels()) return tiles->dots_float;
  return cpu_has_avx2_fma() ? avx2_dot_block_kernel() : scalar_dot_block;
}

}  // namespace annforge::cpu
