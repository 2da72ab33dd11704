// The AVX-512 tile kernels of the clustered kNN stage (host/cpu/all_pairs/pair_tiles.hpp)
// against plain references written here:
//  - the dispatch: avx512_tile_kernels() is null exactly where the CPU lacks AVX-512 F/BW/VL/DQ
//    + VNNI or ANNFORGE_SIMD says avx2 / scalar;
//  - distances_bytes (the VNNI path, uint8 and int8 through pack_bytes) and distances_float:
//    every row tile's distances equal, bit for bit, the formula of pair_filter.hpp applied to the
//    exact dot (Bytes) or to a fused dimension-order dot (Float32), +infinity on the diagonal, and
//    nothing written outside the tile;
//  - dots_float against scalar_dot_block_kernel() and a fused reference.
// (The selection kernels of threshold_collect.hpp: selection_kernels_test.cpp.)
// Every test that needs the kernels skips, saying why, where this CPU (or ANNFORGE_SIMD) has none.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "annforge.hpp"
#include "host/cpu/distance/distance.hpp"
#include "host/cpu/distance/dot_block.hpp"
#include "host/cpu/all_pairs/pair_filter.hpp"
#include "host/cpu/all_pairs/pair_tiles.hpp"
#include "tests/test_support.hpp"

namespace {

using namespace annforge;
using annforge_test::Rng;
using annforge_test::bits_of;
using annforge_test::from_bits;
using annforge_test::kSentinelBits;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr int kTileRows = cpu::kDotBlockRows;  // 6

const char* const kNoTiles =
    "no AVX-512 tile kernels here (the CPU lacks AVX-512 F/BW/VL/DQ or VNNI, or ANNFORGE_SIMD=avx2/scalar)";

std::string show(float x) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.9g (0x%08x)", x, bits_of(x));
  return text;
}

int round_up(int x, int to) { return (x + to - 1) / to * to; }

// The formula of pair_filter.hpp in plain scalar code, as pair_filter.cpp writes it:
// max(fma((mul[a] * mul[b]) * -scale, dot, add[a] + add[b]), floor).
float formula(const cpu::PairTerms& t, int a, int b, float dot) {
  const float factor = (t.mul[a] * t.mul[b]) * -t.scale;
  return std::max(std::fma(factor, dot, t.add[a] + t.add[b]), t.floor);
}

// Per-row terms for the three metrics, padded with NaN for 16 entries past `count` (the kernels
// may read them but no checked distance may depend on them).
struct Terms {
  std::vector<float> add, mul;
  cpu::PairTerms terms;
};
enum class Kind { L2, InnerProduct, Cosine };
const char* kind_name(Kind k) { return k == Kind::L2 ? "l2" : k == Kind::InnerProduct ? "inner_product" : "cosine"; }

Terms make_terms(Kind kind, const std::vector<double>& squared_norms) {
  const int count = static_cast<int>(squared_norms.size());
  Terms t;
  t.add.assign(count + 16, kNaN);
  t.mul.assign(count + 16, kNaN);
  for (int i = 0; i < count; ++i) {
    switch (kind) {
      case Kind::L2: t.add[i] = static_cast<float>(squared_norms[i]), t.mul[i] = 1.0f; break;
      case Kind::InnerProduct: t.add[i] = 0.0f, t.mul[i] = 1.0f; break;
      case Kind::Cosine:
        t.add[i] = 0.5f;
        t.mul[i] = squared_norms[i] > 0 ? static_cast<float>(1.0 / std::sqrt(squared_norms[i])) : 0.0f;
        break;
    }
  }
  t.terms.add = t.add.data();
  t.terms.mul = t.mul.data();
  t.terms.scale = kind == Kind::L2 ? 2.0f : 1.0f;
  t.terms.floor = kind == Kind::L2 ? 0.0f : -kInf;
  return t;
}

