// The clustered kNN stage's candidate buffers (host/cpu/all_pairs/candidate_buffers.hpp) against a plain
// model of their documented rules, and its pair filter (host/cpu/all_pairs/pair_filter.hpp): the AVX2
// kernel against the portable one, and both against brute-force nearest neighbours.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "host/cpu/all_pairs/candidate_buffers.hpp"
#include "host/cpu/distance/distance.hpp"
#include "host/cpu/all_pairs/pair_filter.hpp"
#include "tests/test_support.hpp"

namespace {

using namespace annforge;
using annforge_test::Rng;

constexpr float kInf = std::numeric_limits<float>::infinity();

using Entry = std::pair<float, uint32_t>;  // (distance, id): sorts nearest first, ties by id

std::vector<Entry> take_sorted(cpu::CandidateBuffers& buffers, int member, int k) {
  std::vector<uint32_t> ids(k + 1, 0xDEADBEEFu);
  std::vector<float> distances(k + 1, -1.0f);
  const int n = buffers.take_sorted(member, ids.data(), distances.data());
  EXPECT_GE(n, 0);
  EXPECT_LE(n, k);
  EXPECT_EQ(ids[k], 0xDEADBEEFu) << "take_sorted wrote past k entries";
  std::vector<Entry> out;
  for (int i = 0; i < std::max(0, std::min(n, k)); ++i) out.emplace_back(distances[i], ids[i]);
  return out;
}

std::vector<Entry> smallest(std::vector<Entry> all, int k) {
  std::sort(all.begin(), all.end());
  if (static_cast<int>(all.size()) > k) all.resize(k);
  return all;
}

// The documented rules, written out plainly: an offer below the threshold is kept; a full
// buffer is cut to its best k by (distance, id) and the threshold becomes the k-th distance.
struct ModelBuffer {
  int k, capacity;
  float threshold;
  std::vector<Entry> items;
  void offer(uint32_t id, float d) {
    if (!(d < threshold)) return;
    items.emplace_back(d, id);
    if (static_cast<int>(items.size()) == capacity) {
      items = smallest(items, k);
      threshold = items.back().first;
    }
  }
  std::vector<Entry> take() const { return smallest(items, k); }
};

std::string show(const std::vector<Entry>& entries) {
  std::string s;
  for (const auto& e : entries) s += "(" + std::to_string(e.first) + ", " + std::to_string(e.second) + ") ";
  return s;
}

// --- CandidateBuffers --------------------------------------------------------------------------

TEST(CandidateBuffers, HandWorkedCutAndThreshold) {
  cpu::CandidateBuffers buffers(2, 4);
  const float start[2] = {kInf, 5.0f};
  buffers.reset(2, start);
  EXPECT_EQ(buffers.thresholds()[0], kInf);
  EXPECT_EQ(buffers.thresholds()[1], 5.0f);
  buffers.offer(0, 10, 3.0f);
  buffers.offer(0, 11, 1.0f);
  buffers.offer(0, 12, 4.0f);
  EXPECT_EQ(buffers.thresholds()[0], kInf) << "not full yet: no cut";
  buffers.offer(0, 13, 2.0f);  // the 4th offer fills the buffer: cut to (1, 11), (2, 13)
  EXPECT_EQ(buffers.thresholds()[0], 2.0f) << "after the cut the threshold is the k-th distance";
  buffers.offer(0, 5, 2.0f);   // ties the threshold: refused, even with a smaller id
  buffers.offer(0, 14, 2.5f);  // above it: refused
  buffers.offer(0, 15, 0.5f);  // below it: kept
  EXPECT_EQ(take_sorted(buffers, 0, 2), (std::vector<Entry>{{0.5f, 15}, {1.0f, 11}}));
  // Member 1 starts from 5: offers at or above it never enter.
  buffers.offer(1, 20, 5.0f);
  buffers.offer(1, 21, 7.0f);
  EXPECT_EQ(take_sorted(buffers, 1, 2), (std::vector<Entry>{}));
  buffers.offer(1, 22, 4.0f);
  EXPECT_EQ(take_sorted(buffers, 1, 2), (std::vector<Entry>{{4.0f, 22}})) << "fewer than k: all of them";
  // Ties of distance order by id; take_sorted does not empty the buffer.
  buffers.offer(1, 9, 4.0f);
  EXPECT_EQ(take_sorted(buffers, 1, 2), (std::vector<Entry>{{4.0f, 9}, {4.0f, 22}}));
  EXPECT_EQ(take_sorted(buffers, 1, 2), (std::vector<Entry>{{4.0f, 9}, {4.0f, 22}}));
  // reset empties every buffer and installs the new thresholds, for more members than before.
  const float again[3] = {kInf, kInf, 1.0f};
  buffers.reset(3, again);
  for (int m = 0; m < 3; ++m) EXPECT_TRUE(take_sorted(buffers, m, 2).empty()) << m;
  EXPECT_EQ(buffers.thresholds()[0], kInf);
  EXPECT_EQ(buffers.thresholds()[2], 1.0f);
}

// Infinite start thresholds, capacity 2k, far more offers than capacity, distinct distances:
// each member ends with exactly the k smallest of everything offered to it, whatever the order.
TEST(CandidateBuffers, KeepsTheKSmallestOfAllOffers) {
  Rng rng(2024);
  for (int trial = 0; trial < 30; ++trial) {
    const int members = 1 + static_cast<int>(rng.below(6));
    const int k = 1 + static_cast<int>(rng.below(16));
    const int offers = 50 + static_cast<int>(rng.below(2000));
    cpu::CandidateBuffers buffers(k, 2 * k);
    std::vector<float> start(members, kInf);
    buffers.reset(members, start.data());
    // Distinct distances (negative ones too, as inner-product distances are), random order.
    std::vector<int> order(offers);
    std::iota(order.begin(), order.end(), 0);
    for (int i = offers - 1; i > 0; --i) std::swap(order[i], order[rng.below(i + 1)]);
    std::vector<std::vector<Entry>> offered(members);
    for (int i = 0; i < offers; ++i) {
      const int member = static_cast<int>(rng.below(members));
      const float d = static_cast<float>(order[i] - offers / 3) * 0.125f;
      const uint32_t id = static_cast<uint32_t>(rng.below(1u << 30));
      buffers.offer(member, id, d);
      offered[member].emplace_back(d, id);
    }
    for (int m = 0; m < members; ++m) {
      EXPECT_EQ(take_sorted(buffers, m, k), smallest(offered[m], k))
          << "trial " << trial << " member " << m << " k " << k << " offers " << offered[m].size();
    }
  }
}

// Many exact ties (small integer distances): the buffers follow the model step by step (the
// same threshold after every offer, never rising), and the answer has the k smallest distances
// of all offers; ids are exact below the k-th distance. At the k-th distance itself an offer
// that ties a threshold already lowered to it is refused (documented: "at or above"), so which
// of the tied ids are kept depends on the order of the offers.
TEST(CandidateBuffers, FollowsTheModelWithTies) {
  Rng rng(99);
  for (int trial = 0; trial < 40; ++trial) {
    const int members = 1 + static_cast<int>(rng.below(5));
    const int k = 1 + static_cast<int>(rng.below(10));
    const int capacity = k + 1 + static_cast<int>(rng.below(2 * k + 2));
    const int offers = 20 + static_cast<int>(rng.below(1500));
    const bool finite = trial % 3 == 0;
    cpu::CandidateBuffers buffers(k, capacity);
    std::vector<float> start(members);
    for (float& t : start) t = finite ? static_cast<float>(rng.below(30)) : kInf;
    buffers.reset(members, start.data());
    std::vector<ModelBuffer> model;
    for (int m = 0; m < members; ++m) model.push_back({k, capacity, start[m], {}});
    std::vector<std::vector<Entry>> offered(members);
    std::vector<float> last(start);
    for (int i = 0; i < offers; ++i) {
      const int member = static_cast<int>(rng.below(members));
      const float d = static_cast<float>(rng.below(40)) - 5.0f;
      const uint32_t id = static_cast<uint32_t>(rng.below(200));
      buffers.offer(member, id, d);
      model[member].offer(id, d);
      if (d < start[member]) offered[member].emplace_back(d, id);
      for (int m = 0; m < members; ++m) {
        const float now = buffers.thresholds()[m];
        ASSERT_LE(now, last[m]) << "a threshold rose: trial " << trial << " offer " << i << " member " << m;
        ASSERT_EQ(now, model[m].threshold) << "trial " << trial << " offer " << i << " member " << m;
        last[m] = now;
      }
    }
    for (int m = 0; m < members; ++m) {
      SCOPED_TRACE("trial " + std::to_string(trial) + " member " + std::to_string(m) + " k " + std::to_string(k) +
                   " capacity " + std::to_string(capacity));
      const std::vector<Entry> got = take_sorted(buffers, m, k);
      EXPECT_EQ(got, model[m].take());
      // Independent of the model: the distances are the k smallest offered below the start
      // threshold, and everything strictly nearer than the k-th distance is there by id.
      const std::vector<Entry> best = smallest(offered[m], k);
      ASSERT_EQ(got.size(), best.size());
      for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].first, best[i].first) << i;
      for (const Entry& e : got) EXPECT_LT(e.first, start[m]) << "an offer at or above the start threshold";
      if (!got.empty()) {
        const float kth = got.back().first;
        std::vector<Entry> nearer_got, nearer_all;
        for (const Entry& e : got)
          if (e.first < kth) nearer_got.push_back(e);
        for (const Entry& e : best)
          if (e.first < kth) nearer_all.push_back(e);
        EXPECT_EQ(nearer_got, nearer_all);
      }
    }
  }
}

