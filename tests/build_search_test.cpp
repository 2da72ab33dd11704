// Building and searching: graph invariants and recall for every metric x element type x
// algorithm; exact_knn against a plain double-precision loop; tiny inputs; every argument
// error; extend; zero-copy borrowing; SIMD kernels against the scalar reference.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <numeric>
#include <thread>
#include <tuple>
#include <type_traits>

#include "annforge.hpp"
#include "host/cpu/distance.hpp"
#include "tests/test_support.hpp"

// Readable parameter names in test output (found by argument-dependent lookup).
namespace annforge {
inline void PrintTo(Metric m, std::ostream* os) { *os << to_string(m); }
inline void PrintTo(ElementType t, std::ostream* os) { *os << to_string(t); }
inline void PrintTo(BuildAlgorithm a, std::ostream* os) {
  *os << (a == BuildAlgorithm::Auto ? "auto" : a == BuildAlgorithm::BruteForce ? "brute_force" : "nn_descent");
}
}  // namespace annforge

namespace {

using namespace annforge;
using namespace annforge_test;

constexpr int64_t kRows = 4000, kDim = 32, kQueries = 200;
constexpr int kK = 10;

const char* algorithm_name(BuildAlgorithm a) {
  switch (a) {
    case BuildAlgorithm::Auto: return "auto";
    case BuildAlgorithm::BruteForce: return "brute_force";
    case BuildAlgorithm::NNDescent: return "nn_descent";
  }
  return "?";
}


// --- recall over metric x type x algorithm ---------------------------------------------------

using Combo = std::tuple<Metric, ElementType, BuildAlgorithm>;

class BuildSearch : public ::testing::TestWithParam<Combo> {};

TEST_P(BuildSearch, GraphInvariantsAndRecall) {
  const auto [metric, type, algorithm] = GetParam();
  Dataset base = clustered(kRows, kDim, type, 21);
  Dataset queries = clustered(kQueries, kDim, type, 21, 2);
  const BuildParams params = params_for(metric, algorithm);

  const auto start = std::chrono::steady_clock::now();
  Index index = build(base, params);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(index.backend, "cpu");
  EXPECT_EQ(index.metric, metric);
  ASSERT_TRUE(graph_invariants(index, params.graph_degree));
  EXPECT_EQ(index.vectors.view().data, base.view().data) << "build shares the dataset, it does not copy it";
  // Under inner product, vectors of small norm are nobody's near neighbour (nor, mostly, any
  // query's answer), so some may legitimately be left without in-edges.
  const double reachable = reachable_share(index);
  EXPECT_GE(reachable, metric == Metric::InnerProduct ? 0.9 : 0.99) << "rows reachable from the entry point";

  const Neighbors truth = exact_knn(base.view(), queries.view(), kK, metric);
  SearchParams sp;
  sp.beam_width = 64;
  sp.device = Device::Cpu;
  const Neighbors found = search(index, queries.view(), kK, sp);
  ASSERT_EQ(found.rows, kQueries);
  ASSERT_EQ(found.k, kK);
  EXPECT_TRUE(well_formed(found, base.view(), queries.view(), metric));
  const double r = recall(found, truth, kK);
  EXPECT_DOUBLE_EQ(r, recall_at_k(found, truth, kK));
  std::printf("[ recall   ] %s %s %s: recall@10 %.4f at beam 64 (build %.2f s, %.1f%% reachable)\n",
              to_string(metric), to_string(type), algorithm_name(algorithm), r, seconds, 100 * reachable);
  EXPECT_GE(r, 0.9);

  // The control: the same search over a random graph of the same degree must score far lower,
  // or this threshold would not tell a working graph from a broken one.
  Index random_graph = index;
  Rng rng(99);
  for (int64_t v = 0; v < index.rows(); ++v) {
    std::set<uint32_t> picked;
    while (static_cast<int>(picked.size()) < index.graph_degree) {
      const uint32_t u = static_cast<uint32_t>(rng.below(index.rows()));
      if (u != v) picked.insert(u);
    }
    std::copy(picked.begin(), picked.end(), random_graph.graph.begin() + v * index.graph_degree);
  }
  const double control = recall(search(random_graph, queries.view(), kK, sp), truth, kK);
  std::printf("[ recall   ] %s %s %s: random-graph control %.4f at beam 64\n", to_string(metric), to_string(type),
              algorithm_name(algorithm), control);
  EXPECT_LT(control, 0.7);

  // A wider beam never finds less on average, and a beam of 256 is nearly exact.
  sp.beam_width = 256;
  const double wide = recall(search(index, queries.view(), kK, sp), truth, kK);
  std::printf("[ recall   ] %s %s %s: recall@10 %.4f at beam 256\n", to_string(metric), to_string(type),
              algorithm_name(algorithm), wide);
  EXPECT_GE(wide, std::max(0.97, r - 0.005));
}

INSTANTIATE_TEST_SUITE_P(
    MetricTypeAlgorithm, BuildSearch,
    ::testing::Combine(::testing::Values(Metric::L2, Metric::InnerProduct, Metric::Cosine),
                       ::testing::Values(ElementType::Float32, ElementType::UInt8),
                       ::testing::Values(BuildAlgorithm::BruteForce, BuildAlgorithm::NNDescent)),
    [](const ::testing::TestParamInfo<Combo>& info) {
      return std::string(to_string(std::get<0>(info.param))) + "_" + to_string(std::get<1>(info.param)) + "_" +
             algorithm_name(std::get<2>(info.param));
    });

// --- exact_knn against a plain loop ------------------------------------------------------------

using ExactCase = std::tuple<Metric, ElementType>;
class ExactKnn : public ::testing::TestWithParam<ExactCase> {};

TEST_P(ExactKnn, MatchesDoublePrecisionLoopModuloTies) {
  const auto [metric, type] = GetParam();
  const int64_t rows = 300, dim = 37, nq = 15;  // an odd dimension: every SIMD tail runs
  const int k = 12;
  Dataset base = clustered(rows, dim, type, 5, 1, 4);
  Dataset queries = clustered(nq, dim, type, 5, 2, 4);
  // Row 7 duplicates row 3 (an exact tie for every query); row 11 is the zero vector.
  auto* bytes = static_cast<uint8_t*>(base.mutable_data());
  const size_t rb = base.view().row_bytes();
  std::memcpy(bytes + 7 * rb, bytes + 3 * rb, rb);
  std::memset(bytes + 11 * rb, 0, rb);
  // Query 0 is base row 3 itself.
  std::memcpy(queries.mutable_data(), bytes + 3 * rb, rb);

  const Neighbors got = exact_knn(base.view(), queries.view(), k, metric, 2);
  ASSERT_EQ(got.rows, nq);
  ASSERT_EQ(got.k, k);
  const bool integer_exact = type != ElementType::Float32 && metric != Metric::Cosine;
  for (int64_t q = 0; q < nq; ++q) {
    std::vector<std::pair<double, uint32_t>> all;
    double scale = 0;
    for (int64_t i = 0; i < rows; ++i) {
      all.emplace_back(naive_distance(metric, queries.view(), q, base.view(), i), static_cast<uint32_t>(i));
      scale = std::max(scale, std::fabs(all.back().first));
    }
    std::sort(all.begin(), all.end());
    // Float rounding may reorder distances closer than this; integer L2 and IP are exact.
    const double tie = integer_exact ? 0.0 : 2e-6 * (metric == Metric::Cosine ? 1.0 : scale + 1.0);
    std::map<uint32_t, double> reference;
    for (const auto& [d, i] : all) reference[i] = d;
    for (int j = 0; j < k; ++j) {
      const uint32_t id = got.ids[q * k + j];
      ASSERT_LT(id, static_cast<uint32_t>(rows)) << "query " << q << " rank " << j;
      if (id != all[j].second) {
        EXPECT_LE(std::fabs(reference[id] - all[j].first), tie)
            << "query " << q << " rank " << j << ": got id " << id << " at " << reference[id] << ", expected id "
            << all[j].second << " at " << all[j].first;
      }
      if (integer_exact) {
        EXPECT_EQ(got.distances[q * k + j], static_cast<float>(reference[id])) << "query " << q << " rank " << j;
      } else {
        EXPECT_NEAR(got.distances[q * k + j], reference[id], 1e-4 * (1.0 + std::fabs(reference[id])));
      }
    }
    // Exact ties are broken by the smaller id: row 3 comes before its duplicate, row 7.
    for (int j = 0; j + 1 < k; ++j) {
      if (got.distances[q * k + j] == got.distances[q * k + j + 1]) {
        EXPECT_LT(got.ids[q * k + j], got.ids[q * k + j + 1]) << "query " << q << ": a tie not ordered by id";
      }
    }
  }
  if (metric == Metric::L2) {
    EXPECT_EQ(got.ids[0], 3u) << "a query equal to row 3 finds row 3 first";
    EXPECT_EQ(got.ids[1], 7u) << "and its duplicate, row 7, second";
    EXPECT_EQ(got.distances[0], 0.0f);
  }
}

INSTANTIATE_TEST_SUITE_P(MetricType, ExactKnn,
                         ::testing::Combine(::testing::Values(Metric::L2, Metric::InnerProduct, Metric::Cosine),
                                            ::testing::Values(ElementType::Float32, ElementType::UInt8,
                                                              ElementType::Int8)),
                         [](const ::testing::TestParamInfo<ExactCase>& info) {
                           return std::string(to_string(std::get<0>(info.param))) + "_" +
                                  to_string(std::get<1>(info.param));
                         });

TEST(ExactKnnEdges, ZeroVectorHasCosineDistanceOne) {
  Dataset base = clustered(20, 6, ElementType::Float32, 2);
  Dataset zero = Dataset::allocate(1, 6, ElementType::Float32);
  std::memset(zero.mutable_data(), 0, zero.view().row_bytes());
  const Neighbors n = exact_knn(base.view(), zero.view(), 5, Metric::Cosine);
  for (int j = 0; j < 5; ++j) EXPECT_EQ(n.distances[j], 1.0f);
}

TEST(ExactKnnEdges, KLargerThanBasePads) {
  Dataset base = clustered(4, 5, ElementType::Float32, 2);
  Dataset queries = clustered(3, 5, ElementType::Float32, 2, 2);
  const Neighbors n = exact_knn(base.view(), queries.view(), 7, Metric::L2);
  ASSERT_EQ(n.k, 7);
  EXPECT_TRUE(well_formed(n, base.view(), queries.view(), Metric::L2));
  for (int64_t q = 0; q < 3; ++q) {
    std::set<uint32_t> ids(n.ids.begin() + q * 7, n.ids.begin() + q * 7 + 4);
    EXPECT_EQ(ids, (std::set<uint32_t>{0, 1, 2, 3}));
    for (int j = 4; j < 7; ++j) {
      EXPECT_EQ(n.ids[q * 7 + j], kInvalidId);
      EXPECT_EQ(n.distances[q * 7 + j], std::numeric_limits<float>::infinity());
    }
  }
}

// --- tiny inputs ---------------------------------------------------------------------------------

class TinyBuild : public ::testing::TestWithParam<BuildAlgorithm> {};

TEST_P(TinyBuild, DegreeClampsAndSearchPads) {
  const BuildAlgorithm algorithm = GetParam();
  for (int64_t rows : {1, 2, 3, 7, 33}) {
    SCOPED_TRACE("rows " + std::to_string(rows));
    Dataset base = clustered(rows, 9, ElementType::Float32, 8);
    Dataset queries = clustered(6, 9, ElementType::Float32, 8, 2);
    BuildParams params = params_for(Metric::L2, algorithm);
    Index index = build(base, params);
    ASSERT_TRUE(graph_invariants(index, params.graph_degree));
    // With degree rows - 1 and no repeats or self loops, every row links to every other row.
    if (rows <= params.graph_degree + 1) {
      for (int64_t v = 0; v < rows; ++v) {
        std::set<uint32_t> linked(index.neighbors(v), index.neighbors(v) + index.graph_degree);
        EXPECT_EQ(static_cast<int64_t>(linked.size()), rows - 1) << "row " << v;
      }
    }
    for (int k : {1, static_cast<int>(rows), static_cast<int>(rows) + 3}) {
      const Neighbors found = search(index, queries.view(), k);
      const Neighbors truth = exact_knn(base.view(), queries.view(), k, Metric::L2);
      EXPECT_TRUE(well_formed(found, base.view(), queries.view(), Metric::L2)) << "k " << k;
      EXPECT_EQ(found.ids, truth.ids) << "k " << k << ": on a complete graph the search is exact";
      for (int64_t q = 0; q < found.rows; ++q) {
        for (int j = static_cast<int>(rows); j < k; ++j) EXPECT_EQ(found.ids[q * k + j], kInvalidId);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Algorithms, TinyBuild,
                         ::testing::Values(BuildAlgorithm::Auto, BuildAlgorithm::BruteForce, BuildAlgorithm::NNDescent),
                         [](const ::testing::TestParamInfo<BuildAlgorithm>& info) {
                           return std::string(algorithm_name(info.param));
                         });

TEST(TinyBuild, SingleRowIndex) {
  Dataset base = clustered(1, 4, ElementType::UInt8, 1);
  Index index = build(base, params_for(Metric::Cosine, BuildAlgorithm::Auto));
  EXPECT_EQ(index.graph_degree, 0);
  EXPECT_TRUE(index.graph.empty());
  ASSERT_FALSE(index.entry_points.empty());
  for (uint32_t e : index.entry_points) EXPECT_EQ(e, 0u);
  const Neighbors n = search(index, base.view(), 3);
  EXPECT_EQ(n.ids, (std::vector<uint32_t>{0, kInvalidId, kInvalidId}));
  EXPECT_NEAR(n.distances[0], 0.0f, 1e-6);
  EXPECT_TRUE(std::isinf(n.distances[1]) && std::isinf(n.distances[2]));
}

// annforge.hpp: the first entry point is the vector nearest the centroid.
TEST(EntryPoints, FirstIsNearestToTheCentroid) {
  for (ElementType type : {ElementType::Float32, ElementType::UInt8, ElementType::Int8}) {
    SCOPED_TRACE(to_string(type));
    Dataset data = clustered(3000, 16, type, 61);
    Index index = build(data, params_for(Metric::L2, BuildAlgorithm::Auto, 16));
    ASSERT_TRUE(graph_invariants(index, 16));
    std::vector<double> centroid(16, 0.0);
    for (int64_t i = 0; i < data.rows(); ++i)
      for (int64_t c = 0; c < 16; ++c) centroid[c] += element(data.view(), i, c) / data.rows();
    auto to_centroid = [&](int64_t i) {
      double sum = 0;
      for (int64_t c = 0; c < 16; ++c) sum += (element(data.view(), i, c) - centroid[c]) * (element(data.view(), i, c) - centroid[c]);
      return sum;
    };
    double best = std::numeric_limits<double>::infinity();
    for (int64_t i = 0; i < data.rows(); ++i) best = std::min(best, to_centroid(i));
    EXPECT_LE(to_centroid(index.entry_points[0]), best * (1 + 1e-5) + 1e-9)
        << "entry point " << index.entry_points[0] << " is not the vector nearest the centroid";
  }
}

// --- argument errors -------------------------------------------------------------------------------

class Errors : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = clustered(300, 8, ElementType::Float32, 4);
    index_ = build(base_, params_for(Metric::L2, BuildAlgorithm::BruteForce, 8));
  }
  Dataset base_;
  Index index_;
};

TEST_F(Errors, NonFiniteFloatsNameRowAndColumn) {
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()}) {
    Dataset data = Dataset::copy_of(base_.view());
    static_cast<float*>(data.mutable_data())[17 * 8 + 5] = bad;
    const std::string what = std::isnan(bad) ? "NaN" : "infinite";
    EXPECT_TRUE(throws_error([&] { build(data); }, ErrorCode::InvalidArgument, {"row 17", "column 5", what}));
    EXPECT_TRUE(throws_error([&] { search(index_, data.view(), 5); }, ErrorCode::InvalidArgument,
                             {"row 17", "column 5", what}));
    EXPECT_TRUE(throws_error([&] { exact_knn(base_.view(), data.view(), 5, Metric::L2); }, ErrorCode::InvalidArgument,
                             {"row 17", "column 5", what}));
    EXPECT_TRUE(throws_error([&] { exact_knn(data.view(), base_.view(), 5, Metric::L2); }, ErrorCode::InvalidArgument,
                             {"row 17", "column 5", what}));
    Index copy = index_;
    EXPECT_TRUE(throws_error([&] { extend(copy, data.view(), params_for(Metric::L2, BuildAlgorithm::BruteForce, 8)); },
                             ErrorCode::InvalidArgument, {"row 17", "column 5", what}));
    EXPECT_EQ(copy.rows(), index_.rows()) << "a failed extend leaves the index as it was";
    EXPECT_EQ(copy.graph, index_.graph);
  }
}