// Runs one row tile of a TileDistancesKernel into a sentinel-filled buffer (6 rows of ldo, plus
// a guard) and checks it: for rows r with row0 + r < count and columns c < count, +infinity
// exactly on the diagonal and expected(row, c) bit for bit elsewhere; the columns from
// 16 * panel_count(count) to ldo and the guard untouched. Returns false after the first mismatch
// (reported through ADD_FAILURE with `what`).
template <class Expected>
bool check_tile(cpu::TileDistancesKernel kernel, const cpu::TileBlock& block, int row0, int count,
                const cpu::PairTerms& terms, int ldo, const std::string& what, Expected expected,
                int tile_rows = kTileRows) {
  const int width = 16 * cpu::panel_count(count);
  const int guard = 64;
  std::vector<float> out(static_cast<size_t>(tile_rows) * ldo + guard, from_bits(kSentinelBits));
  kernel(block, row0, count, terms, out.data(), ldo);
  for (int r = 0; r < tile_rows; ++r) {
    for (int c = 0; c < ldo; ++c) {
      const float got = out[static_cast<size_t>(r) * ldo + c];
      if (c >= width) {
        if (bits_of(got) != kSentinelBits) {
          ADD_FAILURE() << what << " row0 " << row0 << ": wrote column " << c << " of row " << r
                        << ", past the tile's " << width << " columns (ldo " << ldo << "): " << show(got);
          return false;
        }
        continue;
      }
      const int row = row0 + r;
      if (row >= count || c >= count) continue;  // padding: any value
      if (c == row) {
        if (bits_of(got) != bits_of(kInf)) {
          ADD_FAILURE() << what << ": distance(" << row << ", " << row << ") = " << show(got) << ", expected +inf";
          return false;
        }
        continue;
      }
      const float want = expected(row, c);
      if (bits_of(got) != bits_of(want)) {
        ADD_FAILURE() << what << ": distance(" << row << ", " << c << ") = " << show(got) << ", expected "
                      << show(want) << " (row0 " << row0 << ", ldo " << ldo << ")";
        return false;
      }
    }
  }
  for (int g = 0; g < guard; ++g) {
    const float got = out[static_cast<size_t>(tile_rows) * ldo + g];
    if (bits_of(got) != kSentinelBits) {
      ADD_FAILURE() << what << " row0 " << row0 << ": wrote " << g << " floats past the " << tile_rows
                    << " x ldo output: " << show(got);
      return false;
    }
  }
  return true;
}

const int kDims[] = {1, 3, 4, 5, 17, 128, 131, 784};
const int kCounts[] = {1, 2, 6, 7, 16, 17, 63, 64, 65, 200};
const Kind kKinds[] = {Kind::L2, Kind::InnerProduct, Kind::Cosine};
// Extra leading-dimension slack per metric: tight, odd, a whole panel.
int slack_for(Kind kind) { return kind == Kind::L2 ? 0 : kind == Kind::InnerProduct ? 7 : 16; }

// --- dispatch -------------------------------------------------------------------------------------

TEST(PairTiles, DispatchFollowsTheCpuAndAnnforgeSimd) {
  const char* forced = std::getenv("ANNFORGE_SIMD");
  const bool forced_off = forced != nullptr && (std::strcmp(forced, "avx2") == 0 || std::strcmp(forced, "scalar") == 0);
  __builtin_cpu_init();
  const bool cpu_has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                       __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                       __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                       __builtin_cpu_supports("avx512vnni");
  const bool expected = cpu_has && !forced_off;
  const cpu::TileKernels* tiles = cpu::avx512_tile_kernels();
  EXPECT_EQ(tiles != nullptr, expected) << "ANNFORGE_SIMD=" << (forced ? forced : "(unset)")
                                        << ", CPU has AVX-512 F/BW/VL/DQ + VNNI: " << cpu_has;
  EXPECT_EQ(cpu::cpu_has_avx512_vnni(), expected);
  if (tiles == nullptr) GTEST_SKIP() << kNoTiles;
  EXPECT_TRUE(cpu::cpu_has_avx512()) << "VNNI tiles without the AVX-512 base kernels";
  EXPECT_NE(tiles->distances_bytes, nullptr);
  EXPECT_NE(tiles->distances_float, nullptr);
  EXPECT_NE(tiles->dots_float, nullptr);
  EXPECT_EQ(cpu::dot_block_kernel(), tiles->dots_float) << "dot_block_kernel() should be the AVX-512 one here";
}