// A finite start threshold: offers at or above it are refused, the rest compete as usual.
TEST(CandidateBuffers, FiniteStartThresholdExcludesOffersAtOrAboveIt) {
  Rng rng(5);
  const int members = 4, k = 6, offers = 3000;
  cpu::CandidateBuffers buffers(k, 13);
  const float start[members] = {-100.0f, 10.0f, 0.0f, 1000.5f};
  buffers.reset(members, start);
  std::vector<int> values(100000);
  std::iota(values.begin(), values.end(), 0);
  for (int i = 0; i < offers; ++i) std::swap(values[i], values[i + rng.below(values.size() - i)]);
  // Offer 1 (member 1) exactly 10, offer 2 (member 2) exactly 0, offer 5 (member 1) just below 10.
  for (const auto& [at, value] : {std::pair<int, int>{1, 60000}, {2, 50000}, {5, 59999}}) {
    std::swap(values[at], *std::find(values.begin(), values.end(), value));
  }
  std::vector<std::vector<Entry>> offered(members);
  for (int i = 0; i < offers; ++i) {
    const int member = i % members;
    // Distinct distances in [-50, 50), among them exactly the thresholds 10 and 0.
    const float d = static_cast<float>(values[i] - 50000) / 1000.0f;
    const uint32_t id = static_cast<uint32_t>(i);
    buffers.offer(member, id, d);
    if (d < start[member]) offered[member].emplace_back(d, id);
  }
  buffers.offer(1, 999999, 10.0f);  // exactly at member 1's start threshold
  buffers.offer(2, 999998, 0.0f);
  EXPECT_TRUE(take_sorted(buffers, 0, k).empty()) << "nothing offered is below -100";
  for (int m = 1; m < members; ++m) {
    const std::vector<Entry> got = take_sorted(buffers, m, k);
    EXPECT_EQ(got, smallest(offered[m], k)) << "member " << m << ": got " << show(got);
    for (const Entry& e : got) EXPECT_LT(e.first, start[m]);
  }
}


