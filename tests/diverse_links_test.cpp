// The export's diverse level-0 links (host/cpu/graph/diverse_links.hpp): lists within the
// degree, no self links or repeats, ids in range, nearest first (8-bit rows: exact distances); HNSW's heuristic holds for the
// links a row chose itself; the result is symmetric where no list overflowed; and it is the same
// on one thread and on several.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <vector>

#include "annforge.hpp"
#include "host/cpu/distance/distance.hpp"
#include "host/cpu/graph/diverse_links.hpp"
#include "kernels/shared/neighbor_list.hpp"
#include "tests/test_support.hpp"

namespace {

using namespace annforge;
using namespace annforge_test;

TEST(DiverseLinks, ListsAreWellFormedDiverseSymmetricAndDeterministic) {
  const std::pair<Metric, ElementType> cases[] = {
      {Metric::L2, ElementType::UInt8}, {Metric::L2, ElementType::Float32}, {Metric::Cosine, ElementType::Float32}};
  for (const auto& [metric, type] : cases) {
    const Dataset data = clustered(6000, 24, type, 11);
    BuildParams params;
    params.metric = metric;
    params.graph_degree = 16;
    params.threads = 2;
    const Index index = build(data, params);
    const cpu::Distance distance(metric, index.vectors.view());
    const int64_t rows = index.rows();
    const int degree = index.graph_degree;
    const int width = degree + degree / 2;
    std::vector<uint32_t> two(static_cast<size_t>(rows) * width), one(two.size());
    cpu::select_diverse_links(distance, index.graph.data(), rows, degree, 3 * degree, 2, two.data(), width);
    cpu::select_diverse_links(distance, index.graph.data(), rows, degree, 3 * degree, 1, one.data(), width);
    EXPECT_EQ(one, two) << to_string(metric) << " " << to_string(type) << ": the threads changed the links";
    int64_t links = 0, reciprocated = 0;
    for (int64_t r = 0; r < rows; ++r) {
      const uint32_t* list = &two[r * width];
      int count = 0;
      while (count < width && list[count] != kInvalidId) ++count;
      ASSERT_GE(count, 1) << "row " << r << " has no links";
      ASSERT_LE(count, degree) << "row " << r;
      for (int j = count; j < width; ++j) ASSERT_EQ(list[j], kInvalidId) << "row " << r << ": a gap in the list";
      std::set<uint32_t> seen;
      for (int j = 0; j < count; ++j) {
        ASSERT_LT(list[j], rows);
        ASSERT_NE(list[j], r) << "self link";
        ASSERT_TRUE(seen.insert(list[j]).second) << "row " << r << " repeats " << list[j];
        // Nearest first by the distances the links were chosen by: exact for 8-bit rows (float
        // rows, where the CPU has AVX-512, are compared by int8 codes).
        if (j > 0 && type == ElementType::UInt8) {
          ASSERT_LE(distance.between(r, list[j - 1]), distance.between(r, list[j])) << "row " << r;
        }
      }
      links += count;
      for (int j = 0; j < count; ++j) {
        const uint32_t* back = &two[static_cast<int64_t>(list[j]) * width];
        reciprocated += std::find(back, back + degree, static_cast<uint32_t>(r)) != back + degree;
      }
    }
    const double mean = static_cast<double>(links) / rows;
    std::printf("[ diverse  ] %s %s: %.1f links per row of %d, %.3f reciprocated\n", to_string(metric),
                to_string(type), mean, degree, static_cast<double>(reciprocated) / links);
    EXPECT_LT(mean, degree);  // the heuristic drops links the row's nearer links already reach
    EXPECT_GT(mean, 2.0);
    EXPECT_GE(static_cast<double>(reciprocated) / links, 0.9);  // symmetric but where a list overflowed
  }
}

// A row chooses by HNSW's rule: on points along a line, each point's nearer neighbour on either
// side shadows everything beyond it, so every row keeps exactly its two adjacent points (the
// ends one).
TEST(DiverseLinks, PointsOnALineKeepTheirAdjacentPoints) {
  const int64_t rows = 200;
  std::vector<float> values(rows * 2);
  for (int64_t i = 0; i < rows; ++i) values[i * 2] = static_cast<float>(i), values[i * 2 + 1] = 0.0f;
  const Dataset data = Dataset::copy_of(DatasetView{values.data(), rows, 2, ElementType::Float32});
  const cpu::Distance distance(Metric::L2, data.view());
  const int degree = 8;
  // A graph of each point's 8 nearest (4 each side where there are 4).
  std::vector<uint32_t> graph(rows * degree);
  for (int64_t i = 0; i < rows; ++i) {
    std::vector<std::pair<int64_t, int64_t>> by_distance;
    for (int64_t j = 0; j < rows; ++j) {
      if (j != i) by_distance.push_back({std::abs(j - i), j});
    }
    std::sort(by_distance.begin(), by_distance.end());
    for (int j = 0; j < degree; ++j) graph[i * degree + j] = static_cast<uint32_t>(by_distance[j].second);
  }
  std::vector<uint32_t> out(rows * degree);
  cpu::select_diverse_links(distance, graph.data(), rows, degree, 24, 2, out.data(), degree);
  for (int64_t i = 0; i < rows; ++i) {
    std::set<uint32_t> kept;
    for (int j = 0; j < degree && out[i * degree + j] != kInvalidId; ++j) kept.insert(out[i * degree + j]);
    std::set<uint32_t> expected;
    if (i > 0) expected.insert(static_cast<uint32_t>(i - 1));
    if (i + 1 < rows) expected.insert(static_cast<uint32_t>(i + 1));
    EXPECT_EQ(kept, expected) << "row " << i;
  }
}

}  // namespace
