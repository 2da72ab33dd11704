// The partitioned build (BuildParams::partitions, host/cpu/partitioned_build.hpp): the split's
// invariants, the graph's invariants and recall within 0.01 of the one-piece build on generated
// data and on a sift-vl-1m slice (4, 8 and 16 pieces, where the data is present), the plan's
// choice of pieces under a memory limit, and its peak against a measured one.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "annforge.hpp"
#include "host/cpu/partitioned_build.hpp"
#include "tests/test_support.hpp"

namespace {

using namespace annforge;
using namespace annforge_test;

BuildParams cpu_build(Metric metric, int partitions) {
  BuildParams params;
  params.metric = metric;
  params.device = Device::Cpu;
  params.threads = 2;
  params.partitions = partitions;
  return params;
}

TEST(PartitionedBuild, EveryRowInTwoPiecesWithinCapacity) {
  const Dataset data = clustered(30000, 24, ElementType::Float32, 41, 1, 12);
  const int count = 6;
  const cpu::Pieces pieces = cpu::split_into_pieces(data.view(), Metric::L2, count, 2, 2, 7);
  ASSERT_EQ(pieces.count, count);
  ASSERT_EQ(pieces.offsets.size(), static_cast<size_t>(count + 1));
  ASSERT_EQ(pieces.members.size(), static_cast<size_t>(2 * data.rows()));
  const int64_t capacity = cpu::piece_capacity(data.rows(), count, 2);
  std::vector<std::vector<int>> of_row(data.rows());
  for (int p = 0; p < count; ++p) {
    EXPECT_LE(pieces.size(p), capacity) << "piece " << p;
    EXPECT_GT(pieces.size(p), 0) << "piece " << p;
    for (int64_t i = pieces.offsets[p]; i < pieces.offsets[p + 1]; ++i) {
      ASSERT_LT(pieces.members[i], data.rows());
      if (i > pieces.offsets[p]) EXPECT_LT(pieces.members[i - 1], pieces.members[i]) << "ascending in piece " << p;
      of_row[pieces.members[i]].push_back(p);
    }
  }
  for (int64_t r = 0; r < data.rows(); ++r) {
    ASSERT_EQ(of_row[r].size(), 2u) << "row " << r;
    EXPECT_NE(of_row[r][0], of_row[r][1]) << "row " << r;
  }
}

// Generated clusters: 4 pieces give the graph's invariants and the one-piece build's recall.
TEST(PartitionedBuild, RecallOfOnePieceOnGeneratedData) {
  for (const Metric metric : {Metric::L2, Metric::Cosine}) {
    SCOPED_TRACE(to_string(metric));
    const Dataset data = clustered(40000, 32, ElementType::Float32, 43, 1, 24);
    const Dataset queries = clustered(500, 32, ElementType::Float32, 43, 2, 24);
    const Neighbors truth = exact_knn(data.view(), queries.view(), 10, metric);
    const Index one = build(data, cpu_build(metric, 1));
    const Index four = build(data, cpu_build(metric, 4));
    ASSERT_TRUE(graph_invariants(four, 32));
    EXPECT_FALSE(four.levels.empty());
    EXPECT_DOUBLE_EQ(reachable_share(four), 1.0);
    for (const int beam : {16, 32, 64}) {
      const double r1 = recall(search(one, queries.view(), 10, search_params(beam)), truth, 10);
      const double r4 = recall(search(four, queries.view(), 10, search_params(beam)), truth, 10);
      EXPECT_GE(r4, r1 - 0.01) << "beam " << beam << ": one piece " << r1 << ", four " << r4;
    }
  }
}

// The check on real data: sift-vl-1m's first 100,000 rows in 4, 8 and 16 pieces, recall@10
// within 0.01 of the one-piece build at beams 16 to 128 (the full 1M runs in bench/).
TEST(PartitionedBuild, SiftSliceInFourEightAndSixteenPieces) {
  const std::string base = data_dir() + "/sift-vl-1m/base.bvecs";
  const std::string query = data_dir() + "/sift-vl-1m/query.bvecs";
  if (!file_exists(base) || !file_exists(query)) GTEST_SKIP() << "needs " << base << " (scripts/data.sh)";
  const Dataset data = read_vectors(base, 100000);
  const Dataset all_queries = read_vectors(query, 1000);
  const Neighbors truth = exact_knn(data.view(), all_queries.view(), 10, Metric::L2);
  const Index one = build(data, cpu_build(Metric::L2, 1));
  std::vector<double> baseline;
  for (const int beam : {16, 32, 64, 128}) {
    baseline.push_back(recall(search(one, all_queries.view(), 10, search_params(beam)), truth, 10));
  }
  for (const int pieces : {4, 8, 16}) {
    SCOPED_TRACE(std::to_string(pieces) + " pieces");
    const Index split = build(data, cpu_build(Metric::L2, pieces));
    ASSERT_TRUE(graph_invariants(split, 32));
    int b = 0;
    for (const int beam : {16, 32, 64, 128}) {
      const double r = recall(search(split, all_queries.view(), 10, search_params(beam)), truth, 10);
      EXPECT_GE(r, baseline[b] - 0.01) << "beam " << beam << ": one piece " << baseline[b] << ", split " << r;
      ++b;
    }
  }
}

// The plan takes the fewest pieces whose peak fits a limit below the one-piece peak; with one
// piece forced, or a limit no number of pieces meets, the build is refused before any work.
// 1M x 192 float rows: the one-piece build copies them in cluster order (768-byte rows), which
// pieces spare; rows of 1 KiB or more are read in place (knn_graph.hpp), and there the one-piece
// build is the leaner (the pieces' merged lists of all rows are held whole).
TEST(PartitionedBuild, PlanChoosesPiecesUnderAMemoryLimit) {
  BuildParams params = cpu_build(Metric::Cosine, 0);
  const BuildPlan whole = plan_build(1000000, 192, ElementType::Float32, params);
  EXPECT_EQ(whole.partitions, 1);
  const uint64_t limit = whole.peak_host_bytes * 3 / 4;
  const BuildPlan split = plan_build(1000000, 192, ElementType::Float32, params, limit);
  EXPECT_TRUE(split.fits) << split.refusal;
  EXPECT_GT(split.partitions, 1);
  EXPECT_LE(split.peak_host_bytes, limit);
  EXPECT_NE(split.partitions_why.find("pieces"), std::string::npos) << split.partitions_why;
  params.partitions = 1;
  const BuildPlan forced = plan_build(1000000, 192, ElementType::Float32, params, limit);
  EXPECT_FALSE(forced.fits);
  EXPECT_NE(forced.refusal.find("host memory"), std::string::npos) << forced.refusal;
  // Wide rows: no copy to spare, so no number of pieces goes under the one-piece peak.
  params.partitions = 0;
  const BuildPlan wide = plan_build(1000000, 256, ElementType::Float32, params);
  EXPECT_EQ(wide.partitions, 1);
  EXPECT_FALSE(plan_build(1000000, 256, ElementType::Float32, params, wide.peak_host_bytes * 3 / 4).fits);
  const BuildPlan hopeless = plan_build(1000000, 192, ElementType::Float32, params, 64u << 20);
  EXPECT_FALSE(hopeless.fits);
  EXPECT_NE(hopeless.refusal.find("no number of pieces"), std::string::npos) << hopeless.refusal;
  // build() refuses the same way, before any work.
  params.memory_limit = 1u << 20;
  const Dataset data = clustered(20000, 16, ElementType::Float32, 47);
  EXPECT_TRUE(throws_error([&] { build(data, params); }, ErrorCode::Unsupported, {"host memory"}));
  BuildParams bad = params;
  bad.partitions = -1;
  EXPECT_TRUE(throws_error([&] { build(data, bad); }, ErrorCode::InvalidArgument, {"partitions"}));
}


// Pieces on the GPU (their lists from the GPU build before pruning; merge, borders and
// optimisation on the host): invariants and recall within 0.01 of the GPU's one-piece build.
TEST(PartitionedBuild, PiecesOnTheGpu) {
  ANNFORGE_SKIP_WITHOUT(Device::Gpu);
  const Dataset data = clustered(120000, 32, ElementType::Float32, 44, 1, 24);
  const Dataset queries = clustered(500, 32, ElementType::Float32, 44, 2, 24);
  const Neighbors truth = exact_knn(data.view(), queries.view(), 10, Metric::L2);
  BuildParams params = cpu_build(Metric::L2, 1);
  params.device = Device::Gpu;
  const Index one = build(data, params);
  params.partitions = 4;
  const Index four = build(data, params);
  EXPECT_EQ(four.backend, "cuda");
  ASSERT_TRUE(graph_invariants(four, 32));
  EXPECT_DOUBLE_EQ(reachable_share(four), 1.0);
  for (const int beam : {16, 32, 64}) {
    const double r1 = recall(search(one, queries.view(), 10, search_params(beam, Device::Gpu)), truth, 10);
    const double r4 = recall(search(four, queries.view(), 10, search_params(beam, Device::Gpu)), truth, 10);
    EXPECT_GE(r4, r1 - 0.01) << "beam " << beam << ": one piece " << r1 << ", four " << r4;
  }
}

// Data past the GPU's memory (capped by ANNFORGE_GPU_MEMORY_LIMIT_MB): the plan splits it into
// the fewest pieces whose largest fits, and the build goes through in them.
TEST(PartitionedBuild, GpuMemoryAsksForPieces) {
  ANNFORGE_SKIP_WITHOUT(Device::Gpu);
  const Dataset data = clustered(200000, 64, ElementType::Float32, 45, 1, 24);
  BuildParams params = cpu_build(Metric::L2, 0);
  params.device = Device::Gpu;
  const BuildPlan whole = plan_build(data.rows(), data.dim(), data.type(), params, 0);
  ASSERT_EQ(whole.partitions, 1) << whole.partitions_why;
  // A cap of 60% of the one-piece plan's device memory.
  const std::string cap = std::to_string((whole.peak_device_bytes >> 20) * 6 / 10);
  setenv("ANNFORGE_GPU_MEMORY_LIMIT_MB", cap.c_str(), 1);
  const BuildPlan split = plan_build(data.rows(), data.dim(), data.type(), params, 0);
  Index index;
  try {
    index = build(data, params);
  } catch (...) {
    unsetenv("ANNFORGE_GPU_MEMORY_LIMIT_MB");
    throw;
  }
  unsetenv("ANNFORGE_GPU_MEMORY_LIMIT_MB");
  EXPECT_TRUE(split.fits) << split.refusal;
  EXPECT_GT(split.partitions, 1) << split.partitions_why;
  EXPECT_NE(split.partitions_why.find("fits the device"), std::string::npos) << split.partitions_why;
  EXPECT_LE(split.peak_device_bytes, (whole.peak_device_bytes >> 20) * 6 / 10 << 20);
  EXPECT_TRUE(graph_invariants(index, 32));
}

}  // namespace
