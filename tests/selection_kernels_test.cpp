// The selection kernels of the clustered kNN stage (host/cpu/all_pairs/threshold_collect.hpp,
// host/cpu/all_pairs/list_merge.hpp) against plain references written here:
//  - kth_bound_kernel(): a value of the array (or +infinity) at or above the k-th smallest;
//  - the AVX-512 collect kernel against the scalar one;
//  - few_smallest_kernel() against a stable sort, rank_select_kernel() against a sorted prefix;
//  - merge_sorted_by_key against the general merge_sorted.
// Every test that needs a kernel skips, saying why, where this CPU (or ANNFORGE_SIMD) has none.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "annforge.hpp"
#include "host/cpu/all_pairs/list_merge.hpp"
#include "host/cpu/all_pairs/list_positions.hpp"
#include "host/cpu/all_pairs/threshold_collect.hpp"
#include "host/cpu/distance/distance.hpp"
#include "tests/test_support.hpp"

namespace {

using namespace annforge;
using annforge_test::Rng;
using annforge_test::bits_of;

namespace cpu = annforge::cpu;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

std::string show(float x) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.9g (0x%08x)", x, bits_of(x));
  return text;
}
// --- kth_bound_kernel ----------------------------------------------------------------------------

// Random rows of distances: many ties (small integers), negative values, some +infinity.
std::vector<float> random_distances(Rng& rng, int count, int style) {
  std::vector<float> v(count);
  for (float& x : v) {
    switch (style) {
      case 0: x = static_cast<float>(rng.below(6)); break;                                   // heavy ties
      case 1: x = static_cast<float>(static_cast<int>(rng.below(40)) - 20); break;           // ties, negatives
      case 2: x = static_cast<float>(rng.uniform(-5.0, 5.0)); break;                         // distinct-ish
      case 3: x = rng.below(3) == 0 ? kInf : static_cast<float>(rng.below(10)); break;      // many +inf
      default: x = rng.below(50) == 0 ? kInf : static_cast<float>(rng.uniform(0.0, 1.0)); break;
    }
  }
  return v;
}

TEST(KthBound, IsAnArrayValueAtOrAboveTheKthSmallest) {
  const cpu::KthBoundKernel bound = cpu::kth_bound_kernel();
  if (bound == nullptr) GTEST_SKIP() << "no AVX-512 here (or ANNFORGE_SIMD=avx2/scalar): no k-th bound kernel";
  Rng rng(8005);
  std::vector<int> counts = {1, 2, 15, 16, 17, 31, 47, 48, 49, 100, 127, 128, 129, 255, 256, 257, 1500, 3000};
  for (int i = 0; i < 40; ++i) counts.push_back(1 + static_cast<int>(rng.below(3000)));
  int finite_bounds = 0;
  for (int count : counts) {
    for (int style = 0; style < 5; ++style) {
      std::vector<float> values = random_distances(rng, count, style);
      if (style == 4 && count > 2) values[count / 2] = -kInf;  // the smallest possible value once
      std::vector<float> sorted = values;
      std::sort(sorted.begin(), sorted.end());
      for (int k : {1, 5, 16, 17, 32, 48, 64, 100, 128}) {
        const float b = bound(values.data(), count, k);
        const float floor = count >= k ? sorted[k - 1] : sorted.back();
        const std::string what = "count " + std::to_string(count) + " style " + std::to_string(style) + " k " +
                                 std::to_string(k);
        ASSERT_FALSE(std::isnan(b)) << what;
        ASSERT_GE(b, floor) << what << ": bound " << show(b) << " below the "
                            << (count >= k ? "k-th smallest " : "largest value ") << show(floor);
        const bool in_array = std::find(values.begin(), values.end(), b) != values.end();
        ASSERT_TRUE(in_array || b == kInf) << what << ": bound " << show(b) << " is neither a value nor +inf";
        finite_bounds += b < kInf;
      }
    }
  }
  EXPECT_GT(finite_bounds, 500) << "the bound should mostly be finite for count >> 16 * ceil(k / 16)";
  // Documented: k > 128 gives +infinity.
  const std::vector<float> values = random_distances(rng, 2000, 2);
  EXPECT_EQ(bound(values.data(), 2000, 129), kInf);
  EXPECT_EQ(bound(values.data(), 2000, 500), kInf);
}