TEST_F(Errors, QueryShapeAndTypeMismatch) {
  Dataset wrong_dim = clustered(5, 9, ElementType::Float32, 4);
  Dataset wrong_type = clustered(5, 8, ElementType::UInt8, 4);
  EXPECT_TRUE(throws_error([&] { search(index_, wrong_dim.view(), 5); }, ErrorCode::InvalidArgument, {"9", "8"}));
  EXPECT_TRUE(throws_error([&] { search(index_, wrong_type.view(), 5); }, ErrorCode::InvalidArgument,
                           {"uint8", "float32"}));
  EXPECT_TRUE(throws_error([&] { exact_knn(base_.view(), wrong_dim.view(), 5, Metric::L2); },
                           ErrorCode::InvalidArgument, {}));
  EXPECT_TRUE(throws_error([&] { exact_knn(base_.view(), wrong_type.view(), 5, Metric::L2); },
                           ErrorCode::InvalidArgument, {}));
  Index copy = index_;
  EXPECT_TRUE(throws_error([&] { extend(copy, wrong_dim.view(), params_for(Metric::L2, BuildAlgorithm::Auto, 8)); },
                           ErrorCode::InvalidArgument, {}));
  EXPECT_TRUE(throws_error([&] { extend(copy, wrong_type.view(), params_for(Metric::L2, BuildAlgorithm::Auto, 8)); },
                           ErrorCode::InvalidArgument, {}));
  EXPECT_EQ(copy.rows(), index_.rows());
}

