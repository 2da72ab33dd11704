// Recall on real data: MNIST (60K x 784 uint8) and a 100K slice of sift-vl-1m (128-d uint8),
// built with the default parameters on the CPU. The data sets are not in the repository:
// scripts/data.sh unpacks them from ../shared/data into <repo>/data (ANNFORGE_DATA_DIR); the
// environment variable ANNFORGE_DATA may name another folder that holds them. Without them
// these tests skip, naming the path they looked for.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "annforge.hpp"
#include "tests/test_support.hpp"

#ifndef ANNFORGE_DATA_DIR
#error "tests/CMakeLists.txt passes the data folder as ANNFORGE_DATA_DIR"
#endif

namespace {

using namespace annforge;
using namespace annforge_test;

constexpr int kK = 10;
constexpr int64_t kQueries = 1000;

// The folder holding `set`/base.bvecs, or "" with `looked` saying where it looked.
std::string find_data_set(const std::string& set, std::string* looked) {
  std::vector<std::string> roots{ANNFORGE_DATA_DIR};
  if (const char* env = std::getenv("ANNFORGE_DATA"); env != nullptr && *env != '\0') roots.push_back(env);
  *looked = "";
  for (const std::string& root : roots) {
    const std::string folder = root + "/" + set;
    if (file_exists(folder + "/base.bvecs") && file_exists(folder + "/query.bvecs") &&
        file_exists(folder + "/groundtruth.ivecs")) {
      return folder;
    }
    *looked += (looked->empty() ? "" : " and ") + folder;
  }
  return "";
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Builds with the default parameters (device Cpu) and reports the best recall@10 over beam
// widths 32..256 against `truth`, printing each.
double build_and_search(const char* name, const Dataset& base, const DatasetView& queries, const Neighbors& truth) {
  BuildParams params;  // defaults: degree 32, intermediate 64, Auto (NN-Descent at this size)
  params.device = Device::Cpu;
  const auto start = std::chrono::steady_clock::now();
  const Index index = build(base, params);
  const double build_seconds = seconds_since(start);
  std::printf("[ real     ] %s: built %lld x %lld in %.1f s (%.0f vectors/s; information only)\n", name,
              static_cast<long long>(base.rows()), static_cast<long long>(base.dim()), build_seconds,
              base.rows() / build_seconds);
  EXPECT_TRUE(graph_invariants(index, params.graph_degree));
  EXPECT_EQ(index.vectors.view().data, base.view().data) << "the build shares the vectors";
  const double reachable = reachable_share(index);
  std::printf("[ real     ] %s: %.2f%% of rows reachable from the %zu entry points\n", name, 100 * reachable,
              index.entry_points.size());
  EXPECT_GE(reachable, 0.99);

  double best = 0, previous = 0;
  for (int beam : {32, 64, 128, 256}) {
    SearchParams sp;
    sp.beam_width = beam;
    sp.device = Device::Cpu;
    const auto search_start = std::chrono::steady_clock::now();
    const Neighbors found = search(index, queries, kK, sp);
    const double search_seconds = seconds_since(search_start);
    const double r = recall(found, truth, kK);
    std::printf("[ real     ] %s: beam %3d recall@10 %.4f (%.0f queries/s)\n", name, beam, r,
                queries.rows / search_seconds);
    EXPECT_GE(r, previous - 0.01) << "a wider beam should not lose recall (beam " << beam << ")";
    previous = r;
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

TEST(RealData, Mnist) {
  std::string looked;
  const std::string folder = find_data_set("mnist", &looked);
  if (folder.empty()) GTEST_SKIP() << "MNIST not found at " << looked << " (run scripts/data.sh, or set ANNFORGE_DATA)";

  const Dataset base = read_vectors(folder + "/base.bvecs");
  const Dataset queries = read_vectors(folder + "/query.bvecs", kQueries);
  const Neighbors shipped = read_neighbors(folder + "/groundtruth.ivecs");
  ASSERT_EQ(base.rows(), 60000);
  ASSERT_EQ(base.dim(), 784);
  ASSERT_EQ(base.type(), ElementType::UInt8);
  ASSERT_EQ(queries.rows(), kQueries);
  ASSERT_GE(shipped.rows, kQueries);
  ASSERT_GE(shipped.k, kK);

  // The shipped ground truth (100 nearest, L2) agrees with exact_knn, up to exact ties.
  const DatasetView first50{queries.view().data, 50, queries.dim(), queries.type()};
  const Neighbors exact = exact_knn(base.view(), first50, kK, Metric::L2);
  const double agreement = recall_with_ties(exact, shipped, base.view(), first50);
  std::printf("[ real     ] mnist: exact_knn vs shipped ground truth on 50 queries: recall@10 %.4f (ties allowed)\n",
              agreement);
  EXPECT_GE(agreement, 0.999);

  const double best = build_and_search("mnist", base, queries.view(), shipped);
  std::printf("[ real     ] mnist: best recall@10 %.4f\n", best);
  EXPECT_GE(best, 0.95);
}

TEST(RealData, SiftSlice100K) {
  std::string looked;
  const std::string folder = find_data_set("sift-vl-1m", &looked);
  if (folder.empty()) {
    GTEST_SKIP() << "sift-vl-1m not found at " << looked << " (run scripts/data.sh, or set ANNFORGE_DATA)";
  }
  const Dataset base = read_vectors(folder + "/base.bvecs", 100000);
  const Dataset queries = read_vectors(folder + "/query.bvecs", kQueries);
  ASSERT_EQ(base.rows(), 100000);
  ASSERT_EQ(base.dim(), 128);
  ASSERT_EQ(queries.rows(), kQueries);

  // The shipped groundtruth.ivecs is for the full 1M base; the slice's ground truth is computed
  // here, exactly.
  const auto start = std::chrono::steady_clock::now();
  const Neighbors truth = exact_knn(base.view(), queries.view(), kK, Metric::L2);
  std::printf("[ real     ] sift-100k: exact ground truth for %lld queries in %.1f s\n",
              static_cast<long long>(kQueries), seconds_since(start));

  const double best = build_and_search("sift-100k", base, queries.view(), truth);
  std::printf("[ real     ] sift-100k: best recall@10 %.4f\n", best);
  EXPECT_GE(best, 0.95);
}

}  // namespace
