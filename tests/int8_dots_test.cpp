// The int8 path of the clustered kNN stage (host/cpu/all_pairs/float_dots.hpp; the dot form where
// the probe takes it): the codes' layout, the AMX-INT8 and VNNI kernels' sums, the
// mean used for centring, and a block loaded in the dot form within the codes' rounding. Split
// from float_dots_test.cpp (the bf16 paths). Kernel tests skip, saying why, where this CPU lacks
// the instructions.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "annforge.hpp"
#include "host/cpu/all_pairs/cluster_block.hpp"
#include "host/cpu/all_pairs/float_dots.hpp"
#include "host/cpu/all_pairs/dots_probe.hpp"
#include "host/cpu/all_pairs/pair_tiles.hpp"
#include "host/cpu/distance/distance.hpp"
#include "host/cpu/partition/partition.hpp"
#include "tests/test_support.hpp"

namespace {

using namespace annforge;
using annforge_test::Rng;
using annforge_test::bits_of;
using annforge_test::from_bits;
using annforge_test::kSentinelBits;

constexpr float kInf = std::numeric_limits<float>::infinity();

// `count` rows of `dim` floats off the origin, a scale per row and a centre, as pack_int8 takes
// them.
struct ScaledRows {
  std::vector<float> x, scales, centre;
  std::vector<const float*> rows;
};
ScaledRows scaled_rows(Rng& rng, int count, int dim) {
  ScaledRows out;
  out.x.resize(static_cast<size_t>(count) * dim);
  out.scales.resize(count);
  out.centre.resize(dim);
  for (float& v : out.x) v = static_cast<float>(rng.normal() + 5.0);
  for (float& v : out.scales) v = static_cast<float>(rng.uniform(0.5, 2.0));
  for (float& v : out.centre) v = static_cast<float>(rng.normal() * 3.0);
  out.rows.resize(count);
  for (int i = 0; i < count; ++i) out.rows[i] = &out.x[static_cast<size_t>(i) * dim];
  return out;
}

// out (padded rows x ldo, sentinels past the panels' 16 * panel_count(count) columns) holds
// exactly the integer dots of the row codes `a` and the columns' codes (panel_code(c, d)).
template <class PanelCode>
void expect_integer_dots(const std::vector<float>& out, int padded, int ldo, int count, int dim, const cpu::Int8Pack& a,
                         PanelCode panel_code) {
  const int columns = 16 * cpu::panel_count(count);
  for (int r = 0; r < padded; ++r) {
    for (int c = 0; c < ldo; ++c) {
      const float got = out[static_cast<size_t>(r) * ldo + c];
      if (c >= columns) {
        ASSERT_EQ(bits_of(got), kSentinelBits) << "wrote past the panels' columns";
        continue;
      }
      if (r >= count || c >= count) continue;
      int64_t want = 0;
      for (int d = 0; d < dim; ++d) want += int64_t{a.values[static_cast<size_t>(r) * a.padded_dim + d]} * panel_code(c, d);
      ASSERT_EQ(got, static_cast<float>(want)) << "dim " << dim << " count " << count << ": " << r << ", " << c;
    }
  }
}

// The int8 layout and AMX-INT8 (the dot form where probe_float_dots takes it): codes within
// half a step of the scaled, centred values, the largest at 127; the kernel's sums exactly the
// integer dots of the row codes and the negated panel codes; and a block loaded that way
// within the rounding of -<a, b> (+1 for cosine) once scaled and offset.
TEST(Int8, AmxDotsAreTheIntegerDotsOfTheCodes) {
  const cpu::Int8DotsKernel kernel = cpu::amx_int8_dots_kernel();
  if (kernel == nullptr) GTEST_SKIP() << "this CPU has no AMX-INT8 (or Linux refused the tile state, or ANNFORGE_SIMD)";
  Rng rng(41);
  for (int dim : {3, 64, 100, 256}) {
    for (int count : {1, 32, 47}) {
      const ScaledRows in = scaled_rows(rng, count, dim);
      const std::vector<float>& x = in.x;
      const std::vector<float>& scales = in.scales;
      const std::vector<float>& centre = in.centre;
      const std::vector<const float*>& rows = in.rows;
      const int padded = (count + cpu::kAmxTileRows - 1) / cpu::kAmxTileRows * cpu::kAmxTileRows;
      cpu::Int8Pack a, b;
      cpu::pack_int8(rows.data(), count, padded, dim, scales.data(), nullptr, cpu::Int8Layout::Rows, a);
      cpu::pack_int8(rows.data(), count, padded, dim, scales.data(), centre.data(), cpu::Int8Layout::NegatedPanels, b);
      ASSERT_EQ(a.padded_dim % 64, 0);
      int largest = 0;
      for (int r = 0; r < count; ++r) {
        for (int d = 0; d < a.padded_dim; ++d) {
          const int q = a.values[static_cast<size_t>(r) * a.padded_dim + d];
          largest = std::max(largest, std::abs(q));
          if (d >= dim) {
            ASSERT_EQ(q, 0);
            continue;
          }
          ASSERT_NEAR(q * a.step, x[static_cast<size_t>(r) * dim + d] * scales[r], 0.5 * a.step * 1.0001);
        }
      }
      ASSERT_EQ(largest, 127);
      // The panel code of row r, dimension d.
      auto panel_code = [&](int r, int d) {
        return int{b.values[static_cast<size_t>(r / 16) * b.padded_dim * 16 + (d / 4) * 64 + (r % 16) * 4 + d % 4]};
      };
      for (int r = 0; r < count; ++r) {
        for (int d = 0; d < dim; ++d) {
          ASSERT_NEAR(-panel_code(r, d) * b.step, x[static_cast<size_t>(r) * dim + d] * scales[r] - centre[d],
                      0.5 * b.step * 1.0001);
        }
      }
      const int panels = cpu::panel_count(count), ldo = 16 * panels + 5;
      std::vector<float> out(static_cast<size_t>(padded) * ldo, from_bits(kSentinelBits));
      kernel(a.values.data(), padded, a.padded_dim, b.values.data(), panels, out.data(), ldo);
      expect_integer_dots(out, padded, ldo, count, dim, a, panel_code);
    }
  }
}

// The same codes for vpdpbusd (the int8 dot form without AMX): the unsigned panels are the
// negated panels with the top bit flipped (-q + 128), padded to 4 dimensions, and the Bytes
// kernel over them, with each row's correction -128 * sum(q), gives exactly the integer dots.
TEST(Int8, VnniDotsOfUnsignedPanelsAreTheIntegerDotsOfTheCodes) {
  const cpu::TileKernels* tiles = cpu::avx512_tile_kernels();
  if (tiles == nullptr) GTEST_SKIP() << "this CPU has no AVX-512 VNNI (or ANNFORGE_SIMD)";
  Rng rng(47);
  for (int dim : {3, 64, 100, 256}) {
    for (int count : {1, 6, 47}) {
      const ScaledRows in = scaled_rows(rng, count, dim);
      const int padded = (count + cpu::kDotBlockRows - 1) / cpu::kDotBlockRows * cpu::kDotBlockRows;
      cpu::Int8Pack a, b, negated;
      cpu::pack_int8(in.rows.data(), count, padded, dim, in.scales.data(), nullptr, cpu::Int8Layout::Rows, a, 4);
      cpu::pack_int8(in.rows.data(), count, padded, dim, in.scales.data(), in.centre.data(),
                     cpu::Int8Layout::UnsignedNegatedPanels, b, 4);
      cpu::pack_int8(in.rows.data(), count, padded, dim, in.scales.data(), in.centre.data(),
                     cpu::Int8Layout::NegatedPanels, negated, 4);
      ASSERT_EQ(a.padded_dim, (dim + 3) / 4 * 4);
      ASSERT_EQ(b.values.size(), negated.values.size());
      for (size_t i = 0; i < b.values.size(); ++i) {
        ASSERT_EQ(static_cast<uint8_t>(b.values[i]), static_cast<uint8_t>(negated.values[i]) ^ 0x80u) << i;
      }
      std::vector<int32_t> row_corrections(padded), column_corrections(16 * cpu::panel_count(count), 0);
      for (int r = 0; r < padded; ++r) {
        int32_t sum = 0;
        for (int d = 0; d < a.padded_dim; ++d) sum += a.values[static_cast<size_t>(r) * a.padded_dim + d];
        row_corrections[r] = -128 * sum;
      }
      cpu::TileBlock row_block, column_block;
      row_block.rows = a.values.data();
      row_block.dim = a.padded_dim;
      row_block.row_corrections = row_corrections.data();
      column_block.panels = b.values.data();
      column_block.dim = b.padded_dim;
      column_block.column_corrections = column_corrections.data();
      const int panels = cpu::panel_count(count), ldo = 16 * panels + 5;
      std::vector<float> out(static_cast<size_t>(padded) * ldo, from_bits(kSentinelBits));
      tiles->dots_bytes(row_block, padded, column_block, panels, out.data(), ldo);
      auto panel_code = [&](int r, int d) {
        return int{negated.values[static_cast<size_t>(r / 16) * negated.padded_dim * 16 + (d / 4) * 64 +
                                  (r % 16) * 4 + d % 4]};
      };
      expect_integer_dots(out, padded, ldo, count, dim, a, panel_code);
    }
  }
}

// mean_of_rows (the AVX-512 kernel where the CPU has it): each row's products in float, summed
// in double row by row, exactly as the portable loop does; every dimension count, tails included.
TEST(Int8, MeanOfRowsIsTheDoubleSumOfTheScaledRows) {
  Rng rng(47);
  for (int dim : {1, 15, 16, 17, 31, 32, 33, 100, 256}) {
    const int count = 37;
    std::vector<float> x(static_cast<size_t>(count) * dim), scales(count);
    for (float& v : x) v = static_cast<float>(rng.normal() * 3.0 + 1.0);
    for (float& v : scales) v = static_cast<float>(rng.uniform(0.5, 2.0));
    std::vector<const float*> rows(count);
    for (int i = 0; i < count; ++i) rows[i] = &x[static_cast<size_t>(i) * dim];
    for (const float* with : {static_cast<const float*>(nullptr), static_cast<const float*>(scales.data())}) {
      std::vector<float> mean;
      cpu::mean_of_rows(rows.data(), count, dim, with, mean);
      ASSERT_EQ(mean.size(), static_cast<size_t>(dim));
      for (int d = 0; d < dim; ++d) {
        double sum = 0.0;
        for (int r = 0; r < count; ++r) sum += rows[r][d] * (with != nullptr ? with[r] : 1.0f);
        ASSERT_EQ(bits_of(mean[d]), bits_of(static_cast<float>(sum / count))) << "dim " << dim << ", dimension " << d;
      }
    }
  }
}

// The blocks whose int8 form this CPU can run: AMX-INT8 (the AmxBf16 block), and vpdpbusd (the
// Bytes layout's kernel over unsigned panels) on the blocks of the paths without AMX: fp32 FMA
// tiles and, where the CPU has AVX512_BF16, vdpbf16ps.
std::vector<cpu::FloatDots> int8_block_kinds() {
  std::vector<cpu::FloatDots> kinds;
  if (cpu::amx_int8_dots_kernel() != nullptr) kinds.push_back(cpu::FloatDots::AmxBf16);
  if (cpu::avx512_tile_kernels() != nullptr) {
    kinds.push_back(cpu::FloatDots::Exact);
    if (cpu::float_dots_available(cpu::FloatDots::Bf16)) kinds.push_back(cpu::FloatDots::Bf16);
  }
  return kinds;
}

// `count` rows of `dim` normal values around 20 (off the origin: the centring matters), as
// pointers, with their inverse norms.
struct RowsOffTheOrigin {
  std::vector<float> x, inverse_norms;
  std::vector<const void*> rows;
  RowsOffTheOrigin(int count, int dim, uint64_t seed)
      : x(static_cast<size_t>(count) * dim), inverse_norms(count), rows(count) {
    Rng rng(seed);
    for (float& v : x) v = static_cast<float>(rng.normal() + 20.0);
    for (int i = 0; i < count; ++i) {
      const float* row = &x[static_cast<size_t>(i) * dim];
      rows[i] = row;
      double sum = 0.0;
      for (int d = 0; d < dim; ++d) sum += double{row[d]} * row[d];
      inverse_norms[i] = static_cast<float>(1.0 / std::sqrt(sum));
    }
  }
};

// The int8 dot form (inner product and cosine) on each of them.
TEST(Int8, DotFormIsWithinTheRounding) {
  const std::vector<cpu::FloatDots> kinds = int8_block_kinds();
  if (kinds.empty()) GTEST_SKIP() << "this CPU has neither AMX-INT8 nor AVX-512 VNNI (or ANNFORGE_SIMD)";
  const int count = 70, dim = 100;
  const RowsOffTheOrigin block_rows(count, dim, 43);
  const std::vector<float>& x = block_rows.x;
  const std::vector<float>& inverse_norms = block_rows.inverse_norms;
  const std::vector<const void*>& rows = block_rows.rows;
  for (int run = 0; run < 2 * static_cast<int>(kinds.size()); ++run) {
    const cpu::FloatDots kind = kinds[run / 2];
    const Metric metric = run % 2 == 0 ? Metric::InnerProduct : Metric::Cosine;
    SCOPED_TRACE(cpu::float_dots_name(kind));
    cpu::ClusterBlock block(kind, true);
    ASSERT_TRUE(block.int8_dot_form());
    const float* scales = metric == Metric::Cosine ? inverse_norms.data() : nullptr;
    ASSERT_TRUE(block.load_dot_form(rows, count, dim, metric, scales));
    auto scaled = [&](int i, int d) { return double{x[static_cast<size_t>(i) * dim + d]} * (scales ? scales[i] : 1.0f); };
    // The two steps as pack_int8 takes them: the rows' largest magnitude, the centred columns'.
    std::vector<double> mean(dim, 0.0);
    double largest_row = 0.0, largest_column = 0.0;
    for (int i = 0; i < count; ++i) {
      for (int d = 0; d < dim; ++d) mean[d] += scaled(i, d) / count;
    }
    for (int i = 0; i < count; ++i) {
      for (int d = 0; d < dim; ++d) {
        largest_row = std::max(largest_row, std::fabs(scaled(i, d)));
        largest_column = std::max(largest_column, std::fabs(scaled(i, d) - mean[d]));
      }
    }
    const double row_error = std::sqrt(double{dim}) * largest_row / 127 / 2;        // |e_a|
    const double column_error = std::sqrt(double{dim}) * largest_column / 127 / 2;  // |e_b|
    const int ldo = cpu::panel_count(count) * 16;
    std::vector<float> out(static_cast<size_t>(block.padded_rows()) * ldo);
    for (int r0 = 0; r0 < count; r0 += block.rows_per_call()) {
      block.row_distances(r0, cpu::PairTerms{}, &out[static_cast<size_t>(r0) * ldo], ldo);
    }
    for (int a = 0; a < count; ++a) {
      for (int b = 0; b < count; ++b) {
        const float got = out[static_cast<size_t>(a) * ldo + b];
        if (a == b) {
          ASSERT_EQ(got, kInf);
          continue;
        }
        double want = metric == Metric::Cosine ? 1.0 : 0.0, norm_a = 0.0, norm_b = 0.0;
        for (int d = 0; d < dim; ++d) {
          want -= scaled(a, d) * scaled(b, d);
          norm_a += scaled(a, d) * scaled(a, d);
          norm_b += (scaled(b, d) - mean[d]) * (scaled(b, d) - mean[d]);
        }
        // -<a, b - m> moves by at most |e_a| |b - m| + |a| |e_b| + |e_a| |e_b|.
        const double tolerance = row_error * std::sqrt(norm_b) + std::sqrt(norm_a) * column_error +
                                 row_error * column_error + 1e-5 * std::fabs(want);
        ASSERT_NEAR(got * block.value_scale() + block.row_offset(a), want, tolerance)
            << to_string(metric) << ": " << a << ", " << b;
      }
    }
  }
}

// L2 at int8 precision without AMX (ClusterBlock::load of float rows on a block made with
// int8_dots): the rows centred on their mean and rounded to one step, their distances exact
// between the codes; once scaled, within the rounding of the true squared distance (off the
// origin, where the centring matters).
TEST(Int8, VnniL2IsWithinTheRounding) {
  if (cpu::avx512_tile_kernels() == nullptr) GTEST_SKIP() << "this CPU has no AVX-512 VNNI (or ANNFORGE_SIMD)";
  Rng rng(53);
  for (cpu::FloatDots kind : int8_block_kinds()) {
    if (kind == cpu::FloatDots::AmxBf16) continue;  // AMX's L2 is the bf16 dot form
    SCOPED_TRACE(cpu::float_dots_name(kind));
    cpu::ClusterBlock block(kind, true);
    for (int dim : {5, 64, 100}) {
      const int count = 70;
      std::vector<float> x(static_cast<size_t>(count) * dim);
      for (float& v : x) v = static_cast<float>(rng.normal() + 50.0);
      std::vector<const void*> rows(count);
      for (int i = 0; i < count; ++i) rows[i] = &x[static_cast<size_t>(i) * dim];
      std::vector<float> add(count + cpu::kAmxTileRows + 16, 0.0f), mul(add.size(), 1.0f);
      block.load(rows, count, ElementType::Float32, dim, add.data(), true);
      ASSERT_TRUE(block.approximate());
      const cpu::PairTerms terms = cpu::metric_terms(Metric::L2, count, nullptr, add.data(), mul.data());
      // One step for the block: the centred rows' largest magnitude over 127.
      std::vector<double> mean(dim, 0.0);
      for (int i = 0; i < count; ++i) {
        for (int d = 0; d < dim; ++d) mean[d] += double{x[static_cast<size_t>(i) * dim + d]} / count;
      }
      double largest = 0.0;
      for (int i = 0; i < count; ++i) {
        for (int d = 0; d < dim; ++d) largest = std::max(largest, std::fabs(x[static_cast<size_t>(i) * dim + d] - mean[d]));
      }
      const double step = largest / 127;
      const int ldo = cpu::panel_count(count) * 16;
      std::vector<float> out(static_cast<size_t>(block.padded_rows()) * ldo);
      for (int r0 = 0; r0 < count; r0 += block.rows_per_call()) {
        block.row_distances(r0, terms, &out[static_cast<size_t>(r0) * ldo], ldo);
      }
      EXPECT_NEAR(block.value_scale(), step * step, 1e-3 * step * step) << "dim " << dim;
      for (int a = 0; a < count; ++a) {
        for (int b = 0; b < count; ++b) {
          const float got = out[static_cast<size_t>(a) * ldo + b];
          if (a == b) {
            ASSERT_EQ(got, kInf);
            continue;
          }
          double want = 0.0;
          for (int d = 0; d < dim; ++d) {
            const double diff = double{x[static_cast<size_t>(a) * dim + d]} - x[static_cast<size_t>(b) * dim + d];
            want += diff * diff;
          }
          // Each code is within half a step: |a - b| moves by at most sqrt(dim) * step.
          const double e = std::sqrt(static_cast<double>(dim)) * step;
          ASSERT_NEAR(got * block.value_scale(), want, 2 * std::sqrt(want) * e + e * e + 1e-4 * want)
              << "dim " << dim << ": " << a << ", " << b;
        }
      }
    }
  }
}

// The probes that choose the tiles of a float data set (dots_probe.hpp) run on 4,000 x 96
// clustered rows, with `shift` added to every row's first dimension (the "rogue dimensions" of
// some transformer embeddings), partitioned into clusters of 500.
Dataset probe_rows(float shift) {
  const int64_t rows = 4000, dim = 96;
  Dataset data = annforge_test::clustered(rows, dim, ElementType::Float32, 17, 1, 40);
  float* x = static_cast<float*>(data.mutable_data());
  for (int64_t i = 0; i < rows; ++i) x[i * dim] += shift;
  return data;
}
cpu::Partition probe_partition(const Dataset& data, Metric metric) {
  cpu::PartitionParams partitioning;
  partitioning.cluster_size = 500;
  return cpu::partition_into_clusters(data.view(), metric, partitioning);
}
constexpr int kProbeK = 24;
cpu::DotsProbe probe_of_clustered(Metric metric, float shift) {
  const Dataset data = probe_rows(shift);
  return cpu::probe_float_dots(cpu::Distance(metric, data.view()), probe_partition(data, metric), kProbeK);
}
// Cosine rows whose first dimension is 100,100 larger, probed over the clusters of the rows
// shifted by 100 (these differ in direction by ~1e-5 only): a common part so large that int8's
// one step (the rows' largest value) leaves the other dimensions ~1 level.
cpu::DotsProbe probe_of_far_rows() {
  Dataset far = probe_rows(100.0f);
  const cpu::Partition partition = probe_partition(far, Metric::Cosine);
  float* x = static_cast<float*>(far.mutable_data());
  for (int64_t i = 0; i < far.rows(); ++i) x[i * far.dim()] += 100000.0f;
  return cpu::probe_float_dots(cpu::Distance(Metric::Cosine, far.view()), partition, kProbeK);
}

// On AMX: bf16 on clustered data, both metrics (each row's nearest stay in its list, int8's
// too); on cosine data whose rows share one large dimension int8, where bf16 loses the angles
// (the dot is ~1 and bf16 keeps 8 bits of it) and int8 does not (its columns are centred on the
// block's mean); fp32 where neither keeps the nearest.
TEST(Int8, ProbeChoosesTheTilesThatKeepTheNearestRows) {
  if (cpu::amx_int8_dots_kernel() == nullptr || cpu::default_float_dots() != cpu::FloatDots::AmxBf16) {
    GTEST_SKIP() << "this CPU has no AMX-INT8 (or Linux refused the tile state, or ANNFORGE_SIMD)";
  }
  for (Metric metric : {Metric::InnerProduct, Metric::Cosine}) {
    const cpu::DotsProbe probe = probe_of_clustered(metric, 0.0f);
    EXPECT_GE(probe.rows, 128) << to_string(metric);
    EXPECT_FALSE(probe.int8) << to_string(metric) << ": int8 " << probe.int8_recall << ", bf16 " << probe.bf16_recall;
    EXPECT_EQ(probe.dots, cpu::FloatDots::AmxBf16) << to_string(metric);
    EXPECT_GE(probe.bf16_recall, 0.98) << to_string(metric);
    EXPECT_GE(probe.int8_recall, 0.98) << to_string(metric);
  }
  const cpu::DotsProbe probe = probe_of_clustered(Metric::Cosine, 100.0f);
  EXPECT_GE(probe.rows, 128);
  EXPECT_LT(probe.bf16_recall, 0.9) << "bf16 should lose the rows' angles";
  EXPECT_GE(probe.int8_recall, 0.98);
  EXPECT_TRUE(probe.int8);
  EXPECT_EQ(probe.dots, cpu::FloatDots::AmxBf16);
  // A larger common part still: int8's step (the rows' largest value) leaves the others ~1 level.
  const cpu::DotsProbe far_probe = probe_of_far_rows();
  EXPECT_EQ(far_probe.dots, cpu::FloatDots::Exact) << "int8 " << far_probe.int8_recall << ", bf16 " << far_probe.bf16_recall;
}

// Where vdpbf16ps is the default (AVX512_BF16 without AMX), inner product and cosine take
// int8 tiles by vpdpbusd (twice vdpbf16ps's multiply-adds) where the probe finds they keep the
// rows' nearest, as on clustered rows and on cosine rows that share one large dimension (where
// bf16 loses the angles and int8, its columns centred, does not); fp32 where neither keeps them.
TEST(Bf16, ProbeWithoutAmxTakesInt8WhereItKeepsTheNearestElseFp32) {
  if (cpu::default_float_dots() != cpu::FloatDots::Bf16) {
    GTEST_SKIP() << "vdpbf16ps is not this CPU's default (it has AMX, or no AVX512_BF16, or ANNFORGE_CPU_DOTS)";
  }
  for (Metric metric : {Metric::InnerProduct, Metric::Cosine}) {
    const cpu::DotsProbe probe = probe_of_clustered(metric, 0.0f);
    EXPECT_GE(probe.rows, 128) << to_string(metric);
    EXPECT_EQ(probe.dots, cpu::FloatDots::Bf16) << to_string(metric) << ": bf16 " << probe.bf16_recall;
    EXPECT_TRUE(probe.int8) << to_string(metric) << ": int8 " << probe.int8_recall;
    EXPECT_GE(probe.bf16_recall, 0.98) << to_string(metric);
    EXPECT_GE(probe.int8_recall, 0.98) << to_string(metric);
  }
  const cpu::DotsProbe probe = probe_of_clustered(Metric::Cosine, 100.0f);
  EXPECT_GE(probe.rows, 128);
  EXPECT_LT(probe.bf16_recall, 0.9) << "bf16 should lose the rows' angles";
  EXPECT_GE(probe.int8_recall, 0.98);
  EXPECT_TRUE(probe.int8);
  EXPECT_EQ(probe.dots, cpu::FloatDots::Bf16);
  // Far enough from the origin that int8's one step per block loses them too: fp32.
  const cpu::DotsProbe far_probe = probe_of_far_rows();
  EXPECT_EQ(far_probe.dots, cpu::FloatDots::Exact) << "int8 " << far_probe.int8_recall << ", bf16 " << far_probe.bf16_recall;
  EXPECT_FALSE(far_probe.int8);
}

// Without the AVX-512 tiles (AVX2; ANNFORGE_SIMD=avx2 on a CPU with them, as scripts/test.sh
// runs the suite a second time) every metric takes int8 codes by vpmaddwd where the probe finds
// they keep the rows' nearest: clustered rows, and cosine rows that share one large dimension
// (the codes are centred on the block's mean); fp32 where the common part is so large that one
// step per block leaves the other dimensions ~1 level.
TEST(Int8, ProbeOnAvx2TakesCodesWhereTheyKeepTheNearestElseFp32) {
  if (cpu::avx512_tile_kernels() != nullptr || cpu::int16_dot_block_kernel() == nullptr) {
    GTEST_SKIP() << "not the AVX2 path (this CPU has the AVX-512 tiles: ANNFORGE_SIMD=avx2 runs it; or no AVX2)";
  }
  for (Metric metric : {Metric::L2, Metric::InnerProduct, Metric::Cosine}) {
    const cpu::DotsProbe probe = probe_of_clustered(metric, 0.0f);
    EXPECT_GE(probe.rows, 128) << to_string(metric);
    EXPECT_TRUE(probe.int8) << to_string(metric) << ": int8 " << probe.int8_recall;
    EXPECT_GE(probe.int8_recall, 0.98) << to_string(metric);
  }
  const cpu::DotsProbe shifted = probe_of_clustered(Metric::Cosine, 100.0f);
  EXPECT_TRUE(shifted.int8) << "int8 " << shifted.int8_recall;
  const cpu::DotsProbe far_probe = probe_of_far_rows();
  EXPECT_FALSE(far_probe.int8) << "int8 " << far_probe.int8_recall;
  EXPECT_EQ(far_probe.dots, cpu::FloatDots::Exact);
}

// The codes' distances on the AVX2 path (ClusterBlock::load_codes, then code_distances and the
// int16 kernel's dots through sample_dots), every metric, rows off the origin: within the
// rounding of the exact ones. Each value of a code is within half a step s of its centred row's,
// so a dot of centred rows moves by at most |e_a| |b - m| + |a - m| |e_b| + |e_a| |e_b| with
// |e| <= s sqrt(dim) / 2 (twice that for L2's cross term, plus the squared norms' own).
TEST(Int8, Avx2CodesAreWithinTheRounding) {
  cpu::ClusterBlock block(cpu::FloatDots::Exact, true);
  if (!block.float_codes()) {
    GTEST_SKIP() << "not the AVX2 path (this CPU has the AVX-512 tiles: ANNFORGE_SIMD=avx2 runs it; or no AVX2)";
  }
  const int count = 70, dim = 101;  // odd: the last pair padded
  const RowsOffTheOrigin block_rows(count, dim, 53);
  const std::vector<float>& x = block_rows.x;
  const std::vector<float>& inverse_norms = block_rows.inverse_norms;
  const std::vector<const void*>& rows = block_rows.rows;
  for (Metric metric : {Metric::L2, Metric::InnerProduct, Metric::Cosine}) {
    ASSERT_TRUE(block.load_codes(rows, count, dim, metric, inverse_norms.data()));
    const bool cosine = metric == Metric::Cosine;
    auto scaled = [&](int i, int d) { return double{x[static_cast<size_t>(i) * dim + d]} * (cosine ? inverse_norms[i] : 1.0f); };
    std::vector<double> mean(dim, 0.0);
    double largest = 0.0;
    for (int i = 0; i < count; ++i) {
      for (int d = 0; d < dim; ++d) mean[d] += scaled(i, d) / count;
    }
    for (int i = 0; i < count; ++i) {
      for (int d = 0; d < dim; ++d) largest = std::max(largest, std::fabs(scaled(i, d) - mean[d]));
    }
    const double error = std::sqrt(double{dim}) * largest / 127 / 2;  // |e| of a row
    // The int16 kernel's dots (sample_dots over 16 rows) against the one-by-one distances.
    std::vector<int> positions(16);
    for (int s = 0; s < 16; ++s) positions[s] = s * 4;
    std::vector<float> sampled(static_cast<size_t>(block.padded_rows()) * 16);
    block.sample_dots(positions.data(), 16, sampled.data());
    const cpu::PairTerms& terms = block.code_terms();
    const int ldo = cpu::panel_count(count) * 16;
    std::vector<float> distances(static_cast<size_t>(block.padded_rows()) * ldo);
    block.code_distances(count, distances.data(), ldo);
    for (int a = 0; a < count; ++a) {
      const float* by_row = &distances[static_cast<size_t>(a) * ldo];
      for (int b = 0; b < count; ++b) {
        if (a == b) {
          ASSERT_EQ(by_row[b], kInf);
          continue;
        }
        double want = cosine ? 1.0 : 0.0, centred_a = 0.0, centred_b = 0.0;
        for (int d = 0; d < dim; ++d) {
          const double da = scaled(a, d), db = scaled(b, d);
          want += metric == Metric::L2 ? (da - db) * (da - db) : -da * db;
          centred_a += (da - mean[d]) * (da - mean[d]);
          centred_b += (db - mean[d]) * (db - mean[d]);
        }
        double tolerance = error * std::sqrt(centred_b) + std::sqrt(centred_a) * error + error * error;
        if (metric == Metric::L2) tolerance = 2 * tolerance + error * (2 * std::sqrt(centred_a) + error) +
                                             error * (2 * std::sqrt(centred_b) + error);
        ASSERT_NEAR(by_row[b], want, tolerance + 1e-5 * std::fabs(want)) << to_string(metric) << ": " << a << ", " << b;
      }
      for (int s = 0; s < 16; ++s) {
        const int b = positions[s];
        if (b == a) continue;
        const float dot = sampled[static_cast<size_t>(a) * 16 + s];
        const float from_kernel = std::max(terms.add[a] + terms.add[b] - terms.scale * dot, terms.floor);
        ASSERT_NEAR(from_kernel, by_row[b], 1e-5 * (std::fabs(by_row[b]) + 1)) << to_string(metric) << ": " << a << ", " << b;
      }
    }
  }
}

// The AVX2 row work of the int8 layout against the portable definitions: the same values.
TEST(Int8, Avx2RowWorkIsThePortableLoops) {
  const cpu::Int8RowKernels* kernels = cpu::avx2_int8_row_kernels();
  if (kernels == nullptr) GTEST_SKIP() << "no AVX2 + FMA here (or ANNFORGE_SIMD=scalar)";
  Rng rng(59);
  for (int dim : {1, 7, 8, 9, 16, 17, 33, 100}) {
    const int count = 9;
    std::vector<float> x(static_cast<size_t>(count) * dim), centre(dim), scales(count);
    for (float& v : x) v = static_cast<float>(rng.normal() * 40.0);
    for (float& v : centre) v = static_cast<float>(rng.normal());
    for (float& v : scales) v = static_cast<float>(rng.uniform(0.5, 2.0));
    std::vector<const float*> rows(count);
    for (int i = 0; i < count; ++i) rows[i] = &x[static_cast<size_t>(i) * dim];
    for (int i = 0; i < count; ++i) {
      for (const float* c : {static_cast<const float*>(nullptr), static_cast<const float*>(centre.data())}) {
        float largest = 0.0f;
        std::vector<int8_t> want(dim), got(dim);
        for (int d = 0; d < dim; ++d) {
          const float v = rows[i][d] * scales[i] - (c != nullptr ? c[d] : 0.0f);
          largest = std::max(largest, std::fabs(v));
          want[d] = static_cast<int8_t>(std::min(127.0f, std::max(-127.0f, std::nearbyint(v * 0.37f))));
        }
        ASSERT_EQ(kernels->largest_scaled(rows[i], c, scales[i], dim), largest) << "dim " << dim;
        kernels->quantize_row_int8(rows[i], c, scales[i], 0.37f, dim, got.data());
        ASSERT_EQ(got, want) << "dim " << dim << " row " << i;
      }
      double dot = 0.0;
      for (int d = 0; d < dim; ++d) dot += double{rows[i][d] * scales[i]} * centre[d];
      ASSERT_NEAR(kernels->scaled_dot(rows[i], scales[i], centre.data(), dim), dot, 1e-9 * (std::fabs(dot) + 1));
    }
    std::vector<double> sums(dim);
    kernels->sum_rows(rows.data(), scales.data(), count, dim, sums.data());
    for (int d = 0; d < dim; ++d) {
      double want = 0.0;
      for (int r = 0; r < count; ++r) want += rows[r][d] * scales[r];
      ASSERT_EQ(sums[d], want) << "dim " << dim << ", dimension " << d;
    }
  }
}

// ANNFORGE_CPU_DOT_BITS is refused by name where it is not 8, 16 or 32, on every CPU (it takes
// effect only where the probe runs: float inner product and cosine on the bf16 paths).
TEST(Int8, BadDotBitsAreRefused) {
  const Dataset data = annforge_test::clustered(4000, 32, ElementType::Float32, 5);
  for (const char* value : {"12", "64", "bf16"}) {
    ::setenv("ANNFORGE_CPU_DOT_BITS", value, 1);
    const std::string setting = std::string("ANNFORGE_CPU_DOT_BITS=") + value;
    try {
      (void)build(data, annforge_test::params_for(Metric::Cosine, BuildAlgorithm::Auto, 16, Device::Cpu));
      ADD_FAILURE() << setting << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
      EXPECT_NE(std::string(e.what()).find(setting), std::string::npos) << e.what();
    }
    ::unsetenv("ANNFORGE_CPU_DOT_BITS");
  }
}

}  // namespace