// --- the pair filter -----------------------------------------------------------------------------

// One cluster's inputs: per position add/mul terms and ids, a full n x n matrix of dots, the
// per-position arrays padded 8 entries past the last position as pair_filter.hpp requires. The
// padding holds values that would pass every threshold if a kernel ever offered them.
struct Cluster {
  int n = 0;
  std::vector<float> add, mul, dots;
  std::vector<uint32_t> ids;
  float scale = 2.0f, floor = 0.0f;
  void pad() {
    add.resize(n + 8, -1e30f);
    mul.resize(n + 8, 1.0f);
    ids.resize(n + 8, 0xFFFFFFF0u);
  }
  cpu::PairTerms terms() const {
    cpu::PairTerms t;
    t.add = add.data();
    t.mul = mul.data();
    t.scale = scale;
    t.floor = floor;
    return t;
  }
  float dot(int a, int b) const { return dots[static_cast<size_t>(a) * n + b]; }
};

struct Tile {
  int row0, rows, col0, cols;
};

std::vector<int> random_cuts(Rng& rng, int n, int largest) {
  std::vector<int> cuts{0};
  while (cuts.back() < n) cuts.push_back(std::min(n, cuts.back() + 1 + static_cast<int>(rng.below(largest))));
  return cuts;
}

// Tiles over the n x n grid from row cuts and column cuts: every pair (row < col) lies in
// exactly one tile. With the same cuts for rows and columns the diagonal tiles have
// row0 == col0; with different ones tiles straddle the diagonal (col0 < row0 + rows) at odd
// offsets. Tiles wholly below the diagonal are kept: they must offer nothing.
std::vector<Tile> tiling(const std::vector<int>& row_cuts, const std::vector<int>& col_cuts) {
  std::vector<Tile> tiles;
  for (size_t i = 0; i + 1 < row_cuts.size(); ++i) {
    for (size_t j = 0; j + 1 < col_cuts.size(); ++j) {
      tiles.push_back({row_cuts[i], row_cuts[i + 1] - row_cuts[i], col_cuts[j], col_cuts[j + 1] - col_cuts[j]});
    }
  }
  return tiles;
}

