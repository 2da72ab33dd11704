// The projection behind the first pass of the all-pairs stage: an orthonormal basis, and
// projected distances that keep the exact ones where the data lies in the projected subspace.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "annforge.hpp"
#include "host/cpu/knn_graph.hpp"
#include "host/cpu/partition/partition.hpp"
#include "host/cpu/partition/projection.hpp"

namespace {

// Rows that vary along `rank` random directions only, embedded in `dim` dimensions.
annforge::Dataset low_rank_rows(int64_t rows, int64_t dim, int rank, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> gaussian;
  std::vector<float> directions(static_cast<size_t>(rank) * dim);
  for (float& d : directions) d = gaussian(rng);
  annforge::Dataset out = annforge::Dataset::allocate(rows, dim, annforge::ElementType::Float32);
  float* values = static_cast<float*>(out.mutable_data());
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t c = 0; c < dim; ++c) values[i * dim + c] = 0.0f;
    for (int r = 0; r < rank; ++r) {
      const float z = gaussian(rng);
      for (int64_t c = 0; c < dim; ++c) values[i * dim + c] += z * directions[r * dim + c];
    }
  }
  return out;
}

}  // namespace

TEST(Projection, BasisIsOrthonormal) {
  const annforge::Dataset data = low_rank_rows(2000, 128, 40, 3);
  const annforge::cpu::Projection p = annforge::cpu::fit_projection(data.view(), false, 2, 7);
  ASSERT_EQ(p.output_dim, 32);
  for (int a = 0; a < p.output_dim; ++a) {
    for (int b = 0; b < p.output_dim; ++b) {
      double dot = 0;
      for (int64_t c = 0; c < p.input_dim; ++c) dot += double{p.basis[a * 128 + c]} * p.basis[b * 128 + c];
      EXPECT_NEAR(dot, a == b ? 1.0 : 0.0, 1e-4) << "rows " << a << ", " << b;
    }
  }
}

// Data of rank 10 lies wholly in the top 32 principal directions: projected distances must
// equal the exact ones (up to float rounding).
TEST(Projection, KeepsDistancesOfLowRankData) {
  const annforge::Dataset data = low_rank_rows(1500, 128, 10, 5);
  const annforge::cpu::Projection p = annforge::cpu::fit_projection(data.view(), false, 2, 11);
  ASSERT_FALSE(p.empty());
  const std::vector<float> projected = annforge::cpu::project_rows(data.view(), p, 2);
  const float* x = static_cast<const float*>(data.view().data);
  for (int64_t i = 0; i < 50; ++i) {
    const int64_t j = (i * 37 + 11) % data.rows();
    double exact = 0, approximate = 0;
    for (int64_t c = 0; c < 128; ++c) exact += std::pow(double{x[i * 128 + c]} - x[j * 128 + c], 2);
    for (int r = 0; r < p.output_dim; ++r) approximate += std::pow(double{projected[i * p.output_dim + r]} - projected[j * p.output_dim + r], 2);
    EXPECT_NEAR(approximate, exact, 1e-3 * exact + 1e-6) << "rows " << i << ", " << j;
  }
}

TEST(Projection, SkippedWhereExactDistancesAreCheap) {
  // 128-d uint8 (SIFT-like): an exact distance reads 128 bytes, a 32-d float projection 128 too.
  annforge::Dataset bytes = annforge::Dataset::allocate(100, 128, annforge::ElementType::UInt8);
  std::memset(bytes.mutable_data(), 7, 100 * 128);
  EXPECT_TRUE(annforge::cpu::fit_projection(bytes.view(), false, 1, 1).empty());
  // 32-d float: too narrow for a 16-d pass to pay.
  EXPECT_TRUE(annforge::cpu::fit_projection(low_rank_rows(100, 32, 4, 1).view(), false, 1, 1).empty());
}

