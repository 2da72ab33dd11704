// Island joining (host/cpu/graph/connectivity.*): a graph in which many rows have no way in
// (as inner-product graphs leave small-norm rows, tens of thousands at 1M) and one in which
// whole groups are cut off ends with every row reachable from the entry points, the degree
// unchanged, no self loops and ids in range.
#include <gtest/gtest.h>

#include <cstdint>
#include <deque>
#include <random>
#include <vector>

#include "annforge.hpp"
#include "host/cpu/distance/distance.hpp"
#include "host/cpu/graph/connectivity.hpp"

namespace {

namespace cpu = annforge::cpu;

int64_t reachable_from(const std::vector<uint32_t>& graph, int degree, uint32_t entry, int64_t rows) {
  std::vector<uint8_t> seen(rows, 0);
  std::deque<uint32_t> frontier{entry};
  seen[entry] = 1;
  int64_t count = 1;
  while (!frontier.empty()) {
    const uint32_t v = frontier.front();
    frontier.pop_front();
    for (int e = 0; e < degree; ++e) {
      const uint32_t u = graph[static_cast<int64_t>(v) * degree + e];
      if (!seen[u]) seen[u] = 1, ++count, frontier.push_back(u);
    }
  }
  return count;
}

void expect_joined(std::vector<uint32_t>& graph, int degree, const annforge::Dataset& data, uint32_t entry,
                   const char* what, annforge::Metric metric = annforge::Metric::L2) {
  const int64_t rows = data.rows();
  ASSERT_LT(reachable_from(graph, degree, entry, rows), rows) << what << ": the test graph has no islands";
  const cpu::Distance distance(metric, data.view());
  const cpu::GraphView view{graph.data(), degree, &entry, 1};
  const int64_t rewired = cpu::connect_islands(graph, view, distance, 2);
  EXPECT_GT(rewired, 0) << what;
  EXPECT_EQ(reachable_from(graph, degree, entry, rows), rows) << what;
  ASSERT_EQ(graph.size(), static_cast<size_t>(rows * degree)) << what;
  for (int64_t v = 0; v < rows; ++v) {
    for (int e = 0; e < degree; ++e) {
      const uint32_t u = graph[v * degree + e];
      ASSERT_LT(u, rows) << what << ", row " << v;
      ASSERT_NE(u, v) << what << ", row " << v << " points at itself";
    }
  }
}

TEST(Connectivity, RowsWithNoWayInAreJoined) {
  // Rows 0..1999 point at each other; rows 2000..2999 point into them, nothing points back.
  const int64_t rows = 3000, dim = 8;
  const int degree = 6;
  annforge::Dataset data = annforge::Dataset::allocate(rows, dim, annforge::ElementType::Float32);
  std::mt19937_64 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  float* x = static_cast<float*>(data.mutable_data());
  for (int64_t i = 0; i < rows * dim; ++i) x[i] = normal(rng);
  std::vector<uint32_t> graph(rows * degree);
  for (int64_t v = 0; v < rows; ++v) {
    for (int e = 0; e < degree; ++e) graph[v * degree + e] = static_cast<uint32_t>((v + 1 + e * 7 + rng() % 5) % 2000);
    if (v < 2000) {
      for (int e = 0; e < degree; ++e) {
        if (graph[v * degree + e] == v) graph[v * degree + e] = static_cast<uint32_t>((v + 1) % 2000);
      }
    }
  }
  std::vector<uint32_t> copy = graph;
  expect_joined(graph, degree, data, 0, "rows with no way in");
  // Inner product, the islands small (as IP graphs leave them): joined by angle, all of them.
  for (int64_t i = 2000 * dim; i < rows * dim; ++i) x[i] *= 0.01f;
  expect_joined(copy, degree, data, 0, "rows with no way in, inner product", annforge::Metric::InnerProduct);
}

TEST(Connectivity, SeparateGroupsAreJoined) {
  // Four groups of 500 rows, far apart, each a ring with chords: three are cut off.
  const int64_t group = 500, groups = 4, rows = group * groups, dim = 4;
  const int degree = 4;
  annforge::Dataset data = annforge::Dataset::allocate(rows, dim, annforge::ElementType::Float32);
  std::mt19937_64 rng(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  float* x = static_cast<float*>(data.mutable_data());
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t d = 0; d < dim; ++d) x[i * dim + d] = normal(rng) + (d == 0 ? 100.0f * static_cast<float>(i / group) : 0.0f);
  }
  std::vector<uint32_t> graph(rows * degree);
  for (int64_t v = 0; v < rows; ++v) {
    const int64_t base = v / group * group, at = v % group;
    for (int e = 0; e < degree; ++e) graph[v * degree + e] = static_cast<uint32_t>(base + (at + 1 + e * 37) % group);
  }
  expect_joined(graph, degree, data, 0, "separate groups");
}

}  // namespace
