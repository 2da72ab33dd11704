// Lloyd's k-means on a random sample, with empty clusters restarted at random sample points.
#include "host/cpu/kmeans.hpp"

#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>

#include "host/cpu/parallel.hpp"

namespace annforge::cpu {

// One row as float (normalised for cosine, so clusters follow angles).
void row_as_float(const DatasetView& data, int64_t i, bool normalise, float* out) {
  const uint8_t* row = data.row(i);
  switch (data.type) {
    case ElementType::Float32: std::memcpy(out, row, data.dim * sizeof(float)); break;
    case ElementType::UInt8:
      for (int64_t c = 0; c < data.dim; ++c) out[c] = row[c];
      break;
    case ElementType::Int8:
      for (int64_t c = 0; c < data.dim; ++c) out[c] = static_cast<int8_t>(row[c]);
      break;
  }
  if (normalise) {
    float norm = 0.0f;
    for (int64_t c = 0; c < data.dim; ++c) norm += out[c] * out[c];
    float scale = norm > 0.0f ? 1.0f / std::sqrt(norm) : 0.0f;
    for (int64_t c = 0; c < data.dim; ++c) out[c] *= scale;
  }
}

Centroids kmeans_on_sample(const DatasetView& data, bool normalise, int clusters, int iterations, int threads,
                           uint64_t seed) {
  const KernelTable& f32 = kernels_for(ElementType::Float32);
  const int64_t dim = data.dim;
  const int64_t sample_rows = std::min<int64_t>(data.rows, std::max<int64_t>(int64_t{clusters} * 40, 10000));
  std::mt19937_64 rng(seed);
  std::vector<int64_t> picks(data.rows);
  std::vector<float> sample(sample_rows * dim);
  {
    // A random sample without replacement (partial Fisher-Yates over the row ids).
    std::iota(picks.begin(), picks.end(), 0);
    for (int64_t i = 0; i < sample_rows; ++i) {
      std::uniform_int_distribution<int64_t> pick(i, data.rows - 1);
      std::swap(picks[i], picks[pick(rng)]);
      row_as_float(data, picks[i], normalise, &sample[i * dim]);
    }
  }
  Centroids centroids;
  centroids.count = clusters;
  centroids.dim = dim;
  centroids.values.assign(sample.begin(), sample.begin() + clusters * dim);  // the first picks seed them
  std::vector<int> label(sample_rows);
  for (int iteration = 0; iteration < iterations; ++iteration) {
    centroids.refresh_norms(f32);
    parallel_for(sample_rows, threads, 256, [&](int64_t begin, int64_t end, int) {
      for (int64_t i = begin; i < end; ++i) centroids.nearest(f32, &sample[i * dim], 1, &label[i]);
    });
    std::vector<double> sums(static_cast<size_t>(clusters) * dim, 0.0);
    std::vector<int64_t> sizes(clusters, 0);
    for (int64_t i = 0; i < sample_rows; ++i) {
      double* sum = &sums[static_cast<size_t>(label[i]) * dim];
      const float* x = &sample[i * dim];
      for (int64_t c = 0; c < dim; ++c) sum[c] += x[c];
      ++sizes[label[i]];
    }
    std::uniform_int_distribution<int64_t> any(0, sample_rows - 1);
    for (int c = 0; c < clusters; ++c) {
      float* centroid = &centroids.values[static_cast<size_t>(c) * dim];
      if (sizes[c] == 0) {  // an empty cluster restarts at a random sample point
        std::memcpy(centroid, &sample[any(rng) * dim], dim * sizeof(float));
        continue;
      }
      for (int64_t d = 0; d < dim; ++d) centroid[d] = static_cast<float>(sums[static_cast<size_t>(c) * dim + d] / sizes[c]);
    }
  }
  centroids.refresh_norms(f32);
  // Representatives: per centroid, the nearest sample row among those assigned to it
  // (||x - c||^2 = ||x||^2 + score). A centroid that attracts no sample row gets none.
  std::vector<float> best(clusters, std::numeric_limits<float>::infinity());
  centroids.representatives.assign(clusters, kInvalidId);
  for (int64_t i = 0; i < sample_rows; ++i) {
    const float* x = &sample[i * dim];
    int c;
    centroids.nearest(f32, x, 1, &c);
    float d = f32.dot(x, x, dim) + centroids.squared_norms[c] - 2.0f * f32.dot(x, &centroids.values[c * dim], dim);
    if (d < best[c]) best[c] = d, centroids.representatives[c] = static_cast<uint32_t>(picks[i]);
  }
  return centroids;
}

}  // namespace annforge::cpu