// --- Bytes layout: distances_bytes ---------------------------------------------------------------

// `count` random 8-bit rows of `dim` values (as ints), full range with the extremes: mostly
// uniform rows, some all-max, all-min, alternating min/max and all-zero rows.
std::vector<int> random_byte_rows(Rng& rng, int count, int dim, ElementType type) {
  const int lo = type == ElementType::UInt8 ? 0 : -128, hi = type == ElementType::UInt8 ? 255 : 127;
  std::vector<int> v(static_cast<size_t>(count) * dim);
  for (int r = 0; r < count; ++r) {
    const uint64_t pattern = rng.below(12);
    for (int d = 0; d < dim; ++d) {
      int x;
      switch (pattern) {
        case 0: x = hi; break;
        case 1: x = lo; break;
        case 2: x = (d + r) % 2 ? hi : lo; break;
        case 3: x = 0; break;
        case 4: x = rng.below(2) ? hi : lo; break;
        default: x = lo + static_cast<int>(rng.below(256)); break;
      }
      v[static_cast<size_t>(r) * dim + d] = x;
    }
  }
  return v;
}

// kernel: tiles.distances_bytes (six rows a call, dimensions padded to 4) or the AMX-INT8 one
// (32 rows, dimensions padded to 64).
void check_bytes_layout(cpu::TileDistancesKernel kernel, int tile_rows, int dim_multiple, ElementType type,
                        uint64_t seed) {
  Rng rng(seed);
  int64_t checked = 0, exact_l2_checked = 0, exact_l2_skipped = 0;
  for (int dim : kDims) {
    for (int count : kCounts) {
      const std::vector<int> values = random_byte_rows(rng, count, dim, type);
      // The rows in their element type, as pack_bytes reads them.
      std::vector<uint8_t> raw(values.size());
      for (size_t i = 0; i < values.size(); ++i) raw[i] = static_cast<uint8_t>(values[i]);  // int8: two's complement
      std::vector<const void*> rows(count);
      for (int r = 0; r < count; ++r) rows[r] = raw.data() + static_cast<size_t>(r) * dim;
      // Exact integer dots and norms.
      std::vector<int64_t> dots(static_cast<size_t>(count) * count);
      std::vector<double> norms(count);
      for (int a = 0; a < count; ++a) {
        for (int b = 0; b < count; ++b) {
          int64_t s = 0;
          for (int d = 0; d < dim; ++d) {
            s += static_cast<int64_t>(values[static_cast<size_t>(a) * dim + d]) * values[static_cast<size_t>(b) * dim + d];
          }
          dots[static_cast<size_t>(a) * count + b] = s;
        }
        norms[a] = static_cast<double>(dots[static_cast<size_t>(a) * count + a]);
      }
      const int padded_rows = round_up(count, tile_rows);
      cpu::BytePack pack;
      cpu::pack_bytes(rows.data(), count, padded_rows, dim, type, pack, dim_multiple);
      ASSERT_EQ(pack.dim4, round_up(dim, dim_multiple)) << "dim " << dim;
      const cpu::TileBlock block = cpu::tile_block(pack);
      for (Kind kind : kKinds) {
        const Terms t = make_terms(kind, norms);
        const int ldo = 16 * cpu::panel_count(count) + slack_for(kind);
        const std::string what = std::string(to_string(type)) + " " + kind_name(kind) + " dim " + std::to_string(dim) +
                                 " count " + std::to_string(count);
        for (int row0 = 0; row0 < count; row0 += tile_rows) {
          const bool ok = check_tile(kernel, block, row0, count, t.terms, ldo, what, [&](int a, int b) {
            ++checked;
            const int64_t dot = dots[static_cast<size_t>(a) * count + b];
            const float d = formula(t.terms, a, b, static_cast<float>(dot));
            if (kind == Kind::L2 && dim <= 258) {
              // Norms and dots stay below 2^24 here, so the formula is exact whenever the sum of
              // the two norms is a float too (it can exceed 2^24 with all-max rows: then
              // add[a] + add[b] rounds, and so does the distance, as the formula says).
              const int64_t exact = dots[static_cast<size_t>(a) * count + a] + dots[static_cast<size_t>(b) * count + b] - 2 * dot;
              const int64_t norm_sum = dots[static_cast<size_t>(a) * count + a] + dots[static_cast<size_t>(b) * count + b];
              if (static_cast<int64_t>(static_cast<float>(norm_sum)) == norm_sum) {
                ++exact_l2_checked;
                EXPECT_EQ(d, static_cast<float>(exact)) << what << " (" << a << ", " << b << "): the reference formula "
                                                        << "itself is not the exact squared distance";
              } else {
                ++exact_l2_skipped;
              }
            }
            return d;
          }, tile_rows);
          if (!ok) return;
        }
      }
    }
  }
  std::printf("[ tiles    ] %s%s: %lld distances checked bit for bit, %lld L2 ones also exact (%lld skipped: norm "
              "sum not a float)\n",
              to_string(type), tile_rows == kTileRows ? "" : " (AMX)", static_cast<long long>(checked), static_cast<long long>(exact_l2_checked),
              static_cast<long long>(exact_l2_skipped));
  EXPECT_GT(checked, 100000);
  EXPECT_GT(exact_l2_checked, 10000);
}

