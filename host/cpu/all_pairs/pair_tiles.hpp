// AVX-512 kernels of the clustered kNN stage: a cluster's dots as register tiles (6 rows x 64
// columns) turned into distances in each tile's epilogue, whole rows at a time. 8-bit data
// takes the VNNI path (vpdpbusd: 64 multiply-adds per instruction, exact int32 sums); float
// data the FMA path (16 lanes, the same floats as the AVX2 kernel). Chosen once per process
// where the CPU has AVX-512 F/BW/VL/DQ and VNNI (ANNFORGE_SIMD=avx2 or scalar turns them off).
#pragma once

#include <cstdint>
#include <vector>

#include "annforge.hpp"
#include "host/cpu/distance/dot_block.hpp"
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
  int dim = 0;  // floats (Float32) or bytes (Bytes, dim4) per row
  const int32_t* row_corrections = nullptr;     // Bytes only, per row position
  const int32_t* column_corrections = nullptr;  // Bytes only, per column position (panels x 16)
};

// out[r * ldo + c] = distance(row0 + r, c) (the formula of pair_filter.hpp) for r < 6
// (kDotBlockRows) and c < count rounded up to 16, +infinity at c == row0 + r; row0 a multiple
// of 6, ldo at least count rounded up to 16, terms readable 16 entries past count.
using TileDistancesKernel = void (*)(const TileBlock& block, int row0, int count, const PairTerms& terms, float* out,
                                     int ldo);

struct TileKernels {
  TileDistancesKernel distances_float = nullptr;
  TileDistancesKernel distances_bytes = nullptr;
  DotBlockKernel dots_float = nullptr;  // dot_block.hpp's kernel, 16 lanes
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
void pack_bytes(const void* const* rows, int count, int padded_rows, int dim, ElementType type, BytePack& out);
TileBlock tile_block(const BytePack& pack);

}  // namespace annforge::cpu