// How tight the bound is: its rank among 1500 distinct uniform values for k = 48. Measured on
// this machine (seed 8006, 200 rows): median rank 102 (about 2.1 k), min 65, max 206, a little
// above the header's "typically near rank 1.5-2k". Printed, not asserted (beyond rank >= k).
TEST(KthBound, TypicalRankForCount1500K48) {
  const cpu::KthBoundKernel bound = cpu::kth_bound_kernel();
  if (bound == nullptr) GTEST_SKIP() << "no AVX-512 here (or ANNFORGE_SIMD=avx2/scalar): no k-th bound kernel";
  Rng rng(8006);
  std::vector<int> ranks;
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<float> values(1500);
    for (float& x : values) x = static_cast<float>(rng.uniform());
    const float b = bound(values.data(), 1500, 48);
    ranks.push_back(static_cast<int>(std::count_if(values.begin(), values.end(), [&](float x) { return x <= b; })));
  }
  std::sort(ranks.begin(), ranks.end());
  std::printf("[ kth      ] count 1500, k 48: bound rank min %d, median %d, max %d\n", ranks.front(),
              ranks[ranks.size() / 2], ranks.back());
  EXPECT_GE(ranks.front(), 48);
}

// --- collect_kernel: AVX-512 against scalar ------------------------------------------------------

TEST(Avx512Collect, MatchesTheScalarKernel) {
  if (!cpu::cpu_has_avx512()) GTEST_SKIP() << "no AVX-512 here (or ANNFORGE_SIMD=avx2/scalar): collect_kernel() is not the AVX-512 one";
  const cpu::CollectKernel fast = cpu::collect_kernel(), scalar = cpu::scalar_collect_kernel();
  ASSERT_NE(fast, scalar) << "with AVX-512 the dispatch should pick the AVX-512 collect kernel";
  Rng rng(8007);
  std::vector<int> counts;
  for (int c = 0; c <= 70; ++c) counts.push_back(c);
  counts.push_back(1500);
  constexpr uint32_t kGuard = 0xDEADBEEFu;
  int nonempty = 0, partial = 0;
  for (int count : counts) {
    for (int style = 0; style < 5; ++style) {
      std::vector<float> values = random_distances(rng, count, style);
      if (count > 0 && style == 1) values[rng.below(count)] = -kInf;
      if (count > 0 && style == 2) values[rng.below(count)] = kNaN;  // never passes, in either kernel
      std::vector<float> cuts = {-kInf, kInf, 0.0f, 2.5f};
      for (int j = 0; j < 4 && count > 0; ++j) cuts.push_back(values[rng.below(count)]);  // equal to elements
      for (float cut : cuts) {
        // The documented count + 16 entries, then a guard the kernels must not touch.
        std::vector<uint32_t> a(count + 16 + 16, kGuard), b(count + 16 + 16, kGuard);
        const int found_fast = fast(values.data(), count, cut, a.data());
        const int found_scalar = scalar(values.data(), count, cut, b.data());
        const std::string what = "count " + std::to_string(count) + " style " + std::to_string(style) + " cut " + show(cut);
        ASSERT_EQ(found_fast, found_scalar) << what;
        for (int i = 0; i < found_scalar; ++i) ASSERT_EQ(a[i], b[i]) << what << " position " << i;
        for (int g = count + 16; g < count + 32; ++g) ASSERT_EQ(a[g], kGuard) << what << ": wrote past count + 16";
        nonempty += found_scalar > 0;
        partial += found_scalar > 0 && found_scalar < count;
      }
    }
  }
  EXPECT_GT(nonempty, 500);
  EXPECT_GT(partial, 300);
}

// --- few smallest (threshold_collect.hpp) ------------------------------------------------------

