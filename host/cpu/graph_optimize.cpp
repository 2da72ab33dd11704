// Graph optimisation on the CPU: detour counting with a small per-vector rank table, then
// reverse edges collected rank by rank so that each vector keeps its strongest in-edges.
#include "host/cpu/graph_optimize.hpp"

#include <algorithm>

#include "host/cpu/parallel.hpp"
#include "host/cpu/progress.hpp"
#include "kernels/shared/prune_core.hpp"

namespace annforge::cpu {
std::vector<uint32_t> prune_by_detours(const KnnGraph& knn, int degree, int threads) {
  const int k = knn.k;
  std::vector<uint32_t> pruned(knn.rows * degree);
  parallel_for(knn.rows, threads, 512, [&](int64_t begin, int64_t end, int) {
    // rank_of[id] = 1 + the rank of id in the current vector's list, 0 when absent: one load per
    // lookup. Per thread, reset after each vector, so it costs its size once.
    std::vector<uint16_t> rank_of(knn.rows, 0);
    // counts[1 + r] counts detours of the edge at rank r; counts[k + 1 ..  k + 8] absorb the
    // branch-free increments of lookups that are no detour, spread over eight slots by position
    // so that they do not form one chain of dependent read-modify-writes through memory.
    std::vector<uint16_t> counts(k + 9), detours(k), kept(degree);
    for (int64_t v = begin; v < end; ++v) {
      const uint32_t* list = &knn.ids[v * k];
      for (int r = 0; r < k; ++r) rank_of[list[r]] = static_cast<uint16_t>(r + 1);
      std::fill(counts.begin(), counts.end(), 0);
      for (int j = 0; j + 1 < k; ++j) __builtin_prefetch(&knn.ids[static_cast<int64_t>(list[j]) * k]);
      // Only neighbours w at rank j < k-1 can make a detour, and only through their own first
      // k-1 entries (a detour needs both hops shorter in rank than the direct edge:
      // core::is_detour). Written without branches: whether an id is in the list and whether
      // it makes a detour are both unpredictable.
      for (int j = 0; j + 1 < k; ++j) {
        const uint32_t* via = &knn.ids[static_cast<int64_t>(list[j]) * k];
        for (int p = 0; p + 1 < k; ++p) {
          const int rank_plus_one = rank_of[via[p]];
          const bool detour = rank_plus_one > std::max(j, p) + 1;
          ++counts[detour ? rank_plus_one : k + 1 + (p & 7)];
        }
      }
      for (int r = 0; r < k; ++r) detours[r] = counts[r + 1];
      for (int r = 0; r < k; ++r) rank_of[list[r]] = 0;
      core::select_by_detours(detours.data(), k, degree, kept.data());
      for (int e = 0; e < degree; ++e) pruned[v * degree + e] = list[kept[e]];
    }
  });
  return pruned;
}

std::vector<uint32_t> merge_reverse_edges(const std::vector<uint32_t>& pruned, int64_t rows, int degree, int threads) {
  // Reverse lists gathered position by position: an in-edge from a vector that ranks this one
  // higher (smaller position) is collected first and survives the cap.
  std::vector<uint32_t> reverse(rows * degree);
  std::vector<int> reverse_count(rows, 0);
  for (int p = 0; p < degree; ++p) {
    for (int64_t v = 0; v < rows; ++v) {
      uint32_t u = pruned[v * degree + p];
      if (reverse_count[u] < degree) reverse[static_cast<int64_t>(u) * degree + reverse_count[u]++] = static_cast<uint32_t>(v);
    }
  }
  // Each vector's merge reads only its own lists: in parallel.
  std::vector<uint32_t> graph(rows * degree);
  parallel_for(rows, threads, 4096, [&](int64_t begin, int64_t end, int) {
    for (int64_t v = begin; v < end; ++v) {
      core::merge_forward_and_reverse(&pruned[v * degree], &reverse[v * degree], reverse_count[v], degree,
                                      &graph[v * degree]);
    }
  });
  return graph;
}

std::vector<uint32_t> optimize_graph(const KnnGraph& knn, int degree, int threads, const ProgressCallback& progress) {
  // Pruning indexes by the ids in the lists: an unfilled slot would index out of bounds. The
  // kNN stages always fill every list; this keeps a broken stage from becoming memory damage.
  for (uint32_t id : knn.ids) {
    if (id >= static_cast<uint64_t>(knn.rows)) {
      throw Error(ErrorCode::Internal, "graph optimisation: the kNN graph holds an unfilled or out-of-range neighbour");
    }
  }
  ProgressReporter reporter(progress, "optimize", 2);
  std::vector<uint32_t> pruned = prune_by_detours(knn, degree, threads);
  reporter.add(1, 0);
  std::vector<uint32_t> graph = merge_reverse_edges(pruned, knn.rows, degree, threads);
  reporter.finish();
  return graph;
}

}  // namespace annforge::cpu
