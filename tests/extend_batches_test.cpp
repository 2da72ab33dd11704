// extend() called many times with small batches (the way a service adds rows): its cost follows
// the batch, not the index. The rows grow in storage with room (Dataset::appended), the upper
// levels stay until the index outgrows them, a failed call leaves the index as it was, and the
// recall stays near a fresh build's. CPU backend (the GPU's extend links small batches on the host
// the same way and rebuilds larger ones).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

#include "annforge.hpp"
#include "host/cpu/graph/extend.hpp"
#include "tests/test_support.hpp"

namespace {

using namespace annforge;
using namespace annforge_test;

// --- Dataset::appended ---------------------------------------------------------------------------

TEST(DatasetAppended, WritesIntoItsRoomOnlyForTheDatasetThatEndsThere) {
  Dataset rows = clustered(140, 8, ElementType::Float32, 5);
  const size_t row_bytes = rows.view().row_bytes();
  const Dataset first = Dataset::borrow(rows.view().slice(0, 100));
  // A borrowed dataset has no room: the append copies everything into storage with room.
  const Dataset grown = first.appended(rows.view().slice(100, 10));
  ASSERT_EQ(grown.rows(), 110);
  EXPECT_NE(grown.view().data, first.view().data);
  EXPECT_TRUE(grown.owns_storage());
  EXPECT_EQ(std::memcmp(grown.view().data, rows.view().data, 110 * row_bytes), 0);
  EXPECT_EQ(first.rows(), 100) << "the dataset appended to keeps its own rows";
  // Appending to `grown` writes into its room: the same storage, no copy.
  const Dataset more = grown.appended(rows.view().slice(110, 5));
  ASSERT_EQ(more.rows(), 115);
  EXPECT_EQ(more.view().data, grown.view().data);
  EXPECT_EQ(grown.rows(), 110);
  // `grown` no longer ends where the room's taken part does: a second append to it copies, and
  // the rows `more` wrote stay as they were.
  const Dataset other = grown.appended(rows.view().slice(120, 20));
  ASSERT_EQ(other.rows(), 130);
  EXPECT_NE(other.view().data, grown.view().data);
  EXPECT_EQ(std::memcmp(other.view().data, rows.view().data, 110 * row_bytes), 0);
  EXPECT_EQ(std::memcmp(other.view().row(110), rows.view().row(120), 20 * row_bytes), 0);
  EXPECT_EQ(std::memcmp(more.view().data, rows.view().data, 115 * row_bytes), 0) << "`more` untouched";
  // Many small appends: the storage moves only when its room runs out (half as many rows again).
  Dataset growing = more;
  int moves = 0;
  for (int i = 0; i < 200; ++i) {
    const Dataset next = growing.appended(rows.view().slice(i % 140, 1));
    moves += next.view().data != growing.view().data;
    growing = next;
  }
  EXPECT_EQ(growing.rows(), 315);
  EXPECT_LE(moves, 3) << "115 -> 315 rows in steps of one, room for half as many again each time";
  EXPECT_THROW(growing.appended(clustered(1, 9, ElementType::Float32, 1).view()), Error) << "another dimension";
}

// --- extend in small batches -----------------------------------------------------------------------

constexpr int64_t kDim = 24;

// Rows of independent normal values: no low-rank structure, so that recall at narrow beams has
// room to fall (clustered()'s rank-8 rows are found at any beam).
Dataset gaussian(int64_t rows, int64_t dim, uint64_t seed) {
  Rng rng(seed);
  Dataset out = Dataset::allocate(rows, dim, ElementType::Float32);
  auto* values = static_cast<float*>(out.mutable_data());
  for (int64_t i = 0; i < rows * dim; ++i) values[i] = static_cast<float>(rng.normal());
  return out;
}

TEST(ExtendBatches, KeepsTheLevelsUntilTheIndexOutgrowsThem) {
  Dataset all = gaussian(28000, kDim, 41);
  const BuildParams params = params_for(Metric::L2, BuildAlgorithm::Auto, 32, Device::Cpu);
  Index index = build(Dataset::borrow(all.view().slice(0, 20000)), params);
  ASSERT_FALSE(index.levels.empty()) << "20,000 rows have upper levels";
  const std::vector<uint32_t> level_one = index.levels[0].members;
  int64_t rows = 20000;
  const void* storage = nullptr;
  int storage_moves = 0;
  // 4,000 rows in batches of 400: within a quarter of the rows the levels were built over.
  for (int batch = 0; batch < 10; ++batch) {
    extend(index, all.view().slice(rows, 400), params);
    rows += 400;
    storage_moves += index.vectors.view().data != storage;
    storage = index.vectors.view().data;
    ASSERT_EQ(index.rows(), rows);
    ASSERT_EQ(index.levels[0].members, level_one) << "levels kept after " << rows << " rows";
  }
  EXPECT_EQ(storage_moves, 1) << "the first extend copies the borrowed rows (with room); later ones write there";
  ASSERT_TRUE(graph_invariants(index, 32));
  // Past a quarter more, the levels are built again over every row.
  extend(index, all.view().slice(rows, 2000), params);
  rows += 2000;
  ASSERT_NE(index.levels[0].members, level_one);
  EXPECT_GT(index.levels[0].members.back(), 20000u) << "new rows join level 1";
  ASSERT_TRUE(graph_invariants(index, 32));
  EXPECT_EQ(std::memcmp(index.vectors.view().data, all.view().data, rows * all.view().row_bytes()), 0);

  // Recall against the exact neighbours, beside a fresh build of the same rows.
  const DatasetView now = all.view().slice(0, rows);
  Dataset queries = gaussian(300, kDim, 42);
  const Neighbors truth = exact_knn(now, queries.view(), 10, Metric::L2);
  const Index fresh = build(Dataset::borrow(now), params);
  for (int beam : {16, 64}) {
    const double extended = recall(search(index, queries.view(), 10, search_params(beam, Device::Cpu)), truth, 10);
    const double built = recall(search(fresh, queries.view(), 10, search_params(beam, Device::Cpu)), truth, 10);
    std::printf("[ recall   ] 20,000 rows + 11 extends to %lld: recall@10 at beam %d %.4f (fresh build %.4f)\n",
                static_cast<long long>(rows), beam, extended, built);
    EXPECT_GE(extended, built - 0.02) << "beam " << beam;
  }
  EXPECT_GE(recall(search(index, queries.view(), 10, search_params(64, Device::Cpu)), truth, 10), 0.9);
}

TEST(ExtendBatches, AFailedExtendLeavesTheIndexAsItWas) {
  Dataset all = clustered(26000, kDim, ElementType::UInt8, 43);
  BuildParams params = params_for(Metric::L2, BuildAlgorithm::Auto, 16, Device::Cpu);
  Index index = build(Dataset::borrow(all.view().slice(0, 20000)), params);
  extend(index, all.view().slice(20000, 100), params);  // rows now in storage with room
  const std::vector<uint32_t> graph = index.graph;
  const std::vector<uint32_t> level_one = index.levels.at(0).graph;
  const void* storage = index.vectors.view().data;
  // Chunks of 2,048 rows (three for 5,000): the callback fails after the first, the second or
  // the last has given its reverse edges to old rows.
  for (int failing : {1, 2, 3}) {
    SCOPED_TRACE("failing at report " + std::to_string(failing));
    int reports = 0;
    params.progress = [&](const Progress& p) {
      if (std::string(p.stage) == "extend" && ++reports == failing) throw std::runtime_error("stopped by the caller");
    };
    EXPECT_THROW(extend(index, all.view().slice(20100, 5000), params), std::runtime_error);
    EXPECT_EQ(reports, failing);
    EXPECT_EQ(index.rows(), 20100);
    EXPECT_EQ(index.vectors.view().data, storage);
    EXPECT_TRUE(index.graph == graph) << "the old rows' links as they were";
    EXPECT_TRUE(index.levels.at(0).graph == level_one);
  }
  // The failed call took the room after row 20,100: the next extend copies the rows into new
  // storage, and succeeds.
  params.progress = nullptr;
  extend(index, all.view().slice(20100, 5000), params);
  EXPECT_EQ(index.rows(), 25100);
  EXPECT_NE(index.vectors.view().data, storage);
  ASSERT_TRUE(graph_invariants(index, 16));
  EXPECT_EQ(std::memcmp(index.vectors.view().data, all.view().data, 25100 * all.view().row_bytes()), 0);
}

// The CUDA backend's choice between linking a batch on the host and rebuilding on the GPU: by
// the two measured rates, small batches are linked and large ones rebuilt, more threads link more.
TEST(ExtendBatches, TheGpuLinksSmallBatchesAndRebuildsLargeOnes) {
  using cpu::link_on_host_rather_than_rebuild;
  EXPECT_TRUE(link_on_host_rather_than_rebuild(1000000, 1, 2));
  EXPECT_TRUE(link_on_host_rather_than_rebuild(1000000, 1000, 2));
  EXPECT_FALSE(link_on_host_rather_than_rebuild(1000000, 100000, 2));
  EXPECT_FALSE(link_on_host_rather_than_rebuild(1000, 1000, 16));
  // The crossover moves with the host's threads: a batch the 2-thread host would rebuild for, a
  // 32-thread host links.
  EXPECT_FALSE(link_on_host_rather_than_rebuild(1000000, 5000, 2));
  EXPECT_TRUE(link_on_host_rather_than_rebuild(1000000, 5000, 32));
}

}  // namespace