// The vector-minimum kernel against a plain stable sort of (value, position): the same
// positions and values in the same order, with ties (small integer values), +infinity entries
// (never returned), negative zeros (equal to zero), and every count up to the documented 256;
// on AVX2 (ANNFORGE_SIMD=avx2, scripts/test.sh's second pass) the AVX2 kernel.
TEST(FewSmallest, MatchesAStableSortOfTheValues) {
  const cpu::FewSmallestKernel kernel = cpu::few_smallest_kernel();
  if (!kernel) GTEST_SKIP() << "this CPU has neither AVX-512 nor AVX2 (or ANNFORGE_SIMD is scalar): no kernel";
  annforge_test::Rng rng(77);
  int with_ties = 0;
  for (int trial = 0; trial < 400; ++trial) {
    const int count = 1 + static_cast<int>(rng.below(256));
    // 4 to 16 by the lanes' cut, the others by rounds of a vector minimum.
    const int want = 1 + static_cast<int>(rng.below(24));
    const bool ties = trial % 2 == 0;
    std::vector<float> values(count);
    for (float& v : values) v = ties ? static_cast<float>(rng.below(6)) - 2.0f : static_cast<float>(rng.uniform(-5, 5));
    for (int i = 0; i < count; ++i) {
      if (rng.below(10) == 0) values[i] = kInf;
      if (ties && values[i] == 0.0f && rng.below(2) == 0) values[i] = -0.0f;
    }
    std::vector<int> order;
    for (int i = 0; i < count; ++i)
      if (values[i] < kInf) order.push_back(i);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return values[a] < values[b]; });
    const int expected = std::min<int>(want, static_cast<int>(order.size()));
    std::vector<int> positions(want + 1, -7);
    std::vector<float> out(want + 1, -7.0f);
    const int found = kernel(values.data(), count, want, positions.data(), out.data());
    ASSERT_EQ(found, expected) << "trial " << trial << " count " << count << " want " << want;
    for (int i = 0; i < found; ++i) {
      ASSERT_EQ(positions[i], order[i]) << "trial " << trial << " entry " << i;
      ASSERT_EQ(out[i], values[order[i]]) << "trial " << trial << " entry " << i;
      with_ties += i > 0 && out[i] == out[i - 1];
    }
    EXPECT_EQ(positions[want], -7) << "wrote past `want` entries";
  }
  EXPECT_GT(with_ties, 100) << "the ties case should be exercised";
}

// --- rank select (threshold_collect.hpp) --------------------------------------------------------

// The kernel's output for `keys` is the sorted prefix of a plain sort, and nothing is written
// past it.
void expect_sorted_prefix(cpu::RankSelectKernel kernel, const std::vector<uint64_t>& keys, int k, int trial) {
  const int count = static_cast<int>(keys.size());
  std::vector<uint64_t> expected = keys;
  std::sort(expected.begin(), expected.end());
  expected.resize(std::min(count, k));
  std::vector<uint64_t> out(k + 1, 0x5A5A5A5Au);
  const int n = kernel(keys.data(), count, k, out.data());
  ASSERT_EQ(n, std::min(count, k)) << "trial " << trial;
  EXPECT_EQ(out[n], 0x5A5A5A5Au) << "wrote past the result, trial " << trial;
  out.resize(n);
  ASSERT_EQ(out, expected) << "trial " << trial << " count " << count << " k " << k;
}

// Distinct 64-bit keys (the clustered stage's (distance bits, position) keys, here random with
// many equal high halves, some with the top bit set as the keys of positive distances have), for
// counts below, at and above k, including keys at the top of the range.
void expect_sorted_prefixes(cpu::RankSelectKernel kernel) {
  Rng rng(4711);
  for (int trial = 0; trial < 300; ++trial) {
    const int count = static_cast<int>(rng.below(257));
    const int k = 1 + static_cast<int>(rng.below(128));
    std::vector<uint64_t> keys;
    while (static_cast<int>(keys.size()) < count) {
      uint64_t high = trial % 3 == 0 ? rng.below(4) : rng.below(1u << 30);
      if (trial % 5 == 1 && rng.below(2) == 0) high |= 0x80000000u;
      const uint64_t key = trial % 7 == 0 && keys.empty() ? ~uint64_t{0} : (high << 32 | rng.below(1u << 30));
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
    }
    expect_sorted_prefix(kernel, keys, k, trial);
  }
}

TEST(RankSelect, EqualsTheSortedPrefix) {
  const cpu::RankSelectKernel kernel = cpu::rank_select_kernel();
  if (!kernel) GTEST_SKIP() << "this CPU has no AVX-512 (or ANNFORGE_SIMD is avx2/scalar): no kernel";
  expect_sorted_prefixes(kernel);
}

// The candidate buffers' kernel (AVX2): distinct keys as above, then lists with many equal keys,
// whose copies must each take a slot (ties by position).
TEST(RankSelect, StableKernelEqualsTheSortedPrefixWithRepeats) {
  const cpu::RankSelectKernel kernel = cpu::stable_rank_select_kernel();
  if (!kernel) GTEST_SKIP() << "this CPU has no AVX2 (or ANNFORGE_SIMD is scalar): no kernel";
  expect_sorted_prefixes(kernel);
  Rng rng(4713);
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<uint64_t> keys(rng.below(130));
    for (uint64_t& key : keys) key = (rng.below(2) ? 0x80000000ull << 32 : 0) | rng.below(1 + trial % 9);
    expect_sorted_prefix(kernel, keys, 1 + static_cast<int>(rng.below(64)), trial);
  }
}

