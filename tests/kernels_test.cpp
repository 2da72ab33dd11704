// The SIMD distance kernels against the scalar reference definitions: pair kernels and the
// batched one-against-many kernels, every dimension from 1 to 300 (every tail), unaligned starts,
// and the extremes of the 8-bit ranges.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <set>
#include <type_traits>
#include <vector>

#include "annforge.hpp"
#include "host/cpu/distance/distance.hpp"
#include "host/cpu/distance/dot_block.hpp"
#include "host/cpu/graph/graph_optimize_kernels.hpp"
#include "host/cpu/all_pairs/threshold_collect.hpp"
#include "tests/test_support.hpp"

namespace {

using namespace annforge;
using namespace annforge_test;

// --- SIMD kernels against the scalar reference -----------------------------------------------

template <typename T>
std::vector<T> random_values(Rng& rng, size_t n) {
  std::vector<T> v(n);
  for (T& x : v) {
    if constexpr (std::is_same_v<T, float>) x = static_cast<float>(rng.uniform(-10.0, 10.0));
    else if constexpr (std::is_same_v<T, uint8_t>) x = static_cast<uint8_t>(rng.below(256));
    else x = static_cast<int8_t>(static_cast<int>(rng.below(256)) - 128);
  }
  return v;
}

template <typename T>
void compare_kernels(ElementType type) {
  const cpu::KernelTable& fast = cpu::kernels_for(type);
  const cpu::KernelTable& scalar = cpu::scalar_kernels_for(type);
  std::printf("[ simd     ] %s kernels: %s (scalar reference: %s)\n", to_string(type), fast.instruction_set,
              scalar.instruction_set);
  Rng rng(1234 + static_cast<int>(type));
  for (size_t dim = 1; dim <= 300; ++dim) {
    for (size_t offset : {size_t{0}, size_t{1}, size_t{3}}) {  // unaligned starts too
      std::vector<T> a = random_values<T>(rng, dim + offset), b = random_values<T>(rng, dim + offset);
      const T* pa = a.data() + offset;
      const T* pb = b.data() + offset;
      double exact_l2 = 0, exact_dot = 0, abs_dot = 0;
      for (size_t i = 0; i < dim; ++i) {
        const double x = pa[i], y = pb[i];
        exact_l2 += (x - y) * (x - y);
        exact_dot += x * y;
        abs_dot += std::fabs(x * y);
      }
      const float l2_fast = fast.squared_l2(pa, pb, dim), l2_scalar = scalar.squared_l2(pa, pb, dim);
      const float dot_fast = fast.dot(pa, pb, dim), dot_scalar = scalar.dot(pa, pb, dim);
      if constexpr (std::is_same_v<T, float>) {
        EXPECT_NEAR(l2_fast, l2_scalar, 1e-5 * exact_l2) << "dim " << dim << " offset " << offset;
        EXPECT_NEAR(dot_fast, dot_scalar, 1e-5 * abs_dot + 1e-6) << "dim " << dim << " offset " << offset;
        EXPECT_NEAR(l2_scalar, exact_l2, 1e-5 * exact_l2) << "dim " << dim;
      } else {
        // Integer sums are exact; these random values stay below 2^24, where float is exact too.
        EXPECT_EQ(l2_fast, l2_scalar) << "dim " << dim << " offset " << offset;
        EXPECT_EQ(dot_fast, dot_scalar) << "dim " << dim << " offset " << offset;
        EXPECT_EQ(l2_scalar, static_cast<float>(exact_l2)) << "dim " << dim;
        EXPECT_EQ(dot_scalar, static_cast<float>(exact_dot)) << "dim " << dim;
      }
    }
  }
}

TEST(Kernels, Float32SimdMatchesScalar) { compare_kernels<float>(ElementType::Float32); }
TEST(Kernels, UInt8SimdMatchesScalar) { compare_kernels<uint8_t>(ElementType::UInt8); }
TEST(Kernels, Int8SimdMatchesScalar) { compare_kernels<int8_t>(ElementType::Int8); }

// The extremes of the 8-bit ranges, where a saturating or sign-confused kernel goes wrong.
TEST(Kernels, EightBitExtremes) {
  for (size_t dim = 1; dim <= 300; ++dim) {
    std::vector<uint8_t> zeros(dim, 0), full(dim, 255);
    std::vector<int8_t> low(dim, -128), high(dim, 127);
    const double n = static_cast<double>(dim);
    struct Check {
      const char* what;
      float got;
      double exact;
    };
    const cpu::KernelTable& u8 = cpu::kernels_for(ElementType::UInt8);
    const cpu::KernelTable& i8 = cpu::kernels_for(ElementType::Int8);
    for (const Check& c : {Check{"u8 l2 0-255", u8.squared_l2(zeros.data(), full.data(), dim), 65025 * n},
                           Check{"u8 dot 255*255", u8.dot(full.data(), full.data(), dim), 65025 * n},
                           Check{"i8 l2 -128..127", i8.squared_l2(low.data(), high.data(), dim), 65025 * n},
                           Check{"i8 dot -128*-128", i8.dot(low.data(), low.data(), dim), 16384 * n},
                           Check{"i8 dot -128*127", i8.dot(low.data(), high.data(), dim), -16256 * n}}) {
      // Within one float rounding of the exact integer (exact below 2^24).
      const double ulp = std::fabs(c.exact) < 16777216.0 ? 0.0 : std::fabs(c.exact) * 1.2e-7;
      EXPECT_NEAR(c.got, c.exact, ulp) << c.what << " dim " << dim;
    }
  }
}

// 8-bit SIMD kernels round once, from the exact integer total, as the scalar definitions do,
// also where the total passes 2^24 (784-d MNIST-like data): distances and tie order must not
// depend on the CPU.
TEST(Kernels, EightBitSimdEqualsScalarAboveTwoTo24) {
  for (size_t dim = 200; dim <= 1000; ++dim) {
    std::vector<uint8_t> a(dim, 255), b(dim, 0);
    std::vector<int8_t> c(dim, 127), d(dim, -128);
    for (size_t i = 0; i < dim; i += 3) b[i] = 1, d[i] = -127;
    const cpu::KernelTable& u8 = cpu::kernels_for(ElementType::UInt8);
    const cpu::KernelTable& i8 = cpu::kernels_for(ElementType::Int8);
    const cpu::KernelTable& u8s = cpu::scalar_kernels_for(ElementType::UInt8);
    const cpu::KernelTable& i8s = cpu::scalar_kernels_for(ElementType::Int8);
    ASSERT_EQ(u8.squared_l2(a.data(), b.data(), dim), u8s.squared_l2(a.data(), b.data(), dim)) << "dim " << dim;
    ASSERT_EQ(u8.dot(a.data(), a.data(), dim), u8s.dot(a.data(), a.data(), dim)) << "dim " << dim;
    ASSERT_EQ(i8.squared_l2(c.data(), d.data(), dim), i8s.squared_l2(c.data(), d.data(), dim)) << "dim " << dim;
    ASSERT_EQ(i8.dot(d.data(), d.data(), dim), i8s.dot(d.data(), d.data(), dim)) << "dim " << dim;
  }
}

// The batched kernels give exactly the pair kernels' values, for any count (groups of four and
// the rest) and every tail length.
template <typename T>
void compare_many_with_pairs(ElementType type) {
  const cpu::KernelTable& fast = cpu::kernels_for(type);
  Rng rng(99 + static_cast<int>(type));
  for (size_t dim : {size_t{1}, size_t{7}, size_t{16}, size_t{31}, size_t{32}, size_t{33}, size_t{128}, size_t{784}}) {
    std::vector<std::vector<T>> rows;
    for (int r = 0; r < 11; ++r) rows.push_back(random_values<T>(rng, dim));
    std::vector<T> a = random_values<T>(rng, dim);
    std::vector<const void*> pointers;
    for (const auto& r : rows) pointers.push_back(r.data());
    for (int count = 0; count <= 11; ++count) {
      std::vector<float> l2(count), dot(count);
      fast.squared_l2_many(a.data(), pointers.data(), count, dim, l2.data());
      fast.dot_many(a.data(), pointers.data(), count, dim, dot.data());
      for (int r = 0; r < count; ++r) {
        if constexpr (std::is_same_v<T, float>) {
          const float pair_l2 = fast.squared_l2(a.data(), pointers[r], dim);
          EXPECT_NEAR(l2[r], pair_l2, 1e-5 * std::fabs(pair_l2) + 1e-6) << "dim " << dim << " count " << count;
          const float pair_dot = fast.dot(a.data(), pointers[r], dim);
          EXPECT_NEAR(dot[r], pair_dot, 1e-4 * (1.0 + std::fabs(pair_dot))) << "dim " << dim << " count " << count;
        } else {
          EXPECT_EQ(l2[r], fast.squared_l2(a.data(), pointers[r], dim)) << "dim " << dim << " count " << count;
          EXPECT_EQ(dot[r], fast.dot(a.data(), pointers[r], dim)) << "dim " << dim << " count " << count;
        }
      }
    }
  }
}

TEST(Kernels, Float32ManyMatchesPairs) { compare_many_with_pairs<float>(ElementType::Float32); }
TEST(Kernels, UInt8ManyMatchesPairs) { compare_many_with_pairs<uint8_t>(ElementType::UInt8); }
TEST(Kernels, Int8ManyMatchesPairs) { compare_many_with_pairs<int8_t>(ElementType::Int8); }

}  // namespace