TEST(PairTiles, BytesDistancesUInt8MatchTheFormulaOnExactDots) {
  const cpu::TileKernels* tiles = cpu::avx512_tile_kernels();
  if (tiles == nullptr) GTEST_SKIP() << kNoTiles;
  check_bytes_layout(tiles->distances_bytes, kTileRows, 4, ElementType::UInt8, 8001);
}

TEST(PairTiles, BytesDistancesInt8MatchTheFormulaOnExactDots) {
  const cpu::TileKernels* tiles = cpu::avx512_tile_kernels();
  if (tiles == nullptr) GTEST_SKIP() << kNoTiles;
  check_bytes_layout(tiles->distances_bytes, kTileRows, 4, ElementType::Int8, 8002);
}

// The same layout on AMX-INT8 (tdpbsud), 32 rows a call: the same floats, bit for bit.
TEST(PairTiles, AmxBytesDistancesMatchTheFormulaOnExactDots) {
  const cpu::TileDistancesKernel kernel = cpu::amx_byte_distances_kernel();
  if (kernel == nullptr) GTEST_SKIP() << "this CPU has no AMX-INT8 (or Linux refused the tile state, or ANNFORGE_SIMD)";
  check_bytes_layout(kernel, cpu::kAmxTileRows, 64, ElementType::UInt8, 8003);
  check_bytes_layout(kernel, cpu::kAmxTileRows, 64, ElementType::Int8, 8004);
}

// --- Float layout: distances_float and dots_float -----------------------------------------------

// The dot the AVX-512 (and AVX2) float kernels compute in each lane: fused multiply-adds in
// dimension order from zero. scalar_dot_block_kernel() is not this: it multiplies and adds
// separately (see dot_block.cpp), so on random floats it differs in the last bits; it agrees
// exactly on 8-bit-valued floats, where every partial sum is an exact integer.
float fused_dot(const float* a, const float* b, int dim) {
  float s = 0.0f;
  for (int d = 0; d < dim; ++d) s = std::fma(a[d], b[d], s);
  return s;
}

