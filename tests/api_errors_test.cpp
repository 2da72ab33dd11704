// The API's edges: every argument error (non-finite values naming row and column, query shape
// and type mismatches, bad counts and parameters, a GPU asked for where none is built), its small
// helpers (names, recall@k), and progress reports on the calling thread, on both backends where
// a build or search runs. Split from build_search_test.cpp (recall and graph invariants).
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
#include "tests/test_support.hpp"

namespace {

using namespace annforge;
using namespace annforge_test;
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

// Finite values whose squares overflow float32: every distance to such a row is infinite or NaN
// (values of 1e20 crashed the build's k-means before they were refused). Rows up to the bound
// build and search as any others, under every metric.
TEST_F(Errors, RowsTooLargeForFloatDistancesAreRefused) {
  Dataset data = Dataset::copy_of(base_.view());
  static_cast<float*>(data.mutable_data())[23 * 8 + 2] = 1e20f;
  const std::vector<std::string> why{"row 23", "squared norm", "scale the data down"};
  EXPECT_TRUE(throws_error([&] { build(data); }, ErrorCode::InvalidArgument, why));
  EXPECT_TRUE(throws_error([&] { search(index_, data.view(), 5); }, ErrorCode::InvalidArgument, why));
  EXPECT_TRUE(throws_error([&] { exact_knn(base_.view(), data.view(), 5, Metric::L2); }, ErrorCode::InvalidArgument,
                           why));
  Index copy = index_;
  EXPECT_TRUE(throws_error([&] { extend(copy, data.view(), params_for(Metric::L2, BuildAlgorithm::BruteForce, 8)); },
                           ErrorCode::InvalidArgument, why));
  EXPECT_EQ(copy.rows(), index_.rows());
  // Every row scaled to a squared norm between 0.2 and 0.9 of the bound (FLT_MAX / 16).
  const Dataset rows = clustered(3000, 16, ElementType::Float32, 11), queries = clustered(200, 16, ElementType::Float32, 12);
  const auto scaled = [](const Dataset& from, uint64_t seed) {
    Dataset out = Dataset::copy_of(from.view());
    float* values = static_cast<float*>(out.mutable_data());
    annforge_test::Rng rng(seed);
    const int64_t dim = out.view().dim;
    for (int64_t r = 0; r < out.view().rows; ++r) {
      double norm = 0;
      for (int64_t i = 0; i < dim; ++i) norm += static_cast<double>(values[r * dim + i]) * values[r * dim + i];
      const double target = (0.2 + 0.7 * rng.uniform()) * (3.4028234e38 / 16);
      const double scale = std::sqrt(target / norm);
      for (int64_t i = 0; i < dim; ++i) values[r * dim + i] = static_cast<float>(values[r * dim + i] * scale);
    }
    return out;
  };
  const Dataset large = scaled(rows, 1), large_queries = scaled(queries, 2);
  for (Metric metric : {Metric::L2, Metric::Cosine, Metric::InnerProduct}) {
    const Index index = build(large, params_for(metric, BuildAlgorithm::Auto, 16));
    EXPECT_TRUE(graph_invariants(index, 16));
    const Neighbors truth = exact_knn(large.view(), large_queries.view(), 10, metric);
    const double found = recall(search(index, large_queries.view(), 10, search_params(64, Device::Cpu)), truth, 10);
    EXPECT_GE(found, 0.9) << "metric " << static_cast<int>(metric);
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
  // Past 65,536 a k or beam is an allocation failure waiting to happen (k = 2^31 asked for
  // 16 GiB per thread): refused up front, as a caller's mistake.
  std::vector<uint32_t> one_id(1);
  std::vector<float> one_distance(1);
  const DatasetView one_query{base_.view().data, 1, base_.dim(), base_.type()};
  EXPECT_TRUE(throws_error([&] { search(index_, one_query, 2147483647, SearchParams{}, one_id.data(), one_distance.data()); },
                           ErrorCode::InvalidArgument, {"k", "65536"}));
  SearchParams wide;
  wide.beam_width = 1 << 20;
  EXPECT_TRUE(throws_error([&] { search(index_, one_query, 1, wide); }, ErrorCode::InvalidArgument, {"beam_width"}));
  EXPECT_TRUE(throws_error([&] { exact_knn(one_query, one_query, 65537, Metric::L2); }, ErrorCode::InvalidArgument, {"k"}));
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
  SearchParams negative_threads;
  negative_threads.threads = -1;  // refused as build refuses it, not taken as "all"
  EXPECT_TRUE(throws_error([&] { search(index_, base_.view(), 5, negative_threads); }, ErrorCode::InvalidArgument,
                           {"threads"}));
  EXPECT_TRUE(throws_error([&] { exact_knn(base_.view(), base_.view(), 5, Metric::L2, -1); },
                           ErrorCode::InvalidArgument, {"threads"}));
  // A float matrix that starts between two floats.
  std::vector<float> shifted(static_cast<size_t>(base_.rows() * base_.dim()) + 1);
  DatasetView misaligned{reinterpret_cast<const uint8_t*>(shifted.data()) + 2, base_.rows() - 1, base_.dim(),
                         ElementType::Float32};
  EXPECT_TRUE(throws_error([&] { search(index_, misaligned, 5, SearchParams{}); }, ErrorCode::InvalidArgument,
                           {"aligned"}));
  p = params_for(Metric::L2, BuildAlgorithm::Auto);
  p.nn_descent_iterations = -2;
  EXPECT_TRUE(throws_error([&] { build(base_, p); }, ErrorCode::InvalidArgument, {"nn_descent_iterations"}));

  EXPECT_TRUE(throws_error([&] { build(Dataset{}); }, ErrorCode::InvalidArgument, {"empty"}));
  EXPECT_TRUE(throws_error([&] { build(Dataset::borrow(DatasetView{nullptr, 10, 4, ElementType::Float32})); },
                           ErrorCode::InvalidArgument, {"null"}));
  EXPECT_TRUE(throws_error([&] { search(Index{}, base_.view(), 5); }, ErrorCode::InvalidArgument, {"empty"}));
  Index empty;
  EXPECT_TRUE(throws_error([&] { extend(empty, base_.view()); }, ErrorCode::InvalidArgument, {"empty"}));
}

// Without a CUDA backend or a GPU, device=gpu is NoDevice everywhere and Auto is the CPU. With
// both, device=gpu and Auto resolve to "cuda" (the GPU cases of the parameterised tests then run).
TEST_F(Errors, GpuWithoutCudaBackendIsNoDevice) {
  EXPECT_EQ(resolve_backend(Device::Cpu), "cpu");
  if (gpu_available()) {
    EXPECT_EQ(resolve_backend(Device::Gpu), "cuda");
    EXPECT_EQ(resolve_backend(Device::Auto), "cuda");
    EXPECT_EQ(device_unavailable(Device::Gpu), "");
    BuildParams p = params_for(Metric::L2, BuildAlgorithm::Auto);
    p.device = Device::Gpu;
    EXPECT_EQ(build(base_, p).backend, "cuda");
    p.device = Device::Auto;
    EXPECT_EQ(build(base_, p).backend, "cuda");
    return;
  }
  EXPECT_EQ(resolve_backend(Device::Auto), "cpu");
  // The message says which is missing: the backend (a CPU-only build) or a usable device (a
  // CUDA build: "no CUDA device is present", "no usable CUDA device (...)", "the CUDA device
  // could not be initialised: ...").
#if defined(ANNFORGE_HAVE_CUDA)
  const char* why = "CUDA device";
#else
  const char* why = "no CUDA backend";
#endif
  EXPECT_TRUE(throws_error([&] { resolve_backend(Device::Gpu); }, ErrorCode::NoDevice, {"gpu", why}));
  EXPECT_NE(device_unavailable(Device::Gpu).find(why), std::string::npos) << device_unavailable(Device::Gpu);
  EXPECT_TRUE(throws_error([&] { exact_knn(base_.view(), base_.view(), 5, Metric::L2, 0, {}, Device::Gpu); },
                           ErrorCode::NoDevice, {"gpu"}));
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
class ProgressReports : public DeviceTest<Device> {};

TEST_P(ProgressReports, IsReportedOnTheCallingThread) {
  Dataset base = clustered(3000, 16, ElementType::Float32, 9);
  const std::thread::id caller = std::this_thread::get_id();
  std::vector<annforge::Progress> reports;
  bool other_thread = false;
  auto record = [&](const annforge::Progress& p) {
    other_thread = other_thread || std::this_thread::get_id() != caller;
    reports.push_back(p);
  };
  for (BuildAlgorithm algorithm : {BuildAlgorithm::BruteForce, BuildAlgorithm::NNDescent}) {
    SCOPED_TRACE(algorithm_name(algorithm));
    reports.clear();
    BuildParams p = params_for(Metric::L2, algorithm, 16, device());
    p.threads = 2;
    p.progress = record;
    Index index = build(base, p);
    SearchParams sp = search_params(64, device());
    sp.threads = 2;
    sp.progress = record;
    search(index, base.view(), 5, sp);
    EXPECT_FALSE(other_thread);
    ASSERT_FALSE(reports.empty());
    std::map<std::string, int64_t> last;
    std::map<std::string, int64_t> total;
    for (const annforge::Progress& r : reports) {
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

INSTANTIATE_TEST_SUITE_P(Backends, ProgressReports, backends(), ParamName());

}  // namespace
