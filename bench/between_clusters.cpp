// Queries that fall between well separated clusters (drawn around other centres than the data's:
// a query set from elsewhere than the data), on annforge's own search, its hnswlib export (the
// default and the diverse level-0 links) and hnswlib's own index (M = degree / 2,
// efConstruction 200), all in one run: recall@10 per width, distances per query for the hnswlib
// indexes (counted: this VM's timings move 10-30% between runs) and queries/s on one thread.
// See host/cpu/graph/cross_links.hpp for why the export links clusters.
//
//   between_clusters [ROWS=60000] [DIM=24] [CLUSTERS=200] [QUERIES=2000] [DEGREE=32] [l2|cosine]
//
// Rows: centres N(0, 4^2) per dimension, noise N(0, 1); queries: the same around other centres.
// cosine: the same rows and queries under the cosine metric (hnswlib: unit rows and queries in
// its inner-product space, as the export writes them).
#include <hnswlib/hnswlib.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "annforge.hpp"

namespace {

using namespace annforge;

std::vector<float> mixture(int64_t rows, int dim, int clusters, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> centre(0, 4), noise(0, 1);
  std::vector<float> centres(static_cast<size_t>(clusters) * dim), out(static_cast<size_t>(rows) * dim);
  for (float& c : centres) c = centre(rng);
  std::uniform_int_distribution<int> pick(0, clusters - 1);
  for (int64_t i = 0; i < rows; ++i) {
    const int c = pick(rng);
    for (int d = 0; d < dim; ++d) out[i * dim + d] = centres[static_cast<size_t>(c) * dim + d] + noise(rng);
  }
  return out;
}

long counted = 0;
hnswlib::DISTFUNC<float> wrapped = nullptr;
float counted_distance(const void* a, const void* b, const void* parameters) {
  ++counted;
  return wrapped(a, b, parameters);
}
// hnswlib's space (L2, or inner product over unit rows for cosine) with its distances counted
// (one thread).
class CountingSpace : public hnswlib::SpaceInterface<float> {
 public:
  CountingSpace(size_t dim, bool cosine) {
    if (cosine) {
      space_.reset(new hnswlib::InnerProductSpace(dim));
    } else {
      space_.reset(new hnswlib::L2Space(dim));
    }
    wrapped = space_->get_dist_func();
  }
  size_t get_data_size() override { return space_->get_data_size(); }
  hnswlib::DISTFUNC<float> get_dist_func() override { return counted_distance; }
  void* get_dist_func_param() override { return space_->get_dist_func_param(); }

