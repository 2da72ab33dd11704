// An overlapping partition of the data into clusters of bounded size: each vector joins its
// `overlap` nearest k-means clusters (next nearest when those are full).
#pragma once

#include <vector>

#include "annforge.hpp"
#include "host/cpu/partition/coverage.hpp"

namespace annforge::cpu {

struct PartitionParams {
  // Each vector joins `overlap` clusters, more (up to `max_overlap`, at most 6) where fewer
  // than `coverage_target` of a sample's true 10-NN share a cluster with their row at that
  // overlap (coverage.hpp). max_overlap <= overlap fixes it. Three quarters: NN-Descent's
  // round finds most of the rest where no more is missing. Measured at 1M rows (Intel Xeon, 2
  // threads, 2026-12-03; coverage at overlap 3 over seeds 1-4 and 42): sift-vl-1m 0.71-0.77,
  // where overlap 4 costs 12% more build time for recall@10 0.951 -> 0.959 at beam 64;
  // wordtext-1m 0.68-0.73, overlap 5: 0.887 -> 0.909 for 7%; 1M x 64 in 50,000 clusters
  // 0.69, overlap 4: 0.975 -> 0.987 for 15%.
  int overlap = 3;
  int max_overlap = 5;
  double coverage_target = 0.75;
  // Where the coverage at overlap 5 stays under this, a second partition's all pairs follow
  // (repair/second_partition.hpp: second_partition_up_front), and the overlap is one less than
  // the coverage would choose (not under `overlap`): the second, differently cut partition puts
  // together more of what the first one's last overlap would. AMD EPYC Zen 4, 2 threads,
  // 2026-12-07, CLI builds alternated with the code before: 1M wordtext (cosine, overlap 5 -> 4)
  // 24.2-24.3 -> 22.5-23.1 s, recall@10 at beam 64 / 128 / 256 / 512 0.9329 / 0.9611 / 0.9791 /
  // 0.9896 -> 0.9274 / 0.9593 / 0.9786 / 0.9890; wordtext-ip 29.8-30.6 -> 25.5-26.1 s, 0.9046 /
  // 0.9555 / 0.9809 / 0.9910 -> 0.9027 / 0.9528 / 0.9788 / 0.9893. 0: no second partition comes.
  double second_partition_below = 0.0;
  int cluster_size = 1500;  // mean members per cluster, counting every overlap
  int kmeans_iterations = 4;
  int threads = 0;
  uint64_t seed = 42;
};

// Whether `coverage` (Partition::coverage: overlap 1, 2, ...) at overlap 5 is measured and under
// `below`: the one rule by which a second partition follows (repair/second_partition.hpp) and
// the first takes one overlap less (PartitionParams::second_partition_below).
inline bool coverage_short_at_overlap_five(const std::vector<double>& coverage, double below) {
  return coverage.size() >= 5 && coverage[4] < below;
}

struct Partition {
  int clusters = 0;
  int overlap = 0;
  std::vector<int64_t> offsets;   // cluster c holds members[offsets[c] .. offsets[c+1])
  std::vector<uint32_t> members;  // row ids, ascending within a cluster
  std::vector<int> primary;       // per row: its nearest cluster that had room
  std::vector<double> coverage;   // measured at the first clusters, overlap 1.. (empty: not measured)
  SampleNeighbours sample;        // the rows it was measured on, with their true neighbours
};

// The mean cluster size for vectors of `dim` dimensions: 1,500 up to 128 dimensions, then
// shrinking as 1/sqrt(dim) (600 at 784, MNIST). All-pairs work per vector grows with cluster
// size x dimension while recall grows slowly with cluster size; on MNIST, clusters of 600
// instead of 1,500 halve the all-pairs time (2.8 -> 1.4 s) for recall@10 0.9952 instead of
// 0.9965 at beam 32, where on 128-d SIFT smaller clusters save little (the per-member work
// of selection and merging stays) and cost recall (0.9500 -> 0.9420 at beam 64 for 750).
// `dot_cost_divisor`: how many times cheaper a pair's dots are than on the FMA paths, so that
// the rule sees dim / divisor dimensions. AMX's bf16 tiles (float_dots.hpp): 4 (the tile
// kernel took 11% of a 1M x 256 wordtext build's CPU time where the FMA tile took 40%);
// clusters of 1,500 instead of 1,061 there: recall@10 0.876 -> 0.887 at beam 64 for a build
// of 20.4 s instead of 19.9 s (Intel Xeon, 2 threads, 2026-12-03); vdpbf16ps 2
// (float_dots_cost_divisor).
int default_cluster_size(int64_t dim, int dot_cost_divisor = 1);

Partition partition_into_clusters(const DatasetView& data, Metric metric, const PartitionParams& params);

}  // namespace annforge::cpu
