// k-means in float on a sample of the data: the partition behind the clustered kNN stage and
// the spread-out entry points of the search. Large partitions use a two-level tree of
// centroids, so placing a vector costs ~2 sqrt(C) distances instead of C.
#pragma once

#include <limits>
#include <random>
#include <vector>

#include "host/cpu/all_pairs/pair_tiles.hpp"
#include "host/cpu/distance/distance.hpp"

namespace annforge::cpu {

// One row as float (normalised when asked, so that clusters follow angles for cosine).
void row_as_float(const DatasetView& data, int64_t i, bool normalise, float* out);

// Centroids with their squared norms: the nearest centroid by L2 is the one with the smallest
// ||c||^2 - 2 <x, c>, one dot product per centroid.
struct Centroids {
  int count = 0;
  int64_t dim = 0;
  std::vector<float> values;
  std::vector<float> squared_norms;  // fp32 path only, of the centred values (the bf16 path keeps its own)
  std::vector<float> panels;  // the centred values packed for the blocked dot kernel (dot_block.hpp)
  // The mean of the values: both paths rank by values minus it (refresh_norms), so that neither
  // the fp32 sums nor bf16's rounding follow the data's distance from the origin. Where the
  // default float path is bf16 (AMX, or vdpbf16ps; ANNFORGE_CPU_DOTS=fp32 turns it off) the
  // centred values are bfloat16 panels for its dots (default_bf16_dots, float_dots.hpp).
  std::vector<float> centre;
  Bf16Pack bf16;

  // Norms and panels, after the values change.
  void refresh_norms(const KernelTable& f32);
  // The `want` nearest centroids of each of `count` row-major rows (no padding needed: both
  // paths copy the rows, centred, into their own padded block), nearest first, with their
  // scores, from one blocked matrix product: out[i * want + w]. The scores are ||c||^2 - 2 <x, c> on every
  // path (on the bf16 path within its rounding, ranked by the centred values).
  void nearest_block(const float* rows, int count, int want, int* out, float* scores, std::vector<float>& dots) const;
  // The same for rows given by pointers: the bf16 path rounds each row straight from where it
  // is; the fp32 path gathers them, centred, into a padded block.
  void nearest_rows(const float* const* rows, int count, int want, int* out, float* scores,
                    std::vector<float>& dots) const;
};

// The nearest centroid of each of `count` row-major float points (and its score, ||c||^2 -
// 2 <x, c>, where `scores` is given), by blocked matrix products on `threads` threads.
void nearest_of_all(const Centroids& centroids, const float* points, int64_t count, int* out, float* scores,
                    int threads);

// Lloyd's algorithm on `count` float points; empty clusters restart at random points.
Centroids lloyd(const float* points, int64_t count, int64_t dim, int clusters, int iterations, int threads,
                std::mt19937_64& rng);

// A random sample of rows as floats (without replacement); `rows_out` receives their ids.
std::vector<float> sample_as_float(const DatasetView& data, int64_t count, bool normalise, std::mt19937_64& rng,
                                   std::vector<int64_t>* rows_out);

// `clusters` centroids from k-means on a sample, and for each centroid the sampled row nearest
// to it (kInvalidId when none is): real vectors that stand for their regions.
struct SampledCentroids {
  Centroids centroids;
  std::vector<uint32_t> representatives;
};
SampledCentroids kmeans_on_sample(const DatasetView& data, bool normalise, int clusters, int iterations, int threads,
                                  uint64_t seed);

// About `clusters` centroids as a two-level tree: coarse k-means, then k-means inside each
// coarse cell with centroids in proportion to its share of the sample. nearest_batch() probes
// the few nearest coarse cells only (exact search below ~256 centroids, where a tree is no gain).
class CentroidTree {
 public:
  CentroidTree(const DatasetView& data, bool normalise, int clusters, int iterations, int threads, uint64_t seed);
  int count() const { return count_; }
  // The `want` nearest centroids of each of `count` rows, nearest first, by blocked matrix
  // products: the rows against the coarse centroids, then each cell's fine centroids against the
  // rows that probe it (gathered). Rows are row-major floats; out[i * want + w].
  void nearest_batch(const float* rows, int64_t count, int want, int* out) const;

 private:
  int count_ = 0;
  Centroids coarse_;
  std::vector<Centroids> fine_;
  std::vector<int> first_id_;  // global id of each cell's first fine centroid
  int probes_ = 1;
};

}  // namespace annforge::cpu
