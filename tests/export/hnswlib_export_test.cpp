// annforge's hnswlib export, loaded and searched by stock hnswlib (the header this machine has:
// Debian's libhnswlib-dev 0.6.2): the file loads, level 0 is annforge's graph exactly, labels
// are row ids, the hierarchy is well formed (level 0 annforge's graph, the tail of a list given up to
// long links only), and hnswlib's search at ef = 64 finds what
// annforge's own search at beam 64 finds (recall@10 within 0.01), on small data of every
// metric and element type and on real data where present.
#include <gtest/gtest.h>
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
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

std::unique_ptr<hnswlib::SpaceInterface<float>> space_for(Metric metric, size_t dim) {
  if (metric == Metric::L2) return std::make_unique<hnswlib::L2Space>(dim);
  return std::make_unique<hnswlib::InnerProductSpace>(dim);  // ip, and cosine over unit-length rows
}

// hnswlib's search of every query at ef = width: recall@k against `truth`.
double hnswlib_recall(hnswlib::HierarchicalNSW<float>& hnsw, const std::vector<float>& queries, int64_t dim,
                      const Neighbors& truth, int width) {
  hnsw.setEf(width);
  const int64_t rows = static_cast<int64_t>(queries.size()) / dim;
  std::vector<uint32_t> found(rows * kK, kInvalidId);
  for (int64_t q = 0; q < rows; ++q) {
    auto result = hnsw.searchKnn(&queries[q * dim], kK);
    for (int j = static_cast<int>(result.size()) - 1; j >= 0; --j) {
      found[q * kK + j] = static_cast<uint32_t>(result.top().second);
      result.pop();
    }
  }
  return recall(found, kK, truth.ids, truth.k, rows, kK);
}

// hnswlib's internal id (element) of `row`: the export stores elements in locality order, and
// each element's label is its row.
unsigned element_of(const hnswlib::HierarchicalNSW<float>& hnsw, int64_t row) {
  return static_cast<unsigned>(hnsw.label_lookup_.at(static_cast<hnswlib::labeltype>(row)));
}

// `row`'s links on `level` (0: the base), as rows.
std::vector<uint32_t> links_as_rows(hnswlib::HierarchicalNSW<float>& hnsw, int64_t row, int level) {
  const unsigned element = element_of(hnsw, row);
  unsigned* list = level == 0 ? hnsw.get_linklist0(element) : hnsw.get_linklist(element, level);
  std::vector<uint32_t> rows(hnsw.getListCount(list));
  for (size_t j = 0; j < rows.size(); ++j) rows[j] = static_cast<uint32_t>(hnsw.getExternalLabel(list[1 + j]));
  return rows;
}

// The median, over level 0's links, of how far apart the two ends lie: as elements
// (`as_rows` false) or as the rows their labels name.
double median_link_span(hnswlib::HierarchicalNSW<float>& hnsw, bool as_rows) {
  std::vector<double> apart;
  for (size_t e = 0; e < hnsw.cur_element_count; ++e) {
    unsigned* list = hnsw.get_linklist0(static_cast<unsigned>(e));
    for (unsigned j = 0; j < hnsw.getListCount(list); ++j) {
      const double from = as_rows ? static_cast<double>(hnsw.getExternalLabel(static_cast<unsigned>(e))) : e;
      const double to = as_rows ? static_cast<double>(hnsw.getExternalLabel(list[1 + j])) : list[1 + j];
      apart.push_back(std::abs(from - to));
    }
  }
  if (apart.empty()) return 0;
  std::nth_element(apart.begin(), apart.begin() + apart.size() / 2, apart.end());
  return apart[apart.size() / 2];
}

