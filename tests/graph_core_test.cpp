// The shared graph logic in kernels/shared/ (what the CPU backend and the CUDA kernels both
// run) and the CPU graph optimisation, on hand-made inputs whose answers are worked out from the
// documented rules, and on random inputs against plain reference implementations.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <numeric>
#include <set>
#include <vector>

#include "annforge.hpp"
#include "host/cpu/graph/graph_optimize.hpp"
#include "host/cpu/knn_graph.hpp"
#include "kernels/shared/distance_core.hpp"
#include "kernels/shared/neighbor_list.hpp"
#include "kernels/shared/partition_core.hpp"
#include "kernels/shared/prune_core.hpp"
#include "tests/test_support.hpp"

namespace {

using namespace annforge;
using annforge_test::Rng;

// --- distance_core ------------------------------------------------------------------------------

TEST(DistanceCore, HandComputedValues) {
  const float a[3] = {1, 2, 3}, b[3] = {4, 6, 8};
  EXPECT_EQ(core::squared_l2(a, b, 3), 50.0f);  // 9 + 16 + 25
  EXPECT_EQ(core::dot(a, b, 3), 40.0f);         // 4 + 12 + 24
  const uint8_t u[2] = {0, 255}, v[2] = {255, 0};
  EXPECT_EQ(core::squared_l2(u, v, 2), 2 * 65025.0f);
  EXPECT_EQ(core::dot(u, u, 2), 65025.0f);
  const int8_t lo[2] = {-128, -128}, hi[2] = {127, 127};
  EXPECT_EQ(core::squared_l2(lo, hi, 2), 2 * 65025.0f);
  EXPECT_EQ(core::dot(lo, hi, 2), 2 * -16256.0f);
  EXPECT_EQ(core::dot(lo, lo, 2), 2 * 16384.0f);
  EXPECT_EQ(core::squared_l2(a, b, 0), 0.0f);
  EXPECT_EQ(core::inner_product_distance(2.5f), -2.5f);
  EXPECT_FLOAT_EQ(core::cosine_distance(0.5f, 1.0f, 1.0f), 0.5f);
  EXPECT_NEAR(core::cosine_distance(40.0f, 1.0f / std::sqrt(14.0f), 1.0f / std::sqrt(116.0f)),
              1.0 - 40.0 / std::sqrt(14.0 * 116.0), 1e-6);
  EXPECT_EQ(core::cosine_distance(0.0f, 0.0f, 1.0f), 1.0f) << "a zero vector is at distance 1 from everything";
}

// --- neighbor_list: insert_sorted ----------------------------------------------------------------

struct List {
  std::vector<uint32_t> ids;
  std::vector<float> distances;
  std::vector<uint8_t> flags;
  bool insert(uint32_t id, float d, uint8_t flag, bool with_flags = true) {
    return core::insert_sorted(ids.data(), distances.data(), with_flags ? flags.data() : nullptr,
                               static_cast<int>(ids.size()), id, d, flag);
  }
};

List five() { return {{10, 11, 12, 13, 14}, {1, 2, 3, 4, 5}, {1, 1, 1, 1, 1}}; }

TEST(InsertSorted, InsertsInOrderAndPushesOutTheFarthest) {
  List l = five();
  EXPECT_TRUE(l.insert(20, 2.5f, 0));
  EXPECT_EQ(l.ids, (std::vector<uint32_t>{10, 11, 20, 12, 13}));
  EXPECT_EQ(l.distances, (std::vector<float>{1, 2, 2.5f, 3, 4}));
  EXPECT_EQ(l.flags, (std::vector<uint8_t>{1, 1, 0, 1, 1})) << "flags move with their ids";
  EXPECT_TRUE(l.insert(21, 0.5f, 7));
  EXPECT_EQ(l.ids, (std::vector<uint32_t>{21, 10, 11, 20, 12}));
  EXPECT_EQ(l.flags, (std::vector<uint8_t>{7, 1, 1, 0, 1}));
  EXPECT_TRUE(l.insert(22, 2.9f, 3));  // into the last slot
  EXPECT_EQ(l.ids, (std::vector<uint32_t>{21, 10, 11, 20, 22}));
  EXPECT_EQ(l.flags, (std::vector<uint8_t>{7, 1, 1, 0, 3}));
}

TEST(InsertSorted, RejectsRepeatsNoNearerAndWorseThanLast) {
  List l = five();
  const List before = l;
  EXPECT_FALSE(l.insert(12, 3.0f, 0)) << "already present at the same distance";
  EXPECT_FALSE(l.insert(12, 3.5f, 0)) << "already present, nearer";
  EXPECT_FALSE(l.insert(30, 6.0f, 0)) << "farther than the last entry";
  EXPECT_FALSE(l.insert(30, 5.0f, 0)) << "a tie with the last entry and a larger id";
  EXPECT_EQ(l.ids, before.ids);
  EXPECT_EQ(l.distances, before.distances);
  EXPECT_EQ(l.flags, before.flags);
  EXPECT_TRUE(l.insert(9, 5.0f, 0)) << "a tie with the last entry and a smaller id orders first";
  EXPECT_EQ(l.ids, (std::vector<uint32_t>{10, 11, 12, 13, 9}));
  EXPECT_TRUE(l.insert(5, 2.0f, 0)) << "ties order by id";
  EXPECT_EQ(l.ids, (std::vector<uint32_t>{10, 5, 11, 12, 13}));
}

// A pair met twice may come with distances that differ in the last bits: the list keeps the
// smaller, so its content does not depend on which came first.
TEST(InsertSorted, ARepeatNearerMovesUpInsteadOfTwice) {
  List l = five();
  EXPECT_TRUE(l.insert(13, 1.5f, 9)) << "13 was at 4";
  EXPECT_EQ(l.ids, (std::vector<uint32_t>{10, 13, 11, 12, 14}));
  EXPECT_EQ(l.distances, (std::vector<float>{1, 1.5f, 2, 3, 5})) << "nothing pushed out";
  EXPECT_EQ(l.flags, (std::vector<uint8_t>{1, 9, 1, 1, 1})) << "the moved entry takes the new flag";
  EXPECT_TRUE(l.insert(14, 4.5f, 2)) << "the last entry, nearer, stays last";
  EXPECT_EQ(l.ids, (std::vector<uint32_t>{10, 13, 11, 12, 14}));
  EXPECT_EQ(l.distances, (std::vector<float>{1, 1.5f, 2, 3, 4.5f}));
  EXPECT_FALSE(l.insert(13, 1.5f, 0)) << "the same distance again";
  // Both orders of arrival give the same list.
  List a = five(), b = five();
  a.insert(20, 2.5f, 1), a.insert(20, 2.25f, 1);
  b.insert(20, 2.25f, 1), b.insert(20, 2.5f, 1);
  EXPECT_EQ(a.ids, b.ids);
  EXPECT_EQ(a.distances, b.distances);
}

TEST(InsertSorted, EmptySlotsAndNoFlags) {
  const float inf = std::numeric_limits<float>::infinity();
  List l{{kInvalidId, kInvalidId, kInvalidId}, {inf, inf, inf}, {0, 0, 0}};
  EXPECT_TRUE(l.insert(4, 3.0f, 1, false));
  EXPECT_TRUE(l.insert(2, 1.0f, 1, false));
  EXPECT_FALSE(l.insert(4, 3.5f, 1, false));
  EXPECT_TRUE(l.insert(4, 2.0f, 1, false)) << "a repeat, nearer";
  EXPECT_EQ(l.ids, (std::vector<uint32_t>{2, 4, kInvalidId}));
  EXPECT_EQ(l.distances[1], 2.0f);
  EXPECT_EQ(l.flags, (std::vector<uint8_t>{0, 0, 0})) << "a null flags pointer touches no flags";
  EXPECT_FALSE(core::insert_sorted(l.ids.data(), l.distances.data(), nullptr, 0, 1, 0.0f, 0)) << "length 0";
}

// Random insertions against a reference list: always sorted by (distance, id), no id twice (a
// repeat keeps its smaller distance), flags still attached to the ids they were inserted with,
// and the same accept/reject answer.
TEST(InsertSorted, RandomInsertionsMatchAReference) {
  Rng rng(77);
  for (int trial = 0; trial < 200; ++trial) {
    const int length = 1 + static_cast<int>(rng.below(12));
    const float inf = std::numeric_limits<float>::infinity();
    List l{std::vector<uint32_t>(length, kInvalidId), std::vector<float>(length, inf), std::vector<uint8_t>(length, 0)};
    std::vector<std::pair<float, uint32_t>> reference;  // the kept (distance, id), sorted
    for (int step = 0; step < 60; ++step) {
      const uint32_t id = static_cast<uint32_t>(rng.below(30));
      const float d = static_cast<float>(rng.below(20));  // small integers: many exact ties
      const uint8_t flag = static_cast<uint8_t>(id * 7 + 1);
      // The reference: an id present keeps the smaller of its distances.
      auto present = std::find_if(reference.begin(), reference.end(), [&](const auto& e) { return e.second == id; });
      const bool fits = static_cast<int>(reference.size()) < length || std::make_pair(d, id) < reference.back();
      const bool expected = present == reference.end() ? fits : d < present->first;
      ASSERT_EQ(l.insert(id, d, flag), expected) << "trial " << trial << " step " << step;
      if (expected) {
        if (present != reference.end()) reference.erase(present);
        reference.emplace_back(d, id);
        std::sort(reference.begin(), reference.end());
        if (static_cast<int>(reference.size()) > length) reference.pop_back();
      }
      for (int j = 0; j < length; ++j) {
        if (j < static_cast<int>(reference.size())) {
          ASSERT_EQ(l.ids[j], reference[j].second);
          ASSERT_EQ(l.distances[j], reference[j].first);
          ASSERT_EQ(l.flags[j], static_cast<uint8_t>(l.ids[j] * 7 + 1)) << "a flag left its id";
        } else {
          ASSERT_EQ(l.ids[j], kInvalidId);
        }
      }
    }
  }
}

// --- prune_core ----------------------------------------------------------------------------------

TEST(PruneCore, IsDetour) {
  EXPECT_TRUE(core::is_detour(0, 0, 1));
  EXPECT_TRUE(core::is_detour(2, 3, 4));
  EXPECT_FALSE(core::is_detour(1, 0, 1)) << "the via hop is not shorter in rank";
  EXPECT_FALSE(core::is_detour(0, 1, 1)) << "the second hop is not shorter in rank";
  EXPECT_FALSE(core::is_detour(0, 0, 0));
  EXPECT_FALSE(core::is_detour(3, 5, 4));
}

TEST(PruneCore, SelectByDetoursOrdersByCountThenRank) {
  const uint16_t detours[6] = {0, 2, 0, 1, 0, 1};
  uint16_t kept[6];
  core::select_by_detours(detours, 6, 3, kept);
  EXPECT_EQ(std::vector<uint16_t>(kept, kept + 3), (std::vector<uint16_t>{0, 2, 4}));
  core::select_by_detours(detours, 6, 5, kept);
  EXPECT_EQ(std::vector<uint16_t>(kept, kept + 5), (std::vector<uint16_t>{0, 2, 4, 3, 5}));
  core::select_by_detours(detours, 6, 6, kept);
  EXPECT_EQ(std::vector<uint16_t>(kept, kept + 6), (std::vector<uint16_t>{0, 2, 4, 3, 5, 1}));
  // Writes exactly `degree` entries, no more.
  uint16_t guard[4] = {99, 99, 99, 99};
  core::select_by_detours(detours, 6, 2, guard);
  EXPECT_EQ(std::vector<uint16_t>(guard, guard + 4), (std::vector<uint16_t>{0, 2, 99, 99}));
  // No detours at all: the first `degree` ranks.
  const uint16_t none[5] = {0, 0, 0, 0, 0};
  core::select_by_detours(none, 5, 3, kept);
  EXPECT_EQ(std::vector<uint16_t>(kept, kept + 3), (std::vector<uint16_t>{0, 1, 2}));
}

// --- graph_optimize: prune_by_detours ------------------------------------------------------------

cpu::KnnGraph knn_of(const std::vector<std::vector<uint32_t>>& lists) {
  cpu::KnnGraph g;
  g.rows = static_cast<int64_t>(lists.size());
  g.k = static_cast<int>(lists[0].size());
  for (const auto& l : lists) {
    g.ids.insert(g.ids.end(), l.begin(), l.end());
    for (size_t r = 0; r < l.size(); ++r) g.distances.push_back(static_cast<float>(r + 1));
  }
  return g;
}

// The rule of prune_core.hpp written out plainly: the detour count of rank r is the number of
// earlier neighbours w (rank j < r) that hold the target among their first r entries; keep the
// `degree` ranks with the fewest detours, ties by rank.
std::vector<uint32_t> reference_prune(const cpu::KnnGraph& knn, int degree) {
  const int k = knn.k;
  std::vector<uint32_t> out;
  for (int64_t v = 0; v < knn.rows; ++v) {
    const uint32_t* list = &knn.ids[v * k];
    std::vector<std::pair<int, int>> order;  // (detours, rank)
    for (int r = 0; r < k; ++r) {
      int detours = 0;
      for (int j = 0; j < r; ++j) {
        const uint32_t* via = &knn.ids[static_cast<int64_t>(list[j]) * k];
        detours += std::find(via, via + r, list[r]) != via + r;
      }
      order.emplace_back(detours, r);
    }
    std::sort(order.begin(), order.end());
    for (int e = 0; e < degree; ++e) out.push_back(list[order[e].second]);
  }
  return out;
}

TEST(PruneByDetours, HandMadeGraph) {
  // Worked by hand for vector 0 (list 1, 2, 3, 4): 0 -> 2 is detourable via 1 (rank 0 in 0's
  // list; 2 is 1's first entry); 0 -> 4 via 3 (rank 2; 4 is 3's first entry); 0 -> 3 has no
  // detour (3 is not among the first 2 entries of 1 or 2). Detours 0, 1, 0, 1: keep ranks 0, 2.
  // Vector 3 (list 4, 5, 0, 1): 3 -> 1 is detourable via 5 and via 0, nothing else: keep 4, 5.
  const cpu::KnnGraph knn = knn_of({{1, 2, 3, 4}, {2, 0, 5, 3}, {1, 0, 5, 4}, {4, 5, 0, 1}, {3, 5, 0, 2}, {3, 4, 1, 2}});
  const std::vector<uint32_t> pruned = cpu::prune_by_detours(knn, 2, 1);
  ASSERT_EQ(pruned.size(), 12u);
  EXPECT_EQ(std::vector<uint32_t>(pruned.begin(), pruned.begin() + 2), (std::vector<uint32_t>{1, 3}));
  EXPECT_EQ(std::vector<uint32_t>(pruned.begin() + 6, pruned.begin() + 8), (std::vector<uint32_t>{4, 5}));
  EXPECT_EQ(pruned, reference_prune(knn, 2));
  const std::vector<uint32_t> three = cpu::prune_by_detours(knn, 3, 1);
  EXPECT_EQ(std::vector<uint32_t>(three.begin(), three.begin() + 3), (std::vector<uint32_t>{1, 3, 2}));
  EXPECT_EQ(three, reference_prune(knn, 3));
  EXPECT_EQ(cpu::prune_by_detours(knn, 4, 1), reference_prune(knn, 4)) << "degree k keeps every edge, reordered";
}

// Exact kNN lists (self left out) of clustered points in 6 dimensions.
cpu::KnnGraph exact_knn_lists(int64_t rows, int k, uint64_t seed) {
  Dataset data = annforge_test::clustered(rows, 6, ElementType::Float32, seed);
  const Neighbors nn = exact_knn(data.view(), data.view(), k + 1, Metric::L2);
  cpu::KnnGraph knn;
  knn.rows = rows;
  knn.k = k;
  for (int64_t v = 0; v < rows; ++v) {
    int taken = 0;
    for (int j = 0; j <= k && taken < k; ++j) {
      const uint32_t id = nn.ids[v * (k + 1) + j];
      if (id == v) continue;
      knn.ids.push_back(id);
      knn.distances.push_back(nn.distances[v * (k + 1) + j]);
      ++taken;
    }
    EXPECT_EQ(taken, k) << "row " << v;
  }
  return knn;
}

// Exact kNN lists of clustered points (where detours abound), many threads: the same answer as
// the plain rule.
TEST(PruneByDetours, MatchesThePlainRuleOnRealLists) {
  const cpu::KnnGraph knn = exact_knn_lists(700, 24, 3);
  for (int degree : {1, 8, 12, 24}) {
    const std::vector<uint32_t> pruned = cpu::prune_by_detours(knn, degree, 3);
    ASSERT_EQ(pruned, reference_prune(knn, degree)) << "degree " << degree;
  }
}


// k = 64 is the largest list the per-vector slot table takes; k = 72 goes through the id-indexed
// rank table. More than two 512-row chunks, so three threads each take some.
TEST(PruneByDetours, MatchesThePlainRuleAtAndBeyondTheSlotTableLimit) {
  for (const int k : {64, 72}) {
    const cpu::KnnGraph knn = exact_knn_lists(1200, k, 11);
    ASSERT_FALSE(HasFailure());
    for (const int degree : {32, 1, k}) {
      const std::vector<uint32_t> expected = reference_prune(knn, degree);
      for (const int threads : {3, 1}) {
        if (threads == 1 && degree != 32) continue;
        ASSERT_EQ(cpu::prune_by_detours(knn, degree, threads), expected)
            << "k " << k << " degree " << degree << " threads " << threads;
      }
    }
  }
}

// The slot table's multipliers and slot count, as graph_optimize.cpp chooses them: the test
// below builds lists that no multiplier separates, so that pruning takes its fallback path.
uint32_t slot_of(uint32_t id, int attempt) {
  const uint32_t multiplier = 0x9E3779B1u + 0x7F4A7C16u * static_cast<uint32_t>(attempt);
  return (id * multiplier) >> (32 - 13);
}
constexpr int kMultiplierTries = 8;

bool some_multiplier_separates(const uint32_t* list, int k) {
  for (int attempt = 0; attempt < kMultiplierTries; ++attempt) {
    std::set<uint32_t> slots;
    for (int r = 0; r < k; ++r) slots.insert(slot_of(list[r], attempt));
    if (static_cast<int>(slots.size()) == k) return true;
  }
  return false;
}

// k <= 64, but some lists hold, for every multiplier, two ids that share a slot: those vectors
// are counted through the rank table (the rest through slots), with the same answer as the plain
// rule. The lists are exact kNN lists of clustered points with the ids relabelled (the rule
// depends on ranks only, not on the values of ids) so that the chosen vectors' lists collide.
// Ids below 4,182 never share a slot under the first multiplier (nor below 6,473 under the
// fifth), so the graph is five disjoint copies of one 2,000-row kNN graph: 10,000 rows.
TEST(PruneByDetours, MatchesThePlainRuleWhenIdsCollideInTheSlotTable) {
  const int64_t copy_rows = 2000, copies = 5, rows = copy_rows * copies;
  const int k = 32;
  const cpu::KnnGraph one = exact_knn_lists(copy_rows, k, 5);
  ASSERT_FALSE(HasFailure());
  cpu::KnnGraph original;
  original.rows = rows;
  original.k = k;
  for (int64_t c = 0; c < copies; ++c) {
    for (uint32_t id : one.ids) original.ids.push_back(static_cast<uint32_t>(id + c * copy_rows));
    original.distances.insert(original.distances.end(), one.distances.begin(), one.distances.end());
  }
  std::vector<int64_t> label(rows, -1);  // old id -> new id
  std::vector<bool> used(rows, false);
  std::vector<int64_t> targets;
  for (int64_t v : {3, 410, 2777, 5234, 9999}) {
    const uint32_t* list = &original.ids[v * k];
    std::vector<uint32_t> free_ids;
    for (int r = 0; r < k; ++r)
      if (label[list[r]] < 0) free_ids.push_back(list[r]);
    if (free_ids.size() < 2 * kMultiplierTries) continue;
    // For multiplier `attempt`, two unused labels sharing a slot, given to two ids of the list.
    for (int attempt = 0; attempt < kMultiplierTries; ++attempt) {
      std::vector<std::vector<uint32_t>> by_slot(1u << 13);
      bool found = false;
      for (uint32_t x = 0; x < rows && !found; ++x) {
        if (used[x]) continue;
        std::vector<uint32_t>& slot = by_slot[slot_of(x, attempt)];
        if (!slot.empty()) {
          const uint32_t a = free_ids[2 * attempt], b = free_ids[2 * attempt + 1];
          label[a] = slot[0];
          label[b] = x;
          used[slot[0]] = used[x] = true;
          found = true;
        }
        slot.push_back(x);
      }
      ASSERT_TRUE(found) << "no two free labels share a slot for multiplier " << attempt;
    }
    targets.push_back(v);
  }
  ASSERT_GE(targets.size(), 2u);
  uint32_t next = 0;
  for (int64_t v = 0; v < rows; ++v) {
    if (label[v] >= 0) continue;
    while (used[next]) ++next;
    label[v] = next;
    used[next] = true;
  }
  cpu::KnnGraph knn;
  knn.rows = rows;
  knn.k = k;
  knn.ids.resize(rows * k);
  knn.distances.resize(rows * k);
  for (int64_t v = 0; v < rows; ++v) {
    for (int r = 0; r < k; ++r) {
      knn.ids[label[v] * k + r] = static_cast<uint32_t>(label[original.ids[v * k + r]]);
      knn.distances[label[v] * k + r] = original.distances[v * k + r];
    }
  }
  int colliding = 0;
  for (int64_t v = 0; v < rows; ++v) colliding += !some_multiplier_separates(&knn.ids[v * k], k);
  for (int64_t v : targets) {
    EXPECT_FALSE(some_multiplier_separates(&knn.ids[label[v] * k], k)) << "vector " << label[v];
  }
  ASSERT_GE(colliding, static_cast<int>(targets.size()));
  ASSERT_LT(colliding, rows / 2) << "most vectors should still go through the slot table";
  for (const int degree : {8, 16, 32}) {
    const std::vector<uint32_t> expected = reference_prune(knn, degree);
    for (const int threads : {1, 3}) {
      ASSERT_EQ(cpu::prune_by_detours(knn, degree, threads), expected) << "degree " << degree << " threads " << threads;
    }
  }
}

// --- graph_optimize: merge_reverse_edges ----------------------------------------------------------

TEST(MergeReverseEdges, HandMadeGraph) {
  // degree 4: each vector keeps its first 2 forward edges, then takes reverse edges (collected
  // position by position over all vectors, at most 4 per vector), then its remaining forward
  // edges, skipping repeats. Worked by hand from these forward lists:
  const std::vector<uint32_t> pruned = {
      1, 2, 3, 4,  // 0
      0, 2, 3, 5,  // 1
      0, 1, 4, 5,  // 2
      0, 4, 5, 1,  // 3
      5, 0, 1, 2,  // 4
      4, 3, 2, 0,  // 5
  };
  // Reverse lists in collection order: 0 <- 1, 2, 3, 4 (5's edge to 0 is 5th: over the cap);
  // 1 <- 0, 2, 4, 3; 2 <- 0, 1, 5, 4; 3 <- 5, 0, 1; 4 <- 5, 3, 2, 0; 5 <- 4, 3, 1, 2.
  const std::vector<uint32_t> expected = {
      1, 2, 3, 4,  // 0: 1, 2 kept; reverse 1, 2 repeat; 3, 4 fill
      0, 2, 4, 3,  // 1: 0, 2 kept; reverse 4, 3 displace forward 3, 5
      0, 1, 5, 4,  // 2: reverse 5 before forward 4
      0, 4, 5, 1,  // 3: reverse 5, 1
      5, 0, 3, 2,  // 4: reverse 3 displaces forward 1
      4, 3, 1, 2,  // 5: reverse 1 displaces forward 0; 2 stays (it is a reverse edge too)
  };
  EXPECT_EQ(cpu::merge_reverse_edges(pruned, 6, 4), expected);
}

TEST(MergeReverseEdges, PropertiesOnRandomGraphs) {
  Rng rng(91);
  for (int trial = 0; trial < 20; ++trial) {
    const int64_t rows = 50 + static_cast<int64_t>(rng.below(150));
    const int degree = 1 + static_cast<int>(rng.below(12));
    const int protected_edges = (degree + 1) / 2;
    std::vector<uint32_t> pruned;
    std::vector<std::set<uint32_t>> forward(rows), reverse(rows);
    for (int64_t v = 0; v < rows; ++v) {
      while (static_cast<int>(forward[v].size()) < degree) {
        const uint32_t u = static_cast<uint32_t>(rng.below(rows));
        if (u == v || forward[v].count(u)) continue;
        forward[v].insert(u);
        reverse[u].insert(static_cast<uint32_t>(v));
        pruned.push_back(u);
      }
    }
    const std::vector<uint32_t> graph = cpu::merge_reverse_edges(pruned, rows, degree);
    ASSERT_EQ(graph.size(), pruned.size());
    for (int64_t v = 0; v < rows; ++v) {
      SCOPED_TRACE("trial " + std::to_string(trial) + " row " + std::to_string(v));
      const uint32_t* row = &graph[v * degree];
      const uint32_t* fwd = &pruned[v * degree];
      EXPECT_TRUE(std::equal(row, row + protected_edges, fwd)) << "the first half of forward edges stays first";
      std::set<uint32_t> seen;
      bool forward_only_seen = false;
      for (int e = 0; e < degree; ++e) {
        ASSERT_LT(row[e], rows);
        ASSERT_NE(row[e], v) << "self loop";
        ASSERT_TRUE(seen.insert(row[e]).second) << "repeated id " << row[e];
        ASSERT_TRUE(forward[v].count(row[e]) || reverse[v].count(row[e])) << "edge from nowhere: " << row[e];
        if (e >= protected_edges) {
          const bool is_reverse = reverse[v].count(row[e]) > 0;
          if (!is_reverse) forward_only_seen = true;
          EXPECT_FALSE(is_reverse && !forward[v].count(row[e]) && forward_only_seen)
              << "a reverse edge after an unprotected forward-only edge";
        }
      }
    }
  }
}

// Reverse lists are collected over target ranges, one range per part (rows / 65536 + 1 parts,
// at most one per thread): the result must not depend on the thread count. 140,000 rows (three
// parts) with some much-wanted targets, so that reverse lists overflow their cap and the order of
// collection decides what survives. Also checked against the rule written out plainly.
TEST(MergeReverseEdges, SameResultOnAnyThreadCount) {
  const int64_t rows = 140000;
  const int degree = 8;
  Rng rng(1234);
  std::vector<uint32_t> pruned(rows * degree);
  for (int64_t v = 0; v < rows; ++v) {
    uint32_t* row = &pruned[v * degree];
    for (int e = 0; e < degree;) {
      // A quarter of the edges go to 600 popular targets spread over all parts.
      const uint32_t u = rng.below(4) == 0 ? static_cast<uint32_t>((rng.below(600) * 233) % rows)
                                           : static_cast<uint32_t>(rng.below(rows));
      if (u == v || std::find(row, row + e, u) != row + e) continue;
      row[e++] = u;
    }
  }
  // The rule: reverse lists gathered position by position over all vectors, at most `degree`
  // each, then core::merge_forward_and_reverse per vector.
  std::vector<uint32_t> reverse(rows * degree);
  std::vector<int> reverse_count(rows, 0);
  for (int p = 0; p < degree; ++p) {
    for (int64_t v = 0; v < rows; ++v) {
      const uint32_t u = pruned[v * degree + p];
      if (reverse_count[u] < degree) reverse[u * degree + reverse_count[u]++] = static_cast<uint32_t>(v);
    }
  }
  int overflowing = 0;
  std::vector<uint32_t> expected(rows * degree);
  for (int64_t v = 0; v < rows; ++v) {
    ASSERT_EQ(core::merge_forward_and_reverse(&pruned[v * degree], &reverse[v * degree], reverse_count[v], degree,
                                              &expected[v * degree]),
              degree);
    overflowing += reverse_count[v] == degree;
  }
  ASSERT_GT(overflowing, 500) << "the popular targets should fill their reverse lists";
  const std::vector<uint32_t> one = cpu::merge_reverse_edges(pruned, rows, degree, 1);
  EXPECT_TRUE(one == expected) << "one thread differs from the plain rule";
  for (const int threads : {2, 3, 4}) {
    const std::vector<uint32_t> many = cpu::merge_reverse_edges(pruned, rows, degree, threads);
    ASSERT_EQ(many.size(), one.size());
    int64_t differing = 0;
    for (size_t i = 0; i < many.size(); ++i) differing += many[i] != one[i];
    EXPECT_EQ(differing, 0) << threads << " threads differ from one thread in " << differing << " entries";
  }
}

// optimize_graph = merge_reverse_edges(prune_by_detours(...)) and keeps the graph invariants.
TEST(OptimizeGraph, ComposesPruneAndMerge) {
  const cpu::KnnGraph knn = knn_of({{1, 2, 3, 4}, {2, 0, 5, 3}, {1, 0, 5, 4}, {4, 5, 0, 1}, {3, 5, 0, 2}, {3, 4, 1, 2}});
  for (int degree : {1, 2, 3, 4}) {
    const std::vector<uint32_t> graph = cpu::optimize_graph(knn, degree, 2, {});
    EXPECT_EQ(graph, cpu::merge_reverse_edges(cpu::prune_by_detours(knn, degree, 1), 6, degree)) << degree;
  }
}

}  // namespace

