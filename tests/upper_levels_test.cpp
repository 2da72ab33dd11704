// The search hierarchy above the base graph (Index::levels, host/cpu/graph/upper_levels.hpp): its
// invariants, what it is for (data in many tight clusters, where a kNN graph falls apart into
// per-cluster islands and the entry points cannot stand for every cluster), and that extend
// keeps it consistent. CPU only: the GPU backend builds no levels yet.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <set>
#include <vector>

#include "annforge.hpp"
#include "host/backend.hpp"
#include "host/cpu/distance/distance.hpp"
#include "host/cpu/graph/cross_links.hpp"
#include "host/cpu/graph/landing_links.hpp"
#include "host/cpu/graph/upper_levels.hpp"
#include "host/cpu/search/upper_width.hpp"
#include "tests/test_support.hpp"

namespace {

using namespace annforge;
using namespace annforge_test;

// `clusters` tight Gaussian blobs (spread 0.05) around centres uniform in [0, 10]^dim, rows
// split evenly: a cluster of more rows than the kNN stage's k has no edge out of itself.
Dataset tight_clusters(int64_t rows, int64_t dim, int clusters, uint64_t seed, uint64_t stream) {
  std::mt19937_64 model(seed);
  std::uniform_real_distribution<float> uniform(0.0f, 10.0f);
  std::vector<float> centres(static_cast<size_t>(clusters) * dim);
  for (float& c : centres) c = uniform(model);
  std::mt19937_64 rng(seed * 31 + stream);
  std::normal_distribution<float> noise(0.0f, 0.05f);
  Dataset out = Dataset::allocate(rows, dim, ElementType::Float32);
  float* values = static_cast<float*>(out.mutable_data());
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t c = (i * 7919 + static_cast<int64_t>(stream)) % clusters;
    for (int64_t d = 0; d < dim; ++d) values[i * dim + d] = centres[c * dim + d] + noise(rng);
  }
  return out;
}

::testing::AssertionResult level_invariants(const Index& index) {
  const int64_t rows = index.rows();
  const std::vector<uint32_t>* below = nullptr;
  for (size_t l = 0; l < index.levels.size(); ++l) {
    const UpperLevel& level = index.levels[l];
    const int64_t count = static_cast<int64_t>(level.members.size());
    if (count < 2) return ::testing::AssertionFailure() << "level " << l + 1 << " has " << count << " members";
    for (int64_t i = 0; i < count; ++i) {
      if (level.members[i] >= rows || (i > 0 && level.members[i] <= level.members[i - 1])) {
        return ::testing::AssertionFailure() << "level " << l + 1 << ": members not ascending row ids at " << i;
      }
      if (below && !std::binary_search(below->begin(), below->end(), level.members[i])) {
        return ::testing::AssertionFailure() << "level " << l + 1 << ": member " << level.members[i] << " not below";
      }
    }
    if (level.degree < 1 || level.degree >= count || level.graph.size() != static_cast<size_t>(count) * level.degree) {
      return ::testing::AssertionFailure() << "level " << l + 1 << ": degree " << level.degree << " for " << count;
    }
    for (int64_t i = 0; i < count; ++i) {
      std::set<uint32_t> seen;
      for (int e = 0; e < level.degree; ++e) {
        const uint32_t p = level.graph[i * level.degree + e];
        if (p >= count || p == i || !seen.insert(p).second) {
          return ::testing::AssertionFailure() << "level " << l + 1 << ": position " << i << " has a bad edge " << p;
        }
      }
    }
    below = &level.members;
  }
  if (!index.levels.empty()) {
    for (uint32_t e : index.entry_points) {
      if (!std::binary_search(index.levels[0].members.begin(), index.levels[0].members.end(), e)) {
        return ::testing::AssertionFailure() << "entry point " << e << " is not on level 1";
      }
    }
  }
  return ::testing::AssertionSuccess();
}