TEST_F(Errors, BadCountsAndParameters) {
  EXPECT_TRUE(throws_error([&] { search(index_, base_.view(), 0); }, ErrorCode::InvalidArgument, {"k"}));
  EXPECT_TRUE(throws_error([&] { search(index_, base_.view(), -3); }, ErrorCode::InvalidArgument, {"k"}));
  EXPECT_TRUE(throws_error([&] { exact_knn(base_.view(), base_.view(), 0, Metric::L2); }, ErrorCode::InvalidArgument,
                           {"k"}));
  SearchParams no_beam;
  no_beam.beam_width = 0;
  EXPECT_TRUE(throws_error([&] { search(index_, base_.view(), 5, no_beam); }, ErrorCode::InvalidArgument, {"beam"}));
  std::vector<uint32_t> ids(5 * 300);
  EXPECT_TRUE(throws_error([&] { search(index_, base_.view(), 5, SearchParams{}, ids.data(), nullptr); },
                           ErrorCode::InvalidArgument, {}));

  BuildParams p = params_for(Metric::L2, BuildAlgorithm::Auto);
  p.graph_degree = 0;
  EXPECT_TRUE(throws_error([&] { build(base_, p); }, ErrorCode::InvalidArgument, {"graph_degree"}));
  p = params_for(Metric::L2, BuildAlgorithm::Auto);
  p.graph_degree = -1;
  EXPECT_TRUE(throws_error([&] { build(base_, p); }, ErrorCode::InvalidArgument, {"graph_degree"}));
  p = params_for(Metric::L2, BuildAlgorithm::Auto);
  p.graph_degree = 32;
  p.intermediate_degree = 16;
  EXPECT_TRUE(throws_error([&] { build(base_, p); }, ErrorCode::InvalidArgument, {"intermediate_degree", "16", "32"}));
  p = params_for(Metric::L2, BuildAlgorithm::Auto);
  p.threads = -1;
  EXPECT_TRUE(throws_error([&] { build(base_, p); }, ErrorCode::InvalidArgument, {"threads"}));
  p = params_for(Metric::L2, BuildAlgorithm::Auto);
  p.nn_descent_iterations = -1;
  EXPECT_TRUE(throws_error([&] { build(base_, p); }, ErrorCode::InvalidArgument, {"nn_descent_iterations"}));

  EXPECT_TRUE(throws_error([&] { build(Dataset{}); }, ErrorCode::InvalidArgument, {"empty"}));
  EXPECT_TRUE(throws_error([&] { build(Dataset::borrow(DatasetView{nullptr, 10, 4, ElementType::Float32})); },
                           ErrorCode::InvalidArgument, {"null"}));
  EXPECT_TRUE(throws_error([&] { search(Index{}, base_.view(), 5); }, ErrorCode::InvalidArgument, {"empty"}));
  Index empty;
  EXPECT_TRUE(throws_error([&] { extend(empty, base_.view()); }, ErrorCode::InvalidArgument, {"empty"}));
}