// --- the GPU forest's balanced segments (kernels/shared/partition_core.hpp) ----------------------

TEST(PartitionCore, SegmentsNestBalanceAndInvert) {
  for (int64_t n : {1, 2, 3, 7, 64, 65, 1000, 999983, 1000000}) {
    for (int level = 0; level <= 12 && (int64_t{1} << level) <= n; ++level) {
      SCOPED_TRACE("n " + std::to_string(n) + " level " + std::to_string(level));
      const int64_t segments = int64_t{1} << level;
      EXPECT_EQ(core::segment_start(0, level, n), 0);
      EXPECT_EQ(core::segment_start(segments, level, n), n);
      int64_t smallest = n, largest = 0;
      for (int64_t s = 0; s < segments; ++s) {
        const int64_t start = core::segment_start(s, level, n), end = core::segment_start(s + 1, level, n);
        smallest = std::min(smallest, end - start);
        largest = std::max(largest, end - start);
        // The next level's boundaries include this level's: segment s splits into 2s and 2s+1.
        EXPECT_EQ(core::segment_start(2 * s, level + 1, n), start);
        EXPECT_EQ(core::segment_start(2 * s + 2, level + 1, n), end);
      }
      EXPECT_LE(largest - smallest, 1) << "segments differ by at most one row";
      EXPECT_EQ(largest, core::max_segment_size(level, n));
      // segment_of is the inverse: every position lies in its segment (sampled for large n).
      const int64_t step = std::max<int64_t>(1, n / 5000);
      for (int64_t i = 0; i < n; i += step) {
        const int64_t s = core::segment_of(i, level, n);
        ASSERT_GE(s, 0);
        ASSERT_LT(s, segments);
        ASSERT_LE(core::segment_start(s, level, n), i);
        ASSERT_GT(core::segment_start(s + 1, level, n), i);
      }
    }
  }
}

