// The hnswlib export's element order (host/cpu/graph/locality_order.hpp): a permutation of the
// rows, the same on any number of threads, starting at the descent's entry, and one in which
// linked rows sit near each other.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "annforge.hpp"
#include "host/backend.hpp"
#include "host/cpu/graph/hnsw_hierarchy.hpp"
#include "host/cpu/graph/locality_order.hpp"
#include "tests/test_support.hpp"

namespace {

using namespace annforge;
using namespace annforge_test;

// The median distance in positions between a row and its level-0 links.
double median_link_span(const cpu::HnswHierarchy& hierarchy, const std::vector<uint32_t>& position_of) {
  std::vector<double> spans;
  const size_t rows = hierarchy.top_level.size();
  for (size_t r = 0; r < rows; ++r) {
    for (int j = 0; j < hierarchy.base_degree; ++j) {
      const uint32_t to = hierarchy.base_graph[r * hierarchy.base_degree + j];
      if (to >= rows) continue;
      spans.push_back(std::abs(static_cast<double>(position_of[to]) - static_cast<double>(position_of[r])));
    }
  }
  std::nth_element(spans.begin(), spans.begin() + spans.size() / 2, spans.end());
  return spans[spans.size() / 2];
}

TEST(LocalityOrder, APermutationFromTheEntryThatKeepsLinkedRowsNear) {
  // Rows of 16 clusters in random order: row order itself has no locality.
  const Dataset data = clustered(20000, 24, ElementType::Float32, 5);
  BuildParams params;
  params.graph_degree = 16;
  params.threads = 2;
  const Index index = build(data, params);
  const cpu::HnswHierarchy hierarchy = cpu::build_hnsw_hierarchy(index, 7, 2, detail::cpu_build_flat);
  ASSERT_GE(hierarchy.max_level(), 2);
  const std::vector<uint32_t> order = cpu::hierarchy_locality_order(hierarchy, 2);
  EXPECT_EQ(order, cpu::hierarchy_locality_order(hierarchy, 1)) << "the threads changed the order";
  ASSERT_EQ(order.size(), static_cast<size_t>(index.rows()));
  std::vector<uint8_t> seen(order.size(), 0);
  for (uint32_t row : order) {
    ASSERT_LT(row, order.size());
    ASSERT_EQ(seen[row], 0) << "row " << row << " twice";
    seen[row] = 1;
  }
  EXPECT_EQ(order[0], hierarchy.entry);
  const std::vector<uint32_t> position_of = cpu::inverse_permutation(order);
  for (size_t p = 0; p < order.size(); ++p) ASSERT_EQ(position_of[order[p]], p);
  std::vector<uint32_t> identity(order.size());
  for (size_t r = 0; r < identity.size(); ++r) identity[r] = static_cast<uint32_t>(r);
  const double ordered = median_link_span(hierarchy, position_of), as_rows = median_link_span(hierarchy, identity);
  std::printf("[ locality ] half the level-0 links span at most %.0f positions in locality order, %.0f in row order (%lld rows)\n",
              ordered, as_rows, static_cast<long long>(index.rows()));
  EXPECT_LT(ordered, as_rows / 8);
}

// One row, and rows without upper levels: still a permutation.
TEST(LocalityOrder, TinyHierarchies) {
  for (const int64_t rows : {1, 2, 5, 40}) {
    const Dataset data = clustered(rows, 8, ElementType::Float32, 3);
    BuildParams params;
    params.graph_degree = 8;
    params.threads = 1;
    const Index index = build(data, params);
    const cpu::HnswHierarchy hierarchy = cpu::build_hnsw_hierarchy(index, 1, 1, detail::cpu_build_flat);
    std::vector<uint32_t> order = cpu::hierarchy_locality_order(hierarchy, 1);
    ASSERT_EQ(order.size(), static_cast<size_t>(rows));
    std::sort(order.begin(), order.end());
    for (int64_t r = 0; r < rows; ++r) ASSERT_EQ(order[r], r) << rows << " rows";
  }
}

}  // namespace
