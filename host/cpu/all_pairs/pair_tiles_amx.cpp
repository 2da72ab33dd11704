// The AMX kernel of pair_tiles.hpp: Bf16 rows against Bf16 panels on Intel's tile unit. Eight
// tile registers of 16 rows x 64 bytes: four fp32 accumulators (32 rows x 32 columns), two A
// tiles (16 rows x 32 dimensions each) and two B tiles (two panels, 32 dimensions); each
// tdpbf16ps is 16 x 16 x 32 multiply-adds, about eight times what the FMA units do in the time.
// The tile instructions are written in asm (no target attribute or compiler support needed;
// binutils knows them), and only run after CPUID and the kernel's permission said yes. The
// epilogue, distances from the stored dots, is the AVX-512 one of pair_epilogue_avx512.hpp.
// The same blocking with tdpbssd serves int8 codes (64 dimensions per step), opt-in.
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "host/cpu/all_pairs/pair_epilogue_avx512.hpp"
#include "host/cpu/all_pairs/pair_tiles.hpp"
#include "host/cpu/distance/distance.hpp"

#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#define ANNFORGE_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,bmi,bmi2")))

namespace annforge::cpu {
namespace {

// Linux's arch_prctl codes: a process must ask for the tile data state before its first tile
// instruction (Linux 5.16+); the answer covers all its threads.
constexpr int kArchRequestPermission = 0x1023;  // ARCH_REQ_XCOMP_PERM
constexpr int kXFeatureTileData = 18;           // XFEATURE_XTILEDATA

// ldtilecfg's 64-byte operand, palette 1: every tile 16 rows of 64 bytes.
struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t bytes_per_row[16] = {};
  uint8_t rows[16] = {};
};
static_assert(sizeof(TileConfig) == 64, "ldtilecfg reads 64 bytes");

bool amx_usable() {
  const char* forced = std::getenv("ANNFORGE_SIMD");
  if (forced && (std::strcmp(forced, "avx2") == 0 || std::strcmp(forced, "scalar") == 0)) return false;
  if (!cpu_has_avx512()) return false;
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  // Leaf 7, sub-leaf 0: EDX bit 22 AMX-BF16, bit 24 AMX-TILE.
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
  if ((edx & (1u << 22)) == 0 || (edx & (1u << 24)) == 0) return false;
  return syscall(SYS_arch_prctl, kArchRequestPermission, kXFeatureTileData) == 0;
}

// Loads the tile configuration both kernels use: all eight tiles 16 rows of 64 bytes.
inline void configure_tiles() {
  TileConfig config;
  for (int t = 0; t < 8; ++t) {
    config.rows[t] = 16;
    config.bytes_per_row[t] = 64;
  }
  asm volatile("ldtilecfg %0" : : "m"(config));
}

// One step of tile_dots with tile instruction `op`: A tiles tmm4 / tmm5, B tile tmm6 (and tmm7
// for the second panel).
#define ANNFORGE_TILE_STEP(op)                  \
  "tileloadd (%0,%2,1), %%tmm4\n\t"             \
  "tileloadd (%1,%2,1), %%tmm5\n\t"             \
  "tileloadd (%3,%4,1), %%tmm6\n\t" op          \
  " %%tmm6, %%tmm4, %%tmm0\n\t" op " %%tmm6, %%tmm5, %%tmm2"
#define ANNFORGE_TILE_SECOND_PANEL(op) \
  "tileloadd (%0,%1,1), %%tmm7\n\t" op " %%tmm7, %%tmm4, %%tmm1\n\t" op " %%tmm7, %%tmm5, %%tmm3"

// The tile instruction of a tile_dots call: tdpbf16ps (bf16 pairs), tdpbssd (int8 x int8) or
// tdpbsud (int8 rows x uint8 panels).
enum class TileOp { Bf16, Int8, Int8ByUint8 };

// tmm0..tmm3 = the dots of 32 rows (from a0, rows row_bytes apart; a1 = a0 + 16 rows) against
// one panel (b0) or two (b1 too, when `pair`): tmm0 / tmm2 rows 0-15 / 16-31 against b0, tmm1 /
// tmm3 against b1. `chunks` steps of 64 bytes of each row: 32 dimensions of Bf16, or 64 of 8-bit
// values; a panel's B tile is 16 steps of 64 bytes (1 KiB).
template <TileOp kOp>
inline void tile_dots(const char* a0, const char* a1, int64_t row_bytes, const char* b0, const char* b1, bool pair,
                      int chunks) {
  const int64_t panel_step = 64;
  asm volatile("tilezero %%tmm0\n\ttilezero %%tmm1\n\ttilezero %%tmm2\n\ttilezero %%tmm3" ::);
  for (int s = 0; s < chunks; ++s) {
    const char* a0s = a0 + s * 64;
    const char* a1s = a1 + s * 64;
    const char* b0s = b0 + s * 16 * panel_step;
    const char* b1s = b1 + s * 16 * panel_step;
    if constexpr (kOp == TileOp::Int8) {
      asm volatile(ANNFORGE_TILE_STEP("tdpbssd") : : "r"(a0s), "r"(a1s), "r"(row_bytes), "r"(b0s), "r"(panel_step)
                   : "memory");
      if (pair) asm volatile(ANNFORGE_TILE_SECOND_PANEL("tdpbssd") : : "r"(b1s), "r"(panel_step) : "memory");
    } else if constexpr (kOp == TileOp::Int8ByUint8) {
      asm volatile(ANNFORGE_TILE_STEP("tdpbsud") : : "r"(a0s), "r"(a1s), "r"(row_bytes), "r"(b0s), "r"(panel_step)
                   : "memory");
      if (pair) asm volatile(ANNFORGE_TILE_SECOND_PANEL("tdpbsud") : : "r"(b1s), "r"(panel_step) : "memory");
    } else {
      asm volatile(ANNFORGE_TILE_STEP("tdpbf16ps") : : "r"(a0s), "r"(a1s), "r"(row_bytes), "r"(b0s), "r"(panel_step)
                   : "memory");
      if (pair) asm volatile(ANNFORGE_TILE_SECOND_PANEL("tdpbf16ps") : : "r"(b1s), "r"(panel_step) : "memory");
    }
  }
}

// tmm0..tmm3 into a 32 x 32 block of 4-byte sums (fp32 or int32; 32 per row, 128 bytes): rows
// 0-15 / 16-31 of the first panel (tmm0 / tmm2) and of the second (tmm1 / tmm3).
inline void store_tiles_32x32(void* block) {
  char* base = static_cast<char*>(block);
  const int64_t stride = 32 * 4;
  asm volatile(
      "tilestored %%tmm0, (%0,%2,1)\n\t"
      "tilestored %%tmm1, (%1,%2,1)\n\t"
      "tilestored %%tmm2, (%3,%2,1)\n\t"
      "tilestored %%tmm3, (%4,%2,1)"
      :
      : "r"(base), "r"(base + 64), "r"(stride), "r"(base + 16 * stride), "r"(base + 16 * stride + 64)
      : "memory");
}

#undef ANNFORGE_TILE_STEP
#undef ANNFORGE_TILE_SECOND_PANEL

// Distances (pair_filter.hpp's formula) from a 32 x 32 block of dots (row-major, 32 floats per
// row) for rows r0 .. r0 + 31 and the `panels` (1 or 2) panels from p.
ANNFORGE_AVX512 inline void epilogue(const float* dots, int r0, int p, int panels, const PairTerms& terms, float* out,
                                     int ldo) {
  for (int j = 0; j < panels; ++j) {
    const int c0 = (p + j) * 16;
    const ColumnTerms columns = column_terms(terms, c0);
    for (int r = 0; r < kAmxTileRows; ++r) {
      const __m512 dot = _mm512_load_ps(dots + r * 32 + j * 16);
      _mm512_storeu_ps(out + static_cast<size_t>(r) * ldo + c0, distances_from_dots(dot, r0 + r, columns, terms));
    }
  }
}

ANNFORGE_AVX512 void amx_distances(const TileBlock& block, int row0, int count, const PairTerms& terms, float* out,
                                   int ldo) {
  configure_tiles();
  const int dim32 = block.dim;
  const int64_t row_bytes = int64_t{dim32} * 2;
  const size_t panel_bytes = static_cast<size_t>(dim32) * 32;  // a whole panel
  const char* a0 = static_cast<const char*>(block.rows) + row0 * row_bytes;
  const char* a1 = a0 + 16 * row_bytes;
  const char* panels = static_cast<const char*>(block.panels);
  const int chunks = dim32 / 32;
  const int panels_count = panel_count(count);
  alignas(64) float dots[kAmxTileRows * 32];
  for (int p = 0; p < panels_count; p += 2) {
    const bool pair = p + 1 < panels_count;
    const char* b0 = panels + p * panel_bytes;
    tile_dots<TileOp::Bf16>(a0, a1, row_bytes, b0, b0 + panel_bytes, pair, chunks);
    store_tiles_32x32(dots);
    epilogue(dots, row0, p, pair ? 2 : 1, terms, out, ldo);
  }
  asm volatile("tilerelease" ::);
}

// Plain dots of Bf16 rows (row_count a multiple of 32) against Bf16 panels: the tile
// accumulators are stored straight into `out` (no epilogue).
ANNFORGE_AVX512 void amx_dots(const uint16_t* rows, int row_count, int dim32, const uint16_t* panels, int panels_count,
                              float* out, int ldo) {
  configure_tiles();
  const int64_t row_bytes = int64_t{dim32} * 2;
  const size_t panel_bytes = static_cast<size_t>(dim32) * 32;
  const int64_t out_stride = int64_t{ldo} * sizeof(float);
  const int chunks = dim32 / 32;
  for (int r0 = 0; r0 < row_count; r0 += kAmxTileRows) {
    const char* a0 = reinterpret_cast<const char*>(rows) + r0 * row_bytes;
    const char* a1 = a0 + 16 * row_bytes;
    for (int p = 0; p < panels_count; p += 2) {
      const bool pair = p + 1 < panels_count;
      const char* b0 = reinterpret_cast<const char*>(panels) + p * panel_bytes;
      tile_dots<TileOp::Bf16>(a0, a1, row_bytes, b0, b0 + panel_bytes, pair, chunks);
      float* c = out + static_cast<size_t>(r0) * ldo + p * 16;
      asm volatile(
          "tilestored %%tmm0, (%0,%1,1)\n\t"
          "tilestored %%tmm2, (%2,%1,1)"
          :
          : "r"(c), "r"(out_stride), "r"(c + static_cast<size_t>(16) * ldo)
          : "memory");
      if (pair) {
        asm volatile(
            "tilestored %%tmm1, (%0,%1,1)\n\t"
            "tilestored %%tmm3, (%2,%1,1)"
            :
            : "r"(c + 16), "r"(out_stride), "r"(c + static_cast<size_t>(16) * ldo + 16)
            : "memory");
      }
    }
  }
  asm volatile("tilerelease" ::);
}

// Leaf 7, sub-leaf 0: EDX bit 25 AMX-INT8.
bool amx_int8_usable() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
  return (edx & (1u << 25)) != 0;
}

