// One cluster's rows, gathered for the all-pairs step of the clustered kNN stage and loaded
// once into the layout of the fastest kernels this CPU has. With AVX-512 (pair_tiles.hpp):
// whole rows of distances, tile by tile (8-bit data through VNNI), each row selected on its
// own. Otherwise the upper half of the symmetric matrix as blocks of dots (dot_block.hpp),
// each pair filtered into both members' candidate buffers (pair_filter.hpp).
#pragma once

#include <cstdint>
#include <vector>

#include "annforge.hpp"
#include "host/cpu/all_pairs/candidate_buffers.hpp"
#include "host/cpu/all_pairs/float_dots.hpp"
#include "host/cpu/distance/dot_block.hpp"
#include "host/cpu/all_pairs/pair_filter.hpp"
#include "host/cpu/all_pairs/pair_tiles.hpp"

namespace annforge::cpu {

class ClusterBlock {
 public:
  // `int8_dots`: float rows at int8 precision (chosen per data set by probe_float_dots,
  // dots_probe.hpp): inner product and cosine in dot form on AMX-INT8 where `float_dots` is
  // AmxBf16; otherwise every metric by VNNI (vpdpbusd) where the CPU has the AVX-512 tiles.
  explicit ClusterBlock(FloatDots float_dots = default_float_dots(), bool int8_dots = false);

  // Loads `count` rows of `type` and writes their squared norms (exact for 8-bit data up to
  // 258 dimensions). `translation_invariant` (L2): the approximate paths may centre the rows.
  // Float L2 on a block made with int8_dots and no AMX: the rows centred and rounded to int8
  // codes of one step, their L2 by the 8-bit path (exact between the codes), approximate() and
  // in code units (value_scale()).
  void load(const std::vector<const void*>& rows, int count, ElementType type, int dim, float* squared_norms,
            bool translation_invariant = false);

  // Where float rows go through AMX (or int8 by VNNI): each row's distance to every column as one dot product
  // stored as the tiles leave it, with no epilogue (which took as long as the tiles). Inner
  // product: -dot(a, b). Cosine, rows times `scales` (the inverse norms): -dot, the distance
  // less 1. These two at int8 precision where the block was made with int8_dots and the CPU has
  // AMX-INT8 (twice bf16's multiply-adds per tile), the columns centred on the block's mean m
  // (-<a, b> = -<a, b - m> - <a, m>: the rounding then follows the block's spread, not its
  // distance from the origin): the stored value times value_scale() is -<a, b - m>, and the
  // row's offset carries -<a, m>. L2, rows centred on their mean and rounded, with two more dimensions that carry
  // each column's squared norm (rows [a, 1, 1] against columns [-2b, |b|^2 as two bf16 parts]):
  // |b|^2 - 2 dot(a, b), the distance less |a|^2. row_distances() writes these, the distance
  // less row_offset(row), +infinity at a row's own column. Without AMX, only inner product and
  // cosine at int8 precision, by vpdpbusd (the same values). False (nothing loaded) where the
  // block has neither kernel, for L2 where the two dimensions would add a step of 32, and for
  // L2 without AMX.
  bool load_dot_form(const std::vector<const void*>& rows, int count, int dim, Metric metric, const float* scales);
  // What row_distances() wrote for `row`, times value_scale(), is its distance less this (0
  // unless load_dot_form).
  float row_offset(int row) const {
    return !dot_form_               ? 0.0f
           : int8_                  ? offsets_[row]
           : metric_ == Metric::L2  ? bf16_pack_.squared_norms[row]
           : metric_ == Metric::Cosine ? 1.0f
                                       : 0.0f;
  }

  // Float rows as int8 codes on AVX2, for a block made with int8_dots where the CPU has no
  // AVX-512 tiles (probe_float_dots chooses, dots_probe.hpp): the rows (cosine: scaled to unit
  // norm by `inverse_norms`) centred on the block's mean m and rounded to codes of one step s,
  // their dots by vpmaddwd (dot_block.hpp's int16 kernel; 16 multiply-adds per instruction
  // where fp32 FMA does 8), each pair's distance by the block's own terms (code_terms()): L2
  // s^2 (|ca|^2 + |cb|^2 - 2 <ca, cb>), exact between the codes; inner product -(s^2 <ca, cb> +
  // <a, m> + <b, m> - |m|^2); cosine 1 less the same over unit rows. filter_pairs and
  // sample_dots then take code_terms(). False (nothing loaded) where the block was not made so.
  bool load_codes(const std::vector<const void*>& rows, int count, int dim, Metric metric,
                  const float* inverse_norms);
  const PairTerms& code_terms() const { return code_terms_; }
  // out[r * ldo + c] = the distance by code_terms() from loaded row r < `rows` to loaded row c
  // (+infinity at c == r), by the same kernel and terms as filter_pairs: for the probe. out
  // holds rows rounded up to kDotBlockRows (at most padded_rows()); ldo at least 16 *
  // panel_count(count).
  void code_distances(int rows, float* out, int ldo) const;
  bool float_codes() const { return float_codes_; }

