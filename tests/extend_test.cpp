// extend (new rows linked into a built graph, or a rebuild where the batch outweighs it) and
// zero-copy builds over borrowed and memory-mapped vectors, on each backend (".../Cpu",
// ".../Gpu"; the GPU cases skip where there is no GPU). Recall is against the CPU's exact_knn.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>

#include "annforge.hpp"
#include "tests/test_support.hpp"

namespace {

using namespace annforge;
using namespace annforge_test;

constexpr int64_t kDim = 32, kQueries = 200;
constexpr int kK = 10;

// --- extend --------------------------------------------------------------------------------------

void check_extended(const Index& index, const Dataset& all, int64_t old_rows, Metric metric, int degree,
                    Device device) {
  ASSERT_EQ(index.rows(), all.rows());
  EXPECT_EQ(index.backend, device == Device::Gpu ? "cuda" : "cpu") << "the backend that extended it";
  ASSERT_TRUE(graph_invariants(index, degree));
  EXPECT_EQ(std::memcmp(index.vectors.view().data, all.view().data, all.rows() * all.view().row_bytes()), 0)
      << "the extended vectors are the old rows followed by the new ones";
  EXPECT_TRUE(index.vectors.owns_storage());
  EXPECT_GE(reachable_share(index), 0.99);

  Dataset queries = clustered(kQueries, all.dim(), all.type(), 31, 2);
  const Neighbors truth = exact_knn(all.view(), queries.view(), kK, metric);  // the CPU reference
  const SearchParams sp = search_params(64, device);
  const Neighbors found = search(index, queries.view(), kK, sp);
  EXPECT_TRUE(well_formed(found, all.view(), queries.view(), metric));
  const double r = recall(found, truth, kK);
  int64_t new_in_truth = 0;
  for (uint32_t id : truth.ids) new_in_truth += id >= old_rows;
  std::printf("[ recall   ] %s extend %lld -> %lld rows: recall@10 %.4f at beam 64 (%.0f%% of true neighbours are new)\n",
              device_name(device), static_cast<long long>(old_rows), static_cast<long long>(all.rows()), r,
              100.0 * new_in_truth / truth.ids.size());
  EXPECT_GE(r, 0.9);

  // Every new row is linked in: searching for its own vector finds it first.
  const int64_t new_rows = all.rows() - old_rows;
  DatasetView added{all.view().row(old_rows), new_rows, all.dim(), all.type()};
  const Neighbors self = search(index, added, 1, sp);
  int64_t found_self = 0;
  for (int64_t i = 0; i < new_rows; ++i) found_self += self.ids[i] == static_cast<uint32_t>(old_rows + i);
  EXPECT_GE(found_self, new_rows * 99 / 100) << "new rows found by their own vector";
}

class Extend : public DeviceTest<Device> {};

TEST_P(Extend, LinksNewRowsIntoTheGraph) {
  Dataset all = clustered(4000, kDim, ElementType::Float32, 31);
  const int64_t old_rows = 3000;
  const BuildParams params = params_for(Metric::L2, BuildAlgorithm::Auto, 32, device());
  Index index = build(Dataset::borrow(DatasetView{all.view().data, old_rows, kDim, ElementType::Float32}), params);
  const std::vector<uint32_t> old_graph = index.graph;
  extend(index, DatasetView{all.view().row(old_rows), 1000, kDim, ElementType::Float32}, params);
  check_extended(index, all, old_rows, Metric::L2, params.graph_degree, device());
  // Old rows keep their protected first half of edges: the CPU's extend links new rows in, it
  // does not rebuild. (How the GPU's extend links them in is its own: it is held to recall and
  // the graph invariants only.)
  if (device() != Device::Cpu) return;
  const int protected_edges = (index.graph_degree + 1) / 2;
  int64_t kept = 0;
  for (int64_t v = 0; v < old_rows; ++v) {
    kept += std::equal(index.neighbors(v), index.neighbors(v) + protected_edges, &old_graph[v * index.graph_degree]);
  }
  EXPECT_EQ(kept, old_rows);
}

TEST_P(Extend, MoreNewRowsThanOldRebuilds) {
  Dataset all = clustered(4000, kDim, ElementType::UInt8, 33);
  const int64_t old_rows = 1000;
  const BuildParams params = params_for(Metric::Cosine, BuildAlgorithm::Auto, 32, device());
  Index index = build(Dataset::borrow(DatasetView{all.view().data, old_rows, kDim, ElementType::UInt8}), params);
  extend(index, DatasetView{all.view().row(old_rows), 3000, kDim, ElementType::UInt8}, params);
  check_extended(index, all, old_rows, Metric::Cosine, params.graph_degree, device());
}

TEST_P(Extend, GrowsATinyIndexToFullDegree) {
  Dataset all = clustered(500, 12, ElementType::Float32, 35);
  const BuildParams params = params_for(Metric::L2, BuildAlgorithm::Auto, 16, device());
  Index index = build(Dataset::borrow(DatasetView{all.view().data, 1, 12, ElementType::Float32}), params);
  ASSERT_EQ(index.graph_degree, 0);
  int64_t rows = 1;
  // Small steps take the full-rebuild path until the graph has its final degree; then the
  // incremental one (+1, +2, +50), with a rebuild (+100) in between.
  for (int64_t add : {1, 5, 10, 1, 2, 100, 50, 330}) {  // 1 + these = all 500 rows
    ASSERT_LE(rows + add, all.rows()) << "the steps must stay inside the data";
    extend(index, DatasetView{all.view().row(rows), add, 12, ElementType::Float32}, params);
    rows += add;
    SCOPED_TRACE("rows " + std::to_string(rows));
    ASSERT_EQ(index.rows(), rows);
    ASSERT_TRUE(graph_invariants(index, params.graph_degree));
  }
  EXPECT_EQ(std::memcmp(index.vectors.view().data, all.view().data, all.rows() * all.view().row_bytes()), 0);
  // Every row is found by its own vector (a complete-enough graph on 500 rows).
  const Neighbors self = search(index, all.view(), 1, search_params(64, device()));
  int64_t found = 0;
  for (int64_t i = 0; i < all.rows(); ++i) found += self.ids[i] == static_cast<uint32_t>(i);
  EXPECT_GE(found, all.rows() * 99 / 100) << "rows found by their own vector";
}

// A loaded index borrows a read-only file mapping: extend copies into owned storage and leaves
// the file as it was.
TEST_P(Extend, ALoadedIndexCanBeExtended) {
  TempDir dir;
  Dataset all = clustered(3300, 16, ElementType::Int8, 39);
  const BuildParams params = params_for(Metric::L2, BuildAlgorithm::Auto, 16, device());
  save(build(Dataset::borrow(DatasetView{all.view().data, 3000, 16, ElementType::Int8}), params), dir.file("i.afi"));
  const std::vector<uint8_t> file = read_bytes(dir.file("i.afi"));
  Index index = load(dir.file("i.afi"));
  extend(index, DatasetView{all.view().row(3000), 300, 16, ElementType::Int8}, params);
  ASSERT_TRUE(graph_invariants(index, 16));
  EXPECT_EQ(std::memcmp(index.vectors.view().data, all.view().data, all.rows() * all.view().row_bytes()), 0);
  EXPECT_EQ(read_bytes(dir.file("i.afi")), file);
  const Neighbors found = search(index, all.view(), 1, search_params(64, device()));
  int64_t self = 0;
  for (int64_t i = 0; i < all.rows(); ++i) self += found.ids[i] == static_cast<uint32_t>(i);
  EXPECT_GE(self, all.rows() * 98 / 100) << "rows found by their own vector (int8 rounding makes a few duplicates)";
}

// extend keeps the index's degree whatever graph_degree the params carry (the params only
// matter where the old graph was too small to have its degree).
TEST_P(Extend, KeepsTheIndexDegreeWhateverTheParams) {
  Dataset all = clustered(2200, 16, ElementType::Float32, 37);
  Index index = build(Dataset::borrow(DatasetView{all.view().data, 2000, 16, ElementType::Float32}),
                      params_for(Metric::L2, BuildAlgorithm::Auto, 16, device()));
  ASSERT_EQ(index.graph_degree, 16);
  BuildParams defaults;  // graph_degree 32, intermediate degree the backend's: only the device differs
  defaults.device = device();
  extend(index, DatasetView{all.view().row(2000), 200, 16, ElementType::Float32}, defaults);
  EXPECT_EQ(index.graph_degree, 16);
  ASSERT_TRUE(graph_invariants(index, 16));
}

INSTANTIATE_TEST_SUITE_P(Backends, Extend, backends(), ParamName());

// --- zero copy -------------------------------------------------------------------------------------

class ZeroCopy : public DeviceTest<Device> {};

TEST_P(ZeroCopy, BorrowedDataIsNotCopied) {
  Dataset owner = clustered(2500, 16, ElementType::Float32, 41);
  const void* caller = owner.view().data;
  Dataset borrowed = Dataset::borrow(owner.view());
  EXPECT_FALSE(borrowed.owns_storage());
  Index index = build(borrowed, params_for(Metric::L2, BuildAlgorithm::Auto, 16, device()));
  EXPECT_EQ(index.vectors.view().data, caller);
  EXPECT_FALSE(index.vectors.owns_storage());
  ASSERT_TRUE(graph_invariants(index, 16));
  // Searching reads the caller's memory: a change there is seen by the next search (on the GPU
  // too: no device copy of the vectors outlives a search call).
  const SearchParams sp = search_params(64, device());
  Dataset query = Dataset::copy_of(DatasetView{owner.view().row(123), 1, 16, ElementType::Float32});
  EXPECT_EQ(search(index, query.view(), 1, sp).ids[0], 123u);
  float* row = static_cast<float*>(owner.mutable_data()) + 123 * 16;
  for (int c = 0; c < 16; ++c) row[c] = 1000.0f;
  const Neighbors moved = search(index, query.view(), 1, sp);
  EXPECT_NE(moved.ids[0], 123u);
  EXPECT_LT(moved.distances[0], 1000.0f);
  EXPECT_THROW(borrowed.mutable_data(), Error) << "borrowed storage is read-only through Dataset";
}

TEST_P(ZeroCopy, MappedFileIsSharedByTheIndex) {
  TempDir dir;
  Dataset data = clustered(2000, 8, ElementType::UInt8, 43);
  write_vectors(dir.file("d.u8bin"), data.view());
  Dataset mapped = read_vectors(dir.file("d.u8bin"));
  Index index = build(mapped, params_for(Metric::L2, BuildAlgorithm::Auto, 8, device()));
  EXPECT_EQ(index.vectors.view().data, mapped.view().data);
  ASSERT_TRUE(graph_invariants(index, 8));
}

INSTANTIATE_TEST_SUITE_P(Backends, ZeroCopy, backends(), ParamName());

}  // namespace