// The int32 sums of a 32 x 32 block (32 per row in `sums`) as floats into out.
ANNFORGE_AVX512 inline void store_sums_as_floats(const int32_t* sums, int panels, float* out, int ldo) {
  for (int r = 0; r < kAmxTileRows; ++r) {
    for (int j = 0; j < panels; ++j) {
      const __m512i sum = _mm512_load_si512(sums + r * 32 + j * 16);
      _mm512_storeu_ps(out + static_cast<size_t>(r) * ldo + j * 16, _mm512_cvtepi32_ps(sum));
    }
  }
}

ANNFORGE_AVX512 void amx_int8_dots(const int8_t* rows, int row_count, int dim64, const int8_t* panels,
                                   int panels_count, float* out, int ldo) {
  configure_tiles();
  const int64_t row_bytes = dim64;
  const size_t panel_bytes = static_cast<size_t>(dim64) * 16;
  const int chunks = dim64 / 64;
  alignas(64) int32_t sums[kAmxTileRows * 32];
  for (int r0 = 0; r0 < row_count; r0 += kAmxTileRows) {
    const char* a0 = reinterpret_cast<const char*>(rows) + r0 * row_bytes;
    const char* a1 = a0 + 16 * row_bytes;
    for (int p = 0; p < panels_count; p += 2) {
      const bool pair = p + 1 < panels_count;
      const char* b0 = reinterpret_cast<const char*>(panels) + p * panel_bytes;
      tile_dots<TileOp::Int8>(a0, a1, row_bytes, b0, b0 + panel_bytes, pair, chunks);
      store_tiles_32x32(sums);
      store_sums_as_floats(sums, pair ? 2 : 1, out + static_cast<size_t>(r0) * ldo + p * 16, ldo);
    }
  }
  asm volatile("tilerelease" ::);
}