// --- list positions (list_positions.hpp) -------------------------------------------------------

// The vector kernel (AVX-512, or AVX2 under ANNFORGE_SIMD=avx2) against the scalar loop: lists of
// every length up to the kernel's 64 with empty (kInvalidId) tails, candidates listed at every
// position (the first and the last included) or absent, ids at the top of the range.
TEST(ListPositions, KernelMatchesTheScalarLoop) {
  const cpu::ListPositionsKernel kernel = cpu::list_positions_kernel();
  if (!kernel) GTEST_SKIP() << "this CPU has neither AVX-512 nor AVX2 (or ANNFORGE_SIMD is scalar): no kernel";
  Rng rng(4714);
  int listed = 0, absent = 0;
  for (int trial = 0; trial < 500; ++trial) {
    const int k = 1 + static_cast<int>(rng.below(cpu::kListPositionsMaxK));
    const int filled = trial % 4 == 0 ? static_cast<int>(rng.below(k + 1)) : k;
    std::vector<uint32_t> list;
    while (static_cast<int>(list.size()) < filled) {
      const uint32_t id = trial % 5 == 0 ? 0xFFFFFF00u + static_cast<uint32_t>(rng.below(255)) : static_cast<uint32_t>(rng.below(300));
      if (std::find(list.begin(), list.end(), id) == list.end()) list.push_back(id);
    }
    list.resize(k, kInvalidId);
    const int count = static_cast<int>(rng.below(65));
    std::vector<uint32_t> ids(count);
    for (uint32_t& id : ids) {
      id = filled > 0 && rng.below(2) == 0 ? list[rng.below(filled)]
           : trial % 5 == 0                ? 0xFFFFFF00u + static_cast<uint32_t>(rng.below(255))
                                           : static_cast<uint32_t>(rng.below(300));
    }
    std::vector<int> expected(count + 1, -7), got(count + 1, -7);
    cpu::scalar_list_positions(list.data(), k, ids.data(), count, expected.data());
    kernel(list.data(), k, ids.data(), count, got.data());
    ASSERT_EQ(got, expected) << "trial " << trial << " k " << k << " filled " << filled << " count " << count;
    for (int c = 0; c < count; ++c) (expected[c] >= 0 ? listed : absent)++;
  }
  EXPECT_GT(listed, 1000);
  EXPECT_GT(absent, 1000);
}

// drop_listed_keeping_nearer against a plain model, with lists short enough for the vector
// kernel and longer ones (the hash set): the candidates the list holds are dropped, a smaller
// distance lowering the listed one (the list re-sorted by (distance, id)), the others kept in order.
TEST(ListMerge, DropListedKeepingNearerFollowsTheModel) {
  Rng rng(4715);
  for (int trial = 0; trial < 400; ++trial) {
    const int k = 1 + static_cast<int>(rng.below(trial % 2 ? 64 : 128));
    std::vector<std::pair<float, uint32_t>> entries;
    while (static_cast<int>(entries.size()) < k) {
      const uint32_t id = static_cast<uint32_t>(rng.below(400));
      bool seen = false;
      for (const auto& e : entries) seen = seen || e.second == id;
      if (!seen) entries.emplace_back(static_cast<float>(rng.below(50)), id);
    }
    std::sort(entries.begin(), entries.end());
    std::vector<uint32_t> list_ids(k);
    std::vector<float> list_distances(k);
    for (int i = 0; i < k; ++i) list_ids[i] = entries[i].second, list_distances[i] = entries[i].first;
    const int count = static_cast<int>(rng.below(k + 1));
    std::vector<uint32_t> ids(count);
    std::vector<float> distances(count);
    for (int c = 0; c < count; ++c) {
      ids[c] = rng.below(2) == 0 ? list_ids[rng.below(k)] : static_cast<uint32_t>(400 + rng.below(100) + 100 * c);
      distances[c] = static_cast<float>(rng.below(50));
    }
    // The model.
    std::vector<std::pair<float, uint32_t>> model_list = entries, model_kept;
    for (int c = 0; c < count; ++c) {
      auto at = std::find_if(model_list.begin(), model_list.end(), [&](const auto& e) { return e.second == ids[c]; });
      if (at == model_list.end()) {
        model_kept.emplace_back(distances[c], ids[c]);
      } else if (distances[c] < at->first) {
        at->first = distances[c];
      }
    }
    std::sort(model_list.begin(), model_list.end());
    cpu::ListIds listed(k);
    std::vector<uint32_t> scratch_ids(k);
    std::vector<float> scratch_distances(k);
    const int kept = cpu::drop_listed_keeping_nearer(listed, list_ids.data(), list_distances.data(), k, ids.data(),
                                                     distances.data(), count, scratch_ids.data(),
                                                     scratch_distances.data());
    ASSERT_EQ(kept, static_cast<int>(model_kept.size())) << "trial " << trial;
    for (int c = 0; c < kept; ++c) {
      ASSERT_EQ(ids[c], model_kept[c].second) << "trial " << trial << " candidate " << c;
      ASSERT_EQ(distances[c], model_kept[c].first) << "trial " << trial << " candidate " << c;
    }
    for (int i = 0; i < k; ++i) {
      ASSERT_EQ(list_ids[i], model_list[i].second) << "trial " << trial << " entry " << i;
      ASSERT_EQ(list_distances[i], model_list[i].first) << "trial " << trial << " entry " << i;
    }
  }
}