// Runs a kernel over one tile: its dots copied into a block with leading dimension ld >= cols,
// padded past the end with dots that would make a padded lane pass any threshold.
void run_tile(cpu::PairFilterKernel kernel, const Cluster& c, const Tile& t, int ld, cpu::CandidateBuffers& buffers) {
  std::vector<float> block(static_cast<size_t>(t.rows) * ld + 8, 1e30f);
  for (int r = 0; r < t.rows; ++r) {
    for (int col = 0; col < t.cols; ++col) block[static_cast<size_t>(r) * ld + col] = c.dot(t.row0 + r, t.col0 + col);
  }
  const cpu::PairTerms terms = c.terms();
  kernel(block.data(), ld, t.row0, t.rows, t.col0, t.cols, terms, c.ids.data(), buffers);
}

// The pair distance of pair_filter.hpp, in the kernels' float operations.
float pair_distance(const Cluster& c, int a, int b) {
  const int row = std::min(a, b), col = std::max(a, b);
  const float factor = (c.mul[row] * c.mul[col]) * -c.scale;
  return std::max(std::fma(factor, c.dot(row, col), c.add[row] + c.add[col]), c.floor);
}

// Random terms of every kind; `ties`: small integers everywhere, so many pairs share a distance.
Cluster random_cluster(Rng& rng, int n, bool ties) {
  Cluster c;
  c.n = n;
  c.add.resize(n);
  c.mul.resize(n);
  c.dots.resize(static_cast<size_t>(n) * n);
  for (int i = 0; i < n; ++i) {
    c.add[i] = ties ? static_cast<float>(rng.below(5)) : static_cast<float>(rng.uniform(0.0, 4.0));
    c.mul[i] = ties ? 1.0f : static_cast<float>(rng.uniform(0.5, 1.5));
    c.ids.push_back(static_cast<uint32_t>(3 * i + 1000));
  }
  for (int i = 0; i < n; ++i) {
    for (int j = i; j < n; ++j) {
      const float d = ties ? static_cast<float>(static_cast<int>(rng.below(7)) - 3) : static_cast<float>(rng.uniform(-1, 1));
      c.dots[static_cast<size_t>(i) * n + j] = c.dots[static_cast<size_t>(j) * n + i] = d;
    }
  }
  for (int i = n - 1; i > 0; --i) std::swap(c.ids[i], c.ids[rng.below(i + 1)]);
  const float scales[3] = {1.0f, 2.0f, 0.7f};
  c.scale = scales[rng.below(ties ? 2 : 3)];
  c.floor = rng.below(2) ? 0.0f : -kInf;
  c.pad();
  return c;
}