// The float-layout distances are compared, bit for bit, with the formula applied to fused_dot
// (not to scalar_dot_block_kernel()'s dots, which are not bit-exact on random floats); the fused
// dot itself is checked against a double-precision dot within a tight tolerance.
TEST(PairTiles, FloatDistancesMatchTheFormulaOnFusedDots) {
  const cpu::TileKernels* tiles = cpu::avx512_tile_kernels();
  if (tiles == nullptr) GTEST_SKIP() << kNoTiles;
  Rng rng(8003);
  int64_t checked = 0, floored = 0;
  for (int dim : kDims) {
    for (int count : kCounts) {
      const int padded_rows = round_up(count, kTileRows);
      std::vector<float> rows(static_cast<size_t>(padded_rows) * dim, 0.0f);
      for (size_t i = 0; i < static_cast<size_t>(count) * dim; ++i) {
        rows[i] = static_cast<float>(rng.below(8) == 0 ? rng.uniform(-100.0, 100.0) : rng.normal());
      }
      // Some rows repeat an earlier one: their L2 formula lands within a rounding of zero, often
      // below it, so the floor is exercised.
      for (int r = 1; r < count; ++r) {
        if (rng.below(6) == 0) {
          std::copy_n(&rows[rng.below(r) * dim], dim, &rows[static_cast<size_t>(r) * dim]);
        }
      }
      std::vector<float> panels;
      cpu::pack_panels(rows.data(), count, dim, panels);
      cpu::TileBlock block;
      block.rows = rows.data();
      block.panels = panels.data();
      block.dim = dim;
      std::vector<float> dots(static_cast<size_t>(count) * count);
      std::vector<double> norms(count);
      for (int a = 0; a < count; ++a) {
        const float* ra = &rows[static_cast<size_t>(a) * dim];
        for (int b = 0; b < count; ++b) {
          const float* rb = &rows[static_cast<size_t>(b) * dim];
          dots[static_cast<size_t>(a) * count + b] = fused_dot(ra, rb, dim);
          double exact = 0, magnitude = 0;
          for (int d = 0; d < dim; ++d) exact += double(ra[d]) * rb[d], magnitude += std::fabs(double(ra[d]) * rb[d]);
          ASSERT_NEAR(dots[static_cast<size_t>(a) * count + b], exact, 1e-6 * dim * magnitude + 1e-30)
              << "the fused reference dot is off: dim " << dim << " (" << a << ", " << b << ")";
          if (a == b) norms[a] = exact;
        }
      }
      for (Kind kind : kKinds) {
        const Terms t = make_terms(kind, norms);
        const int ldo = 16 * cpu::panel_count(count) + slack_for(kind);
        const std::string what = std::string("float32 ") + kind_name(kind) + " dim " + std::to_string(dim) + " count " +
                                 std::to_string(count);
        for (int row0 = 0; row0 < count; row0 += kTileRows) {
          const bool ok = check_tile(tiles->distances_float, block, row0, count, t.terms, ldo, what, [&](int a, int b) {
            ++checked;
            const float dot = dots[static_cast<size_t>(a) * count + b];
            floored += std::fma((t.mul[a] * t.mul[b]) * -t.terms.scale, dot, t.add[a] + t.add[b]) < t.terms.floor;
            return formula(t.terms, a, b, dot);
          });
          if (!ok) return;
        }
      }
    }
  }
  EXPECT_GT(checked, 100000);
  EXPECT_GT(floored, 20) << "too few L2 distances below the floor: the floor is not exercised";
  std::printf("[ tiles    ] float32: %lld distances checked bit for bit, %lld of them floored at 0\n",
              static_cast<long long>(checked), static_cast<long long>(floored));
}