// The clustered stage's merge by keys against the general merge: lists sorted by (distance,
// id) with many equal distances, repeats of listed entries among the candidates, lists with
// empty tails, and candidates from none to k; the same ids and distances.
TEST(ListMerge, ByKeyEqualsTheGeneralMerge) {
  Rng rng(4712);
  for (int trial = 0; trial < 500; ++trial) {
    const int k = 1 + static_cast<int>(rng.below(64));
    const int filled = trial % 5 == 0 ? static_cast<int>(rng.below(k + 1)) : k;
    const int more = static_cast<int>(rng.below(k + 1));
    auto sorted_entries = [&](int count, std::vector<std::pair<float, uint32_t>> from) {
      std::vector<std::pair<float, uint32_t>> entries = from;
      while (static_cast<int>(entries.size()) < count) {
        const float d = static_cast<float>(rng.below(trial % 2 ? 8 : 1000)) * 0.25f - (trial % 3 == 0 ? 1.0f : 0.0f);
        const uint32_t id = static_cast<uint32_t>(rng.below(200));
        bool seen = false;
        for (const auto& e : entries) seen = seen || e.second == id;
        if (!seen) entries.push_back({d, id});
      }
      entries.resize(count);
      std::sort(entries.begin(), entries.end());
      return entries;
    };
    const auto listed = sorted_entries(filled, {});
    // Some candidates repeat listed entries exactly (the same pair met in another cluster).
    std::vector<std::pair<float, uint32_t>> repeats;
    for (const auto& e : listed) {
      if (rng.below(4) == 0) repeats.push_back(e);
    }
    if (static_cast<int>(repeats.size()) > more) repeats.resize(more);
    auto offered = sorted_entries(more, repeats);
    // Ids a candidate shares with the list at another distance are left out (the paths that can
    // meet them drop them by id first).
    offered.erase(std::remove_if(offered.begin(), offered.end(),
                                 [&](const std::pair<float, uint32_t>& o) {
                                   for (const auto& e : listed) {
                                     if (e.second == o.second && e.first != o.first) return true;
                                   }
                                   return false;
                                 }),
                  offered.end());
    std::vector<uint32_t> ids(k, kInvalidId), more_ids;
    std::vector<float> distances(k, std::numeric_limits<float>::infinity()), more_distances;
    for (int i = 0; i < filled; ++i) ids[i] = listed[i].second, distances[i] = listed[i].first;
    for (const auto& o : offered) more_ids.push_back(o.second), more_distances.push_back(o.first);
    const int count = static_cast<int>(offered.size());
    std::vector<uint32_t> want_ids = ids, scratch_ids(k);
    std::vector<float> want_distances = distances, scratch_distances(k);
    cpu::merge_sorted(want_ids.data(), want_distances.data(), more_ids.data(), more_distances.data(), count, k,
                      scratch_ids.data(), scratch_distances.data());
    std::vector<uint64_t> keys(3 * static_cast<size_t>(k) + 2);
    cpu::merge_sorted_by_key(ids.data(), distances.data(), more_ids.data(), more_distances.data(), count, k,
                             keys.data());
    ASSERT_EQ(ids, want_ids) << "trial " << trial << " k " << k << " filled " << filled << " more " << count;
    for (int i = 0; i < k; ++i) ASSERT_EQ(distances[i], want_distances[i]) << "trial " << trial << " at " << i;
  }
}

}  // namespace
