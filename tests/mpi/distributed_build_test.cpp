// The distributed build (index/annforge_mpi.hpp), run by ctest under mpirun with 2 and 4 ranks
// (tests/mpi/run_mpi.sh): every rank runs every test; rank 0 checks the index. With the same
// pieces and one thread per rank it must be the index build() makes in one process, whatever
// the rank count; recall against exact ground truth and the graph invariants on generated data
// and a sift-vl-1m slice; a failure on one rank (a bad row in its range, an error or an
// allocation failure in its pieces) must reach every rank as the same Error naming that rank,
// and leave the communicator usable.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <cstdlib>

#include "annforge.hpp"
#include "index/annforge_mpi.hpp"
#include "tests/test_support.hpp"

namespace {

using namespace annforge;
using namespace annforge_test;

int rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}
int ranks() {
  int n = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  return n;
}

BuildParams params_of(Metric metric, int partitions, int threads) {
  BuildParams params;
  params.metric = metric;
  params.device = Device::Cpu;
  params.partitions = partitions;
  params.threads = threads;
  return params;
}

::testing::AssertionResult same_index(const Index& a, const Index& b) {
  if (a.graph_degree != b.graph_degree) return ::testing::AssertionFailure() << "degrees differ";
  if (a.graph != b.graph) {
    size_t i = 0;
    while (a.graph[i] == b.graph[i]) ++i;
    return ::testing::AssertionFailure() << "graphs differ first at row " << i / a.graph_degree;
  }
  if (a.entry_points != b.entry_points) return ::testing::AssertionFailure() << "entry points differ";
  if (a.levels.size() != b.levels.size()) return ::testing::AssertionFailure() << "level counts differ";
  for (size_t l = 0; l < a.levels.size(); ++l) {
    if (a.levels[l].members != b.levels[l].members || a.levels[l].graph != b.levels[l].graph) {
      return ::testing::AssertionFailure() << "level " << l + 1 << " differs";
    }
  }
  if (a.upper_width_divisor != b.upper_width_divisor) return ::testing::AssertionFailure() << "upper beams differ";
  return ::testing::AssertionSuccess();
}

double recall_at_10(const Index& index, const Dataset& queries, const Neighbors& truth, int beam) {
  SearchParams search;
  search.beam_width = beam;
  search.device = Device::Cpu;
  return recall(annforge::search(index, queries.view(), 10, search), truth, 10);
}

// The same pieces, one thread per rank: the one-process build's index, for L2 and cosine.
TEST(DistributedBuild, SameIndexAsOneProcess) {
  for (const Metric metric : {Metric::L2, Metric::Cosine}) {
    SCOPED_TRACE(to_string(metric));
    const Dataset data = clustered(30000, 24, ElementType::Float32, 51, 1, 12);
    const BuildParams params = params_of(metric, 4, 1);
    DistributedReport report;
    const Index distributed = build_distributed(MPI_COMM_WORLD, data, params, &report);
    EXPECT_EQ(report.ranks, ranks());
    EXPECT_EQ(report.pieces, std::max(4, ranks()));
    if (rank() != 0) {
      EXPECT_EQ(distributed.rows(), 0) << "only rank 0 holds the index";
      EXPECT_EQ(report.per_rank.size(), 1u);
      continue;
    }
    ASSERT_EQ(report.per_rank.size(), static_cast<size_t>(ranks()));
    int pieces = 0;
    for (const RankReport& r : report.per_rank) {
      pieces += r.pieces;
      EXPECT_GT(r.pieces, 0) << "rank " << r.rank << " built no piece";
      if (ranks() > 1) EXPECT_GT(r.bytes_sent + r.bytes_received, 0u) << "rank " << r.rank;
    }
    EXPECT_EQ(pieces, report.pieces);
    EXPECT_TRUE(graph_invariants(distributed, params.graph_degree));
    BuildParams local = params;
    local.partitions = report.pieces;
    const Index one = build(data, local);
    EXPECT_TRUE(same_index(distributed, one));
  }
}

// A sift-vl-1m slice (uint8, L2), two threads per rank: recall within 0.01 of the one-process
// build with the same pieces, and the invariants.
TEST(DistributedBuild, SiftSliceRecall) {
  std::string looked;
  const std::string folder = find_data_set("sift-vl-1m", &looked);
  if (folder.empty()) GTEST_SKIP() << "sift-vl-1m not found (looked in " << looked << "; ../shared/data/unpack data)";
  const Dataset data = read_vectors(folder + "/base.bvecs", 80000);
  const Dataset queries = read_vectors(folder + "/query.bvecs", 300);
  const BuildParams params = params_of(Metric::L2, 2 * ranks(), 2);
  const Index distributed = build_distributed(MPI_COMM_WORLD, data, params);
  if (rank() != 0) return;
  EXPECT_TRUE(graph_invariants(distributed, params.graph_degree));
  EXPECT_GT(reachable_share(distributed), 0.999);
  const Neighbors truth = exact_knn(data.view(), queries.view(), 10, Metric::L2);
  const Index one = build(data, params);
  for (const int beam : {32, 64}) {
    const double got = recall_at_10(distributed, queries, truth, beam);
    const double expected = recall_at_10(one, queries, truth, beam);
    EXPECT_GE(got, expected - 0.01) << "beam " << beam;
    EXPECT_GE(got, beam == 32 ? 0.90 : 0.95) << "beam " << beam;
  }
}