// Labels are the rows, each once; elements are in locality order: linked elements lie nearer
// each other than their rows do (1M SIFT's first 100K rows: median 13,354 elements apart against
// ~29,000 rows; MNIST 3,235 against ~17,000; 2026-12-07).
::testing::AssertionResult hnswlib_labels(hnswlib::HierarchicalNSW<float>& hnsw, int64_t rows) {
  std::vector<uint8_t> seen(static_cast<size_t>(rows), 0);
  for (size_t e = 0; e < hnsw.cur_element_count; ++e) {
    const hnswlib::labeltype label = hnsw.getExternalLabel(static_cast<unsigned>(e));
    if (label >= static_cast<size_t>(rows) || seen[label] != 0) {
      return ::testing::AssertionFailure() << "element " << e << " has label " << label;
    }
    seen[label] = 1;
  }
  if (rows >= 2000) {
    const double elements = median_link_span(hnsw, false), as_rows = median_link_span(hnsw, true);
    if (elements > 0.75 * as_rows) {
      return ::testing::AssertionFailure() << "half of level 0's links span over " << elements << " elements, "
                                           << as_rows << " rows: not in locality order";
    }
  }
  return ::testing::AssertionSuccess();
}

// Level 0 holds annforge's graph in order, but for up to half of a list's tail that long links
// took (with ExportLinks::Index; with Diverse, links to other rows, no repeats), labels are
// rows, upper lists are members of their level, and the entry point sits on the top level.
::testing::AssertionResult hnswlib_structure(hnswlib::HierarchicalNSW<float>& hnsw, const Index& index,
                                             ExportLinks links = ExportLinks::Index) {
  if (hnsw.cur_element_count != static_cast<size_t>(index.rows())) return ::testing::AssertionFailure() << "rows";
  // M = graph_degree / 2; upper lists have room for M long links; level 0 one slot more than the
  // degree (hnswlib reads the slot after a list's last link).
  const size_t m = static_cast<size_t>(index.graph_degree / 2);
  if (hnsw.M_ != m || hnsw.maxM0_ != static_cast<size_t>(index.graph_degree) + 1 || hnsw.maxM_ != 2 * m) {
    return ::testing::AssertionFailure() << "M " << hnsw.M_ << ", maxM0 " << hnsw.maxM0_ << ", maxM " << hnsw.maxM_;
  }
  if (hnsw.element_levels_[hnsw.enterpoint_node_] != hnsw.maxlevel_) {
    return ::testing::AssertionFailure() << "entry point " << hnsw.enterpoint_node_ << " is not on the top level";
  }
  const ::testing::AssertionResult labels = hnswlib_labels(hnsw, index.rows());
  if (!labels) return labels;
  for (int64_t i = 0; i < index.rows(); ++i) {
    const std::vector<uint32_t> list = links_as_rows(hnsw, i, 0);
    const unsigned count = static_cast<unsigned>(list.size());
    const uint32_t* expected = index.neighbors(i);
    // Never full: hnswlib's search prefetches one link past the last (hnswalg.h).
    const bool exact = links == ExportLinks::Index;
    if ((exact && count != static_cast<unsigned>(index.graph_degree)) || count == 0 || count >= hnsw.maxM0_) {
      return ::testing::AssertionFailure() << "row " << i << " has " << count << " level-0 links";
    }
    // annforge's graph first, in its order, at least its first half; then long links to other
    // rows, no repeats.
    unsigned kept = 0;
    while (exact && kept < count && list[kept] == expected[kept]) ++kept;
    if (exact && kept < static_cast<unsigned>(index.graph_degree - index.graph_degree / 2)) {
      return ::testing::AssertionFailure() << "row " << i << " keeps " << kept << " of its links";
    }
    std::set<uint32_t> linked;
    for (uint32_t to : list) {
      if (to >= index.rows() || to == i || !linked.insert(to).second) {
        return ::testing::AssertionFailure() << "row " << i << " links to " << to;
      }
    }
    const int top = hnsw.element_levels_[element_of(hnsw, i)];
    for (int level = 1; level <= top; ++level) {
      const std::vector<uint32_t> upper = links_as_rows(hnsw, i, level);
      if (upper.size() >= hnsw.maxM_) return ::testing::AssertionFailure() << "row " << i << " level " << level << " full";
      std::set<uint32_t> seen;
      for (uint32_t to : upper) {
        if (to >= index.rows() || to == i || hnsw.element_levels_[element_of(hnsw, to)] < level ||
            !seen.insert(to).second) {
          return ::testing::AssertionFailure() << "row " << i << " level " << level << " links to " << to;
        }
      }
    }
  }
  return ::testing::AssertionSuccess();
}

