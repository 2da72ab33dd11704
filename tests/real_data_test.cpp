// Recall on real data: MNIST (60K x 784 uint8), a 100K slice of sift-vl-1m (128-d uint8) and 50K
// slices of wordtext-1m / wordtext-ip (256-d float32, cosine / inner product),
// built with the default parameters on each backend (".../Cpu", ".../Gpu"). The data sets are
// not in the repository: scripts/data.sh unpacks them from ../shared/data into <repo>/data (the
// path baked in as ANNFORGE_DATA_DIR). The environment variable ANNFORGE_DATA_DIR replaces that
// folder (for a test binary run elsewhere); ANNFORGE_DATA may name one more folder to look in.
// Without them these tests skip, naming the paths they looked for.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "annforge.hpp"
#include "tests/test_support.hpp"

#ifndef ANNFORGE_DATA_DIR
#error "tests/CMakeLists.txt passes the data folder as ANNFORGE_DATA_DIR (test_support.hpp: data_dir())"
#endif

namespace {

using namespace annforge;
using namespace annforge_test;

constexpr int kK = 10;
constexpr int64_t kQueries = 1000;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Builds with the default parameters on `device` and reports the best recall@10 over beam
// widths 32..256 against `truth`, printing each.
// `at_beam_64`, when given, receives the recall at beam 64.
double build_and_search(const std::string& label, const Dataset& base, const DatasetView& queries,
                        const Neighbors& truth, Device device, Metric metric = Metric::L2,
                        double* at_beam_64 = nullptr) {
  const char* name = label.c_str();
  BuildParams params;  // defaults: degree 32, intermediate degree the backend's, Auto (NN-Descent at this size)
  params.device = device;
  params.metric = metric;
  const auto start = std::chrono::steady_clock::now();
  const Index index = build(base, params);
  const double build_seconds = seconds_since(start);
  std::printf("[ real     ] %s: built %lld x %lld in %.1f s (%.0f vectors/s; information only)\n", name,
              static_cast<long long>(base.rows()), static_cast<long long>(base.dim()), build_seconds,
              base.rows() / build_seconds);
  EXPECT_EQ(index.backend, device == Device::Gpu ? "cuda" : "cpu");
  EXPECT_TRUE(graph_invariants(index, params.graph_degree));
  EXPECT_EQ(index.vectors.view().data, base.view().data) << "the build shares the vectors";
  const double reachable = reachable_share(index);
  std::printf("[ real     ] %s: %.2f%% of rows reachable from the %zu entry points\n", name, 100 * reachable,
              index.entry_points.size());
  EXPECT_GE(reachable, 0.99);

  double best = 0, previous = 0;
  for (int beam : {32, 64, 128, 256}) {
    const SearchParams sp = search_params(beam, device);
    const auto search_start = std::chrono::steady_clock::now();
    const Neighbors found = search(index, queries, kK, sp);
    const double search_seconds = seconds_since(search_start);
    const double r = recall(found, truth, kK);
    std::printf("[ real     ] %s: beam %3d recall@10 %.4f (%.0f queries/s)\n", name, beam, r,
                queries.rows / search_seconds);
    EXPECT_GE(r, previous - 0.01) << "a wider beam should not lose recall (beam " << beam << ")";
    previous = r;
    if (beam == 64 && at_beam_64 != nullptr) *at_beam_64 = r;
    best = std::max(best, r);
  }
  return best;
}

// Recall@10 of `found` against exact distances: an id counts when it is among the true 10 or
// exactly as near as the 10th true neighbour (an exact tie, common with integer data).
double recall_with_ties(const Neighbors& found, const Neighbors& truth, const DatasetView& base,
                        const DatasetView& queries) {
  int64_t hits = 0;
  for (int64_t q = 0; q < found.rows; ++q) {
    const std::vector<uint32_t> expected(truth.ids.begin() + q * truth.k, truth.ids.begin() + q * truth.k + kK);
    const double tenth = naive_distance(Metric::L2, queries, q, base, expected[kK - 1]);
    for (int j = 0; j < kK; ++j) {
      const uint32_t id = found.ids[q * found.k + j];
      if (id == kInvalidId) continue;
      if (std::find(expected.begin(), expected.end(), id) != expected.end() ||
          naive_distance(Metric::L2, queries, q, base, id) <= tenth) {
        ++hits;
      }
    }
  }
  return static_cast<double>(hits) / (found.rows * kK);
}

class RealData : public DeviceTest<Device> {};

TEST_P(RealData, Mnist) {
  std::string looked;
  const std::string folder = find_data_set("mnist", &looked);
  if (folder.empty()) {
    GTEST_SKIP() << "MNIST not found at " << looked << " (run scripts/data.sh, or set ANNFORGE_DATA_DIR)";
  }

  const Dataset base = read_vectors(folder + "/base.bvecs");
  const Dataset queries = read_vectors(folder + "/query.bvecs", kQueries);
  const Neighbors shipped = read_neighbors(folder + "/groundtruth.ivecs");
  ASSERT_EQ(base.rows(), 60000);
  ASSERT_EQ(base.dim(), 784);
  ASSERT_EQ(base.type(), ElementType::UInt8);
  ASSERT_EQ(queries.rows(), kQueries);
  ASSERT_GE(shipped.rows, kQueries);
  ASSERT_GE(shipped.k, kK);

  // The shipped ground truth (100 nearest, L2) agrees with exact_knn on this backend, up to
  // exact ties (on the GPU: all 1,000 queries, the blocked-matrix-product path at full width).
  const int64_t checked = device() == Device::Gpu ? kQueries : 50;
  const DatasetView some{queries.view().data, checked, queries.dim(), queries.type()};
  const Neighbors exact = exact_knn(base.view(), some, kK, Metric::L2, 0, {}, device());
  const double agreement = recall_with_ties(exact, shipped, base.view(), some);
  const std::string label = std::string("mnist ") + device_name(device());
  std::printf("[ real     ] %s: exact_knn vs shipped ground truth on %lld queries: recall@10 %.4f (ties allowed)\n",
              label.c_str(), static_cast<long long>(checked), agreement);
  EXPECT_GE(agreement, 0.999);

  const double best = build_and_search(label, base, queries.view(), shipped, device());
  std::printf("[ real     ] %s: best recall@10 %.4f\n", label.c_str(), best);
  EXPECT_GE(best, 0.95);
}

TEST_P(RealData, SiftSlice100K) {
  std::string looked;
  const std::string folder = find_data_set("sift-vl-1m", &looked);
  if (folder.empty()) {
    GTEST_SKIP() << "sift-vl-1m not found at " << looked << " (run scripts/data.sh, or set ANNFORGE_DATA_DIR)";
  }
  const Dataset base = read_vectors(folder + "/base.bvecs", 100000);
  const Dataset queries = read_vectors(folder + "/query.bvecs", kQueries);
  ASSERT_EQ(base.rows(), 100000);
  ASSERT_EQ(base.dim(), 128);
  ASSERT_EQ(queries.rows(), kQueries);

  // The shipped groundtruth.ivecs is for the full 1M base; the slice's ground truth is computed
  // here, exactly, on the CPU (the reference). On the GPU case, the GPU's exact_knn must agree.
  const std::string label = std::string("sift-100k ") + device_name(device());
  const auto start = std::chrono::steady_clock::now();
  const Neighbors truth = exact_knn(base.view(), queries.view(), kK, Metric::L2);
  std::printf("[ real     ] %s: exact ground truth for %lld queries in %.1f s on the CPU\n", label.c_str(),
              static_cast<long long>(kQueries), seconds_since(start));
  if (device() == Device::Gpu) {
    const auto gpu_start = std::chrono::steady_clock::now();
    const Neighbors gpu_truth = exact_knn(base.view(), queries.view(), kK, Metric::L2, 0, {}, Device::Gpu);
    const double agreement = recall_with_ties(gpu_truth, truth, base.view(), queries.view());
    std::printf("[ real     ] %s: GPU exact_knn in %.2f s agrees with the CPU's: recall@10 %.4f (ties allowed)\n",
                label.c_str(), seconds_since(gpu_start), agreement);
    EXPECT_GE(agreement, 0.999);
  }

  const double best = build_and_search(label, base, queries.view(), truth, device());
  std::printf("[ real     ] %s: best recall@10 %.4f\n", label.c_str(), best);
  EXPECT_GE(best, 0.95);
}

// Float sentence embeddings (wordtext-1m, cosine; wordtext-ip, inner product; 256-d): the kind
// of data most users bring, harder than SIFT (higher intrinsic dimension, hubs). A 50K slice,
// exact ground truth computed here. The sets are rebuilt from text by
// `../shared/data/unpack data wordtext-1m wordtext-ip` (1 GB each; not part of scripts/data.sh).
void wordtext_slice(const std::string& set, Metric metric, double floor_at_64, Device device) {
  std::string looked;
  const std::string folder = find_data_set(set, &looked, "fvecs");
  if (folder.empty()) {
    GTEST_SKIP() << set << " not found at " << looked << " (../shared/data/unpack data " << set
                 << "; about 1 GB, left out of scripts/data.sh)";
  }
  const Dataset base = read_vectors(folder + "/base.fvecs", 50000);
  const Dataset queries = read_vectors(folder + "/query.fvecs", kQueries);
  ASSERT_EQ(base.dim(), 256);
  ASSERT_EQ(base.type(), ElementType::Float32);
  const Neighbors truth = exact_knn(base.view(), queries.view(), kK, metric);
  const std::string label = set + "-50k " + device_name(device);
  double at_64 = 0;
  const double best = build_and_search(label, base, queries.view(), truth, device, metric, &at_64);
  std::printf("[ real     ] %s: recall@10 %.4f at beam 64, best %.4f\n", label.c_str(), at_64, best);
  EXPECT_GE(at_64, floor_at_64) << "recall@10 at beam 64";
  EXPECT_GE(best, 0.98);
}

// Floors a little under what the CPU backend measured on 2026-12-03 (wordtext 0.954, wordtext-ip
// 0.952 at beam 64), so that a regression of the kNN stage, the level or the metric's handling
// shows (wordtext-ip with inner product clustered by L2 position instead: 0.917).
TEST_P(RealData, WordtextSlice50K) { wordtext_slice("wordtext-1m", Metric::Cosine, 0.94, device()); }
TEST_P(RealData, WordtextIpSlice50K) { wordtext_slice("wordtext-ip", Metric::InnerProduct, 0.94, device()); }

INSTANTIATE_TEST_SUITE_P(Backends, RealData, backends(), ParamName());

}  // namespace