// Too small to split (a piece per rank would be all border): rank 0 builds it alone, the same
// index as build().
TEST(DistributedBuild, SmallDataOnRankZero) {
  const Dataset data = clustered(2500, 16, ElementType::Float32, 52);
  const BuildParams params = params_of(Metric::L2, 0, 1);
  DistributedReport report;
  const Index distributed = build_distributed(MPI_COMM_WORLD, data, params, &report);
  EXPECT_EQ(report.pieces, 1);
  if (rank() != 0) return;
  EXPECT_TRUE(graph_invariants(distributed, params.graph_degree));
  EXPECT_TRUE(same_index(distributed, build(data, params)));
}

// A NaN in the last row: the last rank finds it in its range; every rank throws the same
// InvalidArgument naming that rank and the row.
TEST(DistributedBuild, BadRowFailsEveryRank) {
  Dataset data = clustered(20000, 16, ElementType::Float32, 53);
  static_cast<float*>(data.mutable_data())[(data.rows() - 1) * data.dim() + 3] = std::nanf("");
  const std::string last = "rank " + std::to_string(ranks() - 1) + " of " + std::to_string(ranks());
  EXPECT_TRUE(throws_error([&] { build_distributed(MPI_COMM_WORLD, data, params_of(Metric::L2, 4, 1)); },
                           ErrorCode::InvalidArgument, {last, "row 19999", "NaN"}));
}

// A rank failing in its pieces (an error, an allocation that fails): every rank throws naming
// it, and the next build on the same communicator works.
TEST(DistributedBuild, FailureInPiecesReachesEveryRank) {
  const Dataset data = clustered(20000, 16, ElementType::Float32, 54);
  const int failing = ranks() - 1;
  for (const std::string kind : {"error", "oom"}) {
    SCOPED_TRACE(kind);
    setenv("ANNFORGE_MPI_FAULT", (std::to_string(failing) + ":" + kind).c_str(), 1);
    EXPECT_TRUE(throws_error([&] { build_distributed(MPI_COMM_WORLD, data, params_of(Metric::L2, 4, 1)); },
                             ErrorCode::Internal,
                             {"rank " + std::to_string(failing), "pieces' kNN lists",
                              kind == "oom" ? "out of memory" : "injected"}));
    unsetenv("ANNFORGE_MPI_FAULT");
  }
  const Index after = build_distributed(MPI_COMM_WORLD, data, params_of(Metric::L2, 4, 1));
  if (rank() == 0) EXPECT_TRUE(graph_invariants(after, 32));
}

// device=gpu where no rank has a GPU: every rank fails before any work, naming rank 0.
TEST(DistributedBuild, GpuAskedWithoutOne) {
  if (gpu_available()) GTEST_SKIP() << "a GPU is present: the pieces are built on it";
  const Dataset data = clustered(20000, 16, ElementType::Float32, 55);
  BuildParams params = params_of(Metric::L2, 4, 1);
  params.device = Device::Gpu;
  EXPECT_TRUE(throws_error([&] { build_distributed(MPI_COMM_WORLD, data, params); }, ErrorCode::NoDevice,
                           {"rank 0", "device=gpu"}));
}

// device=gpu where the ranks have GPUs: the pieces built there, recall within 0.01 of the CPU's.
TEST(DistributedBuild, PiecesOnGpus) {
  if (!gpu_available()) GTEST_SKIP() << "no usable GPU: " << device_unavailable(Device::Gpu);
  const Dataset data = clustered(60000, 32, ElementType::Float32, 56, 1, 24);
  const Dataset queries = clustered(300, 32, ElementType::Float32, 56, 2, 24);
  BuildParams params = params_of(Metric::L2, 2 * ranks(), 2);
  params.device = Device::Gpu;
  DistributedReport report;
  const Index on_gpus = build_distributed(MPI_COMM_WORLD, data, params, &report);
  params.device = Device::Cpu;
  const Index on_cpus = build_distributed(MPI_COMM_WORLD, data, params);
  if (rank() != 0) return;
  for (const RankReport& r : report.per_rank) EXPECT_EQ(r.gpu_pieces, 1) << "rank " << r.rank;
  EXPECT_TRUE(graph_invariants(on_gpus, params.graph_degree));
  const Neighbors truth = exact_knn(data.view(), queries.view(), 10, Metric::L2);
  EXPECT_GE(recall_at_10(on_gpus, queries, truth, 64), recall_at_10(on_cpus, queries, truth, 64) - 0.01);
}

}  // namespace

// Every rank runs the tests; rank 0 prints. The job fails where any rank's tests failed.
int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  if (rank() != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  int failed = RUN_ALL_TESTS() != 0 ? 1 : 0;
  int any = 0;
  MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return any;
}
