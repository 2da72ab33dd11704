// Blocks of dot products as a small matrix product: the all-pairs step of the clustered kNN
// stage computes a cluster's distances from dots and norms (|a|^2 + |b|^2 - 2<a,b>) with a
// register-blocked FMA kernel, instead of one distance call per pair. Integer data converted to
// float gives exact dots and norms while they stay below 2^24 (8-bit data up to 128 dimensions
// for L2 sums); beyond that the rounding is a few units in 10^7, enough to rank neighbours.
#pragma once

#include <cstdint>
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

// 8-bit rows on AVX2 (CPUs without the AVX-512 tiles): the rows as int16 and dots by vpmaddwd,
// 16 multiply-adds per instruction (two dimensions of 8 columns) where fp32 FMA does 8, and
// exact integer sums at any dimension (fp32 sums are exact only below 2^24). `pairs` pairs of
// dimensions per row (an odd dimension padded with 0); a is row-major (a_rows x 2 pairs int16,
// a_rows a multiple of kDotBlockRows); panels of 16 rows hold, per pair t, 16 x 2 int16
// (panels[((p * pairs + t) * 16 + c) * 2 + e] = row p * 16 + c, element 2t + e), zero rows
// past the end. c as DotBlockKernel's, the dots as float times `scale` (1 for 8-bit rows; a
// code's step squared for float rows as int8 codes).
void pack_int16_panels(const int16_t* rows, int count, int pairs, std::vector<int16_t>& panels);
using Int16DotBlockKernel = void (*)(const int16_t* a, int a_rows, int pairs, const int16_t* panels, int panels_count,
                                     float* c, int ldc, float scale);
// The AVX2 kernel where the CPU has AVX2 (null under ANNFORGE_SIMD=scalar), whatever else it has.
Int16DotBlockKernel int16_dot_block_kernel();

}  // namespace annforge::cpu
