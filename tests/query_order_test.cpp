// The order a batch's queries are searched in (host/cpu/search/beam_search.hpp: region_order):
// a permutation grouped by each query's nearest region representative, and answers that do not
// depend on it.
#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "annforge.hpp"
#include "host/cpu/distance/distance.hpp"
#include "host/cpu/search/beam_search.hpp"
#include "tests/test_support.hpp"

namespace {

using namespace annforge;
using annforge_test::clustered;
using annforge_test::params_for;
using annforge_test::search_params;

// The entry point among 1..kOrderKeyEntries nearest to query q (ties: the first).
int nearest_representative(const Index& index, const cpu::Distance& distance, const DatasetView& queries, int64_t q) {
  const int entries = std::min<int>(static_cast<int>(index.entry_points.size()) - 1, cpu::kOrderKeyEntries);
  const void* query = queries.row(q);
  const float query_norm = distance.query_inverse_norm(query);
  int best = 0;
  float best_distance = 0;
  for (int e = 0; e < entries; ++e) {
    const float d = distance.to_query(query, query_norm, index.entry_points[1 + e]);
    if (e == 0 || d < best_distance) best = e, best_distance = d;
  }
  return best;
}

TEST(QueryOrder, IsAPermutationGroupedByRegionInTheCallersOrderWithin) {
  const Dataset data = clustered(20000, 16, ElementType::Float32, 83, 1, 24);
  const Dataset queries = clustered(700, 16, ElementType::Float32, 83, 2, 24);
  const Index index = build(data, params_for(Metric::L2, BuildAlgorithm::Auto, 16, Device::Cpu));
  ASSERT_GT(index.entry_points.size(), static_cast<size_t>(cpu::kOrderKeyEntries));
  const cpu::Distance distance(index.metric, index.vectors.view());
  const std::vector<uint32_t> order = cpu::region_order(cpu::graph_of(index), distance, queries.view(), 2);
  ASSERT_EQ(order.size(), static_cast<size_t>(queries.rows()));
  std::vector<int> seen(queries.rows(), 0);
  int regions = 1;
  for (size_t p = 0; p < order.size(); ++p) {
    ASSERT_LT(order[p], queries.rows());
    ++seen[order[p]];
    if (p == 0) continue;
    const int before = nearest_representative(index, distance, queries.view(), order[p - 1]);
    const int now = nearest_representative(index, distance, queries.view(), order[p]);
    ASSERT_LE(before, now) << "position " << p << ": regions in order";
    if (before == now) {
      EXPECT_LT(order[p - 1], order[p]) << "position " << p << ": the caller's order within a region";
    } else {
      ++regions;
    }
  }
  for (int64_t q = 0; q < queries.rows(); ++q) ASSERT_EQ(seen[q], 1) << "query " << q;
  EXPECT_GT(regions, 4) << "the queries of 24 clusters fall in several regions";
  // A small batch keeps the caller's order.
  EXPECT_TRUE(cpu::region_order(cpu::graph_of(index), distance, queries.view().slice(0, cpu::kOrderedBatch - 1), 2)
                  .empty());
}

// A batch searched in region order answers each query as batches too small to be reordered do,
// on the fp32 walk (L2 over uint8 rows) and on the compact rows' walk (float cosine).
TEST(QueryOrder, ABatchAnswersAsItsQueriesInSmallBatches) {
  const std::pair<Metric, ElementType> cases[] = {{Metric::L2, ElementType::UInt8},
                                                   {Metric::Cosine, ElementType::Float32}};
  for (const auto& [metric, type] : cases) {
    const Dataset data = clustered(20000, 24, type, 89, 1, 24);
    const Dataset queries = clustered(600, 24, type, 89, 2, 24);
    const Index index = build(data, params_for(metric, BuildAlgorithm::Auto, 16, Device::Cpu));
    SearchParams sp = search_params(32, Device::Cpu);
    sp.threads = 2;
    const Neighbors whole = search(index, queries.view(), 10, sp);
    for (int64_t first = 0; first < queries.rows(); first += 200) {
      const Neighbors part = search(index, queries.view().slice(first, 200), 10, sp);
      for (int64_t i = 0; i < 200 * 10; ++i) {
        ASSERT_EQ(part.ids[i], whole.ids[first * 10 + i]) << to_string(metric) << ", query " << first + i / 10;
        ASSERT_EQ(part.distances[i], whole.distances[first * 10 + i]) << to_string(metric);
      }
    }
  }
}

}  // namespace