TEST_F(Errors, GpuWithoutCudaBackendIsNoDevice) {
  if (gpu_available()) GTEST_SKIP() << "this build and machine have a CUDA backend";
  EXPECT_EQ(resolve_backend(Device::Auto), "cpu");
  EXPECT_EQ(resolve_backend(Device::Cpu), "cpu");
  EXPECT_TRUE(throws_error([&] { resolve_backend(Device::Gpu); }, ErrorCode::NoDevice, {"gpu"}));
  BuildParams p = params_for(Metric::L2, BuildAlgorithm::Auto);
  p.device = Device::Gpu;
  EXPECT_TRUE(throws_error([&] { build(base_, p); }, ErrorCode::NoDevice, {}));
  SearchParams sp;
  sp.device = Device::Gpu;
  EXPECT_TRUE(throws_error([&] { search(index_, base_.view(), 5, sp); }, ErrorCode::NoDevice, {}));
  Index copy = index_;
  EXPECT_TRUE(throws_error([&] { extend(copy, base_.view(), p); }, ErrorCode::NoDevice, {}));
  EXPECT_EQ(copy.rows(), index_.rows());
  // Auto falls back to the CPU backend.
  p.device = Device::Auto;
  EXPECT_EQ(build(base_, p).backend, "cpu");
}

