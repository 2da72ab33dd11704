// Building and searching: graph invariants and recall for every metric x element type x
// algorithm; exact_knn against a plain double-precision loop; tiny inputs; degenerate data
// (argument errors: api_errors_test.cpp). Each build/search/exact_knn test runs on both
// backends (".../Cpu", ".../Gpu" or "..._Cpu", "..._Gpu"; see test_support.hpp): the GPU cases
// skip where there is no GPU. The reference is always the CPU's exact_knn, checked itself
// against a double-precision loop.
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
#include "host/cpu/distance/distance.hpp"
#include "tests/test_support.hpp"

namespace {

using namespace annforge;
using namespace annforge_test;

constexpr int64_t kRows = 4000, kDim = 32, kQueries = 200;
constexpr int kK = 10;

const char* backend_of(Device device) { return device == Device::Gpu ? "cuda" : "cpu"; }


// --- recall over metric x type x algorithm ---------------------------------------------------

using Combo = std::tuple<Metric, ElementType, BuildAlgorithm, Device>;

class BuildSearch : public DeviceTest<Combo> {};

TEST_P(BuildSearch, GraphInvariantsAndRecall) {
  const auto [metric, type, algorithm, device] = GetParam();
  const std::string label = name_of(GetParam());
  Dataset base = clustered(kRows, kDim, type, 21);
  Dataset queries = clustered(kQueries, kDim, type, 21, 2);
  const BuildParams params = params_for(metric, algorithm, 32, device);

  const auto start = std::chrono::steady_clock::now();
  Index index = build(base, params);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(index.backend, backend_of(device));
  EXPECT_EQ(index.metric, metric);
  ASSERT_TRUE(graph_invariants(index, params.graph_degree));
  EXPECT_EQ(index.vectors.view().data, base.view().data) << "build shares the dataset, it does not copy it";
  // Under inner product, vectors of small norm are nobody's near neighbour (nor, mostly, any
  // query's answer), so some may legitimately be left without in-edges.
  const double reachable = reachable_share(index);
  EXPECT_GE(reachable, metric == Metric::InnerProduct ? 0.9 : 0.99) << "rows reachable from the entry point";

  const Neighbors truth = exact_knn(base.view(), queries.view(), kK, metric);  // the CPU reference
  SearchParams sp = search_params(64, device);
  const Neighbors found = search(index, queries.view(), kK, sp);
  ASSERT_EQ(found.rows, kQueries);
  ASSERT_EQ(found.k, kK);
  EXPECT_TRUE(well_formed(found, base.view(), queries.view(), metric));
  const double r = recall(found, truth, kK);
  EXPECT_DOUBLE_EQ(r, recall_at_k(found, truth, kK));
  std::printf("[ recall   ] %s: recall@10 %.4f at beam 64 (build %.2f s, %.1f%% reachable)\n", label.c_str(), r,
              seconds, 100 * reachable);
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
  std::printf("[ recall   ] %s: random-graph control %.4f at beam 64\n", label.c_str(), control);
  EXPECT_LT(control, 0.7);

  // A wider beam never finds less on average, and a beam of 256 is nearly exact.
  sp.beam_width = 256;
  const double wide = recall(search(index, queries.view(), kK, sp), truth, kK);
  std::printf("[ recall   ] %s: recall@10 %.4f at beam 256\n", label.c_str(), wide);
  EXPECT_GE(wide, std::max(0.97, r - 0.005));
}

INSTANTIATE_TEST_SUITE_P(MetricTypeAlgorithm, BuildSearch,
                         ::testing::Combine(::testing::Values(Metric::L2, Metric::InnerProduct, Metric::Cosine),
                                            ::testing::Values(ElementType::Float32, ElementType::UInt8,
                                                              ElementType::Int8),
                                            ::testing::Values(BuildAlgorithm::BruteForce, BuildAlgorithm::NNDescent),
                                            backends()),
                         ParamName());

// --- exact_knn against a plain loop ------------------------------------------------------------

using ExactCase = std::tuple<Metric, ElementType, Device>;
class ExactKnn : public DeviceTest<ExactCase> {};

// exact_knn on either backend against plain double-precision loops. Distances from 8-bit data
// under L2 and inner product are whole numbers below 2^24 here, so exact in float on both.
TEST_P(ExactKnn, MatchesDoublePrecisionLoopModuloTies) {
  const auto [metric, type, device] = GetParam();
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

  const Neighbors got = exact_knn(base.view(), queries.view(), k, metric, 2, {}, device);
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
      if (metric == Metric::L2) {
        EXPECT_GE(got.distances[q * k + j], 0.0f) << "query " << q << " rank " << j;
      }
      if (j > 0) {
        EXPECT_LE(got.distances[q * k + j - 1], got.distances[q * k + j]) << "query " << q << " rank " << j;
      }
    }
    std::set<uint32_t> distinct(got.ids.begin() + q * k, got.ids.begin() + (q + 1) * k);
    EXPECT_EQ(distinct.size(), static_cast<size_t>(k)) << "query " << q << ": an id repeated";
    // The CPU breaks exact ties by the smaller id: row 3 comes before its duplicate, row 7. The
    // GPU may order exact ties either way (the ranks are checked modulo ties above).
    if (device == Device::Cpu) {
      for (int j = 0; j + 1 < k; ++j) {
        if (got.distances[q * k + j] == got.distances[q * k + j + 1]) {
          EXPECT_LT(got.ids[q * k + j], got.ids[q * k + j + 1]) << "query " << q << ": a tie not ordered by id";
        }
      }
    }
  }
  if (metric == Metric::L2) {
    // A query equal to row 3 finds row 3 and its duplicate, row 7, first (in that order on the CPU).
    EXPECT_EQ(std::set<uint32_t>(got.ids.begin(), got.ids.begin() + 2), (std::set<uint32_t>{3, 7}));
    if (device == Device::Cpu) {
      EXPECT_EQ(got.ids[0], 3u);
      EXPECT_EQ(got.ids[1], 7u);
    }
    if (integer_exact || device == Device::Cpu) {
      EXPECT_EQ(got.distances[0], 0.0f);
      EXPECT_EQ(got.distances[1], 0.0f);
    } else {
      // |a|^2 + |b|^2 - 2<a,b> in float may leave a rounding residue where the CPU's (a - b)^2 is 0.
      EXPECT_NEAR(got.distances[0], 0.0f, 1e-4);
      EXPECT_NEAR(got.distances[1], 0.0f, 1e-4);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(MetricType, ExactKnn,
                         ::testing::Combine(::testing::Values(Metric::L2, Metric::InnerProduct, Metric::Cosine),
                                            ::testing::Values(ElementType::Float32, ElementType::UInt8,
                                                              ElementType::Int8),
                                            backends()),
                         ParamName());

class ExactKnnEdges : public DeviceTest<Device> {};

TEST_P(ExactKnnEdges, ZeroVectorHasCosineDistanceOne) {
  Dataset base = clustered(20, 6, ElementType::Float32, 2);
  Dataset zero = Dataset::allocate(1, 6, ElementType::Float32);
  std::memset(zero.mutable_data(), 0, zero.view().row_bytes());
  const Neighbors n = exact_knn(base.view(), zero.view(), 5, Metric::Cosine, 0, {}, device());
  for (int j = 0; j < 5; ++j) EXPECT_EQ(n.distances[j], 1.0f);
  // And a zero vector in the base is at distance 1 from every query.
  Dataset with_zero = Dataset::copy_of(base.view());
  std::memset(with_zero.mutable_data(), 0, with_zero.view().row_bytes());  // row 0
  const Neighbors all = exact_knn(with_zero.view(), base.view(), 20, Metric::Cosine, 0, {}, device());
  for (int64_t q = 0; q < all.rows; ++q) {
    for (int j = 0; j < all.k; ++j) {
      if (all.ids[q * all.k + j] == 0) {
        EXPECT_EQ(all.distances[q * all.k + j], 1.0f) << "query " << q;
      }
    }
  }
}

TEST_P(ExactKnnEdges, KLargerThanBasePads) {
  Dataset base = clustered(4, 5, ElementType::Float32, 2);
  Dataset queries = clustered(3, 5, ElementType::Float32, 2, 2);
  for (int k : {4, 5, 7, 64}) {
    SCOPED_TRACE("k " + std::to_string(k));
    const Neighbors n = exact_knn(base.view(), queries.view(), k, Metric::L2, 0, {}, device());
    ASSERT_EQ(n.k, k);
    ASSERT_EQ(n.ids.size(), static_cast<size_t>(3 * k));
    EXPECT_TRUE(well_formed(n, base.view(), queries.view(), Metric::L2));
    for (int64_t q = 0; q < 3; ++q) {
      std::set<uint32_t> ids(n.ids.begin() + q * k, n.ids.begin() + q * k + 4);
      EXPECT_EQ(ids, (std::set<uint32_t>{0, 1, 2, 3}));
      for (int j = 4; j < k; ++j) {
        EXPECT_EQ(n.ids[q * k + j], kInvalidId);
        EXPECT_EQ(n.distances[q * k + j], std::numeric_limits<float>::infinity());
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, ExactKnnEdges, backends(), ParamName());

// --- tiny inputs ---------------------------------------------------------------------------------

class TinyBuild : public DeviceTest<std::tuple<BuildAlgorithm, Device>> {};

TEST_P(TinyBuild, DegreeClampsAndSearchPads) {
  const auto [algorithm, device] = GetParam();
  for (int64_t rows : {1, 2, 3, 7, 33}) {
    SCOPED_TRACE("rows " + std::to_string(rows));
    Dataset base = clustered(rows, 9, ElementType::Float32, 8);
    Dataset queries = clustered(6, 9, ElementType::Float32, 8, 2);
    BuildParams params = params_for(Metric::L2, algorithm, 32, device);
    Index index = build(base, params);
    EXPECT_EQ(index.backend, backend_of(device));
    ASSERT_TRUE(graph_invariants(index, params.graph_degree));
    // With degree rows - 1 and no repeats or self loops, every row links to every other row.
    if (rows <= params.graph_degree + 1) {
      for (int64_t v = 0; v < rows; ++v) {
        std::set<uint32_t> linked(index.neighbors(v), index.neighbors(v) + index.graph_degree);
        EXPECT_EQ(static_cast<int64_t>(linked.size()), rows - 1) << "row " << v;
      }
    }
    for (int k : {1, static_cast<int>(rows), static_cast<int>(rows) + 3}) {
      const Neighbors found = search(index, queries.view(), k, search_params(64, device));
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
                         ::testing::Combine(::testing::Values(BuildAlgorithm::Auto, BuildAlgorithm::BruteForce,
                                                              BuildAlgorithm::NNDescent),
                                            backends()),
                         ParamName());

class TinyIndex : public DeviceTest<Device> {};

TEST_P(TinyIndex, SingleRowIndex) {
  Dataset base = clustered(1, 4, ElementType::UInt8, 1);
  Index index = build(base, params_for(Metric::Cosine, BuildAlgorithm::Auto, 32, device()));
  EXPECT_EQ(index.backend, backend_of(device()));
  EXPECT_EQ(index.graph_degree, 0);
  EXPECT_TRUE(index.graph.empty());
  ASSERT_FALSE(index.entry_points.empty());
  for (uint32_t e : index.entry_points) EXPECT_EQ(e, 0u);
  const Neighbors n = search(index, base.view(), 3, search_params(64, device()));
  EXPECT_EQ(n.ids, (std::vector<uint32_t>{0, kInvalidId, kInvalidId}));
  EXPECT_NEAR(n.distances[0], 0.0f, 1e-6);
  EXPECT_TRUE(std::isinf(n.distances[1]) && std::isinf(n.distances[2]));
}

INSTANTIATE_TEST_SUITE_P(Backends, TinyIndex, backends(), ParamName());

// annforge.hpp: the first entry point is the vector nearest the centroid.
class EntryPoints : public DeviceTest<Device> {};

TEST_P(EntryPoints, FirstIsNearestToTheCentroid) {
  for (ElementType type : {ElementType::Float32, ElementType::UInt8, ElementType::Int8}) {
    SCOPED_TRACE(to_string(type));
    Dataset data = clustered(3000, 16, type, 61);
    Index index = build(data, params_for(Metric::L2, BuildAlgorithm::Auto, 16, device()));
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

INSTANTIATE_TEST_SUITE_P(Backends, EntryPoints, backends(), ParamName());

// --- degenerate data ----------------------------------------------------------------------

// Two thirds of the rows identical: the build must stay fast (no cluster of every duplicate),
// keep the graph invariants, and still find the distinct rows.
class Degenerate : public DeviceTest<Device> {};

TEST_P(Degenerate, ManyIdenticalVectors) {
  const int64_t rows = 9000, distinct_from = 6000;
  Dataset data = clustered(rows, kDim, ElementType::Float32, 61);
  float* values = static_cast<float*>(data.mutable_data());
  for (int64_t i = 1; i < distinct_from; ++i) std::memcpy(values + i * kDim, values, kDim * sizeof(float));
  const Index index = build(data, params_for(Metric::L2, BuildAlgorithm::Auto, 32, device()));
  ASSERT_TRUE(graph_invariants(index, 32));
  DatasetView distinct{data.view().row(distinct_from), rows - distinct_from, kDim, ElementType::Float32};
  const Neighbors self = search(index, distinct, 1, search_params(64, device()));
  int64_t found = 0;
  for (int64_t i = 0; i < distinct.rows; ++i) found += self.ids[i] == static_cast<uint32_t>(distinct_from + i);
  EXPECT_GE(found, distinct.rows * 99 / 100) << "distinct rows found by their own vector";
}

INSTANTIATE_TEST_SUITE_P(Backends, Degenerate, backends(), ParamName());

// --- the kNN-graph stage of NN-Descent on its own -------------------------------------------

class NNDescent : public DeviceTest<Device> {};

TEST_P(NNDescent, SearchRecallMatchesBruteForceBuild) {
  // Same data, both algorithms: NN-Descent's approximate kNN graph must not cost much recall.
  Dataset base = clustered(6000, 24, ElementType::Float32, 51);
  Dataset queries = clustered(kQueries, 24, ElementType::Float32, 51, 2);
  const Neighbors truth = exact_knn(base.view(), queries.view(), kK, Metric::L2);
  const SearchParams sp = search_params(32, device());
  double r[2];
  int i = 0;
  for (BuildAlgorithm a : {BuildAlgorithm::BruteForce, BuildAlgorithm::NNDescent}) {
    Index index = build(base, params_for(Metric::L2, a, 32, device()));
    ASSERT_TRUE(graph_invariants(index, 32));
    r[i++] = recall(search(index, queries.view(), kK, sp), truth, kK);
  }
  std::printf("[ recall   ] %s 6000 x 24, beam 32: brute-force graph %.4f, nn-descent graph %.4f\n",
              device_name(device()), r[0], r[1]);
  EXPECT_GE(r[1], r[0] - 0.02);
}

INSTANTIATE_TEST_SUITE_P(Backends, NNDescent, backends(), ParamName());

// One query per call keeps its visited marks between calls on the calling thread: calls that
// alternate between two indexes of different sizes (with upper levels), and a search started
// from inside another's progress report, give what one batched call gives.
TEST(SearchCalls, OneQueryPerCallAnswersAsTheBatchDoes) {
  const Dataset small = annforge_test::clustered(5000, 16, ElementType::Float32, 61, 1, 8);
  const Dataset large = annforge_test::clustered(12000, 16, ElementType::Float32, 61, 2, 8);
  const Dataset queries = annforge_test::clustered(60, 16, ElementType::Float32, 61, 3, 8);
  const BuildParams params = params_for(Metric::L2, BuildAlgorithm::Auto, 16, Device::Cpu);
  const Index a = build(small, params), b = build(large, params);
  ASSERT_FALSE(b.levels.empty()) << "the larger index has upper levels";
  SearchParams one_thread = search_params(32, Device::Cpu);
  one_thread.threads = 1;
  const Neighbors batch_a = search(a, queries.view(), 10, one_thread), batch_b = search(b, queries.view(), 10, one_thread);
  for (int64_t q = 0; q < queries.rows(); ++q) {
    const Neighbors got_a = search(a, queries.view().slice(q, 1), 10, one_thread);
    const Neighbors got_b = search(b, queries.view().slice(q, 1), 10, one_thread);
    for (int j = 0; j < 10; ++j) {
      ASSERT_EQ(got_a.ids[j], batch_a.ids[q * 10 + j]) << "query " << q;
      ASSERT_EQ(got_b.ids[j], batch_b.ids[q * 10 + j]) << "query " << q;
    }
  }
  // A search inside another search's progress report: the inner one cannot share the outer's
  // marks while the outer still walks.
  SearchParams reporting = one_thread;
  int inner_calls = 0;
  reporting.progress = [&](const Progress&) {
    const Neighbors inner = search(a, queries.view().slice(0, 1), 10, one_thread);
    EXPECT_EQ(inner.ids[0], batch_a.ids[0]);
    ++inner_calls;
  };
  const Neighbors outer = search(b, queries.view(), 10, reporting);
  EXPECT_GT(inner_calls, 0);
  for (int64_t i = 0; i < queries.rows() * 10; ++i) ASSERT_EQ(outer.ids[i], batch_b.ids[i]);
}

// Cosine over borrowed rows, a few queries per call: the rows' inverse norms are computed as
// the walk reads them (Distance::BaseNorms::OnDemand) instead of for every row per call. The
// same bits as the table of them, the exact cosine distances of the ids found, and the same
// answers one query per call as in one batch.
TEST(SearchCalls, CosineOverBorrowedRowsMeasuresWhatItReads) {
  const Dataset rows = annforge_test::clustered(12000, 24, ElementType::Float32, 67, 1, 8);
  const Dataset queries = annforge_test::clustered(40, 24, ElementType::Float32, 67, 2, 8);
  const cpu::Distance table(Metric::Cosine, rows.view());
  const cpu::Distance on_demand(Metric::Cosine, rows.view(), nullptr, cpu::Distance::BaseNorms::OnDemand);
  for (int64_t i = 0; i < 2000; ++i) {
    const int64_t a = (i * 7919) % rows.rows(), b = (i * 104729 + 13) % rows.rows();
    ASSERT_EQ(bits_of(table.inverse_norm_of(a)), bits_of(on_demand.inverse_norm_of(a))) << "row " << a;
    ASSERT_EQ(bits_of(table.between(a, b)), bits_of(on_demand.between(a, b))) << a << ", " << b;
  }
  // 40 queries over 12,000 borrowed rows: too few to pay for the search's compact copies.
  const Index index = build(Dataset::borrow(rows.view()), params_for(Metric::Cosine, BuildAlgorithm::Auto, 16, Device::Cpu));
  ASSERT_FALSE(index.vectors.owns_storage());
  SearchParams one_thread = search_params(32, Device::Cpu);
  one_thread.threads = 1;
  const Neighbors batch = search(index, queries.view(), 10, one_thread);
  const Neighbors truth = exact_knn(rows.view(), queries.view(), 10, Metric::Cosine);
  EXPECT_GE(recall(batch, truth, 10), 0.95);
  for (int64_t q = 0; q < queries.rows(); ++q) {
    const Neighbors got = search(index, queries.view().slice(q, 1), 10, one_thread);
    const float* x = reinterpret_cast<const float*>(queries.view().row(q));
    for (int j = 0; j < 10; ++j) {
      ASSERT_EQ(got.ids[j], batch.ids[q * 10 + j]) << "query " << q;
      ASSERT_EQ(bits_of(got.distances[j]), bits_of(batch.distances[q * 10 + j])) << "query " << q;
      const float* y = reinterpret_cast<const float*>(rows.view().row(got.ids[j]));
      double dot = 0, xx = 0, yy = 0;
      for (int c = 0; c < 24; ++c) dot += double{x[c]} * y[c], xx += double{x[c]} * x[c], yy += double{y[c]} * y[c];
      EXPECT_NEAR(got.distances[j], 1.0 - dot / std::sqrt(xx * yy), 1e-5) << "query " << q << ", id " << got.ids[j];
    }
  }
}

}  // namespace

// A data set larger than the GPU's memory is refused before any work, with a clear error (not a
// crash, not an out-of-memory halfway): ANNFORGE_GPU_MEMORY_LIMIT_MB makes a small GPU of a big one.
TEST(GpuMemory, TooLargeForTheGpuIsRefusedUpFront) {
  ANNFORGE_SKIP_WITHOUT(Device::Gpu);
  Dataset data = clustered(30000, 32, ElementType::Float32, 71);
  ::setenv("ANNFORGE_GPU_MEMORY_LIMIT_MB", "16", 1);
  BuildParams p = params_for(Metric::L2, BuildAlgorithm::NNDescent, 32, Device::Gpu);
  const ::testing::AssertionResult build_refused =
      throws_error([&] { build(data, p); }, ErrorCode::Unsupported, {"GPU memory", "MiB", "device=cpu"});
  const ::testing::AssertionResult exact_refused = throws_error(
      [&] { exact_knn(data.view(), data.view(), 10, Metric::L2, 0, {}, Device::Gpu); }, ErrorCode::Unsupported,
      {"MiB", "device=cpu"});
  ::unsetenv("ANNFORGE_GPU_MEMORY_LIMIT_MB");
  EXPECT_TRUE(build_refused);
  EXPECT_TRUE(exact_refused);
  // Without the cap the same build runs.
  EXPECT_TRUE(graph_invariants(build(data, p), 32));
}