// Many equal distances (values from a tiny range): neighbour lists merged across clusters must
// still hold no repeats and no self loops, whatever order the ties arrive in: through the
// projected first pass, and through the blocked exact pass (the default).
void expect_lists_without_repeats_under_ties(annforge::ElementType type, bool projected_first_pass) {
  const int64_t rows = 3000, dim = 800;
  annforge::Dataset data = annforge::Dataset::allocate(rows, dim, type);
  std::mt19937_64 rng(9);
  for (int64_t i = 0; i < rows * dim; ++i) {
    const int value = static_cast<int>(rng() % 3);
    if (type == annforge::ElementType::Float32) {
      static_cast<float*>(data.mutable_data())[i] = static_cast<float>(value);
    } else {
      static_cast<uint8_t*>(data.mutable_data())[i] = static_cast<uint8_t>(value);
    }
  }
  annforge::cpu::PartitionParams partitioning;
  partitioning.cluster_size = 400;
  const annforge::cpu::Partition partition =
      annforge::cpu::partition_into_clusters(data.view(), annforge::Metric::L2, partitioning);
  std::vector<float> projected;
  const int k = 16;
  annforge::cpu::FirstPass first_pass;
  if (projected_first_pass) {
    const annforge::cpu::Projection projection = annforge::cpu::fit_projection(data.view(), false, 2, 3);
    ASSERT_FALSE(projection.empty());
    projected = annforge::cpu::project_rows(data.view(), projection, 2);
    first_pass = annforge::cpu::FirstPass{&projected, projection.output_dim, 2 * k};
  }
  const annforge::cpu::Distance distance(annforge::Metric::L2, data.view());
  const annforge::cpu::KnnGraph graph = annforge::cpu::cluster_knn_graph(distance, partition, k, 2, 5, first_pass, {});
  for (int64_t v = 0; v < rows; ++v) {
    std::vector<uint32_t> list(graph.ids.begin() + v * k, graph.ids.begin() + (v + 1) * k);
    for (int j = 0; j < k; ++j) {
      ASSERT_LT(list[j], rows) << "row " << v;
      ASSERT_NE(list[j], v) << "row " << v << " lists itself";
      if (j > 0) ASSERT_LE(graph.distances[v * k + j - 1], graph.distances[v * k + j]) << "row " << v << " unsorted";
    }
    std::sort(list.begin(), list.end());
    ASSERT_EQ(std::adjacent_find(list.begin(), list.end()), list.end()) << "row " << v << " repeats an id";
  }
}

TEST(Projection, FirstPassListsHaveNoRepeatsUnderTies) {
  expect_lists_without_repeats_under_ties(annforge::ElementType::UInt8, true);
  expect_lists_without_repeats_under_ties(annforge::ElementType::Float32, true);
}

TEST(ClusterKnn, BlockedPassListsHaveNoRepeatsUnderTies) {
  expect_lists_without_repeats_under_ties(annforge::ElementType::UInt8, false);
  expect_lists_without_repeats_under_ties(annforge::ElementType::Float32, false);
}

// Cluster size falls with the dimension (all-pairs work per vector grows with size x dim), from
// 1,500 at 128 dimensions and below, never under 500.
TEST(ClusterKnn, DefaultClusterSizeShrinksWithDimension) {
  EXPECT_EQ(annforge::cpu::default_cluster_size(16), 1500);
  EXPECT_EQ(annforge::cpu::default_cluster_size(128), 1500);
  EXPECT_EQ(annforge::cpu::default_cluster_size(784), 606);  // round(1500 * sqrt(128 / 784))
  EXPECT_EQ(annforge::cpu::default_cluster_size(100000), 500);
  // Dots four times cheaper (AMX): the rule sees a quarter of the dimension.
  EXPECT_EQ(annforge::cpu::default_cluster_size(256, 4), 1500);
  EXPECT_EQ(annforge::cpu::default_cluster_size(784 * 4, 4), 606);
  EXPECT_EQ(annforge::cpu::default_cluster_size(1024, 4), annforge::cpu::default_cluster_size(256));
  for (int dim = 129; dim < 4000; dim += 97) {
    EXPECT_LE(annforge::cpu::default_cluster_size(dim), annforge::cpu::default_cluster_size(dim - 1)) << dim;
  }
}
