// What the export tests share: an index over small clustered data of each metric and element
// type, the queries as the exporting library wants them (float32; unit length for cosine), and
// the exact neighbours and annforge's own recall to hold the exported index to.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "annforge.hpp"
#include "tests/test_support.hpp"

namespace annforge_export_test {

constexpr int kK = 10;
constexpr int kWidth = 64;  // hnswlib's ef, FAISS's efSearch, annforge's beam

struct ExportCase {
  annforge::Metric metric;
  annforge::ElementType type;
};
inline std::string case_name(const ExportCase& c) {
  return std::string(annforge::to_string(c.metric)) + "_" + annforge::to_string(c.type);
}
inline const std::vector<ExportCase>& export_cases() {
  static const std::vector<ExportCase> cases{{annforge::Metric::L2, annforge::ElementType::Float32},
                                             {annforge::Metric::L2, annforge::ElementType::UInt8},
                                             {annforge::Metric::InnerProduct, annforge::ElementType::Float32},
                                             {annforge::Metric::Cosine, annforge::ElementType::Float32},
                                             {annforge::Metric::Cosine, annforge::ElementType::Int8}};
  return cases;
}

// Rows as float32, scaled to unit length for cosine (how the exported file holds them).
inline std::vector<float> as_float_rows(const annforge::DatasetView& v, bool unit_length) {
  std::vector<float> out(static_cast<size_t>(v.rows * v.dim));
  for (int64_t i = 0; i < v.rows; ++i) {
    double norm = 0.0;
    for (int64_t j = 0; j < v.dim; ++j) {
      out[i * v.dim + j] = static_cast<float>(annforge_test::element(v, i, j));
      norm += static_cast<double>(out[i * v.dim + j]) * out[i * v.dim + j];
    }
    if (unit_length && norm > 0.0) {
      for (int64_t j = 0; j < v.dim; ++j) out[i * v.dim + j] = static_cast<float>(out[i * v.dim + j] / std::sqrt(norm));
    }
  }
  return out;
}

struct Exported {
  annforge::Dataset base, queries;
  annforge::Index index;
  annforge::Neighbors truth;
  double annforge_recall = 0.0;  // annforge's own search at kWidth
  std::vector<float> query_floats;
};

// An index over `rows` clustered rows of `dim` dimensions, built on the CPU, with 200 queries
// from the same clusters, their exact neighbours and annforge's recall at kWidth.
inline Exported exported_case(const ExportCase& c, int64_t rows = 20000, int64_t dim = 32) {
  Exported e;
  e.base = annforge_test::clustered(rows, dim, c.type, 11, 1);
  e.queries = annforge_test::clustered(200, dim, c.type, 11, 2);
  annforge::BuildParams params;
  params.metric = c.metric;
  params.device = annforge::Device::Cpu;
  params.threads = 2;
  e.index = annforge::build(e.base, params);
  e.truth = annforge::exact_knn(e.base.view(), e.queries.view(), kK, c.metric);
  const annforge::Neighbors found = annforge::search(e.index, e.queries.view(), kK, annforge_test::search_params(kWidth));
  e.annforge_recall = annforge_test::recall(found, e.truth, kK);
  e.query_floats = as_float_rows(e.queries.view(), c.metric == annforge::Metric::Cosine);
  return e;
}

// An index built on the CPU with the default parameters (and `metric`).
inline annforge::Index cpu_index(const annforge::Dataset& base, annforge::Metric metric = annforge::Metric::L2) {
  annforge::BuildParams params;
  params.metric = metric;
  params.device = annforge::Device::Cpu;
  return annforge::build(base, params);
}

// A real data set for the export tests: the first `rows` rows of `set`'s base (all when
// negative), 1,000 queries, their exact neighbours by L2 and the index. False, with `looked`
// saying where the set was looked for, when it is not unpacked.
struct RealCase {
  annforge::Dataset base, queries;
  annforge::Neighbors truth;
  annforge::Index index;
};
inline bool load_real_case(const std::string& set, int64_t rows, RealCase* out, std::string* looked) {
  const std::string folder = annforge_test::find_data_set(set, looked);
  if (folder.empty()) return false;
  out->base = annforge::read_vectors(folder + "/base.bvecs", rows);
  out->queries = annforge::read_vectors(folder + "/query.bvecs", 1000);
  out->truth = annforge::exact_knn(out->base.view(), out->queries.view(), kK, annforge::Metric::L2);
  out->index = cpu_index(out->base);
  return true;
}

}  // namespace annforge_export_test
