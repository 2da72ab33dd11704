// Exact k nearest neighbours by blocked brute force: tiles of queries against blocks of base
// rows sized to stay in cache, with a bounded max-heap per query.
#include <algorithm>
#include <limits>

#include "host/cpu/knn_graph.hpp"
#include "host/cpu/parallel.hpp"
#include "host/cpu/progress.hpp"
#include "kernels/shared/neighbor_list.hpp"

namespace annforge::cpu {
namespace {

// A max-heap of the k best (distance, id) pairs seen; the root is the worst kept.
class BoundedHeap {
 public:
  explicit BoundedHeap(int k) : k_(k) { items_.reserve(k); }
  float threshold() const {
    return static_cast<int>(items_.size()) < k_ ? std::numeric_limits<float>::infinity() : items_.front().first;
  }
  void push(float distance, uint32_t id) {
    auto worse = [](const Item& a, const Item& b) { return core::nearer(a.first, a.second, b.first, b.second); };
    if (static_cast<int>(items_.size()) < k_) {
      items_.emplace_back(distance, id);
      std::push_heap(items_.begin(), items_.end(), worse);
    } else if (core::nearer(distance, id, items_.front().first, items_.front().second)) {
      std::pop_heap(items_.begin(), items_.end(), worse);
      items_.back() = {distance, id};
      std::push_heap(items_.begin(), items_.end(), worse);
    }
  }
  // Writes the kept pairs nearest first, padding with (kInvalidId, +inf).
  void drain(uint32_t* ids, float* distances) {
    std::sort(items_.begin(), items_.end(),
              [](const Item& a, const Item& b) { return core::nearer(a.first, a.second, b.first, b.second); });
    for (int j = 0; j < k_; ++j) {
      bool have = j < static_cast<int>(items_.size());
      ids[j] = have ? items_[j].second : kInvalidId;
      distances[j] = have ? items_[j].first : std::numeric_limits<float>::infinity();
    }
    items_.clear();
  }

 private:
  using Item = std::pair<float, uint32_t>;
  int k_;
  std::vector<Item> items_;
};

}  // namespace

void brute_force_neighbors(const Distance& distance, const DatasetView& queries, int k, bool exclude_self,
                           int threads, const ProgressCallback& progress, uint32_t* ids, float* distances) {
  const DatasetView& base = distance.base();
  constexpr int64_t kQueryTile = 16;
  // Base rows per block: about 256 KiB of vectors, so a block stays in L2 while a tile of
  // queries sweeps it.
  const int64_t block_rows = std::max<int64_t>(64, (256 << 10) / std::max<size_t>(1, base.row_bytes()));
  ProgressReporter reporter(progress, "brute-force", queries.rows);
  parallel_for(queries.rows, threads, kQueryTile, [&](int64_t begin, int64_t end, int thread) {
    std::vector<BoundedHeap> heaps(end - begin, BoundedHeap(k));
    std::vector<float> query_norms(end - begin);
    for (int64_t q = begin; q < end; ++q) query_norms[q - begin] = distance.query_inverse_norm(queries.row(q));
    for (int64_t block = 0; block < base.rows; block += block_rows) {
      int64_t block_end = std::min(base.rows, block + block_rows);
      for (int64_t q = begin; q < end; ++q) {
        BoundedHeap& heap = heaps[q - begin];
        const void* query = queries.row(q);
        float norm = query_norms[q - begin];
        float threshold = heap.threshold();
        for (int64_t j = block; j < block_end; ++j) {
          float d = distance.to_query(query, norm, j);
          if (d <= threshold && !(exclude_self && j == q)) {
            heap.push(d, static_cast<uint32_t>(j));
            threshold = heap.threshold();
          }
        }
      }
    }
    for (int64_t q = begin; q < end; ++q) heaps[q - begin].drain(ids + q * k, distances + q * k);
    reporter.add(end - begin, thread);
  });
  reporter.finish();
}

KnnGraph brute_force_knn_graph(const Distance& distance, int k, int threads, const ProgressCallback& progress) {
  KnnGraph graph;
  graph.rows = distance.base().rows;
  graph.k = k;
  graph.ids.resize(graph.rows * k);
  graph.distances.resize(graph.rows * k);
  brute_force_neighbors(distance, distance.base(), k, true, threads, progress, graph.ids.data(),
                        graph.distances.data());
  return graph;
}

}  // namespace annforge::cpu
