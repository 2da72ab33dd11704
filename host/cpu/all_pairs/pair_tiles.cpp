// The Bytes layout of pair_tiles.hpp (portable packing) and the kernels' dispatch.
#include "host/cpu/all_pairs/pair_tiles.hpp"

#include <cpuid.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "host/cpu/distance/distance.hpp"

namespace annforge::cpu {

const TileKernels* avx512_kernels();  // pair_tiles_avx512.cpp

namespace {

// uint8 data: the row side is shifted to int8 (x - 128), the column side stays uint8, and the
// column's correction is 128 * sum(x). int8 data: the row side stays int8, the column side is
// shifted to uint8 (x + 128), and the row's correction is -128 * sum(x). Both shifts flip the
// top bit of the byte.
template <class T>
void pack_rows_of(const void* const* rows, int count, int dim, BytePack& out) {
  constexpr uint8_t kRowFlip = std::is_same<T, uint8_t>::value ? 0x80 : 0x00;
  constexpr uint8_t kPanelFlip = 0x80 ^ kRowFlip;
  const int dim4 = out.dim4;
  const int steps = dim4 / 4;
  for (int r = 0; r < count; ++r) {
    const T* x = static_cast<const T*>(rows[r]);
    const uint8_t* bytes = static_cast<const uint8_t*>(rows[r]);
    uint8_t* row = reinterpret_cast<uint8_t*>(&out.rows[static_cast<size_t>(r) * dim4]);
    int sum = 0;
    for (int d = 0; d < dim; ++d) {
      sum += x[d];
      row[d] = bytes[d] ^ kRowFlip;
    }
    // Four dimensions per lane: the panel's 4-byte slot for this row, one per step.
    uint8_t* panel = &out.panels[static_cast<size_t>(r / 16) * steps * 64 + (r % 16) * 4];
    for (int d = 0; d < dim; ++d) panel[(d / 4) * 64 + d % 4] = bytes[d] ^ kPanelFlip;
    if (std::is_same<T, uint8_t>::value) {
      out.column_corrections[r] = 128 * sum;
    } else {
      out.row_corrections[r] = -128 * sum;
    }
  }
}

}  // namespace

bool cpu_has_avx512_vnni() {
  static const bool yes = cpu_has_avx512() && __builtin_cpu_supports("avx512vnni");
  return yes;
}

const TileKernels* avx512_tile_kernels() {
  static const TileKernels kernels = [] {
    TileKernels chosen = *avx512_kernels();
    if (!cpu_has_avx512_bf16()) chosen.distances_bf16 = nullptr, chosen.dots_bf16 = nullptr;
    return chosen;
  }();
  return cpu_has_avx512_vnni() ? &kernels : nullptr;
}

bool cpu_has_avx512_bf16() {
  static const bool yes = [] {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    // CPUID leaf 7, sub-leaf 1: EAX bit 5 is AVX512_BF16 (clang 14's __builtin_cpu_supports
    // does not know the name).
    if (!cpu_has_avx512_vnni() || !__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx)) return false;
    return (eax & (1u << 5)) != 0;
  }();
  return yes;
}

void pack_bf16(const float* rows, int count, int padded_rows, int dim, const float* center, Bf16Pack& out) {
  std::vector<const float*> pointers(count);
  for (int r = 0; r < count; ++r) pointers[r] = rows + static_cast<size_t>(r) * dim;
  pack_bf16_rows(pointers.data(), count, padded_rows, dim, center, nullptr, out);
}