 private:
  std::unique_ptr<hnswlib::SpaceInterface<float>> space_;
};

void normalise(std::vector<float>& rows, int dim) {
  for (size_t i = 0; i < rows.size(); i += dim) {
    double norm = 0;
    for (int d = 0; d < dim; ++d) norm += double(rows[i + d]) * rows[i + d];
    const float scale = norm > 0 ? static_cast<float>(1.0 / std::sqrt(norm)) : 1.0f;
    for (int d = 0; d < dim; ++d) rows[i + d] *= scale;
  }
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int run(int argc, char** argv) {
  const int64_t rows = argc > 1 ? std::atoll(argv[1]) : 60000;
  const int dim = argc > 2 ? std::atoi(argv[2]) : 24;
  const int clusters = argc > 3 ? std::atoi(argv[3]) : 200;
  const int64_t count = argc > 4 ? std::atoll(argv[4]) : 2000;
  const int degree = argc > 5 ? std::atoi(argv[5]) : 32;
  const std::string metric_name = argc > 6 ? argv[6] : "l2";
  if (rows < 2 || dim < 1 || clusters < 1 || count < 1 || degree < 2 || (metric_name != "l2" && metric_name != "cosine")) {
    std::fprintf(stderr, "usage: between_clusters [ROWS>=2] [DIM>=1] [CLUSTERS>=1] [QUERIES>=1] [DEGREE>=2] [l2|cosine]\n");
    return 2;
  }
  const bool cosine = metric_name == "cosine";
  const Metric metric = cosine ? Metric::Cosine : Metric::L2;
  const std::vector<float> base = mixture(rows, dim, clusters, 1), queries = mixture(count, dim, clusters, 2);
  const DatasetView base_view{base.data(), rows, dim, ElementType::Float32};
  const DatasetView query_view{queries.data(), count, dim, ElementType::Float32};
  const Neighbors truth = exact_knn(base_view, query_view, 10, metric);
  // hnswlib's copies: unit rows and queries for cosine (its inner-product space).
  std::vector<float> hnsw_base = base, hnsw_queries = queries;
  if (cosine) {
    normalise(hnsw_base, dim);
    normalise(hnsw_queries, dim);
  }
  auto recall_of = [&](const std::vector<uint32_t>& found) {
    double hits = 0;
    for (int64_t q = 0; q < count; ++q) {
      const std::set<uint32_t> t(truth.ids.begin() + q * 10, truth.ids.begin() + q * 10 + 10);
      for (int j = 0; j < 10; ++j) hits += t.count(found[q * 10 + j]);
    }
    return hits / static_cast<double>(count * 10);
  };

  BuildParams build_params;
  build_params.graph_degree = degree;
  build_params.metric = metric;
  auto start = std::chrono::steady_clock::now();
  const Index index = build(Dataset::borrow(base_view), build_params);
  const double build_s = seconds_since(start);
  const std::string folder = std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp";
  const std::string plain = folder + "/between_clusters_index.hnsw", diverse = folder + "/between_clusters_diverse.hnsw";
  start = std::chrono::steady_clock::now();
  export_index(index, plain, ExportParams{ExportFormat::Hnswlib});
  const double export_s = seconds_since(start);
  ExportParams diverse_params{ExportFormat::Hnswlib};
  diverse_params.links = ExportLinks::Diverse;
  start = std::chrono::steady_clock::now();
  export_index(index, diverse, diverse_params);
  const double diverse_s = seconds_since(start);
  CountingSpace space(dim, cosine);
  hnswlib::HierarchicalNSW<float> exported(&space, plain), exported_diverse(&space, diverse);
  start = std::chrono::steady_clock::now();
  hnswlib::HierarchicalNSW<float> native(&space, rows, degree / 2, 200);
  for (int64_t i = 0; i < rows; ++i) native.addPoint(&hnsw_base[i * dim], static_cast<size_t>(i));
  const double native_s = seconds_since(start);
  std::remove(plain.c_str());
  std::remove(diverse.c_str());
  std::printf("%lld x %d in %d clusters (%s), %lld queries from other centres, degree %d; annforge build %.2f s, "
              "export %.2f s (diverse %.2f s), hnswlib M%d efC200 build %.2f s\n",
              static_cast<long long>(rows), dim, clusters, to_string(metric), static_cast<long long>(count), degree,
              build_s, export_s,
              diverse_s, degree / 2, native_s);
  std::printf("%5s | %-17s | %-24s | %-24s | %-24s\n", "width", "annforge: recall q/s", "export: recall dist/q",
              "diverse: recall dist/q", "hnswlib: recall dist/q q/s");
  for (int width : {16, 32, 64, 128, 256}) {
    SearchParams params;
    params.beam_width = width;
    params.threads = 1;
    search(index, query_view, 10, params);  // warm
    start = std::chrono::steady_clock::now();
    const Neighbors own = search(index, query_view, 10, params);
    const double own_qps = count / seconds_since(start);
    double results[3][3] = {};
    int which = 0;
    for (hnswlib::HierarchicalNSW<float>* h : {&exported, &exported_diverse, &native}) {
      h->setEf(width);
      std::vector<uint32_t> found(count * 10, kInvalidId);
      counted = 0;
      start = std::chrono::steady_clock::now();
      for (int64_t q = 0; q < count; ++q) {
        auto result = h->searchKnn(&hnsw_queries[q * dim], 10);
        for (int j = static_cast<int>(result.size()) - 1; j >= 0; --j, result.pop()) {
          found[q * 10 + j] = static_cast<uint32_t>(result.top().second);
        }
      }
      // The counting wrapper slows hnswlib a little; the same for every index it reads.
      results[which][2] = count / seconds_since(start);
      results[which][0] = recall_of(found);
      results[which][1] = static_cast<double>(counted) / count;
      ++which;
    }
    std::printf("%5d | %.4f %9.0f | %.4f %7.0f          | %.4f %7.0f          | %.4f %7.0f %8.0f\n", width,
                recall_of(own.ids), own_qps, results[0][0], results[0][1], results[1][0], results[1][1], results[2][0],
                results[2][1], results[2][2]);
  }
  return 0;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "between_clusters: error: %s\n", e.what());
    return 1;
  }
}