// --- blocked dot products (host/cpu/distance/dot_block.hpp) --------------------------------------------

TEST(DotBlock, MatchesPlainDotsForEveryShapeAndKernel) {
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int dim : {1, 3, 16, 128, 131}) {
    for (int rows : {1, 6, 7, 17, 48}) {
      std::vector<float> data(static_cast<size_t>(rows) * dim);
      for (float& x : data) x = static_cast<float>(byte(rng));  // 8-bit values: every dot is exact
      std::vector<float> panels;
      annforge::cpu::pack_panels(data.data(), rows, dim, panels);
      const int count = annforge::cpu::panel_count(rows);
      const int a_rows = (rows + annforge::cpu::kDotBlockRows - 1) / annforge::cpu::kDotBlockRows *
                         annforge::cpu::kDotBlockRows;
      std::vector<float> a(static_cast<size_t>(a_rows) * dim, 0.0f);
      std::copy(data.begin(), data.end(), a.begin());
      for (auto kernel : {annforge::cpu::dot_block_kernel(), annforge::cpu::scalar_dot_block_kernel()}) {
        std::vector<float> c(static_cast<size_t>(a_rows) * count * 16, -1.0f);
        kernel(a.data(), a_rows, dim, panels.data(), count, c.data(), count * 16);
        for (int i = 0; i < rows; ++i) {
          for (int j = 0; j < count * 16; ++j) {
            double expected = 0;
            if (j < rows) {
              for (int d = 0; d < dim; ++d) expected += double(data[i * dim + d]) * data[j * dim + d];
            }
            ASSERT_EQ(c[static_cast<size_t>(i) * count * 16 + j], static_cast<float>(expected))
                << "dim " << dim << " rows " << rows << " i " << i << " j " << j;
          }
        }
      }
    }
  }
}

