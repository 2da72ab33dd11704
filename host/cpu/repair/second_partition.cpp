// The second partition of second_partition.hpp.
#include "host/cpu/repair/second_partition.hpp"

#include <algorithm>
#include <utility>

#include "host/cpu/all_pairs/list_merge.hpp"
#include "host/cpu/graph/graph_optimize.hpp"
#include "host/cpu/knn_graph.hpp"
#include "host/cpu/parallel.hpp"
#include "host/cpu/partition/partition.hpp"
#include "host/cpu/random.hpp"
#include "host/cpu/trace.hpp"
#include "host/huge_pages.hpp"

namespace annforge::cpu {

bool strands_walks(const UpperWidthMeasurement& width, Metric metric) {
  return metric != Metric::InnerProduct && width.samples > 0 && width.missed[2] >= kStrandedShare;
}

bool second_partition_up_front(const Partition& first) {
  return coverage_short_at_overlap_five(first.coverage, kOnePartitionCoverage);
}

int nn_descent_rounds(int asked, bool second_partition) {
  return asked >= 0 ? asked : second_partition ? 1 : 0;
}

namespace {

// The second partition's parameters: another seed than the first's, overlap kSecondPartitionOverlap.
PartitionParams second_partitioning(int cluster_size, int threads, uint64_t seed) {
  PartitionParams partitioning;
  partitioning.threads = threads;
  partitioning.seed = mix64(seed ^ 0x5EC0D9A7717104ull);
  partitioning.cluster_size = cluster_size;
  partitioning.overlap = partitioning.max_overlap = kSecondPartitionOverlap;
  return partitioning;
}

}  // namespace

KnnGraph add_second_partition(const Distance& distance, KnnGraph knn, int cluster_size, int threads, uint64_t seed,
                              const FirstPass& decided, const ProgressCallback& progress) {
  StageTimer timer;
  const PartitionParams partitioning = second_partitioning(cluster_size, threads, seed);
  Partition partition = partition_into_clusters(distance.base(), distance.metric(), partitioning);
  release_free_heap();
  timer.lap("second partition (overlap %d)", kSecondPartitionOverlap);
  const int k = knn.k;
  knn = cluster_knn_graph(distance, partition, k, threads, partitioning.seed, decided, progress, std::move(knn));
  timer.lap("all pairs inside the second partition's clusters, merged into the lists (k=%d)", k);
  return knn;
}

std::vector<uint32_t> repartitioned_graph(const DatasetView& data, Metric metric, std::vector<uint32_t> graph,
                                          int degree, int k, int cluster_size, int threads, uint64_t seed,
                                          const ProgressCallback& progress) {
  StageTimer timer;
  const int64_t rows = data.rows;
  const PartitionParams partitioning = second_partitioning(cluster_size, threads, seed);
  Partition partition = partition_into_clusters(data, metric, partitioning);
  release_free_heap();
  timer.lap("second partition (overlap %d)", kSecondPartitionOverlap);
  const Distance distance(metric, data);
  KnnGraph knn = cluster_knn_graph(distance, partition, k, threads, partitioning.seed, FirstPass{}, progress);
  partition = Partition{};
  timer.lap("all pairs inside the second partition's clusters (k=%d)", k);
  // Each row's links that its list from the second partition lacks, measured (their rows lie
  // anywhere: Distance::row_to_rows requests them a block ahead), sorted and merged in.
  parallel_for(rows, threads, 1024, [&](int64_t begin, int64_t end, int) {
    std::vector<std::pair<float, uint32_t>> links(degree);
    std::vector<const void*> pointers(degree);
    std::vector<float> norms(degree), measured(degree);
    std::vector<uint32_t> ids(degree), scratch_ids(k);
    std::vector<float> distances(degree), scratch_distances(k);
    ListIds listed(k);
    for (int64_t r = begin; r < end; ++r) {
      const size_t at = static_cast<size_t>(r) * k;
      listed.fill(&knn.ids[at], k);
      const uint32_t* row = &graph[static_cast<size_t>(r) * degree];
      int count = 0;
      for (int j = 0; j < degree; ++j) {
        if (row[j] >= rows || row[j] == r || listed.contains(row[j])) continue;
        ids[count++] = row[j];
      }
      distance.row_to_rows(r, ids.data(), count, pointers.data(), norms.data(), measured.data());
      for (int j = 0; j < count; ++j) links[j] = {measured[j], ids[j]};
      std::sort(links.begin(), links.begin() + count);
      for (int j = 0; j < count; ++j) distances[j] = links[j].first, ids[j] = links[j].second;
      merge_sorted(&knn.ids[at], &knn.distances[at], ids.data(), distances.data(), count, k, scratch_ids.data(),
                   scratch_distances.data());
    }
  });
  graph = std::vector<uint32_t>();
  timer.lap("the graph's links merged into the second partition's lists");
  std::vector<uint32_t> optimised = optimize_graph(std::move(knn), degree, threads, progress);
  timer.lap("graph optimisation");
  return optimised;
}

}  // namespace annforge::cpu
