// AVX-512 kernels of the clustered kNN stage: a cluster's dots as register tiles (6 rows x 64
// columns) turned into distances in each tile's epilogue, whole rows at a time. 8-bit data
// takes the VNNI path (vpdpbusd: 64 multiply-adds per instruction, exact int32 sums); float
// data the FMA path (16 lanes, the same floats as the AVX2 kernel), or at reduced precision the
// BF16 paths (vdpbf16ps, or AMX tiles where the CPU has them), approximate distances.
// Chosen once per process where the CPU has AVX-512 F/BW/VL/DQ and VNNI
// (ANNFORGE_SIMD=avx2 or scalar turns them off).
#pragma once

#include <cstdint>
#include <vector>

#include "annforge.hpp"
#include "host/cpu/distance/bf16.hpp"
#include "host/cpu/distance/dot_block.hpp"
#include "host/cpu/all_pairs/float_dots.hpp"
#include "host/cpu/all_pairs/pair_filter.hpp"

namespace annforge::cpu {

// A cluster's rows in one of the two tile layouts.
//  Float32: rows row-major (padded rows x dim floats), panels as pack_panels (dot_block.hpp).
//  Bytes (8-bit data): rows as int8 (padded rows x dim4 bytes, dim4 = dim rounded up to 4),
//    panels of 16 rows as uint8, four dimensions per lane (pack_bytes); the true dot of
//    rows a and b is the int32 sum plus row_corrections[a] plus column_corrections[b] (one side
//    is shifted by 128 to fit vpdpbusd's unsigned x signed operands).
struct TileBlock {
  const void* rows = nullptr;
  const void* panels = nullptr;
  int dim = 0;  // elements per row: floats (Float32), bytes (Bytes, dim4) or bf16 (Bf16, dim32)
  const int32_t* row_corrections = nullptr;     // Bytes only, per row position
  const int32_t* column_corrections = nullptr;  // Bytes only, per column position (panels x 16)
};

// out[r * ldo + c] = distance(row0 + r, c) (the formula of pair_filter.hpp) for r < 6
// (kDotBlockRows) and c < count rounded up to 16, +infinity at c == row0 + r; row0 a multiple
// of 6, ldo at least count rounded up to 16, terms readable 16 entries past count.
using TileDistancesKernel = void (*)(const TileBlock& block, int row0, int count, const PairTerms& terms, float* out,
                                     int ldo);

// out[d] = to_bf16((x[d] - centre[d]) * scale) (centre may be null) for d < dim; returns the
// squared norm of the rounded row.
using RoundRowKernel = float (*)(const float* x, const float* centre, float scale, int dim, uint16_t* out);

// The int8 layout's row work (pack_int8, mean_of_rows): the largest |x[d] * scale - centre[d]|;
// out[d] = round((x[d] * scale - centre[d]) * factor) to nearest even, clamped to +-127; sum[d]
// = the sum over rows r of rows[r][d] * scales[r] (scales may be null: 1; each product in float,
// the sums in double, row by row); and sum(x[d] * scale * y[d]) in double. centre may be null (0).
using LargestScaledKernel = float (*)(const float* x, const float* centre, float scale, int dim);
using QuantizeRowKernel = void (*)(const float* x, const float* centre, float scale, float factor, int dim,
                                   int8_t* out);
using SumRowsKernel = void (*)(const float* const* rows, const float* scales, int count, int dim, double* sum);
using ScaledDotKernel = double (*)(const float* x, float scale, const float* y, int dim);

// Plain dots of two different sets in the Bf16 layout (pack_bf16): out[r * ldo + c] = dot(row r,
// column c) in fp32 sums of bf16 products, for r < row_count (a multiple of the kernel's row
// tile: kAmxTileRows on AMX, kDotBlockRows by vdpbf16ps) and c < 16 * panels_count; ldo at least
// 16 * panels_count.
using Bf16DotsKernel = Bf16DotsFunction;  // float_dots.hpp

// The exact dots of one Bytes-layout block's rows against another's panels, corrections added,
// as floats: out[r * ldo + c] for r < row_count and c < 16 * panels_count (exact below 2^24).
using ByteDotsKernel = void (*)(const TileBlock& rows, int row_count, const TileBlock& columns, int panels_count,
                                float* out, int ldo);

// The int8 layout's row work alone, on AVX2 + FMA for CPUs without the AVX-512 tiles
// (int8_rows_avx2.cpp): the same values as the portable loops. Null without AVX2 + FMA.
struct Int8RowKernels {
  LargestScaledKernel largest_scaled;
  QuantizeRowKernel quantize_row_int8;
  SumRowsKernel sum_rows;
  ScaledDotKernel scaled_dot;
};
const Int8RowKernels* avx2_int8_row_kernels();
// The row work on the best this CPU has: the AVX-512 tiles' functions, else AVX2's, else null
// (pack_int8 and mean_of_rows then loop one value at a time).
const Int8RowKernels* int8_row_kernels();

struct TileKernels {
  TileDistancesKernel distances_float = nullptr;
  TileDistancesKernel distances_bytes = nullptr;
  TileDistancesKernel distances_bf16 = nullptr;  // Bf16 layout, vdpbf16ps; null without AVX512_BF16
  Bf16DotsKernel dots_bf16 = nullptr;            // the same, plain dots; rows a multiple of kDotBlockRows
  ByteDotsKernel dots_bytes = nullptr;           // Bytes layout by vpdpbusd, plain dots; rows a multiple of kDotBlockRows
  DotBlockKernel dots_float = nullptr;           // dot_block.hpp's kernel, 16 lanes
  RoundRowKernel round_row_bf16 = nullptr;
  LargestScaledKernel largest_scaled = nullptr;
  QuantizeRowKernel quantize_row_int8 = nullptr;
  SumRowsKernel sum_rows = nullptr;
  ScaledDotKernel scaled_dot = nullptr;
};
// Null where the CPU lacks any of AVX-512 F, BW, VL, DQ and VNNI, or ANNFORGE_SIMD says
// avx2 or scalar.
const TileKernels* avx512_tile_kernels();
bool cpu_has_avx512_vnni();

// 8-bit rows (uint8 or int8, `count` of them, `dim` values each) in the Bytes layout: int8 rows
// of dim4 bytes (padded to `padded_rows` with zero rows), uint8 panels, and the corrections.
struct BytePack {
  std::vector<int8_t> rows;
  std::vector<uint8_t> panels;
  std::vector<int32_t> row_corrections, column_corrections;
  int dim4 = 0;
};
// dim4 is dim rounded up to `dim_multiple` (4; 64 for AMX, whose tiles take 64 per step).
void pack_bytes(const void* const* rows, int count, int padded_rows, int dim, ElementType type, BytePack& out,
                int dim_multiple = 4);
TileBlock tile_block(const BytePack& pack);

// Bf16 layout (float data at reduced precision):
// rows as bfloat16 (rounded to nearest even), row-major, dim rounded up to 32 with zeros
// (dim32); panels of 16 rows, two dimensions per 32-bit lane: step s of panel p (dimensions 2s
// and 2s + 1 of rows 16p .. 16p + 15) is 64 bytes. That is vdpbf16ps's operand, and 16 steps
// of it are one AMX B tile (1 KiB, rows of 64 bytes).
struct Bf16Pack {
  std::vector<uint16_t> rows, panels;
  std::vector<float> squared_norms;  // of the rounded rows, zero past the count
  int dim32 = 0;
};
// `center` (or null) is subtracted from every row before rounding: L2 distances do not change,
// and the rounding error then scales with the cluster's spread rather than with its distance
// from the origin (which on offset data would swamp the distances between neighbours).
void pack_bf16(const float* rows, int count, int padded_rows, int dim, const float* center, Bf16Pack& out);
// The same from rows anywhere (rows[r], dim floats each), each times scales[r] after the centre
// is subtracted (scales may be null: 1): the clustered stage packs each row straight from the
// data, once per cluster, with nothing filled twice.
void pack_bf16_rows(const float* const* rows, int count, int padded_rows, int dim, const float* center,
                    const float* scales, Bf16Pack& out);
// The mean of `count` float rows (summed in double), the centre that pack_bf16 subtracts.
void mean_of_rows(const float* rows, int count, int dim, std::vector<float>& mean);
// The same over rows anywhere, each times scales[r] (scales may be null: 1), as pack_bf16_rows
// and pack_int8 take them.
void mean_of_rows(const float* const* rows, int count, int dim, const float* scales, std::vector<float>& mean);
TileBlock tile_block(const Bf16Pack& pack);

// AVX512_BF16 (vdpbf16ps) on top of avx512_tile_kernels(); ANNFORGE_SIMD=avx2 or scalar turns
// it off with the rest of AVX-512.
bool cpu_has_avx512_bf16();

// AMX (Intel's tile unit, TMUL): kAmxTileRows rows of the Bf16 layout against all columns per
// call, 16 x 16 x 32 multiply-adds per instruction; the distances as TileDistancesKernel's, with
// row0 a multiple of kAmxTileRows and the rows padded to a multiple of it. Null where the CPU
// lacks AMX-TILE and AMX-BF16, where the kernel refuses the tile-data permission
// (arch_prctl ARCH_REQ_XCOMP_PERM, asked once per process), or under ANNFORGE_SIMD=avx2/scalar.
constexpr int kAmxTileRows = 32;
TileDistancesKernel amx_bf16_distances_kernel();
// The same unit for plain dots of two different sets: out[r * ldo + c] = dot(row r, column c)
// in fp32 sums of bf16 products, for r < row_count (a multiple of kAmxTileRows; rows of the
// Bf16 layout, dim32 each) and c < 16 * panels_count (panels of the Bf16 layout); ldo at least
// 16 * panels_count. Null where amx_bf16_distances_kernel() is.
Bf16DotsKernel amx_bf16_dots_kernel();

// The Bytes layout on AMX-INT8 (tdpbsud): TileDistancesKernel's distances for row0 a multiple of
// kAmxTileRows, the rows padded to a multiple of it and their dimensions to 64 (pack_bytes with
// dim_multiple 64); the same floats as the VNNI kernel, for the rows below the count only (terms
// are read for those). Null where amx_int8_dots_kernel() is.
TileDistancesKernel amx_byte_distances_kernel();
// The exact dots of one Bytes pack's rows (row_count a multiple of kAmxTileRows) against
// another's panels (both packed with dim_multiple 64, the same dimension), corrections added,
// as floats: out[r * ldo + c] for c < 16 * panels_count (exact below 2^24). Null where
// amx_byte_distances_kernel() is.
ByteDotsKernel amx_byte_dots_kernel();

// Int8 layout (float rows at int8 precision, one step for all of them): each row r as
// q = round((x * scales[r] - centre) / step), |q| <= 127, the largest magnitude at 127; either
// as rows (row-major, dim rounded up to `dim_multiple` with zeros: padded_dim) or as negated
// panels (-q, 16 rows per panel, four dimensions per 32-bit lane: step s of panel p, dimensions
// 4s .. 4s + 3 of rows 16p .. 16p + 15, is 64 bytes, and 16 steps of it are one AMX B tile for
// tdpbssd). step_rows * step_panels * (the int32 dot) is then -dot of the two sides within the
// rounding. UnsignedNegatedPanels stores -q + 128 as uint8 (the top bit flipped): vpdpbusd's
// unsigned operand, the Bytes layout's panels, whose sums then exceed the dot by 128 * sum(row).
struct Int8Pack {
  std::vector<int8_t> values;  // rows or panels
  int padded_dim = 0;
  float step = 1.0f;
};
enum class Int8Layout { Rows, NegatedPanels, UnsignedNegatedPanels };
// scales and centre may be null (1 and 0). dim_multiple: 64 for AMX (a tile step), 4 for VNNI.
// largest: the rows' largest |x[d] * scale - centre[d]| where the caller measured it already
// (in a pass over the rows that did other work: a cluster of wide rows is read from beyond L2 by
// every pass); negative: measured here.
void pack_int8(const float* const* rows, int count, int padded_rows, int dim, const float* scales, const float* centre,
               Int8Layout layout, Int8Pack& out, int dim_multiple = 64, float largest = -1.0f);
// AMX-INT8 (tdpbssd: 16 x 16 x 64 multiply-adds per instruction, twice bf16's per tile load):
// out[r * ldo + c] = the int32 dot of int8 row r and column c as a float (exact: |dot| < 2^24
// up to 1,040 dimensions), for r < row_count (a multiple of kAmxTileRows) and c < 16 *
// panels_count. Null where the CPU lacks AMX-INT8 or amx_bf16_dots_kernel() is null.
using Int8DotsKernel = void (*)(const int8_t* rows, int row_count, int dim64, const int8_t* panels, int panels_count,
                                float* out, int ldo);
Int8DotsKernel amx_int8_dots_kernel();

}  // namespace annforge::cpu