TEST(UpperLevels, LevelsHoldOneInHalfTheDegreeRowsPerLevelAndEveryEntryPoint) {
  const Dataset data = clustered(20000, 16, ElementType::Float32, 3);
  BuildParams params = params_for(Metric::L2, BuildAlgorithm::Auto, 32, Device::Cpu);
  const Index index = build(data, params);
  ASSERT_EQ(index.levels.size(), 2u);
  EXPECT_TRUE(level_invariants(index));
  const double entries = static_cast<double>(index.entry_points.size()) / index.rows();
  const double share = static_cast<double>(index.levels[0].members.size()) / index.rows();
  EXPECT_GT(share, 1.0 / 16 * 0.8);  // 1 in graph_degree / 2 = 16 by HNSW's rule, plus the entry points
  EXPECT_LT(share, 1.0 / 16 * 1.2 + entries);
  EXPECT_EQ(index.levels[0].degree, 16);
  // Level 2: 1 in 16^2, plus the entry points again.
  const double second = static_cast<double>(index.levels[1].members.size()) / index.rows();
  EXPECT_GT(second, entries);
  EXPECT_LT(second, 1.0 / 256 * 1.5 + entries);
  EXPECT_EQ(index.levels[1].degree, 16);
  for (uint32_t e : index.entry_points) {
    ASSERT_TRUE(std::binary_search(index.levels[1].members.begin(), index.levels[1].members.end(), e))
        << "entry point " << e << " is not on level 2";
  }
  // The same seed gives the same levels.
  const Index again = build(data, params);
  for (size_t l = 0; l < 2; ++l) {
    EXPECT_EQ(again.levels[l].members, index.levels[l].members);
    EXPECT_EQ(again.levels[l].graph, index.levels[l].graph);
  }
}

// Levels above 2 where level 2 holds more than kMaxTopRows: 300,000 rows at degree 8 (m = 4:
// level 1 about 75,000 rows, level 2 about 19,000 with the entry points, over the bound, level
// 3 about 5,000), each level at most half the one below, every entry point on the top one; and
// the search descends all three (3,000 tight clusters of 100: recall floor at beam 64).
TEST(UpperLevels, MoreLevelsWhereTheTopWouldStayLarge) {
  const Dataset data = tight_clusters(300000, 8, 3000, 11, 1);
  const Dataset queries = tight_clusters(500, 8, 3000, 11, 2);
  BuildParams params = params_for(Metric::L2, BuildAlgorithm::Auto, 8, Device::Cpu);
  params.threads = 2;
  const Index index = build(data, params);
  ASSERT_TRUE(level_invariants(index));
  ASSERT_EQ(index.levels.size(), 3u);
  EXPECT_GT(static_cast<int64_t>(index.levels[1].members.size()), annforge::cpu::kMaxTopRows);
  EXPECT_LE(static_cast<int64_t>(index.levels[2].members.size()), annforge::cpu::kMaxTopRows);
  for (size_t l = 1; l < index.levels.size(); ++l) {
    EXPECT_LE(2 * index.levels[l].members.size(), index.levels[l - 1].members.size()) << "level " << l + 1;
  }
  for (uint32_t e : index.entry_points) {
    ASSERT_TRUE(std::binary_search(index.levels[2].members.begin(), index.levels[2].members.end(), e))
        << "entry point " << e << " is not on level 3";
  }
  const Neighbors truth = exact_knn(data.view(), queries.view(), 10, Metric::L2);
  EXPECT_GE(recall(search(index, queries.view(), 10, search_params(64)), truth, 10), 0.95);
}

// 400 tight clusters of 100 rows: the kNN graph (k = 48) never leaves a cluster, and the 160
// entry points cannot stand for every cluster. Level 1 (about 6 rows per cluster) links
// neighbouring clusters; a search seeded through it finds the query's own cluster. With the
// entry points alone, recall@10 was 0.87 at beam 64 on data like this (200K rows, 1,000
// clusters).
TEST(UpperLevels, ManyTightClustersAreAllFound) {
  const Dataset data = tight_clusters(40000, 16, 400, 7, 1);
  const Dataset queries = tight_clusters(500, 16, 400, 7, 2);
  const Index index = build(data, params_for(Metric::L2, BuildAlgorithm::Auto, 32, Device::Cpu));
  ASSERT_TRUE(graph_invariants(index, 32));
  ASSERT_TRUE(level_invariants(index));
  EXPECT_FALSE(index.levels.empty());
  const Neighbors truth = exact_knn(data.view(), queries.view(), 10, Metric::L2);
  for (int beam : {16, 64}) {
    const Neighbors found = search(index, queries.view(), 10, search_params(beam, Device::Cpu));
    EXPECT_GE(recall(found, truth, 10), beam == 16 ? 0.90 : 0.95) << "beam " << beam;
  }
}