TEST(PartitionCore, OrderableBitsSortLikeFloats) {
  std::vector<float> values{-std::numeric_limits<float>::infinity(), -1e30f, -2.5f, -1.0f, -1e-30f, -0.0f,
                            0.0f, 1e-30f, 1.0f, 2.5f, 1e30f, std::numeric_limits<float>::infinity()};
  for (size_t i = 0; i + 1 < values.size(); ++i) {
    uint32_t a, b;
    std::memcpy(&a, &values[i], 4);
    std::memcpy(&b, &values[i + 1], 4);
    if (values[i] < values[i + 1]) {
      EXPECT_LT(core::orderable_bits(a), core::orderable_bits(b)) << values[i] << " < " << values[i + 1];
    } else {
      EXPECT_LE(core::orderable_bits(a), core::orderable_bits(b)) << values[i] << " <= " << values[i + 1];
    }
  }
}

TEST(PruneCore, MergeForwardAndReverseKeepsProtectedEdgesFirst) {
  const uint32_t forward[4] = {10, 11, 12, 13};
  const uint32_t reverse[3] = {11, 20, 21};  // 11 is also forward: it is not repeated
  uint32_t out[4];
  EXPECT_EQ(core::merge_forward_and_reverse(forward, reverse, 3, 4, out), 4);
  EXPECT_EQ(std::vector<uint32_t>(out, out + 4), (std::vector<uint32_t>{10, 11, 20, 21}));
  // No reverse edges: the forward list as it is.
  EXPECT_EQ(core::merge_forward_and_reverse(forward, reverse, 0, 4, out), 4);
  EXPECT_EQ(std::vector<uint32_t>(out, out + 4), (std::vector<uint32_t>{10, 11, 12, 13}));
}