// --- small API helpers ---------------------------------------------------------------------------

TEST(Api, NamesParseAndRoundTrip) {
  for (Metric m : {Metric::L2, Metric::InnerProduct, Metric::Cosine}) EXPECT_EQ(parse_metric(to_string(m)), m);
  EXPECT_EQ(parse_metric("euclidean"), Metric::L2);
  EXPECT_EQ(parse_metric("angular"), Metric::Cosine);
  EXPECT_TRUE(throws_error([] { parse_metric("manhattan"); }, ErrorCode::InvalidArgument, {"manhattan"}));
  EXPECT_EQ(parse_device("auto"), Device::Auto);
  EXPECT_EQ(parse_device("cpu"), Device::Cpu);
  EXPECT_EQ(parse_device("gpu"), Device::Gpu);
  EXPECT_TRUE(throws_error([] { parse_device("tpu"); }, ErrorCode::InvalidArgument, {"tpu"}));
  EXPECT_EQ(element_size(ElementType::Float32), 4u);
  EXPECT_EQ(element_size(ElementType::UInt8), 1u);
  EXPECT_EQ(element_size(ElementType::Int8), 1u);
}

TEST(Api, RecallAtKOnHandMadeLists) {
  Neighbors truth, found;
  truth.rows = found.rows = 2;
  truth.k = 4;
  found.k = 3;
  truth.ids = {1, 2, 3, 99, 4, 5, 6, 98};
  found.ids = {3, 2, 9, 7, kInvalidId, 4};
  truth.distances.assign(8, 0);
  found.distances.assign(6, 0);
  EXPECT_DOUBLE_EQ(recall_at_k(found, truth, 3), 3.0 / 6.0);  // {3,2} of {1,2,3}; {4} of {4,5,6}
  EXPECT_DOUBLE_EQ(recall_at_k(found, truth, 1), 0.0);        // 3 vs 1, 7 vs 4
  EXPECT_DOUBLE_EQ(recall_at_k(found, truth, 2), 1.0 / 4.0);  // {2} of {1,2}; nothing of {4,5}
  EXPECT_DOUBLE_EQ(recall(found, truth, 3), recall_at_k(found, truth, 3));
  // kInvalidId never counts as a hit, even where the truth is padded too.
  Neighbors padded = truth;
  padded.ids = {kInvalidId, kInvalidId, kInvalidId, kInvalidId, 4, 5, 6, 98};
  Neighbors all_missing = found;
  all_missing.ids.assign(6, kInvalidId);
  EXPECT_DOUBLE_EQ(recall_at_k(all_missing, padded, 3), 0.0);
  EXPECT_TRUE(throws_error([&] { recall_at_k(found, truth, 4); }, ErrorCode::InvalidArgument, {}));
  EXPECT_TRUE(throws_error([&] { recall_at_k(found, truth, 0); }, ErrorCode::InvalidArgument, {}));
  Neighbors short_truth = truth;
  short_truth.rows = 1;
  short_truth.ids.resize(4);
  EXPECT_TRUE(throws_error([&] { recall_at_k(found, short_truth, 3); }, ErrorCode::InvalidArgument, {}));
}