// The AVX2 kernel and the portable one make the same offers in the same order: after every tile
// the thresholds agree bit for bit, and so do the final lists (small capacities, so buffers are
// cut often; finite and infinite start thresholds; ties; odd tile widths and leading dimensions).
TEST(PairFilter, Avx2KernelMatchesTheScalarKernel) {
  if (!cpu::cpu_has_avx2_fma()) GTEST_SKIP() << "this CPU has no AVX2 + FMA (or ANNFORGE_SIMD=scalar): no AVX2 kernel to compare";
  const cpu::PairFilterKernel fast = cpu::pair_filter_kernel(), scalar = cpu::scalar_pair_filter_kernel();
  ASSERT_NE(fast, scalar) << "with AVX2 + FMA the dispatch should pick the AVX2 kernel";
  Rng rng(31337);
  int straddling = 0, aligned_diagonal = 0, odd_width = 0, lowered = 0;
  for (int trial = 0; trial < 60; ++trial) {
    const int n = 1 + static_cast<int>(rng.below(trial < 5 ? 10 : 130));
    const bool ties = trial % 2 == 1;
    const Cluster c = random_cluster(rng, n, ties);
    const int k = 1 + static_cast<int>(rng.below(8));
    const int capacity = k + 1 + static_cast<int>(rng.below(9));
    std::vector<float> start(n);
    const int threshold_kind = static_cast<int>(rng.below(3));  // all infinite, all finite, mixed
    for (float& t : start) {
      const bool finite = threshold_kind == 1 || (threshold_kind == 2 && rng.below(2));
      t = finite ? static_cast<float>(ties ? rng.below(8) : rng.uniform(0.0, 8.0)) : kInf;
    }
    cpu::CandidateBuffers a(k, capacity), b(k, capacity);
    a.reset(n, start.data());
    b.reset(n, start.data());
    const std::vector<int> row_cuts = random_cuts(rng, n, 13);
    const std::vector<Tile> tiles = tiling(row_cuts, rng.below(2) ? row_cuts : random_cuts(rng, n, 21));
    for (const Tile& t : tiles) {
      straddling += t.col0 < t.row0 + t.rows && t.col0 + t.cols > t.row0 + 1 && t.col0 != t.row0;
      aligned_diagonal += t.col0 == t.row0;
      odd_width += t.cols % 8 != 0;
      const int ld = t.cols + static_cast<int>(rng.below(4));
      run_tile(fast, c, t, ld, a);
      run_tile(scalar, c, t, ld, b);
      ASSERT_EQ(std::memcmp(a.thresholds(), b.thresholds(), sizeof(float) * n), 0)
          << "trial " << trial << " tile (" << t.row0 << " +" << t.rows << ", " << t.col0 << " +" << t.cols << ")";
    }
    for (int m = 0; m < n; ++m) {
      lowered += a.thresholds()[m] < start[m];
      const std::vector<Entry> fast_list = take_sorted(a, m, k), scalar_list = take_sorted(b, m, k);
      ASSERT_EQ(fast_list.size(), scalar_list.size()) << "trial " << trial << " member " << m;
      for (size_t i = 0; i < fast_list.size(); ++i) {
        ASSERT_EQ(fast_list[i].second, scalar_list[i].second) << "trial " << trial << " member " << m << " entry " << i;
        ASSERT_EQ(std::memcmp(&fast_list[i].first, &scalar_list[i].first, sizeof(float)), 0)
            << "trial " << trial << " member " << m << " entry " << i << ": " << fast_list[i].first << " vs "
            << scalar_list[i].first;
      }
    }
  }
  EXPECT_GT(straddling, 0);
  EXPECT_GT(aligned_diagonal, 0);
  EXPECT_GT(odd_width, 0);
  EXPECT_GT(lowered, 100) << "buffers should be cut (thresholds lowered) often";
}

