// Rows that lie apart (DatasetView::stride): texmex files (.fvecs, .bvecs) are read in place,
// their 4-byte header between rows, and every consumer meets the rows where they are. A build,
// search, extend, save and export from such rows gives the same bytes as from a packed copy;
// a stride that cannot hold a row is refused. Both backends (the GPU cases skip without one).
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "annforge.hpp"
#include "tests/test_support.hpp"

namespace {

using namespace annforge;
using namespace annforge_test;

// `data`'s rows written as a texmex file (.fvecs for float32, .bvecs for uint8).
void write_texmex(const std::string& path, const DatasetView& data) {
  std::vector<uint8_t> bytes;
  const int32_t dim = static_cast<int32_t>(data.dim);
  for (int64_t r = 0; r < data.rows; ++r) {
    const auto* h = reinterpret_cast<const uint8_t*>(&dim);
    bytes.insert(bytes.end(), h, h + 4);
    bytes.insert(bytes.end(), data.row(r), data.row(r) + data.row_bytes());
  }
  write_bytes(path, bytes);
}

// `data` written to DIR/STEM.fvecs (float32) or .bvecs (uint8) and read back: rows in place.
Dataset through_texmex(const TempDir& dir, const std::string& stem, const Dataset& data, std::string* path_out = nullptr) {
  const std::string path = dir.file(stem + (data.type() == ElementType::Float32 ? ".fvecs" : ".bvecs"));
  write_texmex(path, data.view());
  if (path_out != nullptr) *path_out = path;
  return read_vectors(path);
}

class RowsApart : public DeviceTest<std::tuple<ElementType, Device>> {};

TEST_P(RowsApart, TexmexReadInPlaceBuildsTheSameIndexAsPackedRows) {
  const auto [type, device] = GetParam();
  TempDir dir;
  const Dataset packed = clustered(3000, 24, type, 7);
  std::string path;
  const Dataset read = through_texmex(dir, "base", packed, &path);
  const DatasetView& apart = read.view();
  ASSERT_EQ(apart.rows, 3000);
  EXPECT_FALSE(apart.packed());
  EXPECT_EQ(apart.row_stride(), 4 + apart.row_bytes()) << "the file's rows, not a packed copy";
  for (int64_t r = 0; r < apart.rows; ++r) {
    ASSERT_EQ(std::memcmp(apart.row(r), packed.view().row(r), apart.row_bytes()), 0) << "row " << r;
  }

  BuildParams params = params_for(Metric::L2, BuildAlgorithm::Auto, 16, device);
  params.threads = 1;  // the same graph from the same values, run to run
  const Index from_file = build(read, params);
  const Index from_packed = build(packed, params);
  EXPECT_EQ(from_file.vectors.view().data, apart.data) << "the index shares the file's rows";
  ASSERT_TRUE(graph_invariants(from_file, 16));
  if (device == Device::Cpu) {
    EXPECT_EQ(from_file.graph, from_packed.graph);
    EXPECT_EQ(from_file.entry_points, from_packed.entry_points);
  }

  // Queries apart too: the same answers as packed ones, from either index.
  const DatasetView queries = apart.slice(100, 50);
  ASSERT_FALSE(queries.packed());
  const Dataset packed_queries = Dataset::copy_of(queries);
  ASSERT_TRUE(packed_queries.view().packed());
  const SearchParams search = search_params(64, device);
  const Neighbors a = annforge::search(from_file, queries, 10, search);
  const Neighbors b = annforge::search(from_file, packed_queries.view(), 10, search);
  EXPECT_EQ(a.ids, b.ids);
  EXPECT_EQ(a.distances, b.distances);
  for (int64_t q = 0; q < queries.rows; ++q) EXPECT_EQ(a.ids[q * 10], 100 + q) << "a row finds itself";
  const Neighbors exact = exact_knn(read.view(), queries, 10, Metric::L2);
  const Neighbors exact_packed = exact_knn(packed.view(), packed_queries.view(), 10, Metric::L2);
  EXPECT_EQ(exact.ids, exact_packed.ids);

  // Saved, the rows are packed in the index file: the file is the packed build's, byte for byte
  // (CPU: the same graph), and it loads as packed rows equal to the file's.
  save(from_file, dir.file("apart.afi"));
  save(from_packed, dir.file("packed.afi"));
  if (device == Device::Cpu) EXPECT_EQ(read_bytes(dir.file("apart.afi")), read_bytes(dir.file("packed.afi")));
  const Index loaded = load(dir.file("apart.afi"));
  ASSERT_TRUE(loaded.vectors.view().packed());
  for (int64_t r = 0; r < loaded.rows(); ++r) {
    ASSERT_EQ(std::memcmp(loaded.vectors.view().row(r), apart.row(r), apart.row_bytes()), 0) << "row " << r;
  }

  // Written back as a vector file: the same bytes as the file read.
  write_vectors(dir.file("again" + path.substr(path.size() - 6)), apart);
  EXPECT_EQ(read_bytes(dir.file("again" + path.substr(path.size() - 6))), read_bytes(path));
}

TEST_P(RowsApart, ExtendAppendsRowsApart) {
  const auto [type, device] = GetParam();
  TempDir dir;
  const Dataset all = clustered(2500, 16, type, 9);
  const Dataset read = through_texmex(dir, "all", all);
  BuildParams params = params_for(Metric::L2, BuildAlgorithm::Auto, 16, device);
  Index index = build(Dataset::borrow(read.view().slice(0, 2000)), params);
  extend(index, read.view().slice(2000, 500), params);
  ASSERT_EQ(index.rows(), 2500);
  ASSERT_TRUE(graph_invariants(index, 16));
  for (int64_t r = 0; r < 2500; ++r) {
    ASSERT_EQ(std::memcmp(index.vectors.view().row(r), all.view().row(r), all.view().row_bytes()), 0) << "row " << r;
  }
}

INSTANTIATE_TEST_SUITE_P(Types, RowsApart,
                         ::testing::Combine(::testing::Values(ElementType::Float32, ElementType::UInt8), backends()),
                         ParamName());

// Rows of 1 KiB or more are read where they are by the CPU's kNN stage instead of copied in
// cluster order (knn_graph.hpp: cpu_rows_in_place): the rows apart in a texmex file give the same
// graph as packed ones, and the graph is as good as the copy's.
TEST(RowsApart, WideRowsAreReadInPlaceByTheKnnStage) {
  TempDir dir;
  // Rows spread over 48 latent directions: hard enough that the graph's recall can tell.
  Dataset packed = Dataset::allocate(8000, 256, ElementType::Float32);
  {
    Rng rng(9);
    std::vector<double> basis(48 * 256), latent(48);
    for (double& b : basis) b = rng.normal();
    float* values = static_cast<float*>(packed.mutable_data());
    for (int64_t r = 0; r < 8000; ++r) {
      for (double& z : latent) z = rng.normal();
      for (int64_t c = 0; c < 256; ++c) {
        double v = 0.05 * rng.normal();
        for (int j = 0; j < 48; ++j) v += latent[j] * basis[j * 256 + c];
        values[r * 256 + c] = static_cast<float>(v);
      }
    }
  }
  ASSERT_GE(packed.view().row_bytes(), 1024u);
  const Dataset read = through_texmex(dir, "wide", packed);
  ASSERT_FALSE(read.view().packed());
  BuildParams params = params_for(Metric::L2, BuildAlgorithm::Auto, 16, Device::Cpu);
  params.threads = 1;  // the same graph from the same values, run to run
  const Index from_file = build(read, params);
  const Index from_packed = build(packed, params);
  ASSERT_TRUE(graph_invariants(from_file, 16));
  EXPECT_EQ(from_file.graph, from_packed.graph);
  ::setenv("ANNFORGE_CPU_ROWS_IN_PLACE", "2", 1);
  const Index copied = build(read, params);
  ::unsetenv("ANNFORGE_CPU_ROWS_IN_PLACE");
  ASSERT_TRUE(graph_invariants(copied, 16));
  const DatasetView queries = packed.view().slice(0, 400);
  const Neighbors exact = exact_knn(packed.view(), queries, 10, Metric::L2);
  const double in_place = recall(search(from_file, queries, 10, search_params(32, Device::Cpu)), exact, 10);
  const double copy = recall(search(copied, queries, 10, search_params(32, Device::Cpu)), exact, 10);
  EXPECT_GE(in_place, 0.93);  // 0.964 (2026-12-06)
  EXPECT_GE(in_place, copy - 0.01) << "rows in place " << in_place << ", copied in cluster order " << copy;
}

TEST(RowsApart, StrideThatCannotHoldARowIsRefused) {
  const Dataset packed = clustered(100, 8, ElementType::Float32, 3);
  DatasetView overlapping = packed.view();
  overlapping.rows = 50;
  overlapping.stride = 4 * sizeof(float);  // rows of 8 floats, 4 floats apart
  EXPECT_TRUE(throws_error([&] { (void)build(Dataset::borrow(overlapping), BuildParams{}); }, ErrorCode::InvalidArgument,
                           {"row stride"}));
  DatasetView odd = packed.view();
  odd.rows = 50;
  odd.stride = 8 * sizeof(float) + 2;  // floats at odd offsets
  EXPECT_TRUE(throws_error([&] { (void)build(Dataset::borrow(odd), BuildParams{}); }, ErrorCode::InvalidArgument,
                           {"row stride"}));
}

}  // namespace