// `annforge gen`'s model (host/cli/mixture.cpp): centres uniform in [0, 1]^dim, each cluster
// spread along 12 random directions of length ~0.15 * sqrt(dim / 12), plus a little noise.
// `stream` draws other rows (queries) from the same clusters.
Dataset mixture(int64_t rows, int64_t dim, int clusters, uint64_t seed, uint64_t stream) {
  const int64_t rank = std::min<int64_t>(dim, 12);
  std::mt19937_64 model(seed);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  std::normal_distribution<float> gaussian(0.0f, 1.0f);
  std::vector<float> centres(static_cast<size_t>(clusters) * dim), directions(static_cast<size_t>(clusters) * rank * dim);
  for (float& c : centres) c = uniform(model);
  const float scale = 0.15f / std::sqrt(static_cast<float>(rank));
  for (float& d : directions) d = gaussian(model) * scale;
  std::mt19937_64 rng(seed * 31 + stream);
  std::uniform_int_distribution<int> pick(0, clusters - 1);
  std::normal_distribution<float> noise(0.0f, 0.01f);
  Dataset out = Dataset::allocate(rows, dim, ElementType::Float32);
  float* values = static_cast<float*>(out.mutable_data());
  std::vector<float> z(rank);
  for (int64_t i = 0; i < rows; ++i) {
    const int c = pick(rng);
    for (float& v : z) v = gaussian(rng);
    float* row = values + i * dim;
    for (int64_t d = 0; d < dim; ++d) row[d] = centres[c * dim + d] + noise(rng);
    for (int64_t r = 0; r < rank; ++r) {
      for (int64_t d = 0; d < dim; ++d) row[d] += z[r] * directions[(c * rank + r) * dim + d];
    }
  }
  return out;
}

// The upper levels' beam divisor is measured at build (host/cpu/search/upper_width.hpp). The
// rule, on shares measured on 1,000 rows (2026-12-04): 1M SIFT -> 4, 200K x 32 in 2,000
// clusters -> 2, 1M x 64 in 5,000 clusters -> 1.
TEST(UpperLevels, UpperBeamDivisorRule) {
  EXPECT_EQ(cpu::divisor_for({0.007, 0.005, 0.005}, 0.001), 4);
  EXPECT_EQ(cpu::divisor_for({0.011, 0.003, 0.000}, 0.002), 2);
  EXPECT_EQ(cpu::divisor_for({0.177, 0.079, 0.020}, 0.07), 1);
  EXPECT_EQ(cpu::divisor_for({0.0, 0.0, 0.0}, 0.0), 4);
  // Doubling the base beam finds more than the full upper beam: keep the quarter.
  EXPECT_EQ(cpu::divisor_for({0.097, 0.076, 0.057}, 0.03), 4);
  // An eighth where it lands as well as a quarter at base beam 32 (2026-12-07: 1M SIFT -> 8,
  // 1M wordtext -> 4); never where a quarter is not enough.
  EXPECT_EQ(cpu::divisor_for({0.008, 0.005, 0.004}, 0.000, 0.000), 8);
  EXPECT_EQ(cpu::divisor_for({0.026, 0.019, 0.016}, 0.008, 0.012), 4);
  EXPECT_EQ(cpu::divisor_for({0.011, 0.003, 0.000}, 0.002, 0.002), 2);
}

