// The Bytes layout of pair_tiles.hpp (portable packing) and the kernels' dispatch.
#include "host/cpu/pair_tiles.hpp"


#include "host/cpu/distance.hpp"

namespace annforge::cpu {

const TileKernels* avx512_kernels();  // pair_tiles_avx512.cpp

namespace {

// The value of element d of an 8-bit row as int.
inline int element(const void* row, int d, ElementType type) {
  return type == ElementType::UInt8 ? static_cast<const uint8_t*>(row)[d] : static_cast<const int8_t*>(row)[d];
}

// uint8 data: the row side is shifted to int8 (x - 128), the column side stays uint8, and the
// column's correction is 128 * sum(x). int8 data: the row side stays int8, the column side is
// shifted to uint8 (x + 128), and the row's correction is -128 * sum(x).
void pack_panels_of(const void* const* rows, int count, int dim, int dim4, ElementType type, BytePack& out) {
  const int panels = panel_count(count);
  const int steps = dim4 / 4;
  out.panels.assign(static_cast<size_t>(panels) * steps * 64, 0);
  out.column_corrections.assign(static_cast<size_t>(panels) * 16, 0);
  const int shift = type == ElementType::Int8 ? 128 : 0;
  for (int r = 0; r < count; ++r) {
    uint8_t* panel = &out.panels[static_cast<size_t>(r / 16) * steps * 64];
    const int column = r % 16;
    int sum = 0;
    for (int d = 0; d < dim; ++d) {
      const int x = element(rows[r], d, type);
      sum += x;
      panel[(d / 4) * 64 + column * 4 + d % 4] = static_cast<uint8_t>(x + shift);
    }
    if (type == ElementType::UInt8) out.column_corrections[r] = 128 * sum;
  }
}

}  // namespace

bool cpu_has_avx512_vnni() {
  static const bool yes = cpu_has_avx512() && __builtin_cpu_supports("avx512vnni");
  return yes;
}

const TileKernels* avx512_tile_kernels() { return cpu_has_avx512_vnni() ? avx512_kernels() : nullptr; }

void pack_bytes(const void* const* rows, int count, int padded_rows, int dim, ElementType type, BytePack& out) {
  out.dim4 = (dim + 3) / 4 * 4;
  out.rows.assign(static_cast<size_t>(padded_rows) * out.dim4, 0);
  out.row_corrections.assign(padded_rows, 0);
  const int shift = type == ElementType::UInt8 ? -128 : 0;
  for (int r = 0; r < count; ++r) {
    int8_t* row = &out.rows[static_cast<size_t>(r) * out.dim4];
    int sum = 0;
    for (int d = 0; d < dim; ++d) {
      const int x = element(rows[r], d, type);
      sum += x;
      row[d] = static_cast<int8_t>(x + shift);
    }
    if (type == ElementType::Int8) out.row_corrections[r] = -128 * sum;
  }
  pack_panels_of(rows, count, dim, out.dim4, type, out);
}

TileBlock tile_block(const BytePack& pack) {
  TileBlock block;
  block.rows = pack.rows.data();
  block.panels = pack.panels.data();
  block.dim = pack.dim4;
  block.row_corrections = pack.row_corrections.data();
  block.column_corrections = pack.column_corrections.data();
  return block;
}

}  // namespace annforge::cpu