// A result that repeats a true neighbour is credited once: found {3, 3, 3} against truth
// {3, 4, 5} is recall 1/3, not 1.
TEST(Api, RecallAtKCountsARepeatedIdOnce) {
  Neighbors truth, found;
  truth.rows = found.rows = 1;
  truth.k = found.k = 3;
  truth.ids = {3, 4, 5};
  found.ids = {3, 3, 3};
  truth.distances = found.distances = {0, 0, 0};
  EXPECT_DOUBLE_EQ(recall(found, truth, 3), 1.0 / 3.0);  // the helper in test_support.hpp
  EXPECT_DOUBLE_EQ(recall_at_k(found, truth, 3), 1.0 / 3.0);
}

// Progress: reported on the calling thread only, never past the total, non-decreasing per
// stage, and each stage ends at its total.
TEST(Api, ProgressIsReportedOnTheCallingThread) {
  Dataset base = clustered(3000, 16, ElementType::Float32, 9);
  const std::thread::id caller = std::this_thread::get_id();
  std::vector<Progress> reports;
  bool other_thread = false;
  auto record = [&](const Progress& p) {
    other_thread = other_thread || std::this_thread::get_id() != caller;
    reports.push_back(p);
  };
  for (BuildAlgorithm algorithm : {BuildAlgorithm::BruteForce, BuildAlgorithm::NNDescent}) {
    SCOPED_TRACE(algorithm_name(algorithm));
    reports.clear();
    BuildParams p = params_for(Metric::L2, algorithm, 16);
    p.threads = 2;
    p.progress = record;
    Index index = build(base, p);
    SearchParams sp;
    sp.threads = 2;
    sp.progress = record;
    search(index, base.view(), 5, sp);
    EXPECT_FALSE(other_thread);
    ASSERT_FALSE(reports.empty());
    std::map<std::string, int64_t> last;
    std::map<std::string, int64_t> total;
    for (const Progress& r : reports) {
      ASSERT_NE(r.stage, nullptr);
      EXPECT_GT(r.total, 0) << r.stage;
      EXPECT_LE(r.done, r.total) << r.stage;
      EXPECT_GE(r.done, last.count(r.stage) ? last[r.stage] : 0) << r.stage << " went backwards";
      last[r.stage] = r.done;
      total[r.stage] = r.total;
    }
    for (const auto& [stage, done] : last) EXPECT_EQ(done, total[stage]) << stage << " did not finish";
    EXPECT_EQ(last.count("search"), 1u);
  }
}

