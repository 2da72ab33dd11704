// An overlapping partition of the data into clusters of bounded size: each vector joins its
// `overlap` nearest k-means clusters (next nearest when those are full).
#pragma once

#include <vector>

#include "annforge.hpp"

namespace annforge::cpu {

struct PartitionParams {
  int overlap = 3;
  int cluster_size = 1500;  // mean members per cluster, counting every overlap
  int kmeans_iterations = 4;
  int threads = 0;
  uint64_t seed = 42;
};

struct Partition {
  int clusters = 0;
  int overlap = 0;
  std::vector<int64_t> offsets;   // cluster c holds members[offsets[c] .. offsets[c+1])
  std::vector<uint32_t> members;  // row ids, ascending within a cluster
  std::vector<int> primary;       // per row: its nearest cluster that had room
};

Partition partition_into_clusters(const DatasetView& data, Metric metric, const PartitionParams& params);

}  // namespace annforge::cpu