  // Whether load_dot_form takes int8 for inner product and cosine.
  bool int8_dot_form() const { return int8_dots_ != nullptr || vnni_int8_dots_ != nullptr; }
  // What row_distances() wrote times this is the distance (less row_offset): the int8 forms'
  // steps; 1 elsewhere.
  float value_scale() const { return value_scale_; }

  // Without row distances: every pair (a, b) of the loaded rows with a < b, through the pair
  // filter: distances by `terms`, offered to `buffers` when they beat a member's threshold.
  // `ids` maps positions to the ids offered; terms readable 8 entries past the last row.
  void filter_pairs(const PairTerms& terms, const uint32_t* ids, CandidateBuffers& buffers);

  // Whether row_distances() is available (AVX-512): whole rows of distances, twice the dots of
  // the upper half, but each row selected on its own with no offers into other members'
  // buffers (which were most of the time of the symmetric pass).
  bool has_row_distances() const { return tiles_ != nullptr; }
  // out[r * ldo + c] = distance(row0 + r, c) by `terms` for r < rows_per_call() and c < the
  // loaded count, +infinity at c == row0 + r; row0 a multiple of rows_per_call(), ldo at least
  // 16 * panel_count(count), terms readable 16 entries past the count and for every row up to
  // padded_rows().
  void row_distances(int row0, const PairTerms& terms, float* out, int ldo) const;
  // Rows per row_distances() call: kDotBlockRows, or kAmxTileRows on AMX.
  int rows_per_call() const { return rows_per_call_; }
  // Whether row_distances() is approximate (the loaded rows are float and a BF16 path was
  // chosen): distances within bf16's rounding, taken as they are (re-ranking them exactly cost
  // a third of the all-pairs stage and changed no search recall). Terms are the exact ones; the
  // block substitutes the norms of its centred rows where it centred them, so one pair's L2
  // distance differs slightly between clusters.
  bool approximate() const { return approximate_; }

  // Without row distances: out[r * samples + s] = dot(r, positions[s]) for every row
  // r < padded_rows(); samples a multiple of 16.
  void sample_dots(const int* positions, int samples, float* out);
  int padded_rows() const { return padded_rows_; }

 private:
  const TileKernels* tiles_;  // null: the portable / AVX2 path
  DotBlockKernel dot_kernel_;
  Int16DotBlockKernel int16_kernel_ = nullptr;  // 8-bit rows where tiles_ is null (AVX2)
  PairFilterKernel pair_filter_;
  TileDistancesKernel bf16_kernel_ = nullptr;  // the FloatDots path's kernel where it is not Exact
  TileDistancesKernel amx_bytes_ = nullptr;    // 8-bit rows on AMX-INT8 (else VNNI)
  int bf16_rows_per_call_ = kDotBlockRows;
  bool bytes_ = false;        // 8-bit rows in the Bytes layout (tiles_ only)
  bool approximate_ = false;  // float rows in the Bf16 layout
  bool centred_ = false;      // ... translated by their mean (L2)
  bool dot_form_ = false;      // ... as one dot product per pair, no epilogue (load_dot_form)
  Metric metric_ = Metric::L2;
  Bf16DotsKernel amx_dots_ = nullptr;  // load_dot_form's kernel (AMX only)
  Int8DotsKernel int8_dots_ = nullptr;  // ... at int8 precision (AMX-INT8, inner product and cosine)
  ByteDotsKernel vnni_int8_dots_ = nullptr;  // the same without AMX, by vpdpbusd (load_dot_form's only kernel there)
  std::vector<int32_t> row_corrections_, column_corrections_;  // the VNNI int8 form's (Bytes layout)
  std::vector<const void*> code_rows_;  // VNNI int8 L2: the codes' rows, for pack_bytes
  std::vector<float> code_norms_;       // ... and their squared norms (the terms' add)
  float value_scale_ = 1.0f;
  bool int8_ = false;
  Int8Pack int8_rows_, int8_panels_;
  std::vector<float> offsets_;  // int8: per row, -<a, m> (+1 for cosine)
  Bf16Pack column_pack_;               // load_dot_form's columns for L2: [-2b, |b|^2 in two parts]
  std::vector<float> columns_;
  std::vector<const float*> float_rows_;
  int rows_per_call_ = kDotBlockRows;
  int count_ = 0, dim_ = 0, padded_rows_ = 0;
  std::vector<float> rows_, panels_, sample_rows_, sample_panels_, dots_, centre_;
  bool int16_ = false;  // 8-bit rows or float rows' codes as int16 pairs (rows16_, panels16_: dot_block.hpp)
  int pairs_ = 0;
  float int16_scale_ = 1.0f;  // the kernel's factor: 1, or the codes' step squared
  std::vector<int16_t> rows16_, panels16_, sample_panels16_, rows16_scratch_;
  bool float_codes_ = false;  // load_codes is on (AVX2, int8_dots)
  PairTerms code_terms_;
  std::vector<float> code_add_, code_mul_;
  BytePack bytes_pack_;
  Bf16Pack bf16_pack_;
};

}  // namespace annforge::cpu