// The true dots of one row's 16 columns from a 32 x 32 block of tdpbsud sums (row r, panel j of
// the block): the sums plus the columns' corrections and the row's, as floats (exact below 2^24).
ANNFORGE_AVX512 inline __m512 corrected_dots(const int32_t* sums, int r, int j, __m512i column_corrections,
                                             int32_t row_correction) {
  const __m512i corrections = _mm512_add_epi32(column_corrections, _mm512_set1_epi32(row_correction));
  return _mm512_cvtepi32_ps(_mm512_add_epi32(_mm512_load_si512(sums + r * 32 + j * 16), corrections));
}

// The Bytes layout (pack_bytes with dimensions padded to 64) on AMX-INT8: tdpbsud's exact int32
// sums of the int8 rows and the uint8 panels, the corrections added, then the epilogue of
// pair_epilogue_avx512.hpp, as tile_distances<ByteTiles> computes them (the same floats).
ANNFORGE_AVX512 void amx_byte_distances(const TileBlock& block, int row0, int count, const PairTerms& terms,
                                        float* out, int ldo) {
  configure_tiles();
  const int64_t row_bytes = block.dim;
  const size_t panel_bytes = static_cast<size_t>(block.dim) * 16;
  const int chunks = block.dim / 64;
  const char* a0 = static_cast<const char*>(block.rows) + row0 * row_bytes;
  const char* a1 = a0 + 16 * row_bytes;
  const char* panels = static_cast<const char*>(block.panels);
  const int panels_count = panel_count(count);
  const int rows_here = std::min(kAmxTileRows, count - row0);
  alignas(64) int32_t sums[kAmxTileRows * 32];
  for (int p = 0; p < panels_count; p += 2) {
    const bool pair = p + 1 < panels_count;
    const char* b0 = panels + p * panel_bytes;
    tile_dots<TileOp::Int8ByUint8>(a0, a1, row_bytes, b0, b0 + panel_bytes, pair, chunks);
    store_tiles_32x32(sums);
    for (int j = 0; j < (pair ? 2 : 1); ++j) {
      const int c0 = (p + j) * 16;
      const ColumnTerms columns = column_terms(terms, c0);
      const __m512i column_corrections = _mm512_loadu_si512(block.column_corrections + c0);
      // The padding rows' distances are never read: their terms need not exist.
      for (int r = 0; r < rows_here; ++r) {
        const int row = row0 + r;
        const __m512 dots = corrected_dots(sums, r, j, column_corrections, block.row_corrections[row]);
        _mm512_storeu_ps(out + static_cast<size_t>(r) * ldo + c0, distances_from_dots(dots, row, columns, terms));
      }
    }
  }
  asm volatile("tilerelease" ::);
}