// L2 (add = squared norms, mul = 1, scale = 2, floor = 0), infinite start thresholds, all pairs
// of a cluster in tiles: each member ends with exactly its k nearest other members by
// (distance, id), never itself; with capacity >= members (no cut) and with capacity 2k (cuts).
// Both kernels (the dispatched one is the AVX2 kernel where the CPU has it).
TEST(PairFilter, EachMemberGetsItsKNearestOtherMembers) {
  Rng rng(4242);
  const int dim = 6;
  struct Case {
    int n, k;
    bool duplicates;
  };
  for (const Case& cs : {Case{1, 3, false}, Case{2, 3, false}, Case{9, 8, true}, Case{9, 12, false}, Case{64, 10, true},
                         Case{70, 5, false}, Case{131, 16, false}, Case{131, 16, true}}) {
    // Points, some of them copies of others (distance 0: ties broken by id).
    std::vector<double> points(static_cast<size_t>(cs.n) * dim);
    for (double& x : points) x = rng.normal();
    if (cs.duplicates) {
      for (int i = 1; i < cs.n; i += 3) {
        const int from = static_cast<int>(rng.below(i));
        std::copy_n(&points[static_cast<size_t>(from) * dim], dim, &points[static_cast<size_t>(i) * dim]);
      }
    }
    Cluster c;
    c.n = cs.n;
    c.dots.resize(static_cast<size_t>(cs.n) * cs.n);
    for (int i = 0; i < cs.n; ++i) {
      double norm = 0;
      for (int d = 0; d < dim; ++d) norm += points[i * dim + d] * points[i * dim + d];
      c.add.push_back(static_cast<float>(norm));
      c.mul.push_back(1.0f);
      c.ids.push_back(static_cast<uint32_t>(5000 + 7 * i));
      for (int j = 0; j < cs.n; ++j) {
        double dot = 0;
        for (int d = 0; d < dim; ++d) dot += points[i * dim + d] * points[j * dim + d];
        c.dots[static_cast<size_t>(i) * cs.n + j] = static_cast<float>(dot);
      }
    }
    for (int i = cs.n - 1; i > 0; --i) std::swap(c.ids[i], c.ids[rng.below(i + 1)]);
    c.scale = 2.0f;
    c.floor = 0.0f;
    c.pad();
    // The reference: every other member, by (distance, id).
    std::vector<std::vector<Entry>> expected(cs.n);
    for (int m = 0; m < cs.n; ++m) {
      std::vector<Entry> all;
      for (int o = 0; o < cs.n; ++o) {
        if (o == m) continue;
        const float d = pair_distance(c, m, o);
        double l2 = 0;
        for (int x = 0; x < dim; ++x) l2 += (points[m * dim + x] - points[o * dim + x]) * (points[m * dim + x] - points[o * dim + x]);
        ASSERT_NEAR(d, l2, 1e-4 * (1.0 + c.add[m] + c.add[o])) << "the L2 terms do not give the L2 distance";
        all.emplace_back(d, c.ids[o]);
      }
      expected[m] = smallest(all, cs.k);
    }
    const std::vector<int> row_cuts = random_cuts(rng, cs.n, 11);
    const std::vector<int> col_cuts = random_cuts(rng, cs.n, 19);
    for (const cpu::PairFilterKernel kernel : {cpu::scalar_pair_filter_kernel(), cpu::pair_filter_kernel()}) {
      for (const bool cuts : {false, true}) {
        if (cuts && cs.duplicates) continue;  // exact ties at a cut threshold keep order-dependent ids
        for (const bool same_cuts : {false, true}) {
          SCOPED_TRACE("n " + std::to_string(cs.n) + " k " + std::to_string(cs.k) +
                       (kernel == cpu::scalar_pair_filter_kernel() ? " scalar" : " dispatched") +
                       (cuts ? " capacity 2k" : " capacity >= n") + (same_cuts ? " square tiles" : " odd tiles"));
          const int capacity = cuts ? 2 * cs.k : std::max(cs.n, cs.k + 1);
          cpu::CandidateBuffers buffers(cs.k, capacity);
          const std::vector<float> start(cs.n, kInf);
          buffers.reset(cs.n, start.data());
          for (const Tile& t : tiling(row_cuts, same_cuts ? row_cuts : col_cuts)) {
            run_tile(kernel, c, t, t.cols + (t.row0 % 3), buffers);
          }
          for (int m = 0; m < cs.n; ++m) {
            const std::vector<Entry> got = take_sorted(buffers, m, cs.k);
            EXPECT_EQ(static_cast<int>(got.size()), std::min(cs.k, cs.n - 1)) << "member " << m;
            for (const Entry& e : got) EXPECT_NE(e.second, c.ids[m]) << "member " << m << " offered itself";
            EXPECT_EQ(got, expected[m]) << "member " << m << "\n got      " << show(got) << "\n expected "
                                        << show(expected[m]);
          }
        }
      }
    }
  }
}

}  // namespace
