// How much of the true kNN graph a partition lets the all-pairs stage see: for a sample of rows,
// the share of their nearest neighbours that fall in one of the clusters the row itself joins.
// The partition measures this before it commits to an overlap, so that data whose neighbours
// straddle cluster borders (high intrinsic dimension: text embeddings, many small clusters) puts
// each vector in more clusters, and easy data keeps the cheap default.
#pragma once

#include <cstdint>
#include <vector>

#include "annforge.hpp"

namespace annforge::cpu {

class CentroidTree;

// A random sample of rows and each one's nearest neighbours in the whole data set (itself
// excluded), ranked by float dot products in blocked matrix products (bf16 on AMX for float
// data): the rank of a row is exact up to that rounding (near ties may swap), which is all a
// coverage estimate needs.
struct SampleNeighbours {
  int k = 0;
  std::vector<uint32_t> rows;       // the sampled rows
  std::vector<uint32_t> neighbours; // rows.size() x k, nearest first; kInvalidId past the data
};
SampleNeighbours sample_neighbours(const DatasetView& data, Metric metric, int samples, int k, int threads,
                                   uint64_t seed);

// covered[o - 1], o = 1 .. max_overlap: the share of the sample's (row, neighbour) pairs that
// have a centroid among both members' o nearest, i.e. the pairs a partition in which every row
// joins its o nearest clusters puts together. `normalise` as the tree was built (by direction).
std::vector<double> neighbour_coverage(const DatasetView& data, bool normalise, const CentroidTree& tree,
                                       const SampleNeighbours& sample, int max_overlap);

// The smallest overlap in [lowest, highest] whose coverage reaches `target`, else `highest`.
int overlap_for_coverage(const std::vector<double>& covered, int lowest, int highest, double target);

}  // namespace annforge::cpu
