// The CPU backend: kNN graph (brute force or NN-Descent), graph optimisation, beam search.
#include <algorithm>

#include "host/backend.hpp"
#include "host/cpu/beam_search.hpp"
#include "host/cpu/connectivity.hpp"
#include "host/cpu/entry_point.hpp"
#include "host/cpu/extend.hpp"
#include "host/cpu/graph_optimize.hpp"
#include "host/cpu/knn_graph.hpp"
#include "host/cpu/parallel.hpp"
#include "host/cpu/trace.hpp"

namespace annforge::cpu {
namespace {

// Below this many rows the exact all-pairs kNN graph costs less than NN-Descent's rounds
// (measured on sift-vl-1m slices, see NOTES.md), and it is exact.
constexpr int64_t kBruteForceMaxRows = 3000;
// Search entry points per index: a query's first step costs this many distances (about a
// microsecond), and in return starts near the query's own region of the data.
constexpr int kEntryPoints = 128;

class CpuBackend final : public detail::Backend {
 public:
  const char* name() const override { return "cpu"; }

  void build(Index& index, const BuildParams& params) override {
    const DatasetView& data = index.vectors.view();
    const int threads = resolve_threads(params.threads);
    const int64_t rows = data.rows;
    const int degree = static_cast<int>(std::min<int64_t>(params.graph_degree, rows - 1));
    const int k = static_cast<int>(std::min<int64_t>(params.intermediate_degree, rows - 1));
    index.graph_degree = degree;
    StageTimer timer;
    index.entry_points = choose_entry_points(data, index.metric, kEntryPoints, threads, params.seed);
    timer.lap("%d entry points", static_cast<int>(index.entry_points.size()));
    if (degree == 0) {
      index.graph.clear();
      return;
    }
    Distance distance(index.metric, data);
    bool brute = params.algorithm == BuildAlgorithm::BruteForce ||
                 (params.algorithm == BuildAlgorithm::Auto && rows <= kBruteForceMaxRows);
    KnnGraph knn;
    if (brute) {
      knn = brute_force_knn_graph(distance, k, threads, params.progress);
    } else {
      // NN-Descent starts from the clustered graph, which is already close: a few rounds repair
      // the neighbours that cluster borders cut off.
      ClusterParams clustering;
      clustering.k = k;
      clustering.threads = threads;
      clustering.seed = params.seed;
      KnnGraph initial = cluster_knn_graph(distance, clustering, params.progress);
      NNDescentParams nn;
      nn.initial = &initial;
      nn.k = k;
      nn.max_iterations = params.nn_descent_iterations;
      nn.termination = params.nn_descent_termination;
      nn.threads = threads;
      nn.seed = params.seed;
      knn = nn_descent_knn_graph(distance, nn, params.progress);
    }
    timer.lap("knn graph (%s, k=%d)", brute ? "brute force" : "nn-descent", k);
    index.graph = optimize_graph(knn, degree, threads, params.progress);
    timer.lap("graph optimisation (degree %d)", degree);
    int64_t rewired = connect_islands(index.graph, graph_of(index), distance);
    timer.lap("connectivity: %lld islands joined", static_cast<long long>(rewired));
  }

  void search(const Index& index, const DatasetView& queries, int k, const SearchParams& params, uint32_t* ids,
              float* distances) override {
    Distance distance(index.metric, index.vectors.view());
    BeamSearchParams beam;
    beam.k = k;
    beam.beam_width = params.beam_width;
    beam.threads = params.threads;
    beam_search(graph_of(index), distance, queries, beam, params.progress, ids, distances);
  }

  void extend(Index& index, int64_t first_new_row, const BuildParams& params) override {
    extend_graph(index, first_new_row, params);
  }

  void exact_knn(const DatasetView& base, const DatasetView& queries, int k, Metric metric, int threads,
                 const ProgressCallback& progress, uint32_t* ids, float* distances) override {
    Distance distance(metric, base);
    brute_force_neighbors(distance, queries, k, false, threads, progress, ids, distances);
  }
};

}  // namespace
}  // namespace annforge::cpu

namespace annforge::detail {
Backend& cpu_backend() {
  static cpu::CpuBackend backend;
  return backend;
}
}  // namespace annforge::detail