// The int16 kernel (AVX2's 8-bit path): exact integer dots of uint8 and int8 rows, odd
// dimensions padded, and past 2^24 (784 dimensions of 255s), where fp32 sums would round.
TEST(DotBlock, Int16KernelGivesExactDotsOf8BitRows) {
  const annforge::cpu::Int16DotBlockKernel kernel = annforge::cpu::int16_dot_block_kernel();
  if (kernel == nullptr) GTEST_SKIP() << "no AVX2 here (or ANNFORGE_SIMD=scalar): no int16 kernel";
  std::mt19937 rng(6);
  for (bool is_signed : {false, true}) {
    std::uniform_int_distribution<int> value(is_signed ? -128 : 0, is_signed ? 127 : 255);
    for (int dim : {1, 3, 16, 131, 784}) {
      for (int rows : {1, 6, 7, 17, 48}) {
        const int pairs = (dim + 1) / 2;
        const int a_rows = (rows + annforge::cpu::kDotBlockRows - 1) / annforge::cpu::kDotBlockRows *
                           annforge::cpu::kDotBlockRows;
        std::vector<int16_t> a(static_cast<size_t>(a_rows) * pairs * 2, 0);
        for (int i = 0; i < rows; ++i) {
          for (int d = 0; d < dim; ++d) a[static_cast<size_t>(i) * pairs * 2 + d] = static_cast<int16_t>(value(rng));
        }
        if (dim == 784 && rows > 1) {  // a row of extremes: its dots pass 2^24
          for (int d = 0; d < dim; ++d) a[d] = a[pairs * 2 + d] = is_signed ? -128 : 255;
        }
        std::vector<int16_t> panels;
        annforge::cpu::pack_int16_panels(a.data(), rows, pairs, panels);
        const int count = annforge::cpu::panel_count(rows);
        std::vector<float> c(static_cast<size_t>(a_rows) * count * 16, -1.0f);
        kernel(a.data(), a_rows, pairs, panels.data(), count, c.data(), count * 16, 1.0f);
        for (int i = 0; i < rows; ++i) {
          for (int j = 0; j < count * 16; ++j) {
            int64_t expected = 0;
            if (j < rows) {
              for (int d = 0; d < dim; ++d) {
                expected += int64_t{a[static_cast<size_t>(i) * pairs * 2 + d]} * a[static_cast<size_t>(j) * pairs * 2 + d];
              }
            }
            ASSERT_EQ(c[static_cast<size_t>(i) * count * 16 + j], static_cast<float>(expected))
                << (is_signed ? "int8" : "uint8") << " dim " << dim << " rows " << rows << " i " << i << " j " << j;
          }
        }
      }
    }
  }
}

