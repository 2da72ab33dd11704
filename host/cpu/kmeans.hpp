// k-means on a sample of the data, in float: the partition behind the clustered kNN stage and
// the spread-out entry points of the search.
#pragma once

#include <limits>
#include <vector>

#include "host/cpu/distance.hpp"

namespace annforge::cpu {

// One row as float (normalised when asked, so that clusters follow angles for cosine).
void row_as_float(const DatasetView& data, int64_t i, bool normalise, float* out);

// Centroids with their squared norms: the nearest centroid by L2 is the one with the smallest
// ||c||^2 - 2 <x, c>, one dot product per centroid.
struct Centroids {
  // For each centroid, the sample row nearest to it (a real vector standing for the cluster).
  std::vector<uint32_t> representatives;
  int count = 0;
  int64_t dim = 0;
  std::vector<float> values;
  std::vector<float> squared_norms;

  void refresh_norms(const KernelTable& f32) {
    squared_norms.resize(count);
    for (int c = 0; c < count; ++c) squared_norms[c] = f32.dot(&values[c * dim], &values[c * dim], dim);
  }
  // The `want` nearest centroids of x, nearest first.
  void nearest(const KernelTable& f32, const float* x, int want, int* out) const {
    float best[8];
    for (int w = 0; w < want; ++w) best[w] = std::numeric_limits<float>::infinity(), out[w] = 0;
    for (int c = 0; c < count; ++c) {
      float score = squared_norms[c] - 2.0f * f32.dot(x, &values[c * dim], dim);
      if (score >= best[want - 1]) continue;
      int pos = want - 1;
      while (pos > 0 && score < best[pos - 1]) best[pos] = best[pos - 1], out[pos] = out[pos - 1], --pos;
      best[pos] = score;
      out[pos] = c;
    }
  }
};

// `clusters` centroids from `iterations` rounds of Lloyd's algorithm on a random sample.
Centroids kmeans_on_sample(const DatasetView& data, bool normalise, int clusters, int iterations, int threads,
                           uint64_t seed);

}  // namespace annforge::cpu
