// Recall floors on the kinds of data that are hard for a clustered kNN stage, on both backends
// (GPU cases skip where no GPU is present):
//  - a tenth of the rows exact copies of others (recall counts a returned id as right when its
//    exact distance is within the k-th true one: ties must not penalise, and must not break
//    the build either);
//  - many small clusters (4 rows each, the shape of clusters-50k at 200K rows), where the
//    partition sees the fewest true neighbours;
//  - queries unlike the data (CPU): far from every cluster, their true neighbours spread over
//    several clusters that no edge of the graph joins;
//  - cosine rows that share one large dimension (CPU): every pair's cosine is near 1, and the
//    angles that rank them live in the last few bits of reduced-precision dots.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "annforge.hpp"
#include "host/cpu/search/approximate_rows.hpp"
#include "tests/test_support.hpp"

namespace {

using namespace annforge;
using namespace annforge_test;

// Recall@k where a returned id also counts when its exact distance is at most the k-th true
// distance (plus a relative 1e-6): the --recall ties rule of bench/compare_cpu.
double recall_with_ties(const Neighbors& found, const Neighbors& truth, const DatasetView& base,
                        const DatasetView& queries, int k) {
  int64_t hits = 0;
  for (int64_t q = 0; q < queries.rows; ++q) {
    const float kth = truth.distances[q * truth.k + k - 1];
    for (int j = 0; j < k; ++j) {
      const uint32_t id = found.ids[q * found.k + j];
      if (id >= base.rows) continue;
      const float d = found.distances[q * found.k + j];
      hits += d <= kth + 1e-6f * std::fabs(kth) + 1e-9f;
    }
  }
  return static_cast<double>(hits) / (queries.rows * k);
}

// Rows around `clusters` centres drawn from N(0, 1) in `dim` dimensions, 0.1 apart per dimension:
// tight clusters, the same centres for every draw (base and queries).
class TightClusters {
 public:
  TightClusters(int64_t clusters, int64_t dim, uint64_t seed) : clusters_(clusters), dim_(dim), centres_(clusters * dim) {
    Rng model(seed);
    for (float& c : centres_) c = static_cast<float>(model.normal());
  }
  Dataset draw(int64_t count, uint64_t seed) const {
    Dataset out = Dataset::allocate(count, dim_, ElementType::Float32);
    float* v = static_cast<float*>(out.mutable_data());
    Rng rng(seed);
    for (int64_t i = 0; i < count; ++i) {
      const float* centre = &centres_[rng.below(clusters_) * dim_];
      for (int64_t d = 0; d < dim_; ++d) v[i * dim_ + d] = centre[d] + 0.1f * static_cast<float>(rng.normal());
    }
    return out;
  }