void pack_bf16_rows(const float* const* rows, int count, int padded_rows, int dim, const float* center,
                    const float* scales, Bf16Pack& out) {
  const int dim32 = (dim + 31) / 32 * 32;
  out.dim32 = dim32;
  // Only what no row overwrites is zeroed: the padding rows, the dimensions past dim (per row
  // below) and the last panel's (whose padding rows no row fills).
  out.rows.resize(static_cast<size_t>(padded_rows) * dim32);
  std::fill(out.rows.begin() + static_cast<size_t>(count) * dim32, out.rows.end(), uint16_t{0});
  out.squared_norms.assign(static_cast<size_t>(padded_rows) + 16, 0.0f);
  const int panels = panel_count(count);
  out.panels.resize(static_cast<size_t>(panels) * dim32 * 16);
  if (panels > 0) std::fill(out.panels.end() - static_cast<size_t>(dim32) * 16, out.panels.end(), uint16_t{0});
  const TileKernels* tiles = avx512_tile_kernels();
  // A cluster's rows are scattered over the data (its members' other clusters put them far
  // apart): each row's lines are requested a few rows ahead, or the rounding waits on memory.
  constexpr int kAhead = 4;
  const size_t row_bytes = static_cast<size_t>(dim) * sizeof(float);
  auto prefetch = [&](int r) {
    for (size_t line = 0; line < row_bytes; line += 64) __builtin_prefetch(reinterpret_cast<const char*>(rows[r]) + line);
  };
  for (int r = 0; r < std::min(count, kAhead); ++r) prefetch(r);
  for (int r = 0; r < count; ++r) {
    if (r + kAhead < count) prefetch(r + kAhead);
    const float* x = rows[r];
    const float scale = scales != nullptr ? scales[r] : 1.0f;
    uint16_t* row = &out.rows[static_cast<size_t>(r) * dim32];
    std::fill(row + dim, row + dim32, uint16_t{0});
    if (tiles != nullptr) {
      out.squared_norms[r] = tiles->round_row_bf16(x, center, scale, dim, row);
    } else {
      float norm = 0.0f;
      for (int d = 0; d < dim; ++d) {
        row[d] = to_bf16((center ? x[d] - center[d] : x[d]) * scale);
        norm += from_bf16(row[d]) * from_bf16(row[d]);
      }
      out.squared_norms[r] = norm;
    }
    // Two dimensions (one 4-byte pair of the row) per lane: the row's slot in each step. Copied
    // as bytes: the storage is uint16_t, and reading it through uint32_t pointers is undefined.
    uint16_t* panel = &out.panels[static_cast<size_t>(r / 16) * dim32 * 16 + (r % 16) * 2];
    for (int step = 0; step < dim32 / 2; ++step) std::memcpy(panel + step * 32, row + step * 2, 4);
  }
}

const Int8RowKernels* int8_row_kernels() {
  if (const TileKernels* tiles = avx512_tile_kernels(); tiles != nullptr) {
    static const Int8RowKernels wide{tiles->largest_scaled, tiles->quantize_row_int8, tiles->sum_rows,
                                     tiles->scaled_dot};
    return &wide;
  }
  return avx2_int8_row_kernels();
}