// dots_float (dot_block.hpp's DotBlockKernel, 16 lanes) against scalar_dot_block_kernel(): bit
// for bit on 8-bit-valued floats (exact sums); on random floats bit for bit against the fused
// dimension-order reference and within a rounding of the (unfused) scalar kernel. Shapes:
// a_rows 6..48, panels_count 1..9 (groups of four panels and single ones), odd ldc; nothing
// written outside the a_rows x 16 * panels_count block.
TEST(PairTiles, DotsFloatMatchesTheScalarKernel) {
  const cpu::TileKernels* tiles = cpu::avx512_tile_kernels();
  if (tiles == nullptr) GTEST_SKIP() << kNoTiles;
  const cpu::DotBlockKernel scalar = cpu::scalar_dot_block_kernel();
  Rng rng(8004);
  int random_differs_from_scalar = 0, random_cells = 0;
  for (bool eight_bit : {true, false}) {
    for (int dim : {1, 2, 3, 7, 16, 33, 128, 131, 300}) {
      for (int panels_count = 1; panels_count <= 9; ++panels_count) {
        const int a_rows = kTileRows * (1 + static_cast<int>(rng.below(8)));
        const int ldc = 16 * panels_count + static_cast<int>(rng.below(3)) * 5;
        std::vector<float> a(static_cast<size_t>(a_rows) * dim), panels(static_cast<size_t>(panels_count) * dim * 16);
        for (float& x : a) x = eight_bit ? static_cast<float>(rng.below(256)) : static_cast<float>(rng.uniform(-3.0, 3.0));
        for (float& x : panels) x = eight_bit ? static_cast<float>(static_cast<int>(rng.below(256)) - 128) : static_cast<float>(rng.normal());
        std::vector<float> fast(static_cast<size_t>(a_rows) * ldc + 32, from_bits(kSentinelBits));
        std::vector<float> slow(fast.size(), from_bits(kSentinelBits));
        tiles->dots_float(a.data(), a_rows, dim, panels.data(), panels_count, fast.data(), ldc);
        scalar(a.data(), a_rows, dim, panels.data(), panels_count, slow.data(), ldc);
        const std::string what = std::string(eight_bit ? "8-bit-valued" : "random") + " dim " + std::to_string(dim) +
                                 " a_rows " + std::to_string(a_rows) + " panels " + std::to_string(panels_count) +
                                 " ldc " + std::to_string(ldc);
        std::vector<float> column(dim);
        for (size_t i = 0; i < fast.size(); ++i) {
          const int r = static_cast<int>(i / ldc), c = static_cast<int>(i % ldc);
          if (r >= a_rows || c >= 16 * panels_count) {
            ASSERT_EQ(bits_of(fast[i]), kSentinelBits) << what << ": wrote outside the block at " << i;
            continue;
          }
          if (eight_bit) {
            ASSERT_EQ(bits_of(fast[i]), bits_of(slow[i]))
                << what << " (" << r << ", " << c << "): " << show(fast[i]) << " vs scalar " << show(slow[i]);
            continue;
          }
          const int p = c / 16, lane = c % 16;
          for (int d = 0; d < dim; ++d) column[d] = panels[(static_cast<size_t>(p) * dim + d) * 16 + lane];
          const float want = fused_dot(&a[static_cast<size_t>(r) * dim], column.data(), dim);
          ASSERT_EQ(bits_of(fast[i]), bits_of(want))
              << what << " (" << r << ", " << c << "): " << show(fast[i]) << " vs fused reference " << show(want);
          double magnitude = 0;
          for (int d = 0; d < dim; ++d) magnitude += std::fabs(double(a[static_cast<size_t>(r) * dim + d]) * column[d]);
          ASSERT_NEAR(fast[i], slow[i], 1e-6 * dim * magnitude + 1e-30) << what << " (" << r << ", " << c << ")";
          ++random_cells;
          random_differs_from_scalar += bits_of(fast[i]) != bits_of(slow[i]);
        }
      }
    }
  }
  // Measured here: about half of the random-float dots with dim > 1 differ from the scalar kernel
  // in the last bits (it does not fuse), which is why they are not compared bit for bit.
  std::printf("[ tiles    ] random floats: %d of %d dots differ from scalar_dot_block_kernel() in the last bits\n",
              random_differs_from_scalar, random_cells);
}

}  // namespace
