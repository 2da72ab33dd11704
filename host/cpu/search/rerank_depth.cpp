#include "host/cpu/search/rerank_depth.hpp"

#include <algorithm>
#include <vector>

#include "host/cpu/parallel.hpp"

namespace annforge::cpu {

namespace {

constexpr int kSamples = 256;
constexpr int kNearest = 10;

}  // namespace

RerankDepth measure_rerank_depth(const GraphView& graph, const Distance& distance, const ApproximateRows& rows,
                                 int threads) {
  const DatasetView& base = distance.base();
  const int64_t count = base.rows;
  if (graph.ids == nullptr || graph.degree == 0 || count <= 2 * kNearest) return RerankDepth{};
  const int samples = static_cast<int>(std::min<int64_t>(kSamples, count));
  std::vector<int> depths(samples, 0);
  parallel_for(samples, threads, 16, [&](int64_t begin, int64_t end, int) {
    std::vector<uint32_t> pool;
    std::vector<const void*> exact_rows, compact_rows;
    std::vector<float> norms, exact, compact, prepared(rows.prepared_size());
    std::vector<std::pair<float, uint32_t>> order;
    std::vector<int> rank_of;
    for (int64_t s = begin; s < end; ++s) {
      const uint32_t r = static_cast<uint32_t>(s * count / samples);
      // The two-hop neighbourhood, each row once, without r.
      pool.clear();
      const uint32_t* list = graph.neighbors(r);
      for (int j = 0; j < graph.degree; ++j) {
        if (list[j] >= count) continue;
        pool.push_back(list[j]);
        const uint32_t* second = graph.neighbors(list[j]);
        for (int i = 0; i < graph.degree; ++i) {
          if (second[i] < count) pool.push_back(second[i]);
        }
      }
      std::sort(pool.begin(), pool.end());
      pool.erase(std::unique(pool.begin(), pool.end()), pool.end());
      pool.erase(std::remove(pool.begin(), pool.end(), r), pool.end());
      const int n = static_cast<int>(pool.size());
      if (n <= kNearest) continue;
      exact_rows.resize(n);
      compact_rows.resize(n);
      norms.resize(n);
      for (int i = 0; i < n; ++i) {
        exact_rows[i] = base.row(pool[i]);
        compact_rows[i] = rows.bytes() + static_cast<size_t>(pool[i]) * rows.row_bytes();
        norms[i] = distance.inverse_norm_of(pool[i]);
      }
      exact.resize(n);
      compact.resize(n);
      distance.raw_many(base.row(r), distance.inverse_norm_of(r), exact_rows.data(), norms.data(), n, exact.data());
      prepare_query(rows, reinterpret_cast<const float*>(base.row(r)), distance.inverse_norm_of(r), prepared.data());
      approximate_distances(rows, prepared.data(), compact_rows.data(), n, compact.data());
      // Rank of each pool row by the compact distances, then the deepest of the exact nearest.
      order.resize(n);
      for (int i = 0; i < n; ++i) order[i] = {compact[i], static_cast<uint32_t>(i)};
      std::sort(order.begin(), order.end());
      rank_of.resize(n);
      for (int i = 0; i < n; ++i) rank_of[order[i].second] = i;
      for (int i = 0; i < n; ++i) order[i] = {exact[i], static_cast<uint32_t>(i)};
      std::partial_sort(order.begin(), order.begin() + kNearest, order.end());
      int deepest = 0;
      for (int i = 0; i < kNearest; ++i) deepest = std::max(deepest, rank_of[order[i].second] + 1);
      depths[s] = deepest;
    }
  });
  std::sort(depths.begin(), depths.end());
  RerankDepth depth;
  depth.typical = depths[samples * 9 / 10];
  depth.at_10 = std::max(26, depths[std::min(samples - 1, samples * 99 / 100)]);
  return depth;
}

}  // namespace annforge::cpu