// Measured: 4 or 8 on data without many separate clusters. On 300K rows in 1,500 clusters of 200
// (more clusters than entry points, ~12 members of each on level 1) a beam of 4 on level 1
// fills with one cluster's members and ends in the wrong cluster for some rows: the build
// measures a smaller divisor, and its searches find more of the queries' neighbours than with
// 4 (recall@10 at beam 16: 0.991 against 0.973 on this instance; 0.991 / 0.969 with seed 2;
// 2026-12-04).
TEST(UpperLevels, UpperBeamWidensWhereTheDataNeedsIt) {
  const Dataset spread = clustered(20000, 16, ElementType::Float32, 3);
  const Index plain = build(spread, params_for(Metric::L2, BuildAlgorithm::Auto, 32, Device::Cpu));
  EXPECT_TRUE(plain.upper_width_divisor == 4 || plain.upper_width_divisor == 8)
      << "a quarter or an eighth of the base beam, not " << plain.upper_width_divisor;

  const Dataset data = mixture(300000, 32, 1500, 1, 1);
  const Dataset queries = mixture(1000, 32, 1500, 1, 2);
  const Index index = build(data, params_for(Metric::L2, BuildAlgorithm::Auto, 32, Device::Cpu));
  ASSERT_TRUE(level_invariants(index));
  const cpu::UpperWidthMeasurement measured = cpu::measure_upper_width(index, 0, 42);
  EXPECT_EQ(measured.divisor, index.upper_width_divisor) << "the build's own measurement";
  EXPECT_EQ(measured.samples, 1000);
  EXPECT_LE(measured.missed[2], measured.missed[0]) << "a wider upper beam misses no more rows";
  EXPECT_LT(index.upper_width_divisor, 4);
  Index narrow = index;
  narrow.upper_width_divisor = 4;
  const Neighbors truth = exact_knn(data.view(), queries.view(), 10, Metric::L2);
  const double wide = recall(search(index, queries.view(), 10, search_params(16, Device::Cpu)), truth, 10);
  const double quarter = recall(search(narrow, queries.view(), 10, search_params(16, Device::Cpu)), truth, 10);
  EXPECT_GE(wide, quarter + 0.01) << "divisor " << index.upper_width_divisor;
}

// Landing links (host/cpu/graph/landing_links.hpp) on levels built without them: every member
// searched for with an upper beam of 4; the walks that missed their member land, the second
// time, where the first pass linked them. The lists keep their degree and stay free of repeats
// and self links, and the links do not depend on the thread count. On this instance (100,000 x
// 64 in 1,000 clusters of 100; 2026-12-05): 381 of 7,430 members missed at first, 136 after.
TEST(UpperLevels, LandingLinksSendNarrowWalksWhereTheyMissed) {
  const Dataset data = mixture(100000, 64, 1000, 3, 1);
  BuildParams params = params_for(Metric::L2, BuildAlgorithm::Auto, 32, Device::Cpu);
  Index index = build(data, params);
  index.levels = cpu::build_upper_levels(index, params, detail::cpu_build_flat);  // without landing links
  ASSERT_FALSE(index.levels.empty());
  ASSERT_TRUE(level_invariants(index));
  Index one_thread = index;
  const cpu::LandingLinkStats first = cpu::add_landing_links(index, 4, 2);
  ASSERT_TRUE(level_invariants(index));
  EXPECT_GT(first.missed, 0) << "this data needs them (a narrow walk ends in the wrong cluster)";
  EXPECT_GT(first.linked, 0);
  EXPECT_LE(first.linked, first.missed);
  size_t slots = 0;
  for (const UpperLevel& level : index.levels) slots += level.members.size() * (level.degree / 4);
  EXPECT_LE(static_cast<size_t>(first.linked), slots) << "at most a quarter of each list";
  cpu::add_landing_links(one_thread, 4, 1);
  for (size_t l = 0; l < index.levels.size(); ++l) {
    EXPECT_EQ(index.levels[l].graph, one_thread.levels[l].graph) << "level " << l + 1 << ": 1 and 2 threads differ";
  }
  Index again = index;
  const cpu::LandingLinkStats second = cpu::add_landing_links(again, 4, 2);
  EXPECT_EQ(second.searched, first.searched);
  EXPECT_LT(second.missed * 2, first.missed) << "the linked members are found the second time";
}

// The base graph and the levels over `data` as the build makes them, before settle_upper_levels
// (no landing links, no measured upper beam): what the links added after them are tested on.
Index flat_with_levels(const Dataset& data, const BuildParams& params) {
  Index index;
  index.metric = params.metric;
  index.vectors = Dataset::borrow(data.view());
  detail::cpu_build_flat(index, params);
  index.levels = cpu::build_upper_levels(index, params, detail::cpu_build_flat);
  return index;
}