 private:
  int64_t clusters_, dim_;
  std::vector<float> centres_;
};

class DataKinds : public DeviceTest<Device> {};

TEST_P(DataKinds, ATenthExactCopies) {
  const int64_t rows = 20000, dim = 32;
  Dataset data = clustered(rows, dim, ElementType::Float32, 71, 1, 64);
  float* x = static_cast<float*>(data.mutable_data());
  Rng rng(5);
  for (int64_t c = 0; c < rows / 10; ++c) {
    const int64_t to = static_cast<int64_t>(rng.below(rows)), from = static_cast<int64_t>(rng.below(rows));
    std::memcpy(x + to * dim, x + from * dim, dim * sizeof(float));
  }
  const Dataset queries = clustered(500, dim, ElementType::Float32, 71, 2, 64);
  const Index index = build(data, params_for(Metric::L2, BuildAlgorithm::Auto, 32, device()));
  ASSERT_TRUE(graph_invariants(index, 32));
  const Neighbors truth = exact_knn(data.view(), queries.view(), 10, Metric::L2);
  const Neighbors found = search(index, queries.view(), 10, search_params(64, device()));
  EXPECT_GE(recall_with_ties(found, truth, data.view(), queries.view(), 10), 0.95);
}

// 5,000 clusters of 4 rows in 32 dimensions: little structure beyond the tiny clusters. The
// issue asks for 0.95 at beam <= 128; the CPU gave 0.976 at beam 32 (2026-12-03), checked there.
TEST_P(DataKinds, ManyClustersOfFourRows) {
  const int64_t rows = 20000, dim = 32;
  const TightClusters mixture(5000, dim, 3);
  const Dataset data = mixture.draw(rows, 11), queries = mixture.draw(500, 12);
  const Index index = build(data, params_for(Metric::L2, BuildAlgorithm::Auto, 32, device()));
  ASSERT_TRUE(graph_invariants(index, 32));
  const Neighbors truth = exact_knn(data.view(), queries.view(), 10, Metric::L2);
  EXPECT_GE(recall(search(index, queries.view(), 10, search_params(32, device())), truth, 10), 0.95);
}

// 100,000 rows in 5,000 tight clusters of ~20 (32-d, spread 0.1 around N(0, 1) centres), more
// than 20K rows so that the GPU builds by its forest, and ten times more clusters than entry
// points: a search from the entry points alone reaches few clusters (the GPU's flat index of
// 1M x 64 in 5,000 clusters: recall@10 0.22 at beam 16, 2026-12-04). Both backends build the
// upper levels and descend them, and must find the query's cluster.
TEST_P(DataKinds, ManyMoreClustersThanEntryPoints) {
  const int64_t rows = 100000, dim = 32, clusters = 5000;
  const TightClusters mixture(clusters, dim, 17);
  const Dataset data = mixture.draw(rows, 21), queries = mixture.draw(1000, 22);
  const Index index = build(data, params_for(Metric::L2, BuildAlgorithm::Auto, 32, device()));
  ASSERT_TRUE(graph_invariants(index, 32));
  ASSERT_FALSE(index.levels.empty());
  EXPECT_LT(static_cast<int64_t>(index.entry_points.size()), clusters / 5);
  const Neighbors truth = exact_knn(data.view(), queries.view(), 10, Metric::L2);
  EXPECT_GE(recall(search(index, queries.view(), 10, search_params(32, device())), truth, 10), 0.95);
}

INSTANTIATE_TEST_SUITE_P(Backends, DataKinds, backends(), ParamName());

// Float rows of `clustered` (64 components; base stream 1, queries 2) plus `shift` in every row:
// a part that all rows share.
Dataset clustered_and_shifted(int64_t count, uint64_t seed, uint64_t stream, const std::vector<float>& shift) {
  const int64_t dim = static_cast<int64_t>(shift.size());
  Dataset out = clustered(count, dim, ElementType::Float32, seed, stream, 64);
  float* x = static_cast<float*>(out.mutable_data());
  for (int64_t i = 0; i < count * dim; ++i) x[i] += shift[i % dim];
  return out;
}

// A CPU index of `data` (degree 32), its graph's invariants checked: recall@10 of `queries` at
// `beam` against exact neighbours.
double cpu_build_recall(const Dataset& data, const Dataset& queries, Metric metric, int beam) {
  const Index index = build(data, params_for(metric, BuildAlgorithm::Auto, 32, Device::Cpu));
  EXPECT_TRUE(graph_invariants(index, 32));
  const Neighbors truth = exact_knn(data.view(), queries.view(), 10, metric);
  return recall(search(index, queries.view(), 10, search_params(beam, Device::Cpu)), truth, 10);
}

// 30,000 rows in 60 well separated clusters (24-d, centres ~N(0, 4^2), spread 1) and queries
// drawn around 60 other centres: a query's true 10-NN sit in 2-6 clusters. The base beam
// cannot cross between them; level 1's beam (a quarter of the width, up to 64) must bring
// seeds from each. Recall@10 at beam 256: 0.905 with level 1's beam capped at 16, 0.954 with
// 64 (2026-12-04); hnswlib (M16, efC200) reached 0.952 at ef 256 on the 100K version.
TEST(QueriesUnlikeTheData, ReachTheClustersTheirNeighboursAreIn) {
  const int64_t rows = 30000, dim = 24;
  const int clusters = 60;
  auto draw = [&](int64_t count, uint64_t seed) {
    Rng rng(seed);
    std::vector<float> centres(clusters * dim);
    for (float& c : centres) c = static_cast<float>(4.0 * rng.normal());
    Dataset out = Dataset::allocate(count, dim, ElementType::Float32);
    float* v = static_cast<float*>(out.mutable_data());
    for (int64_t i = 0; i < count; ++i) {
      const float* centre = &centres[rng.below(clusters) * dim];
      for (int64_t d = 0; d < dim; ++d) v[i * dim + d] = centre[d] + static_cast<float>(rng.normal());
    }
    return out;
  };
  EXPECT_GE(cpu_build_recall(draw(rows, 1), draw(300, 2), Metric::L2, 256), 0.93);
}

// Embeddings with a "rogue dimension" (a few dimensions far larger than the rest in every row,
// as in some transformer models' outputs): 20,000 x 64 clustered rows with 300 (~50x a row's
// spread) added to dimension 0, cosine. Every cosine is ~0.9998; bf16 dots (8 bits) and int8
// codes with one scale per dimension lost the angles: recall@10 0.076 at beam 64 on the 200K
// version before the walk's rows were centred on their mean and the all-pairs stage probed its
// tiles (dots_probe.hpp: fp32 here), 1.000 after (2026-12-05). The GPU backend (fp16 rows) is
// not checked here yet.
TEST(RogueDimension, CosineRowsNearOneDirectionKeepTheirAngles) {
  std::vector<float> shift(64, 0.0f);
  shift[0] = 300.0f;
  const Dataset data = clustered_and_shifted(20000, 29, 1, shift), queries = clustered_and_shifted(500, 29, 2, shift);
  EXPECT_GE(cpu_build_recall(data, queries, Metric::Cosine, 64), 0.95);
}

// Rows all near one direction, the common part spread over every dimension (here 80 against a
// row's norm of ~6, like embeddings whose average direction dominates): the gaps between a
// row's nearest shrink with the angles, and the int8 codes' rounding puts some of a query's
// true 10 nearest below the walk's 26th, lost at any beam. The depth is measured per index
// (rerank_depth.hpp): 50 here for the codes, so the search tries bf16 rows (depth 26) and walks
// those: recall@10 at beam 64 0.9832 with the codes at depth 26, 0.9994 with the codes at 50,
// 1.0000 with bf16 rows (2026-12-05).
TEST(RowsNearOneDirection, TheExactReRankingReachesDeepEnough) {
  const std::vector<float> shift(64, static_cast<float>(80.0 / 8.0));  // 80 / sqrt(64) per dimension
  const Dataset data = clustered_and_shifted(20000, 31, 1, shift), queries = clustered_and_shifted(500, 31, 2, shift);
  if (!cpu::approximate_rows_usable(data.view())) {
    GTEST_SKIP() << "neither AVX-512 nor AVX2 + FMA here: searches walk the fp32 rows, there are no codes to re-rank";
  }
  const Index index = build(data, params_for(Metric::Cosine, BuildAlgorithm::Auto, 32, Device::Cpu));
  ASSERT_TRUE(graph_invariants(index, 32));
  const Neighbors truth = exact_knn(data.view(), queries.view(), 10, Metric::Cosine);
  // Each search below is on its own copy of the index (all alive, so their graphs' addresses
  // differ): the compact rows (and their depth) are made by an index's first search and kept
  // for the next.
  const Index first = index, second = index, third = index;
  auto recall_at = [&](const Index& copy, const char* rows, const char* depth) {
    if (rows != nullptr) ::setenv("ANNFORGE_CPU_SEARCH_ROWS", rows, 1);
    if (depth != nullptr) ::setenv("ANNFORGE_CPU_RERANK", depth, 1);
    const double found = recall(search(copy, queries.view(), 10, search_params(64, Device::Cpu)), truth, 10);
    ::unsetenv("ANNFORGE_CPU_SEARCH_ROWS");
    ::unsetenv("ANNFORGE_CPU_RERANK");
    return found;
  };
  const double codes_at_26 = recall_at(first, "int8", "26");
  const double codes_measured = recall_at(second, "int8", nullptr);
  const double chosen = recall_at(third, nullptr, nullptr);
  std::printf("[ one way  ] recall@10 at beam 64: int8 codes at depth 26 %.4f, at the measured depth %.4f; "
              "rows chosen %.4f\n", codes_at_26, codes_measured, chosen);
  EXPECT_GT(codes_measured, codes_at_26);
  EXPECT_GE(codes_measured, 0.998);
  EXPECT_GE(chosen, 0.998);
}

}  // namespace