// The exact dots of two Bytes packs (dimensions padded to 64): `rows`' int8 rows (row_count a
// multiple of kAmxTileRows) against `columns`' uint8 panels, each side's correction added.
ANNFORGE_AVX512 void amx_byte_dots(const TileBlock& rows, int row_count, const TileBlock& columns, int panels_count,
                                   float* out, int ldo) {
  configure_tiles();
  const int64_t row_bytes = rows.dim;
  const size_t panel_bytes = static_cast<size_t>(rows.dim) * 16;
  const int chunks = rows.dim / 64;
  alignas(64) int32_t sums[kAmxTileRows * 32];
  for (int r0 = 0; r0 < row_count; r0 += kAmxTileRows) {
    const char* a0 = static_cast<const char*>(rows.rows) + r0 * row_bytes;
    const char* a1 = a0 + 16 * row_bytes;
    for (int p = 0; p < panels_count; p += 2) {
      const bool pair = p + 1 < panels_count;
      const char* b0 = static_cast<const char*>(columns.panels) + p * panel_bytes;
      tile_dots<TileOp::Int8ByUint8>(a0, a1, row_bytes, b0, b0 + panel_bytes, pair, chunks);
      store_tiles_32x32(sums);
      for (int j = 0; j < (pair ? 2 : 1); ++j) {
        const __m512i column_corrections = _mm512_loadu_si512(columns.column_corrections + (p + j) * 16);
        for (int r = 0; r < kAmxTileRows; ++r) {
          _mm512_storeu_ps(out + static_cast<size_t>(r0 + r) * ldo + (p + j) * 16,
                           corrected_dots(sums, r, j, column_corrections, rows.row_corrections[r0 + r]));
        }
      }
    }
  }
  asm volatile("tilerelease" ::);
}

}  // namespace

namespace {
// The tile state granted (amx_bf16_dots_kernel) and AMX-INT8 present: every int8 kernel's test.
bool amx_int8_ready() {
  static const bool ready = amx_bf16_dots_kernel() != nullptr && amx_int8_usable();
  return ready;
}
}  // namespace

ByteDotsKernel amx_byte_dots_kernel() { return amx_int8_ready() ? amx_byte_dots : nullptr; }

TileDistancesKernel amx_byte_distances_kernel() { return amx_int8_ready() ? amx_byte_distances : nullptr; }

Int8DotsKernel amx_int8_dots_kernel() { return amx_int8_ready() ? amx_int8_dots : nullptr; }

Bf16DotsKernel amx_bf16_dots_kernel() {
  static const bool usable = amx_usable();
  return usable ? amx_dots : nullptr;
}

TileDistancesKernel amx_bf16_distances_kernel() {
  static const bool usable = amx_usable();
  return usable ? amx_distances : nullptr;
}

}  // namespace annforge::cpu