class HnswlibExport : public ::testing::TestWithParam<ExportCase> {};

TEST_P(HnswlibExport, LoadsAndSearchesAsAnnforgeDoes) {
  const ExportCase c = GetParam();
  const Exported e = exported_case(c);
  TempDir dir;
  const std::string path = dir.path() + "/index.hnsw";
  export_index(e.index, path, ExportParams{ExportFormat::Hnswlib});
  EXPECT_EQ(list_dir(dir.path()).size(), 1u) << "a temporary file was left beside the export";
  const auto space = space_for(c.metric, static_cast<size_t>(e.index.dim()));
  hnswlib::HierarchicalNSW<float> hnsw(space.get(), path);
  EXPECT_TRUE(hnswlib_structure(hnsw, e.index));
  EXPECT_GE(hnsw.maxlevel_, 1) << "20,000 rows at M = 16 have upper levels";
  // The vectors as written: a base row as the query finds itself first.
  const std::vector<float> rows = as_float_rows(e.base.view(), c.metric == Metric::Cosine);
  int self_found = 0;
  hnsw.setEf(kWidth);
  for (int64_t i = 0; i < 100; ++i) {
    auto result = hnsw.searchKnn(&rows[i * 97 * e.index.dim()], 1);
    self_found += !result.empty() && result.top().second == static_cast<size_t>(i * 97);
  }
  if (c.metric != Metric::InnerProduct) EXPECT_GE(self_found, 95);  // by ip, a row need not be its own nearest
  const double exported = hnswlib_recall(hnsw, e.query_floats, e.index.dim(), e.truth, kWidth);
  std::printf("[ export   ] hnswlib %s: recall@10 at ef %d %.4f, annforge at beam %d %.4f\n", case_name(c).c_str(),
              kWidth, exported, kWidth, e.annforge_recall);
  EXPECT_GE(exported, e.annforge_recall - 0.01);
}

// Level 0 chosen again by HNSW's heuristic (ExportLinks::Diverse): shorter lists than the
// index's, and hnswlib's search finds about what annforge's does at the same width.
TEST_P(HnswlibExport, DiverseLinksAreShorterAndSearchAsWell) {
  const ExportCase c = GetParam();
  const Exported e = exported_case(c);
  TempDir dir;
  const std::string path = dir.path() + "/index.hnsw";
  ExportParams params{ExportFormat::Hnswlib};
  params.links = ExportLinks::Diverse;
  export_index(e.index, path, params);
  const auto space = space_for(c.metric, static_cast<size_t>(e.index.dim()));
  hnswlib::HierarchicalNSW<float> hnsw(space.get(), path);
  EXPECT_TRUE(hnswlib_structure(hnsw, e.index, ExportLinks::Diverse));
  double links = 0;
  for (size_t i = 0; i < hnsw.cur_element_count; ++i) links += hnsw.getListCount(hnsw.get_linklist0(static_cast<unsigned>(i)));
  links /= static_cast<double>(e.index.rows());
  const double exported = hnswlib_recall(hnsw, e.query_floats, e.index.dim(), e.truth, kWidth);
  std::printf("[ export   ] hnswlib %s, diverse links: %.1f per row, recall@10 at ef %d %.4f, annforge %.4f\n",
              case_name(c).c_str(), links, kWidth, exported, e.annforge_recall);
  // Every metric (inner product ranks by -<x, y> and compares by angle: annforge.hpp, ExportLinks).
  EXPECT_LT(links, 0.9 * e.index.graph_degree);
  EXPECT_GE(exported, e.annforge_recall - 0.02);
}

INSTANTIATE_TEST_SUITE_P(Cases, HnswlibExport, ::testing::ValuesIn(export_cases()),
                         [](const ::testing::TestParamInfo<ExportCase>& info) { return case_name(info.param); });

