// Blocks of dot products as a small matrix product: the all-pairs step of the clustered kNN
// stage computes a cluster's distances from dots and norms (|a|^2 + |b|^2 - 2<a,b>) with a
// register-blocked FMA kernel, instead of one distance call per pair. Integer data converted to
// float gives exact dots and norms while they stay below 2^24 (8-bit data up to 128 dimensions
// for L2 sums); beyond that the rounding is a few units in 10^7, enough to rank neighbours.
#pragma once

#include <vector>

namespace annforge::cpu {

// Rows packed for the kernel: panels of 16 rows, dimension-major inside a panel
// (panels[(p * dim + d) * 16 + c] = row p * 16 + c, element d), zero rows past the end.
void pack_panels(const float* rows, int count, int dim, std::vector<float>& panels);
inline int panel_count(int rows) { return (rows + 15) / 16; }

// c[i * ldc + j] = <a[i], row j of the packed panels> for i < a_rows and j < 16 * panels.
// a is row-major (a_rows x dim) and a_rows a multiple of kDotBlockRows (pad with zero rows).
constexpr int kDotBlockRows = 6;
using DotBlockKernel = void (*)(const float* a, int a_rows, int dim, const float* panels, int panels_count, float* c,
                                int ldc);
// AVX-512 where the CPU has it (pair_tiles.hpp), else AVX2 + FMA (ANNFORGE_SIMD=avx2 or scalar
// to force the others). The AVX-512 and AVX2 kernels give the same floats (fused multiply-adds
// in dimension order); the portable one agrees with them exactly on integer data.
DotBlockKernel dot_block_kernel();
DotBlockKernel scalar_dot_block_kernel();

}  // namespace annforge::cpu
