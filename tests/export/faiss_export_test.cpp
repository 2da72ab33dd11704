// annforge's FAISS export, read by stock FAISS (this machine's libfaiss-dev, 1.7.3) with
// faiss::read_index: an IndexHNSWFlat whose level 0 is annforge's graph, whose storage holds the
// rows, and whose search at efSearch = 64 finds what annforge's own search at beam 64 finds
// (recall@10 within 0.01), on small data of every metric and element type and on real data.
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/index_io.h>
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "annforge.hpp"
#include "tests/export/export_support.hpp"
#include "tests/test_support.hpp"

namespace {

using namespace annforge;
using namespace annforge_test;
using namespace annforge_export_test;

std::unique_ptr<faiss::IndexHNSWFlat> read_hnsw(const std::string& path) {
  std::unique_ptr<faiss::Index> index(faiss::read_index(path.c_str()));
  auto* hnsw = dynamic_cast<faiss::IndexHNSWFlat*>(index.get());
  if (hnsw == nullptr) return nullptr;
  index.release();
  return std::unique_ptr<faiss::IndexHNSWFlat>(hnsw);
}

double faiss_recall(faiss::IndexHNSWFlat& index, const std::vector<float>& queries, const Neighbors& truth, int width) {
  index.hnsw.efSearch = width;
  const int64_t rows = static_cast<int64_t>(queries.size()) / index.d;
  std::vector<faiss::Index::idx_t> labels(rows * kK);
  std::vector<float> distances(labels.size());
  index.search(rows, queries.data(), kK, distances.data(), labels.data());
  std::vector<uint32_t> found(labels.size());
  for (size_t i = 0; i < labels.size(); ++i) found[i] = labels[i] < 0 ? kInvalidId : static_cast<uint32_t>(labels[i]);
  return recall(found, kK, truth.ids, truth.k, rows, kK);
}

// Level 0 is annforge's graph in order, but for up to half of a list's tail that long links
// took; upper lists link members of their level; the entry
// point is on the top level; the storage holds the rows as written.
::testing::AssertionResult faiss_structure(const faiss::IndexHNSWFlat& index, const Index& source) {
  const faiss::HNSW& hnsw = index.hnsw;
  if (index.ntotal != source.rows() || index.d != source.dim()) return ::testing::AssertionFailure() << "shape";
  if (hnsw.levels[hnsw.entry_point] != hnsw.max_level + 1) return ::testing::AssertionFailure() << "entry point level";
  for (int64_t i = 0; i < source.rows(); ++i) {
    size_t begin = 0, end = 0;
    hnsw.neighbor_range(i, 0, &begin, &end);
    if (end - begin != static_cast<size_t>(source.graph_degree)) {
      return ::testing::AssertionFailure() << "level 0 has " << end - begin << " slots";
    }
    int kept = 0;
    while (kept < source.graph_degree && hnsw.neighbors[begin + kept] == static_cast<int>(source.neighbors(i)[kept])) {
      ++kept;
    }
    if (kept < source.graph_degree - source.graph_degree / 2) {
      return ::testing::AssertionFailure() << "row " << i << " keeps " << kept << " of its links";
    }
    std::set<int> linked(hnsw.neighbors.begin() + begin, hnsw.neighbors.begin() + begin + kept);
    for (size_t j = begin + kept; j < end; ++j) {  // long links: the list stays full
      if (hnsw.neighbors[j] < 0 || hnsw.neighbors[j] >= source.rows() || hnsw.neighbors[j] == i ||
          !linked.insert(hnsw.neighbors[j]).second) {
        return ::testing::AssertionFailure() << "row " << i << " long link to " << hnsw.neighbors[j];
      }
    }
    for (int level = 1; level < hnsw.levels[i]; ++level) {
      hnsw.neighbor_range(i, level, &begin, &end);
      for (size_t j = begin; j < end && hnsw.neighbors[j] >= 0; ++j) {
        const int to = hnsw.neighbors[j];
        if (to >= source.rows() || to == i || hnsw.levels[to] <= level) {
          return ::testing::AssertionFailure() << "row " << i << " level " << level << " links to " << to;
        }
      }
    }
  }
  return ::testing::AssertionSuccess();
}

class FaissExport : public ::testing::TestWithParam<ExportCase> {};

TEST_P(FaissExport, LoadsAndSearchesAsAnnforgeDoes) {
  omp_set_num_threads(2);
  const ExportCase c = GetParam();
  const Exported e = exported_case(c);
  TempDir dir;
  const std::string path = dir.path() + "/index.faiss";
  export_index(e.index, path, ExportParams{ExportFormat::Faiss});
  EXPECT_EQ(list_dir(dir.path()).size(), 1u);
  const std::unique_ptr<faiss::IndexHNSWFlat> index = read_hnsw(path);
  ASSERT_NE(index, nullptr) << "read_index did not give an IndexHNSWFlat";
  EXPECT_EQ(index->metric_type, c.metric == Metric::L2 ? faiss::METRIC_L2 : faiss::METRIC_INNER_PRODUCT);
  EXPECT_TRUE(faiss_structure(*index, e.index));
  EXPECT_GE(index->hnsw.max_level, 1);
  // The storage holds the rows as float32 (unit length for cosine).
  const std::vector<float> rows = as_float_rows(e.base.view(), c.metric == Metric::Cosine);
  const auto* flat = dynamic_cast<const faiss::IndexFlat*>(index->storage);
  ASSERT_NE(flat, nullptr);
  ASSERT_EQ(flat->ntotal, e.index.rows());
  if (c.metric == Metric::Cosine) {  // scaled to unit length: equal up to rounding
    float worst = 0.0f;
    for (size_t i = 0; i < rows.size(); ++i) worst = std::max(worst, std::fabs(flat->get_xb()[i] - rows[i]));
    EXPECT_LT(worst, 1e-6f);
  } else {
    EXPECT_EQ(0, std::memcmp(flat->get_xb(), rows.data(), rows.size() * sizeof(float)));
  }
  const double exported = faiss_recall(*index, e.query_floats, e.truth, kWidth);
  std::printf("[ export   ] faiss %s: recall@10 at efSearch %d %.4f, annforge at beam %d %.4f\n", case_name(c).c_str(),
              kWidth, exported, kWidth, e.annforge_recall);
  EXPECT_GE(exported, e.annforge_recall - 0.01);
}

INSTANTIATE_TEST_SUITE_P(Cases, FaissExport, ::testing::ValuesIn(export_cases()),
                         [](const ::testing::TestParamInfo<ExportCase>& info) { return case_name(info.param); });

TEST(FaissExport, TinyIndexes) {
  for (int64_t rows : {2, 5, 40}) {
    const Dataset base = clustered(rows, 8, ElementType::Float32, 3, 1);
    const Index index = cpu_index(base);
    TempDir dir;
    export_index(index, dir.path() + "/tiny.faiss", ExportParams{ExportFormat::Faiss});
    const std::unique_ptr<faiss::IndexHNSWFlat> read = read_hnsw(dir.path() + "/tiny.faiss");
    ASSERT_NE(read, nullptr);
    read->hnsw.efSearch = 16;
    std::vector<faiss::Index::idx_t> label(rows);
    std::vector<float> distance(rows);
    read->search(rows, static_cast<const float*>(base.view().data), 1, distance.data(), label.data());
    for (int64_t i = 0; i < rows; ++i) EXPECT_EQ(label[i], i) << rows << " rows";
  }
}

void real_data(const std::string& set, int64_t rows) {
  omp_set_num_threads(2);
  std::string looked;
  RealCase real;
  if (!load_real_case(set, rows, &real, &looked)) GTEST_SKIP() << set << " not found at " << looked << " (run scripts/data.sh)";
  const Dataset& base = real.base;
  const Dataset& queries = real.queries;
  const Neighbors& truth = real.truth;
  const Index& index = real.index;
  TempDir dir;
  export_index(index, dir.path() + "/index.faiss", ExportParams{ExportFormat::Faiss});
  const std::unique_ptr<faiss::IndexHNSWFlat> read = read_hnsw(dir.path() + "/index.faiss");
  ASSERT_NE(read, nullptr);
  EXPECT_TRUE(faiss_structure(*read, index));
  const std::vector<float> query_floats = as_float_rows(queries.view(), false);
  for (int width : {32, 64, 128}) {
    const double own = recall(search(index, queries.view(), kK, search_params(width)), truth, kK);
    const double exported = faiss_recall(*read, query_floats, truth, width);
    std::printf("[ export   ] faiss %s %lld rows: width %d recall@10 %.4f, annforge %.4f\n", set.c_str(),
                static_cast<long long>(base.rows()), width, exported, own);
    EXPECT_GE(exported, own - 0.01) << "width " << width;
  }
}

TEST(FaissExportRealData, SiftSlice100K) { real_data("sift-vl-1m", 100000); }
TEST(FaissExportRealData, Mnist) { real_data("mnist", -1); }

}  // namespace