// --- detour words (host/cpu/graph/graph_optimize_kernels.hpp) ---------------------------------------

// Each kernel this CPU has (AVX-512, AVX2) against the definition: bit r set where the list's
// rank-r id sits at a position p < r of w's list (its first k - 1 entries) and j < r. Lists of
// random ids, half of w's entries drawn from the vector's own list.
TEST(DetourWords, EveryKernelMatchesTheDefinition) {
  using annforge::cpu::DetourWordsKernel;
  std::vector<std::pair<const char*, DetourWordsKernel>> kernels;
  if (DetourWordsKernel k = annforge::cpu::avx512_detour_words_kernel()) kernels.emplace_back("avx512", k);
  if (DetourWordsKernel k = annforge::cpu::avx2_detour_words_kernel()) kernels.emplace_back("avx2", k);
  if (kernels.empty()) GTEST_SKIP() << "neither AVX-512 nor AVX2 here (or ANNFORGE_SIMD=scalar): no detour-words kernel";
  std::mt19937 rng(12);
  std::vector<uint32_t> slots(size_t{1} << annforge::cpu::kDetourSlotBits, annforge::cpu::kEmptyDetourSlot);
  for (int k : {2, 9, 17, 32, 48, 64}) {
    for (int trial = 0; trial < 40; ++trial) {
      std::uniform_int_distribution<uint32_t> any_id(0, annforge::cpu::kDetourSlotIdLimit - 1);
      std::vector<uint32_t> list(k), via(k);
      for (uint32_t& id : list) id = any_id(rng);
      for (uint32_t& id : via) id = rng() % 2 ? list[rng() % k] : any_id(rng);
      const uint32_t multiplier = 0x9E3779B1u + 0x7F4A7C16u * static_cast<uint32_t>(trial % 3);
      bool separated = true;
      for (int r = 0; r < k; ++r) {
        uint32_t& slot = slots[annforge::cpu::detour_slot_of(list[r], multiplier)];
        separated = separated && slot == annforge::cpu::kEmptyDetourSlot;
        slot = list[r] << 6 | static_cast<uint32_t>(r);
      }
      if (separated && std::set<uint32_t>(list.begin(), list.end()).size() == list.size()) {
        const int j = static_cast<int>(rng() % k);
        uint64_t expected = 0;
        for (int p = 0; p + 1 < k; ++p) {
          for (int r = 0; r < k; ++r) {
            if (list[r] == via[p] && r > p && r > j) expected |= uint64_t{1} << r;
          }
        }
        for (const auto& [name, kernel] : kernels) {
          EXPECT_EQ(kernel(via.data(), k, j, slots.data(), multiplier), expected) << name << " k " << k << " trial " << trial;
        }
      }
      for (int r = 0; r < k; ++r) slots[annforge::cpu::detour_slot_of(list[r], multiplier)] = annforge::cpu::kEmptyDetourSlot;
    }
  }
}

// --- threshold collection (host/cpu/all_pairs/threshold_collect.hpp) ------------------------------------

TEST(ThresholdCollect, FindsExactlyThePositionsAtOrBelowTheCut) {
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  for (int count : {0, 1, 7, 8, 9, 100, 1500}) {
    std::vector<float> values(count);
    for (float& v : values) v = uniform(rng);
    if (count > 3) {
      values[1] = std::numeric_limits<float>::infinity();  // never collected, whatever the cut
      values[2] = 0.25f;                                   // equal to the cut: collected
    }
    for (float cut : {-1.0f, 0.0f, 0.25f, 0.9f, std::numeric_limits<float>::infinity()}) {
      std::vector<uint32_t> expected;
      for (int i = 0; i < count; ++i) {
        if (values[i] <= cut && values[i] < std::numeric_limits<float>::infinity()) expected.push_back(i);
      }
      for (auto kernel : {annforge::cpu::collect_kernel(), annforge::cpu::scalar_collect_kernel()}) {
        std::vector<uint32_t> positions(count + 16);
        const int found = kernel(values.data(), count, cut, positions.data());
        positions.resize(found);
        EXPECT_EQ(positions, expected) << "count " << count << " cut " << cut;
      }
    }
  }
}