TEST(HnswlibExport, ExportIsDeterministicAndTakesTheSeed) {
  const Exported e = exported_case({Metric::L2, ElementType::Float32}, 5000, 16);
  TempDir dir;
  export_index(e.index, dir.path() + "/a", ExportParams{ExportFormat::Hnswlib, 7, 1});
  export_index(e.index, dir.path() + "/b", ExportParams{ExportFormat::Hnswlib, 7, 2});
  export_index(e.index, dir.path() + "/c", ExportParams{ExportFormat::Hnswlib, 8, 2});
  EXPECT_EQ(read_bytes(dir.path() + "/a"), read_bytes(dir.path() + "/b"));
  EXPECT_NE(read_bytes(dir.path() + "/a"), read_bytes(dir.path() + "/c"));
}

TEST(HnswlibExport, IndexWithoutLevelsGetsThemBuilt) {
  // An index the GPU built (or an old file) has no upper levels: the export builds them all.
  Exported e = exported_case({Metric::L2, ElementType::Float32}, 8000, 16);
  e.index.levels.clear();
  TempDir dir;
  export_index(e.index, dir.path() + "/flat.hnsw", ExportParams{});
  hnswlib::L2Space space(16);
  hnswlib::HierarchicalNSW<float> hnsw(&space, dir.path() + "/flat.hnsw");
  EXPECT_TRUE(hnswlib_structure(hnsw, e.index));
  EXPECT_GE(hnsw.maxlevel_, 1);
  EXPECT_GE(hnswlib_recall(hnsw, e.query_floats, 16, e.truth, kWidth), e.annforge_recall - 0.01);
}

// Rows around `clusters` centres drawn N(0, 4^2) per dimension (by `centre_seed`), with noise
// N(0, spread^2) (by `stream`): well separated clusters. Other centres give queries that fall
// between the data's.
Dataset separated_clusters(int64_t rows, int64_t dim, int64_t clusters, uint64_t centre_seed, uint64_t stream,
                           double spread) {
  annforge_test::Rng centres(centre_seed), noise(stream);
  std::vector<double> centre(clusters * dim);
  for (double& c : centre) c = 4.0 * centres.normal();
  Dataset out = Dataset::allocate(rows, dim, ElementType::Float32);
  float* values = static_cast<float*>(out.mutable_data());
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t c = static_cast<int64_t>(noise.uniform() * clusters) % clusters;
    for (int64_t d = 0; d < dim; ++d) {
      values[i * dim + d] = static_cast<float>(centre[c * dim + d] + spread * noise.normal());
    }
  }
  return out;
}

// Well separated clusters: the base graph holds no link between them, and hnswlib's descent
// lands in one; the export's long links carry its search to the others. Level 0 has no slots
// beyond the degree, so rows give up the tail of their full lists to them: with full lists kept
// whole (no room for long links), hnswlib found recall@10 0.942 at ef 64 here, 0.996 with them
// (2026-12-07).
TEST(HnswlibExport, SeparatedClustersKeepTheirLongLinks) {
  const int64_t rows = 20000, dim = 32, clusters = 50;
  const Dataset base = separated_clusters(rows, dim, clusters, 91, 92, 0.3),
                queries = separated_clusters(500, dim, clusters, 91, 93, 0.3);
  const Index index = cpu_index(base);
  const Neighbors truth = exact_knn(base.view(), queries.view(), kK, Metric::L2);
  const double own = recall(search(index, queries.view(), kK, search_params(kWidth)), truth, kK);
  TempDir dir;
  export_index(index, dir.path() + "/clusters.hnsw", ExportParams{});
  hnswlib::L2Space space(dim);
  hnswlib::HierarchicalNSW<float> hnsw(&space, dir.path() + "/clusters.hnsw");
  EXPECT_TRUE(hnswlib_structure(hnsw, index));
  int64_t with_long_links = 0;
  for (int64_t i = 0; i < rows; ++i) {
    const std::vector<uint32_t> list = links_as_rows(hnsw, i, 0);
    with_long_links += list.size() != static_cast<size_t>(index.graph_degree) ||
                       !std::equal(list.begin(), list.end(), index.neighbors(i));
  }
  EXPECT_GT(with_long_links, 0) << "no row took a long link";
  const std::vector<float> query_floats(static_cast<const float*>(queries.view().data),
                                        static_cast<const float*>(queries.view().data) + 500 * dim);
  const double exported = hnswlib_recall(hnsw, query_floats, dim, truth, kWidth);
  std::printf("[ export   ] %lld rows in %lld separated clusters: %lld rows with long links over their tail, "
              "recall@10 at ef %d %.4f, annforge %.4f\n",
              static_cast<long long>(rows), static_cast<long long>(clusters), static_cast<long long>(with_long_links),
              kWidth, exported, own);
  EXPECT_GE(exported, own - 0.01);
}

