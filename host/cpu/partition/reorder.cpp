// Renumbering by cluster, and moving data, partitions and graphs between the two numberings.
#include "host/cpu/partition/reorder.hpp"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "host/cpu/parallel.hpp"
#include "host/huge_pages.hpp"

namespace annforge::cpu {

Renumbering renumber_by_cluster(const Partition& partition) {
  const int64_t rows = static_cast<int64_t>(partition.primary.size());
  Renumbering order;
  // Counting sort by primary cluster keeps ids ascending within a cluster.
  std::vector<int64_t> start(partition.clusters + 1, 0);
  for (int c : partition.primary) ++start[c + 1];
  std::partial_sum(start.begin(), start.end(), start.begin());
  order.old_of_new.resize(rows);
  order.new_of_old.resize(rows);
  for (int64_t v = 0; v < rows; ++v) {
    int64_t slot = start[partition.primary[v]]++;
    order.old_of_new[slot] = static_cast<uint32_t>(v);
    order.new_of_old[v] = static_cast<uint32_t>(slot);
  }
  return order;
}

Dataset reorder_rows(const DatasetView& data, const Renumbering& order, int threads) {
  return gather_rows(data, order.old_of_new.data(), data.rows, threads);
}

Dataset gather_rows(const DatasetView& data, const uint32_t* rows, int64_t count, int threads) {
  Dataset out = Dataset::allocate(count, data.dim, data.type);
  auto* bytes = static_cast<uint8_t*>(out.mutable_data());
  const size_t row_bytes = data.row_bytes();
  prefault(bytes, count * row_bytes, resolve_threads(threads));
  parallel_for(count, threads, 4096, [&](int64_t begin, int64_t end, int) {
    for (int64_t i = begin; i < end; ++i) std::memcpy(bytes + i * row_bytes, data.row(rows[i]), row_bytes);
  });
  return out;
}

void renumber_partition(Partition& partition, const Renumbering& order, int threads) {
  parallel_for(partition.clusters, threads, 16, [&](int64_t begin, int64_t end, int) {
    for (int64_t c = begin; c < end; ++c) {
      auto first = partition.members.begin() + partition.offsets[c], last = partition.members.begin() + partition.offsets[c + 1];
      for (auto it = first; it != last; ++it) *it = order.new_of_old[*it];
      std::sort(first, last);
    }
  });
  std::vector<int> primary(partition.primary.size());
  for (size_t v = 0; v < primary.size(); ++v) primary[order.new_of_old[v]] = partition.primary[v];
  partition.primary = std::move(primary);
}

std::vector<uint32_t> graph_in_old_ids(const std::vector<uint32_t>& graph, int degree, const Renumbering& order,
                                       int threads) {
  const int64_t rows = static_cast<int64_t>(order.old_of_new.size());
  std::vector<uint32_t> out;
  assign_huge(out, graph.size(), 0u, resolve_threads(threads));
  parallel_for(rows, threads, 4096, [&](int64_t begin, int64_t end, int) {
    for (int64_t v = begin; v < end; ++v) {
      const uint32_t* from = &graph[v * degree];
      uint32_t* to = &out[static_cast<int64_t>(order.old_of_new[v]) * degree];
      for (int e = 0; e < degree; ++e) to[e] = order.old_of_new[from[e]];
    }
  });
  return out;
}

KnnGraph knn_in_old_ids(const KnnGraph& knn, const Renumbering& order, int threads) {
  KnnGraph out;
  out.rows = knn.rows;
  out.k = knn.k;
  const size_t entries = static_cast<size_t>(knn.rows) * knn.k;
  assign_huge(out.ids, entries, 0u, resolve_threads(threads));
  assign_huge(out.distances, entries, 0.0f, resolve_threads(threads));
  parallel_for(knn.rows, threads, 4096, [&](int64_t begin, int64_t end, int) {
    for (int64_t v = begin; v < end; ++v) {
      const size_t from = static_cast<size_t>(v) * knn.k;
      const size_t to = static_cast<size_t>(order.old_of_new[v]) * knn.k;
      for (int j = 0; j < knn.k; ++j) {
        const uint32_t id = knn.ids[from + j];
        out.ids[to + j] = id == kInvalidId ? kInvalidId : order.old_of_new[id];
        out.distances[to + j] = knn.distances[from + j];
      }
    }
  });
  return out;
}

}  // namespace annforge::cpu