// Base landing links (landing_links.hpp) on a graph built without them: every 4th row searched
// for with beams of 4 (upper and base); where the walk ended in the wrong cluster, the base row
// it came nearest on links to the row. The graph keeps its invariants, every row stays
// reachable, the links do not depend on the thread count, and the same rows searched again are
// missed far less often. On this instance (100,000 x 64 in 1,000 clusters of 100; 2026-12-05):
// 1,870 of 25,000 missed at first, 24 after.
TEST(UpperLevels, BaseLandingLinksBringNarrowWalksBackToTheirCluster) {
  const Dataset data = mixture(100000, 64, 1000, 3, 1);
  BuildParams params = params_for(Metric::L2, BuildAlgorithm::Auto, 32, Device::Cpu);
  Index index = flat_with_levels(data, params);
  ASSERT_FALSE(index.levels.empty());
  cpu::add_landing_links(index, 4, 2);
  std::vector<uint32_t> rows;
  for (uint32_t r = 0; r < index.rows(); r += cpu::kBaseLandingStride) rows.push_back(r);
  Index one_thread = index;
  const cpu::Distance distance(index.metric, index.vectors.view());
  const cpu::LandingLinkStats first = cpu::add_base_landing_links(index, distance, rows, 4, 4, 2);
  std::printf("base landing: %lld of %lld missed, %lld links\n", static_cast<long long>(first.missed),
              static_cast<long long>(first.searched), static_cast<long long>(first.linked));
  EXPECT_EQ(first.searched, static_cast<int64_t>(rows.size()));
  EXPECT_GT(first.missed, 0) << "this data needs them (a narrow walk ends in the wrong cluster)";
  EXPECT_GT(first.linked, 0);
  EXPECT_LE(first.linked, first.missed);
  EXPECT_TRUE(graph_invariants(index, 32));
  // At most a quarter of any list changed, and only its last slots.
  for (int64_t v = 0; v < index.rows(); ++v) {
    for (int e = 0; e < index.graph_degree - index.graph_degree / 4; ++e) {
      ASSERT_EQ(index.neighbors(v)[e], one_thread.neighbors(v)[e]) << "row " << v << " slot " << e;
    }
  }
  cpu::add_base_landing_links(one_thread, distance, rows, 4, 4, 1);
  EXPECT_EQ(index.graph, one_thread.graph) << "1 and 2 threads differ";
  Index again = index;
  const cpu::LandingLinkStats second = cpu::add_base_landing_links(again, distance, rows, 4, 4, 2);
  std::printf("searched again: %lld missed\n", static_cast<long long>(second.missed));
  EXPECT_LT(second.missed * 2, first.missed) << "the linked rows are found the second time";
  // The whole build (settle_upper_levels) adds them on this data and joins any island again.
  const Index built = build(data, params);
  EXPECT_TRUE(graph_invariants(built, 32));
  EXPECT_EQ(reachable_share(built), 1.0);
}

// Well separated clusters (centres N(0, 4^2) per dimension, noise N(0, 1)); `centre_seed` picks
// the centres, `stream` the rows: other centres give queries that fall between the data's.
Dataset separated(int64_t rows, int64_t dim, int clusters, uint64_t centre_seed, uint64_t stream) {
  std::mt19937_64 model(centre_seed), rng(stream);
  std::normal_distribution<float> centre(0.0f, 4.0f), noise(0.0f, 1.0f);
  std::vector<float> centres(static_cast<size_t>(clusters) * dim);
  for (float& c : centres) c = centre(model);
  std::uniform_int_distribution<int> pick(0, clusters - 1);
  Dataset out = Dataset::allocate(rows, dim, ElementType::Float32);
  float* values = static_cast<float*>(out.mutable_data());
  for (int64_t i = 0; i < rows; ++i) {
    const int c = pick(rng);
    for (int64_t d = 0; d < dim; ++d) values[i * dim + d] = centres[c * dim + d] + noise(rng);
  }
  return out;
}