// Queries that lie between well separated clusters (drawn around other centres than the data's):
// their neighbours sit in two or three clusters, and hnswlib's search, started from the one row
// its descent lands on, needs links between clusters in level 0, which a kNN graph of such data
// lacks. The export adds them (host/cpu/graph/cross_links.hpp): 20,000 x 24 in 100 clusters,
// recall@10 at ef 64 0.562 without them, 0.903 with, annforge's own search 0.841 (2026-12-07).
TEST(HnswlibExport, QueriesBetweenSeparatedClustersReachTheirNeighbours) {
  const int64_t rows = 20000, dim = 24, clusters = 100, count = 500;
  const Dataset base = separated_clusters(rows, dim, clusters, 5, 6, 1.0),
                queries = separated_clusters(count, dim, clusters, 7, 8, 1.0);
  // The build's own links across clusters left out, so that the export's are what is measured.
  setenv("ANNFORGE_CPU_CROSS", "2", 1);
  const Index index = cpu_index(base);
  unsetenv("ANNFORGE_CPU_CROSS");
  const Neighbors truth = exact_knn(base.view(), queries.view(), kK, Metric::L2);
  const double own = recall(search(index, queries.view(), kK, search_params(kWidth)), truth, kK);
  const std::vector<float> query_floats(static_cast<const float*>(queries.view().data),
                                        static_cast<const float*>(queries.view().data) + count * dim);
  hnswlib::L2Space space(dim);
  TempDir dir;
  auto exported_recall = [&](const char* name) {
    export_index(index, dir.path() + "/" + name, ExportParams{});
    hnswlib::HierarchicalNSW<float> hnsw(&space, dir.path() + "/" + name);
    EXPECT_TRUE(hnswlib_structure(hnsw, index));
    return hnswlib_recall(hnsw, query_floats, dim, truth, kWidth);
  };
  const double across = exported_recall("across.hnsw");
  setenv("ANNFORGE_EXPORT_CROSS", "2", 1);
  const double without = exported_recall("without.hnsw");
  unsetenv("ANNFORGE_EXPORT_CROSS");
  std::printf("[ export   ] queries between %lld clusters: hnswlib recall@10 at ef %d %.4f with links across "
              "clusters, %.4f without, annforge %.4f\n",
              static_cast<long long>(clusters), kWidth, across, without, own);
  EXPECT_GE(across, without + 0.2);
  EXPECT_GE(across, own - 0.01);
}

TEST(HnswlibExport, TinyIndexes) {
  // Two rows (degree 1, M 0 -> 1) and a handful: still files hnswlib loads and searches exactly.
  for (int64_t rows : {2, 5, 40}) {
    const Dataset base = clustered(rows, 8, ElementType::Float32, 3, 1);
    const Index index = cpu_index(base);
    TempDir dir;
    export_index(index, dir.path() + "/tiny.hnsw", ExportParams{});
    hnswlib::L2Space space(8);
    hnswlib::HierarchicalNSW<float> hnsw(&space, dir.path() + "/tiny.hnsw");
    ASSERT_EQ(hnsw.cur_element_count, static_cast<size_t>(rows));
    hnsw.setEf(16);
    for (int64_t i = 0; i < rows; ++i) {
      auto result = hnsw.searchKnn(base.view().row(i), 1);
      ASSERT_EQ(result.size(), 1u);
      EXPECT_EQ(result.top().second, static_cast<size_t>(i)) << rows << " rows";
    }
  }
}

