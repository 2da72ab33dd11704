// Overlapping, size-capped k-means partition of the data: the blocks of the clustered kNN stage.
#include "host/cpu/partition/partition.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <string>

#include "host/cpu/partition/coverage.hpp"
#include "host/cpu/partition/kmeans.hpp"
#include "host/cpu/parallel.hpp"
#include "host/cpu/trace.hpp"

namespace annforge::cpu {

namespace {

constexpr int kMaxOverlap = 6;
// 200 rows x 10 neighbours: the coverage to about +-0.03 (neighbours of one row are not
// independent), for ~0.2 s of blocked dot products at 1M x 256.
constexpr int kCoverageSamples = 200;
constexpr int kCoverageNeighbours = 10;

std::string format_fractions(const std::vector<double>& fractions) {
  std::string text;
  char number[16];
  for (size_t i = 0; i < fractions.size(); ++i) {
    std::snprintf(number, sizeof number, "%s%.3f", i ? ", " : "", fractions[i]);
    text += number;
  }
  return text;
}

}  // namespace

int default_cluster_size(int64_t dim, int dot_cost_divisor) {
  dim = (dim + dot_cost_divisor - 1) / std::max(1, dot_cost_divisor);
  if (dim <= 128) return 1500;
  return static_cast<int>(std::max(500.0, std::round(1500.0 * std::sqrt(128.0 / static_cast<double>(dim)))));
}

Partition partition_into_clusters(const DatasetView& data, Metric metric, const PartitionParams& params) {
  const int64_t rows = data.rows;
  const int threads = resolve_threads(params.threads);
  int overlap = std::clamp(params.overlap, 1, kMaxOverlap);
  const int max_overlap = std::clamp(params.max_overlap, overlap, kMaxOverlap);
  // Inner product as what it is: a row's nearest by -<q, x> are long rows pointing its way, so
  // clusters are made by direction (k-means on unit vectors), as for cosine; by L2 position,
  // rows of one direction but different lengths fall into different clusters. wordtext-ip, 200K
  // rows, recall@10 at beam 64 / 128: 0.868 / 0.915 by position, 0.912 / 0.951 by direction.
  const bool normalise = metric != Metric::L2;
  // Clusters of the wanted mean size whatever the overlap: more overlap means more clusters,
  // so the all-pairs work grows with the overlap, not with its square.
  int cluster_size = std::max(params.cluster_size, 2);
  auto centroid_tree = [&](int with_overlap) {
    const int wanted = static_cast<int>(std::clamp<int64_t>(rows * with_overlap / cluster_size, 1, rows));
    return CentroidTree(data, normalise, wanted, params.kmeans_iterations, threads, params.seed);
  };
  StageTimer timer;

  CentroidTree tree = centroid_tree(overlap);
  timer.lap("clusters: k-means, %d centroids", tree.count());
  std::vector<double> covered;
  SampleNeighbours sample;
  // Whether the coverage chooses the overlap (and may grow the clusters); tracing measures it
  // either way, and a fixed overlap keeps its clusters, traced or not.
  const bool choosing = max_overlap > overlap;
  if (choosing || tracing()) {
    // The overlap from what it buys: the share of a sample's true 10-NN that the clusters at
    // each overlap would put together with their row. High-intrinsic-dimension data (text
    // embeddings, many small clusters) needs more than the default to reach the target, easy
    // data keeps it. Measured at the default's clusters, then the clusters are made again at
    // the chosen overlap (the same mean size, so more of them).
    sample = sample_neighbours(data, metric, kCoverageSamples, kCoverageNeighbours, threads, params.seed);
    covered = neighbour_coverage(data, normalise, tree, sample, std::max(max_overlap, overlap + 3));
    int chosen = overlap_for_coverage(covered, overlap, max_overlap, params.coverage_target);
    const bool second_follows = choosing && coverage_short_at_overlap_five(covered, params.second_partition_below);
    if (second_follows) chosen = std::max(overlap, chosen - 1);
    timer.lap("clusters: true %d-NN of %zu sampled rows sharing a cluster at overlap 1..%zu: %s; overlap %d%s",
              sample.k, sample.rows.size(), covered.size(), format_fractions(covered).c_str(), chosen,
              second_follows ? " (a second partition follows)" : "");
    // Where even the highest overlap leaves the coverage short of the target, larger clusters
    // too: by (target / coverage)^2, at most 1.5x (all-pairs work grows with the size). 1M
    // wordtext-ip (coverage 0.62-0.66 at overlap 5): clusters of 2,250 instead of 1,500 took
    // all pairs from 7.0 to 8.5 s and recall@10 at beam 128 from 0.939 to 0.948; 200K x 64 in
    // 50,000 clusters (0.63): 0.896 -> 0.911 at beam 128 (2026-12-04).
    const double at_highest = chosen - 1 < static_cast<int>(covered.size()) ? covered[chosen - 1] : 1.0;
    const double grow = std::clamp(std::pow(params.coverage_target / std::max(at_highest, 1e-3), 2.0), 1.0, 1.5);
    const bool grown = choosing && chosen == max_overlap && grow > 1.0;
    if (grown) {
      cluster_size = static_cast<int>(std::lround(cluster_size * grow));
      timer.lap("clusters: coverage %.3f at overlap %d: mean size %d", at_highest, chosen, cluster_size);
    }
    if (chosen != overlap || grown) {
      overlap = chosen;
      tree = centroid_tree(overlap);
      if (tracing()) {
        const std::vector<double> now = neighbour_coverage(data, normalise, tree, sample, overlap + 1);
        timer.lap("clusters: k-means again, %d centroids; coverage at overlap 1..%d: %s", tree.count(), overlap + 1,
                  format_fractions(now).c_str());
      }
    }
  }
  int clusters = tree.count();
  const int used_overlap = std::min(overlap, clusters);

  // Every vector joins `used_overlap` of its nearest clusters. All-pairs work grows with the
  // square of a cluster's size, so clusters are capped at 1.5x the mean for the overlap: a
  // vector whose second, third... nearest clusters are full joins its next nearest instead. Its
  // nearest cluster it always joins: where every cluster near it was full, the cap sent a vector
  // of well separated data only to clusters of another region, its kNN list held none of its
  // true neighbours, no row near it linked to it, and no search found it (1M x 64 in 5,000
  // clusters: 3% of queries missed one of their 10 nearest at any beam; recall@10 at beam 128
  // 0.9956 -> 0.9972, 1M SIFT the same build time). Vectors are placed in a seeded random order,
  // so the overflow is spread evenly and the result is deterministic.
  const int choices = std::min(clusters, used_overlap + 3);
  std::vector<int> nearest(rows * choices);
  parallel_for(rows, threads, 4096, [&](int64_t begin, int64_t end, int) {
    std::vector<float> x((end - begin) * data.dim);
    for (int64_t i = begin; i < end; ++i) row_as_float(data, i, normalise, &x[(i - begin) * data.dim]);
    tree.nearest_batch(x.data(), end - begin, choices, &nearest[begin * choices]);
  });
  timer.lap("clusters: %d nearest centroids of every row", choices);
  const int64_t capacity = std::max<int64_t>(2, rows * used_overlap * 3 / (2 * clusters));
  std::vector<int64_t> filled(clusters, 0);
  std::vector<int> membership(rows * used_overlap, -1);  // -1: fewer clusters than the overlap
  int64_t memberships = 0;
  {
    std::vector<uint32_t> order(rows);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), std::mt19937_64(params.seed ^ 0xC1u));
    for (uint32_t i : order) {
      const int* options = &nearest[static_cast<int64_t>(i) * choices];
      int* joined = &membership[static_cast<int64_t>(i) * used_overlap];
      int placed = 0;
      if (options[0] >= 0) joined[placed++] = options[0];
      for (int o = 1; o < choices && placed < used_overlap; ++o) {
        if (options[o] >= 0 && filled[options[o]] < capacity) joined[placed++] = options[o];
      }
      // Every option full: the vector still needs one cluster, its nearest; the overlap
      // memberships it would add to full clusters are dropped instead (forcing them made
      // "hub" clusters, nearest second choice of many, grow to 8x the work of a balanced
      // partition on data with well separated clusters).
      if (placed == 0 && options[0] >= 0) joined[placed++] = options[0];
      for (int p = 0; p < placed; ++p) ++filled[joined[p]];
      memberships += placed;
    }
  }
  // A cluster still above twice the cap (vectors that all have the same nearest options:
  // duplicates, or one very dense spot) is cut into pieces of the cap, in row order. All-pairs
  // work grows with the square of a cluster's size; without this, a data set of identical
  // vectors would be one cluster of every row.
  int total_clusters = clusters;
  {
    std::vector<int> first_piece(clusters, -1);
    std::vector<int64_t> seen(clusters, 0);
    for (int c = 0; c < clusters; ++c) {
      if (filled[c] > 2 * capacity) {
        first_piece[c] = total_clusters;
        total_clusters += static_cast<int>((filled[c] + capacity - 1) / capacity) - 1;
      }
    }
    if (total_clusters > clusters) {
      for (int& c : membership) {
        if (c < 0 || first_piece[c] < 0) continue;
        const int64_t piece = seen[c]++ / capacity;
        if (piece > 0) c = first_piece[c] + static_cast<int>(piece) - 1;
      }
    }
  }
  const int split_pieces = total_clusters - clusters;
  clusters = total_clusters;
  Partition partition;
  partition.clusters = clusters;
  partition.overlap = used_overlap;
  partition.coverage = std::move(covered);
  partition.sample = std::move(sample);
  std::vector<int64_t>& offsets = partition.offsets;
  offsets.assign(clusters + 1, 0);
  for (int c : membership) {
    if (c >= 0) ++offsets[c + 1];
  }
  std::partial_sum(offsets.begin(), offsets.end(), offsets.begin());
  std::vector<uint32_t>& members = partition.members;
  members.resize(offsets.back());
  {
    std::vector<int64_t> cursor(offsets.begin(), offsets.end() - 1);
    for (int64_t i = 0; i < rows; ++i) {
      for (int o = 0; o < used_overlap; ++o) {
        int c = membership[i * used_overlap + o];
        if (c >= 0) members[cursor[c]++] = static_cast<uint32_t>(i);
      }
    }
  }
  int64_t largest = 0;
  double pairs = 0;  // all-pairs work, against the balanced ideal
  for (int c = 0; c < clusters; ++c) {
    const int64_t size = offsets[c + 1] - offsets[c];
    largest = std::max(largest, size);
    pairs += static_cast<double>(size) * size;
  }
  const double balanced = static_cast<double>(offsets.back()) * offsets.back() / clusters;
  timer.lap("clusters: assignment, overlap %d (%.2f per row), mean size %lld, largest %lld, work %.2fx balanced "
            "(%.3g pairs), %d pieces split off",
            used_overlap, static_cast<double>(memberships) / rows, static_cast<long long>(offsets.back() / clusters),
            static_cast<long long>(largest), pairs / balanced, pairs, split_pieces);
  // A vector's primary cluster is its first (nearest available) one.
  partition.primary.resize(rows);
  for (int64_t i = 0; i < rows; ++i) partition.primary[i] = membership[i * used_overlap];
  return partition;
}

}  // namespace annforge::cpu