// Links across clusters in the index's own graph (the build's, first in settle_upper_levels;
// cross_links.hpp): rows on a cluster's edge get links to the next cluster, in the slots just
// before the last quarter; queries from other centres find more; data without clusters gets none.
TEST(UpperLevels, CrossLinksJoinSeparatedClusters) {
  const int64_t rows = 20000, dim = 24;
  const Dataset data = separated(rows, dim, 100, 5, 6), queries = separated(500, dim, 100, 7, 8);
  BuildParams params = params_for(Metric::L2, BuildAlgorithm::Auto, 32, Device::Cpu);
  Index index = flat_with_levels(data, params);
  ASSERT_FALSE(index.levels.empty());
  const Neighbors truth = exact_knn(data.view(), queries.view(), 10, Metric::L2);
  SearchParams search_params;
  search_params.beam_width = 64;
  const double before = recall(search(index, queries.view(), 10, search_params), truth, 10);
  Index one_thread = index;
  const cpu::CrossLinkStats stats = cpu::add_cross_links(index, 2, 42);
  const double after = recall(search(index, queries.view(), 10, search_params), truth, 10);
  std::printf("links across clusters: %.3f of sampled members with offers across a gap, %.4f of sampled rows keep "
              "one; %lld rows kept %lld, %lld links; recall@10 at beam 64 between clusters %.4f -> %.4f\n",
              stats.share_across, stats.share_kept, static_cast<long long>(stats.rows_kept),
              static_cast<long long>(stats.kept), static_cast<long long>(stats.linked), before, after);
  EXPECT_GT(stats.share_across, 0.5);
  EXPECT_GT(stats.share_kept, 0.004);
  EXPECT_GT(stats.linked, rows / 10);
  EXPECT_TRUE(graph_invariants(index, 32));
  EXPECT_EQ(reachable_share(index), 1.0);
  // Only the slots before the last quarter changed (connectivity may rewire any, rarely).
  int64_t changed_elsewhere = 0;
  for (int64_t v = 0; v < rows; ++v) {
    for (int e = 0; e < index.graph_degree; ++e) {
      const bool cross_slot = e >= index.graph_degree / 2 && e < index.graph_degree - index.graph_degree / 4;
      changed_elsewhere += !cross_slot && index.neighbors(v)[e] != one_thread.neighbors(v)[e];
    }
  }
  EXPECT_LE(changed_elsewhere, rows / 100);
  cpu::add_cross_links(one_thread, 1, 42);
  EXPECT_EQ(index.graph, one_thread.graph) << "1 and 2 threads differ";
  EXPECT_GE(after, before + 0.03);
  // Over lists that hold the links already (an index built with them, exported) the sample sees
  // that the rows' links block the offers, and nothing more is done.
  Index again = index;
  const cpu::CrossLinkStats second = cpu::add_cross_links(again, 2, 42);
  std::printf("again: %.3f of sampled members with offers across a gap, %.4f of sampled rows keep one\n",
              second.share_across, second.share_kept);
  EXPECT_LT(second.share_kept, 0.004);
  EXPECT_EQ(second.linked, 0);
  EXPECT_EQ(again.graph, index.graph);
  // Rows without clusters: no offer lies across a gap, nothing changes.
  Dataset uniform = Dataset::allocate(rows, dim, ElementType::Float32);
  {
    annforge_test::Rng rng(9);
    float* values = static_cast<float*>(uniform.mutable_data());
    for (int64_t i = 0; i < rows * dim; ++i) values[i] = static_cast<float>(rng.uniform());
  }
  Index flat = flat_with_levels(uniform, params);
  const std::vector<uint32_t> graph = flat.graph;
  const cpu::CrossLinkStats none = cpu::add_cross_links(flat, 2, 42);
  std::printf("uniform rows: %.3f of sampled members with offers across a gap\n", none.share_across);
  EXPECT_LT(none.share_across, 0.05);
  EXPECT_EQ(none.linked, 0);
  EXPECT_EQ(flat.graph, graph);
}

// Extend links new rows into the base graph; the levels are built anew over all rows.
TEST(UpperLevels, ExtendBuildsThemOverTheNewRowsToo) {
  const Dataset all = clustered(12000, 16, ElementType::Float32, 9);
  const DatasetView first{all.view().data, 10000, 16, ElementType::Float32};
  const DatasetView more{all.view().row(10000), 2000, 16, ElementType::Float32};
  Index index = build(Dataset::borrow(first), params_for(Metric::L2, BuildAlgorithm::Auto, 32, Device::Cpu));
  extend(index, more, params_for(Metric::L2, BuildAlgorithm::Auto, 32, Device::Cpu));
  ASSERT_EQ(index.rows(), 12000);
  ASSERT_EQ(index.levels.size(), 2u);
  EXPECT_TRUE(level_invariants(index));
  EXPECT_GT(index.levels[0].members.back(), 10000u) << "new rows reach level 1 too";
  const Neighbors truth = exact_knn(all.view(), more, 10, Metric::L2);
  EXPECT_GE(recall(search(index, more, 10, search_params(64, Device::Cpu)), truth, 10), 0.95);
}

}  // namespace