TEST(HnswlibExport, BadTargetsAreClearErrors) {
  const Exported e = exported_case({Metric::L2, ElementType::Float32}, 4000, 16);
  TempDir dir;
  const std::string missing = dir.path() + "/no/such/folder/index.hnsw";
  EXPECT_TRUE(throws_error([&] { export_index(e.index, missing, ExportParams{}); }, ErrorCode::Io, {missing}));
  EXPECT_TRUE(list_dir(dir.path()).empty());
  Index empty;
  EXPECT_TRUE(throws_error([&] { export_index(empty, dir.path() + "/x", ExportParams{}); }, ErrorCode::InvalidArgument,
                           {dir.path() + "/x", "empty"}));
  Index broken = e.index;
  broken.graph.pop_back();
  EXPECT_TRUE(throws_error([&] { export_index(broken, dir.path() + "/y", ExportParams{}); },
                           ErrorCode::InvalidArgument, {"graph"}));
  EXPECT_TRUE(list_dir(dir.path()).empty());
  EXPECT_TRUE(throws_error([] { parse_export_format("nmslib"); }, ErrorCode::InvalidArgument, {"nmslib", "hnswlib"}));
}

// Real data (sift-vl-1m's first 100K rows; MNIST), skipped where the sets are not unpacked.
void real_data(const std::string& set, int64_t rows) {
  std::string looked;
  RealCase real;
  if (!load_real_case(set, rows, &real, &looked)) GTEST_SKIP() << set << " not found at " << looked << " (run scripts/data.sh)";
  const Dataset& base = real.base;
  const Dataset& queries = real.queries;
  const Neighbors& truth = real.truth;
  const Index& index = real.index;
  TempDir dir;
  const auto start = std::chrono::steady_clock::now();
  export_index(index, dir.path() + "/index.hnsw", ExportParams{});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  hnswlib::L2Space space(static_cast<size_t>(base.dim()));
  hnswlib::HierarchicalNSW<float> hnsw(&space, dir.path() + "/index.hnsw");
  EXPECT_TRUE(hnswlib_structure(hnsw, index));
  const std::vector<float> query_floats = as_float_rows(queries.view(), false);
  for (int width : {32, 64, 128}) {
    const double own = recall(search(index, queries.view(), kK, search_params(width)), truth, kK);
    const double exported = hnswlib_recall(hnsw, query_floats, base.dim(), truth, width);
    std::printf("[ export   ] hnswlib %s %lld rows (export %.2f s): width %d recall@10 %.4f, annforge %.4f\n",
                set.c_str(), static_cast<long long>(base.rows()), seconds, width, exported, own);
    EXPECT_GE(exported, own - 0.01) << "width " << width;
  }
  // Level 0 chosen again (ExportLinks::Diverse): shorter lists, about the same recall per width.
  ExportParams diverse;
  diverse.links = ExportLinks::Diverse;
  const auto diverse_start = std::chrono::steady_clock::now();
  export_index(index, dir.path() + "/diverse.hnsw", diverse);
  const double diverse_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - diverse_start).count();
  hnswlib::HierarchicalNSW<float> thinned(&space, dir.path() + "/diverse.hnsw");
  EXPECT_TRUE(hnswlib_structure(thinned, index, ExportLinks::Diverse));
  for (int width : {32, 64, 128}) {
    const double own = recall(search(index, queries.view(), kK, search_params(width)), truth, kK);
    const double exported = hnswlib_recall(thinned, query_floats, base.dim(), truth, width);
    std::printf("[ export   ] hnswlib %s, diverse links (export %.2f s): width %d recall@10 %.4f, annforge %.4f\n",
                set.c_str(), diverse_seconds, width, exported, own);
    EXPECT_GE(exported, own - 0.02) << "width " << width;  // fewer links: cheaper steps, a little less per width
  }
}

TEST(HnswlibExportRealData, SiftSlice100K) { real_data("sift-vl-1m", 100000); }
TEST(HnswlibExportRealData, Mnist) { real_data("mnist", -1); }

}  // namespace