// --- degenerate data ----------------------------------------------------------------------

// Two thirds of the rows identical: the build must stay fast (no cluster of every duplicate),
// keep the graph invariants, and still find the distinct rows.
TEST(Degenerate, ManyIdenticalVectors) {
  const int64_t rows = 9000, distinct_from = 6000;
  Dataset data = clustered(rows, kDim, ElementType::Float32, 61);
  float* values = static_cast<float*>(data.mutable_data());
  for (int64_t i = 1; i < distinct_from; ++i) std::memcpy(values + i * kDim, values, kDim * sizeof(float));
  const Index index = build(data, params_for(Metric::L2, BuildAlgorithm::Auto));
  ASSERT_TRUE(graph_invariants(index, 32));
  DatasetView distinct{data.view().row(distinct_from), rows - distinct_from, kDim, ElementType::Float32};
  SearchParams sp;
  sp.beam_width = 64;
  const Neighbors self = search(index, distinct, 1, sp);
  int64_t found = 0;
  for (int64_t i = 0; i < distinct.rows; ++i) found += self.ids[i] == static_cast<uint32_t>(distinct_from + i);
  EXPECT_GE(found, distinct.rows * 99 / 100) << "distinct rows found by their own vector";
}

// --- the kNN-graph stage of NN-Descent on its own -------------------------------------------

TEST(NNDescent, SearchRecallMatchesBruteForceBuild) {
  // Same data, both algorithms: NN-Descent's approximate kNN graph must not cost much recall.
  Dataset base = clustered(6000, 24, ElementType::Float32, 51);
  Dataset queries = clustered(kQueries, 24, ElementType::Float32, 51, 2);
  const Neighbors truth = exact_knn(base.view(), queries.view(), kK, Metric::L2);
  SearchParams sp;
  sp.beam_width = 32;
  double r[2];
  int i = 0;
  for (BuildAlgorithm a : {BuildAlgorithm::BruteForce, BuildAlgorithm::NNDescent}) {
    Index index = build(base, params_for(Metric::L2, a));
    ASSERT_TRUE(graph_invariants(index, 32));
    r[i++] = recall(search(index, queries.view(), kK, sp), truth, kK);
  }
  std::printf("[ recall   ] 6000 x 24, beam 32: brute-force graph %.4f, nn-descent graph %.4f\n", r[0], r[1]);
  EXPECT_GE(r[1], r[0] - 0.02);
}

}  // namespace