void pack_int8(const float* const* rows, int count, int padded_rows, int dim, const float* scales, const float* centre,
               Int8Layout layout, Int8Pack& out, int dim_multiple, float largest) {
  const int padded_dim = (dim + dim_multiple - 1) / dim_multiple * dim_multiple;
  out.padded_dim = padded_dim;
  const Int8RowKernels* kernels = int8_row_kernels();
  auto scale_of = [&](int r) { return scales != nullptr ? scales[r] : 1.0f; };
  auto value = [&](int r, int d) {
    const float x = rows[r][d] * scale_of(r);
    return centre != nullptr ? x - centre[d] : x;
  };
  if (largest < 0.0f) {  // not measured by the caller
    largest = 0.0f;
    for (int r = 0; r < count; ++r) {
      if (kernels != nullptr) {
        largest = std::max(largest, kernels->largest_scaled(rows[r], centre, scale_of(r), dim));
      } else {
        for (int d = 0; d < dim; ++d) largest = std::max(largest, std::fabs(value(r, d)));
      }
    }
  }
  // The largest magnitude maps to 127 (a normal step, so that no code divides by zero).
  out.step = std::max(largest / 127.0f, std::numeric_limits<float>::min());
  const float inverse = 1.0f / out.step;
  // Row r's codes times `sign` (rounding to nearest even is symmetric, so -1 gives -code).
  auto quantize = [&](int r, float sign, int8_t* codes) {
    if (kernels != nullptr) {
      kernels->quantize_row_int8(rows[r], centre, scale_of(r), sign * inverse, dim, codes);
      return;
    }
    for (int d = 0; d < dim; ++d) {
      codes[d] = static_cast<int8_t>(std::min(127.0f, std::max(-127.0f, std::nearbyint(value(r, d) * sign * inverse))));
    }
  };
  if (layout == Int8Layout::Rows) {
    out.values.resize(static_cast<size_t>(padded_rows) * padded_dim);
    std::fill(out.values.begin() + static_cast<size_t>(count) * padded_dim, out.values.end(), int8_t{0});
    for (int r = 0; r < count; ++r) {
      int8_t* row = &out.values[static_cast<size_t>(r) * padded_dim];
      quantize(r, 1.0f, row);
      std::fill(row + dim, row + padded_dim, int8_t{0});
    }
    return;
  }
  const int panels = panel_count(count);
  // The unsigned panels hold code + 128: the top bit flipped (a zero code is 0x80).
  const uint8_t flip = layout == Int8Layout::UnsignedNegatedPanels ? 0x80 : 0x00;
  out.values.resize(static_cast<size_t>(panels) * padded_dim * 16);
  // Only the last panel has slots no row fills (its padding rows).
  if (panels > 0) {
    std::fill(out.values.end() - static_cast<size_t>(padded_dim) * 16, out.values.end(), static_cast<int8_t>(flip));
  }
  std::vector<int8_t> codes(padded_dim, 0);
  for (int r = 0; r < count; ++r) {
    quantize(r, -1.0f, codes.data());  // writes the first dim codes
    if (flip != 0) {
      for (int d = 0; d < dim; ++d) codes[d] = static_cast<int8_t>(static_cast<uint8_t>(codes[d]) ^ flip);
      std::fill(codes.begin() + dim, codes.end(), static_cast<int8_t>(flip));
    }
    // Four dimensions per lane: the row's slot in each step.
    int8_t* panel = &out.values[static_cast<size_t>(r / 16) * padded_dim * 16 + (r % 16) * 4];
    for (int step = 0; step < padded_dim / 4; ++step) std::memcpy(panel + step * 64, &codes[step * 4], 4);
  }
}

void mean_of_rows(const float* rows, int count, int dim, std::vector<float>& mean) {
  std::vector<const float*> pointers(count);
  for (int r = 0; r < count; ++r) pointers[r] = rows + static_cast<size_t>(r) * dim;
  mean_of_rows(pointers.data(), count, dim, nullptr, mean);
}

void mean_of_rows(const float* const* rows, int count, int dim, const float* scales, std::vector<float>& mean) {
  std::vector<double> sum(dim, 0.0);
  if (const Int8RowKernels* kernels = int8_row_kernels(); kernels != nullptr) {
    kernels->sum_rows(rows, scales, count, dim, sum.data());
  } else {
    for (int r = 0; r < count; ++r) {
      const float scale = scales != nullptr ? scales[r] : 1.0f;  // x * 1 is x: the same sums
      for (int d = 0; d < dim; ++d) sum[d] += rows[r][d] * scale;
    }
  }
  mean.assign(dim, 0.0f);
  for (int d = 0; d < dim && count > 0; ++d) mean[d] = static_cast<float>(sum[d] / count);
}

TileBlock tile_block(const Bf16Pack& pack) {
  TileBlock block;
  block.rows = pack.rows.data();
  block.panels = pack.panels.data();
  block.dim = pack.dim32;
  return block;
}

void pack_bytes(const void* const* rows, int count, int padded_rows, int dim, ElementType type, BytePack& out,
                int dim_multiple) {
  out.dim4 = (dim + dim_multiple - 1) / dim_multiple * dim_multiple;
  out.rows.assign(static_cast<size_t>(padded_rows) * out.dim4, 0);
  out.row_corrections.assign(padded_rows, 0);
  out.panels.assign(static_cast<size_t>(panel_count(count)) * (out.dim4 / 4) * 64, 0);
  out.column_corrections.assign(static_cast<size_t>(panel_count(count)) * 16, 0);
  if (type == ElementType::UInt8) {
    pack_rows_of<uint8_t>(rows, count, dim, out);
  } else {
    pack_rows_of<int8_t>(rows, count, dim, out);
  }
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
