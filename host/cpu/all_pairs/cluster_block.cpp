#include "host/cpu/all_pairs/cluster_block.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>

#include "host/cpu/distance/distance.hpp"
#include "host/env_knob.hpp"

namespace annforge::cpu {
namespace {

// Rows of a cluster block whose dots one kernel call computes (portable / AVX2 path): enough to
// reuse each packed panel from L1 several times. A multiple of 16 (the panel width), so that a
// chunk's first row starts a panel.
constexpr int kDotChunkRows = 8 * kDotBlockRows;
static_assert(kDotChunkRows % 16 == 0, "chunks start at panel boundaries");
// Panels of columns per kernel call: the chunk's dots for the window (48 x 512 floats) stay in
// L2 for the pair filter that reads them next.
constexpr int kWindowPanels = 32;

template <class T>
void squared_norms_of(const std::vector<const void*>& rows, int count, int dim, float* out) {
  for (int i = 0; i < count; ++i) {
    const T* x = static_cast<const T*>(rows[i]);
    float sum = 0.0f;
    for (int d = 0; d < dim; ++d) sum += static_cast<float>(x[d]) * static_cast<float>(x[d]);
    out[i] = sum;
  }
}

// x rounded to the nearest bfloat16, as a float.
inline float rounded_to_bf16(float x) { return from_bf16(to_bf16(x)); }

}  // namespace

bool float_dots_available(FloatDots dots) {
  switch (dots) {
    case FloatDots::Exact: return true;
    case FloatDots::Bf16: return avx512_tile_kernels() != nullptr && avx512_tile_kernels()->distances_bf16 != nullptr;
    case FloatDots::AmxBf16: return avx512_tile_kernels() != nullptr && amx_bf16_distances_kernel() != nullptr;
  }
  return false;
}

const char* float_dots_name(FloatDots dots) {
  switch (dots) {
    case FloatDots::Exact: return "fp32";
    case FloatDots::Bf16: return "bf16";
    case FloatDots::AmxBf16: return "amx";
  }
  return "?";
}

FloatDots default_float_dots() {
  static const FloatDots chosen = [] {
    FloatDots wanted = FloatDots::AmxBf16;
    const char* name = std::getenv("ANNFORGE_CPU_DOTS");
    if (name != nullptr && *name != '\0') {
      if (std::strcmp(name, "fp32") == 0) {
        wanted = FloatDots::Exact;
      } else if (std::strcmp(name, "bf16") == 0) {
        wanted = FloatDots::Bf16;
      } else if (std::strcmp(name, "amx") != 0) {
        throw Error(ErrorCode::InvalidArgument,
                    std::string("ANNFORGE_CPU_DOTS=") + name + ": expected fp32, bf16 or amx");
      }
    }
    // Without AMX, vdpbf16ps (AVX512_BF16): on the Zen 4 EPYC of 2026-12-06 the 1M wordtext
    // all-pairs stage took 11.6 s against fp32 FMA's 18.7-19.0 s, with the same lists and recall.
    // (On the Xeon with AMX, where it was slower than FMA, AMX comes first.)
    if (wanted == FloatDots::AmxBf16 && !float_dots_available(wanted)) wanted = FloatDots::Bf16;
    if (wanted == FloatDots::Bf16 && !float_dots_available(wanted)) wanted = FloatDots::Exact;
    return wanted;
  }();
  return chosen;
}

int float_dots_cost_divisor() {
  switch (default_float_dots()) {
    case FloatDots::AmxBf16: return 4;
    case FloatDots::Bf16: return 2;
    case FloatDots::Exact: return avx512_tile_kernels() == nullptr && int16_dot_block_kernel() != nullptr ? 2 : 1;
  }
  return 1;
}

DefaultBf16Dots default_bf16_dots() {
  DefaultBf16Dots dots;
  switch (default_float_dots()) {
    case FloatDots::AmxBf16:
      dots.kernel = amx_bf16_dots_kernel();
      dots.rows_multiple = kAmxTileRows;
      break;
    case FloatDots::Bf16:
      dots.kernel = avx512_tile_kernels()->dots_bf16;
      dots.rows_multiple = kDotBlockRows;
      break;
    case FloatDots::Exact: break;
  }
  return dots;
}

ClusterBlock::ClusterBlock(FloatDots float_dots, bool int8_dots)
    : tiles_(avx512_tile_kernels()), dot_kernel_(dot_block_kernel()), pair_filter_(pair_filter_kernel()) {
  // 8-bit rows on AMX-INT8 where the CPU has it (ANNFORGE_CPU_BYTE_TILES=vnni keeps them on
  // VNNI, for measurement): exact sums either way, the same distances.
  const char* byte_tiles = std::getenv("ANNFORGE_CPU_BYTE_TILES");
  if (tiles_ != nullptr && !(byte_tiles != nullptr && std::strcmp(byte_tiles, "vnni") == 0)) {
    amx_bytes_ = amx_byte_distances_kernel();
  }
  // Without the AVX-512 tiles, 8-bit rows take vpmaddwd where the CPU has AVX2.
  if (tiles_ == nullptr) int16_kernel_ = int16_dot_block_kernel();
  // Float rows as int8 codes on the same kernel where the probe took int8 (load_codes).
  float_codes_ = tiles_ == nullptr && int8_dots && int16_kernel_ != nullptr;
  if (!float_dots_available(float_dots)) return;  // fp32 (the AVX2 / portable path)
  // Without AMX, int8 dots by vpdpbusd (every CPU with the AVX-512 tiles has VNNI): 64
  // multiply-adds per instruction, twice vdpbf16ps's and four times fp32 FMA's.
  if (int8_dots && tiles_ != nullptr && float_dots != FloatDots::AmxBf16) vnni_int8_dots_ = tiles_->dots_bytes;
  if (float_dots == FloatDots::Bf16) bf16_kernel_ = tiles_->distances_bf16;
  if (float_dots == FloatDots::AmxBf16) {
    bf16_kernel_ = amx_bf16_distances_kernel();
    amx_dots_ = amx_bf16_dots_kernel();
    if (int8_dots) int8_dots_ = amx_int8_dots_kernel();
    bf16_rows_per_call_ = kAmxTileRows;
  }
}

bool ClusterBlock::load_dot_form(const std::vector<const void*>& rows, int count, int dim, Metric metric,
                                 const float* scales) {
  if (amx_dots_ == nullptr && vnni_int8_dots_ == nullptr) return false;
  // L2's two extra dimensions cost a whole step of 32 where the rows fill theirs: there the
  // epilogue is cheaper (1M x 64 in 5,000 clusters: all pairs the same time at 96 dimensions).
  if (metric == Metric::L2 && (dim + 2 + 31) / 32 != (dim + 31) / 32) return false;
  // The VNNI int8 form has no L2 (no room for the columns' norms in 8 bits).
  if (metric == Metric::L2 && amx_dots_ == nullptr) return false;
  count_ = count;
  dim_ = dim;
  bytes_ = false;
  approximate_ = true;
  centred_ = metric == Metric::L2;
  dot_form_ = true;
  int8_ = false;
  value_scale_ = 1.0f;
  metric_ = metric;
  rows_per_call_ = amx_dots_ != nullptr ? kAmxTileRows : kDotBlockRows;
  padded_rows_ = (count + rows_per_call_ - 1) / rows_per_call_ * rows_per_call_;
  float_rows_.resize(count);
  for (int i = 0; i < count; ++i) float_rows_[i] = static_cast<const float*>(rows[i]);
  if (metric != Metric::L2) {
    // Straight from the data, scaled as they are rounded.
    if (int8_dots_ != nullptr || vnni_int8_dots_ != nullptr) {
      int8_ = true;
      mean_of_rows(float_rows_.data(), count, dim, scales, centre_);
      offsets_.resize(count);
      // One pass over the rows for the offsets and both codes' largest values (each its own
      // pass before, over a cluster that does not fit L2; the same values).
      float largest_row = 0.0f, largest_column = 0.0f;
      for (int i = 0; i < count; ++i) {
        const float scale = scales != nullptr ? scales[i] : 1.0f;
        // AMX-INT8 implies the AVX-512 kernels.
        const double dot = tiles_->scaled_dot(float_rows_[i], scale, centre_.data(), dim);
        offsets_[i] = static_cast<float>((metric == Metric::Cosine ? 1.0 : 0.0) - dot);
        largest_row = std::max(largest_row, tiles_->largest_scaled(float_rows_[i], nullptr, scale, dim));
        largest_column = std::max(largest_column, tiles_->largest_scaled(float_rows_[i], centre_.data(), scale, dim));
      }
      if (int8_dots_ != nullptr) {
        pack_int8(float_rows_.data(), count, padded_rows_, dim, scales, nullptr, Int8Layout::Rows, int8_rows_, 64,
                  largest_row);
        pack_int8(float_rows_.data(), count, padded_rows_, dim, scales, centre_.data(), Int8Layout::NegatedPanels,
                  int8_panels_, 64, largest_column);
        value_scale_ = int8_rows_.step * int8_panels_.step;
        return true;
      }
      // VNNI: the Bytes layout's rows and unsigned panels (-q + 128), each row's sum taking
      // back the 128 * sum(q) that the shift adds (pair_tiles.hpp).
      pack_int8(float_rows_.data(), count, padded_rows_, dim, scales, nullptr, Int8Layout::Rows, int8_rows_, 4,
                largest_row);
      pack_int8(float_rows_.data(), count, padded_rows_, dim, scales, centre_.data(),
                Int8Layout::UnsignedNegatedPanels, int8_panels_, 4, largest_column);
      row_corrections_.resize(padded_rows_);
      const int padded_dim = int8_rows_.padded_dim;
      for (int r = 0; r < padded_rows_; ++r) {
        const int8_t* q = &int8_rows_.values[static_cast<size_t>(r) * padded_dim];
        int32_t sum = 0;
        for (int d = 0; d < padded_dim; ++d) sum += q[d];
        row_corrections_[r] = -128 * sum;
      }
      column_corrections_.assign(static_cast<size_t>(panel_count(count)) * 16, 0);
      value_scale_ = int8_rows_.step * int8_panels_.step;
      return true;
    }
    pack_bf16_rows(float_rows_.data(), count, padded_rows_, dim, nullptr, scales, bf16_pack_);
    // -x is exact in bf16: the sign bit.
    for (uint16_t& value : bf16_pack_.panels) value ^= 0x8000u;
    return true;
  }
  // L2 carries the columns' norms in two more dimensions (rows: 1 and 1), the rows centred on
  // their mean (rounding then follows the cluster's spread).
  mean_of_rows(float_rows_.data(), count, dim, nullptr, centre_);
  const int width = dim + 2;
  rows_.resize(static_cast<size_t>(count) * width);
  for (int i = 0; i < count; ++i) {
    float* row = &rows_[static_cast<size_t>(i) * width];
    for (int d = 0; d < dim; ++d) row[d] = rounded_to_bf16(float_rows_[i][d] - centre_[d]);
    row[dim] = 1.0f;
    row[dim + 1] = 1.0f;
  }
  pack_bf16(rows_.data(), count, padded_rows_, width, nullptr, bf16_pack_);
  // The rows are bf16 values already, so the pack holds them exactly; its norms count the two
  // ones: the norm of the centred row is computed here instead.
  columns_.assign(static_cast<size_t>(count) * width, 0.0f);
  for (int i = 0; i < count; ++i) {
    const float* row = &rows_[static_cast<size_t>(i) * width];
    float* column = &columns_[static_cast<size_t>(i) * width];
    float norm = 0.0f;
    for (int d = 0; d < dim; ++d) {
      norm += row[d] * row[d];
      column[d] = -2.0f * row[d];  // exact in bf16
    }
    bf16_pack_.squared_norms[i] = norm;
    column[dim] = rounded_to_bf16(norm);
    column[dim + 1] = rounded_to_bf16(norm - column[dim]);
  }
  pack_bf16(columns_.data(), count, count, width, nullptr, column_pack_);
  return true;
}

void ClusterBlock::load(const std::vector<const void*>& rows, int count, ElementType type, int dim,
                        float* squared_norms, bool translation_invariant) {
  count_ = count;
  dim_ = dim;
  dot_form_ = false;
  int8_ = false;
  int16_ = false;
  value_scale_ = 1.0f;
  bytes_ = tiles_ != nullptr && type != ElementType::Float32;
  approximate_ = type == ElementType::Float32 && bf16_kernel_ != nullptr;
  rows_per_call_ = approximate_ ? bf16_rows_per_call_ : bytes_ && amx_bytes_ ? kAmxTileRows : kDotBlockRows;
  padded_rows_ = (count + rows_per_call_ - 1) / rows_per_call_ * rows_per_call_;
  // Squared norms summed in float in dimension order on every path, so that each path gives
  // the same distances where dots are exact.
  switch (type) {
    case ElementType::Float32: squared_norms_of<float>(rows, count, dim, squared_norms); break;
    case ElementType::UInt8: squared_norms_of<uint8_t>(rows, count, dim, squared_norms); break;
    case ElementType::Int8: squared_norms_of<int8_t>(rows, count, dim, squared_norms); break;
  }
  if (bytes_) {
    pack_bytes(rows.data(), count, padded_rows_, dim, type, bytes_pack_, amx_bytes_ ? 64 : 4);
    return;
  }
  if (type == ElementType::Float32 && translation_invariant && vnni_int8_dots_ != nullptr) {
    // L2 at int8 precision by VNNI: the rows centred on their mean and rounded to one step
    // (pack_int8), then the 8-bit path as for int8 data: exact L2 between the codes, in code
    // units (value_scale: step^2).
    rows_per_call_ = kDotBlockRows;
    padded_rows_ = (count + rows_per_call_ - 1) / rows_per_call_ * rows_per_call_;
    float_rows_.resize(count);
    for (int i = 0; i < count; ++i) float_rows_[i] = static_cast<const float*>(rows[i]);
    mean_of_rows(float_rows_.data(), count, dim, nullptr, centre_);
    pack_int8(float_rows_.data(), count, padded_rows_, dim, nullptr, centre_.data(), Int8Layout::Rows, int8_rows_, 4);
    code_rows_.resize(count);
    code_norms_.assign(static_cast<size_t>(padded_rows_) + 16, 0.0f);
    for (int i = 0; i < count; ++i) {
      const int8_t* q = &int8_rows_.values[static_cast<size_t>(i) * int8_rows_.padded_dim];
      code_rows_[i] = q;
      int32_t norm = 0;
      for (int d = 0; d < dim; ++d) norm += int32_t{q[d]} * q[d];
      code_norms_[i] = static_cast<float>(norm);  // exact: < 2^24 up to 1,040 dimensions
    }
    pack_bytes(code_rows_.data(), count, padded_rows_, dim, ElementType::Int8, bytes_pack_, 4);
    bytes_ = true;
    int8_ = true;
    approximate_ = true;
    value_scale_ = int8_rows_.step * int8_rows_.step;
    return;
  }
  if (type != ElementType::Float32 && int16_kernel_ != nullptr) {
    // 8-bit rows without the AVX-512 tiles: int16 pairs for vpmaddwd (dot_block.hpp), straight
    // from the rows (filter_pairs and sample_dots read only these).
    int16_ = true;
    int16_scale_ = 1.0f;
    pairs_ = (dim + 1) / 2;
    rows16_.assign(static_cast<size_t>(padded_rows_) * pairs_ * 2, 0);
    for (int i = 0; i < count; ++i) {
      int16_t* row = &rows16_[static_cast<size_t>(i) * pairs_ * 2];
      if (type == ElementType::UInt8) {
        for (int d = 0; d < dim; ++d) row[d] = static_cast<const uint8_t*>(rows[i])[d];
      } else {
        for (int d = 0; d < dim; ++d) row[d] = static_cast<const int8_t*>(rows[i])[d];
      }
    }
    pack_int16_panels(rows16_.data(), count, pairs_, panels16_);
    return;
  }
  rows_.assign(static_cast<size_t>(padded_rows_) * dim, 0.0f);
  for (int i = 0; i < count; ++i) {
    float* row = &rows_[static_cast<size_t>(i) * dim];
    if (type == ElementType::Float32) {
      std::memcpy(row, rows[i], dim * sizeof(float));
    } else if (type == ElementType::UInt8) {
      for (int d = 0; d < dim; ++d) row[d] = static_cast<const uint8_t*>(rows[i])[d];
    } else {
      for (int d = 0; d < dim; ++d) row[d] = static_cast<const int8_t*>(rows[i])[d];
    }
  }
  if (approximate_) {
    // The kernels read the bf16 copy (centred for L2, so that rounding follows the cluster's
    // spread, not the data's distance from the origin).
    centred_ = translation_invariant;
    if (centred_) mean_of_rows(rows_.data(), count, dim, centre_);
    pack_bf16(rows_.data(), count, padded_rows_, dim, centred_ ? centre_.data() : nullptr, bf16_pack_);
    return;
  }
  pack_panels(rows_.data(), count, dim, panels_);
}

void ClusterBlock::filter_pairs(const PairTerms& terms, const uint32_t* ids, CandidateBuffers& buffers) {
  // A chunk of rows against the columns from the chunk's first row on (the upper half of the
  // symmetric matrix), a window of columns at a time.
  const int panels_count = panel_count(count_);
  dots_.resize(static_cast<size_t>(kDotChunkRows) * kWindowPanels * 16 + 8);
  for (int i = 0; i < count_; i += kDotChunkRows) {
    const int chunk = std::min(kDotChunkRows, count_ - i);
    const int a_rows = (chunk + kDotBlockRows - 1) / kDotBlockRows * kDotBlockRows;
    for (int first_panel = i / 16; first_panel < panels_count; first_panel += kWindowPanels) {
      const int window = std::min(kWindowPanels, panels_count - first_panel);
      if (int16_) {
        int16_kernel_(&rows16_[static_cast<size_t>(i) * pairs_ * 2], a_rows, pairs_,
                      &panels16_[static_cast<size_t>(first_panel) * pairs_ * 32], window, dots_.data(), window * 16,
                      int16_scale_);
      } else {
        dot_kernel_(&rows_[static_cast<size_t>(i) * dim_], a_rows, dim_,
                    &panels_[static_cast<size_t>(first_panel) * dim_ * 16], window, dots_.data(), window * 16);
      }
      const int first_column = first_panel * 16;
      pair_filter_(dots_.data(), window * 16, i, chunk, first_column, std::min(window * 16, count_ - first_column),
                   terms, ids, buffers);
    }
  }
}

void ClusterBlock::row_distances(int row0, const PairTerms& terms, float* out, int ldo) const {
  if (dot_form_) {
    if (int8_ && vnni_int8_dots_ != nullptr) {
      TileBlock rows, columns;
      rows.rows = &int8_rows_.values[static_cast<size_t>(row0) * int8_rows_.padded_dim];
      rows.dim = int8_rows_.padded_dim;
      rows.row_corrections = &row_corrections_[row0];
      columns.panels = int8_panels_.values.data();
      columns.dim = int8_panels_.padded_dim;
      columns.column_corrections = column_corrections_.data();
      vnni_int8_dots_(rows, rows_per_call_, columns, panel_count(count_), out, ldo);
    } else if (int8_) {
      int8_dots_(&int8_rows_.values[static_cast<size_t>(row0) * int8_rows_.padded_dim], kAmxTileRows,
                 int8_rows_.padded_dim, int8_panels_.values.data(), panel_count(count_), out, ldo);
    } else {
      const Bf16Pack& columns = metric_ == Metric::L2 ? column_pack_ : bf16_pack_;
      amx_dots_(&bf16_pack_.rows[static_cast<size_t>(row0) * bf16_pack_.dim32], kAmxTileRows, bf16_pack_.dim32,
                columns.panels.data(), panel_count(count_), out, ldo);
    }
    for (int r = 0; r < rows_per_call_ && row0 + r < count_; ++r) {
      out[static_cast<size_t>(r) * ldo + row0 + r] = std::numeric_limits<float>::infinity();
    }
    return;
  }
  if (bytes_ && int8_) {  // float L2 as int8 codes (before the bf16 branch: approximate too)
    PairTerms codes = terms;
    codes.add = code_norms_.data();  // |q|^2 of the codes, for L2 between them
    tiles_->distances_bytes(tile_block(bytes_pack_), row0, count_, codes, out, ldo);
    return;
  }
  if (approximate_) {
    PairTerms rounded = terms;
    if (centred_) rounded.add = bf16_pack_.squared_norms.data();  // |a - m|^2 of the rounded rows
    bf16_kernel_(tile_block(bf16_pack_), row0, count_, rounded, out, ldo);
    return;
  }
  if (bytes_) {
    (amx_bytes_ ? amx_bytes_ : tiles_->distances_bytes)(tile_block(bytes_pack_), row0, count_, terms, out, ldo);
    return;
  }
  TileBlock block;
  block.rows = rows_.data();
  block.panels = panels_.data();
  block.dim = dim_;
  tiles_->distances_float(block, row0, count_, terms, out, ldo);
}

void ClusterBlock::sample_dots(const int* positions, int samples, float* out) {
  if (int16_) {
    std::vector<int16_t>& sample_rows = rows16_scratch_;
    const size_t width = static_cast<size_t>(pairs_) * 2;
    sample_rows.assign(static_cast<size_t>(samples) * width, 0);
    for (int s = 0; s < samples; ++s) {
      std::memcpy(&sample_rows[s * width], &rows16_[static_cast<size_t>(positions[s]) * width], width * sizeof(int16_t));
    }
    pack_int16_panels(sample_rows.data(), samples, pairs_, sample_panels16_);
    int16_kernel_(rows16_.data(), padded_rows_, pairs_, sample_panels16_.data(), samples / 16, out, samples,
                  int16_scale_);
    return;
  }
  sample_rows_.assign(static_cast<size_t>(samples) * dim_, 0.0f);
  for (int s = 0; s < samples; ++s) {
    std::memcpy(&sample_rows_[static_cast<size_t>(s) * dim_], &rows_[static_cast<size_t>(positions[s]) * dim_],
                dim_ * sizeof(float));
  }
  pack_panels(sample_rows_.data(), samples, dim_, sample_panels_);
  dot_kernel_(rows_.data(), padded_rows_, dim_, sample_panels_.data(), samples / 16, out, samples);
}

bool ClusterBlock::load_codes(const std::vector<const void*>& rows, int count, int dim, Metric metric,
                              const float* inverse_norms) {
  if (!float_codes_) return false;
  count_ = count;
  dim_ = dim;
  metric_ = metric;
  dot_form_ = false;
  int8_ = false;
  bytes_ = false;
  approximate_ = false;
  centred_ = false;
  value_scale_ = 1.0f;
  rows_per_call_ = kDotBlockRows;
  padded_rows_ = (count + rows_per_call_ - 1) / rows_per_call_ * rows_per_call_;
  float_rows_.resize(count);
  for (int i = 0; i < count; ++i) float_rows_[i] = static_cast<const float*>(rows[i]);
  const float* scales = metric == Metric::Cosine ? inverse_norms : nullptr;
  mean_of_rows(float_rows_.data(), count, dim, scales, centre_);
  pack_int8(float_rows_.data(), count, padded_rows_, dim, scales, centre_.data(), Int8Layout::Rows, int8_rows_, 2);
  const float step = int8_rows_.step;
  pairs_ = int8_rows_.padded_dim / 2;
  rows16_.assign(int8_rows_.values.begin(), int8_rows_.values.end());  // padding rows are zero codes
  pack_int16_panels(rows16_.data(), count, pairs_, panels16_);
  int16_ = true;
  int16_scale_ = step * step;
  // Each row's term: L2 its codes' squared norm (in the data's units); inner product and cosine
  // -<a, m> + |m|^2 / 2 (cosine: + 1/2, over the unit rows).
  code_add_.assign(static_cast<size_t>(count) + kAmxTileRows + 16, 0.0f);
  code_mul_.assign(code_add_.size(), 1.0f);
  double centre_norm = 0.0;
  for (int d = 0; d < dim; ++d) centre_norm += double{centre_[d]} * centre_[d];
  const Int8RowKernels* row_kernels = int8_row_kernels();  // not null: float_codes_ needs AVX2
  for (int i = 0; i < count; ++i) {
    if (metric == Metric::L2) {
      const int8_t* codes = &int8_rows_.values[static_cast<size_t>(i) * int8_rows_.padded_dim];
      int32_t norm = 0;
      for (int d = 0; d < dim; ++d) norm += int32_t{codes[d]} * codes[d];
      code_add_[i] = int16_scale_ * static_cast<float>(norm);
    } else {
      const float scale = scales != nullptr ? scales[i] : 1.0f;
      const double with_centre = row_kernels->scaled_dot(float_rows_[i], scale, centre_.data(), dim);
      code_add_[i] = static_cast<float>((metric == Metric::Cosine ? 0.5 : 0.0) - with_centre + centre_norm / 2);
    }
  }
  code_terms_.add = code_add_.data();
  code_terms_.mul = code_mul_.data();
  code_terms_.scale = metric == Metric::L2 ? 2.0f : 1.0f;
  code_terms_.floor = metric == Metric::L2 ? 0.0f : -std::numeric_limits<float>::infinity();
  return true;
}

void ClusterBlock::code_distances(int rows, float* out, int ldo) const {
  const int a_rows = std::min((rows + kDotBlockRows - 1) / kDotBlockRows * kDotBlockRows, padded_rows_);
  int16_kernel_(rows16_.data(), a_rows, pairs_, panels16_.data(), panel_count(count_), out, ldo, int16_scale_);
  for (int r = 0; r < rows && r < count_; ++r) {
    float* row = out + static_cast<size_t>(r) * ldo;
    for (int c = 0; c < count_; ++c) {
      const float distance = code_add_[r] + code_add_[c] - code_terms_.scale * row[c];
      row[c] = c == r ? std::numeric_limits<float>::infinity() : std::max(distance, code_terms_.floor);
    }
  }
}

}  // namespace annforge::cpu
