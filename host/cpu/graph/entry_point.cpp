// Centroid in double precision, then one pass of squared distances in float.
#include "host/cpu/graph/entry_point.hpp"

#include <limits>
#include <mutex>
#include <vector>

#include "host/cpu/partition/kmeans.hpp"
#include "host/cpu/parallel.hpp"

namespace annforge::cpu {
namespace {

template <typename T>
void accumulate(const DatasetView& data, int64_t begin, int64_t end, std::vector<double>& sum) {
  for (int64_t i = begin; i < end; ++i) {
    const T* row = reinterpret_cast<const T*>(data.row(i));
    for (int64_t c = 0; c < data.dim; ++c) sum[c] += row[c];
  }
}

template <typename T>
float squared_distance(const T* row, const std::vector<float>& point) {
  float sum = 0.0f;
  for (size_t c = 0; c < point.size(); ++c) {
    float d = static_cast<float>(row[c]) - point[c];
    sum += d * d;
  }
  return sum;
}

template <typename T>
uint32_t nearest(const DatasetView& data, int threads) {
  std::mutex merge;
  std::vector<double> total(data.dim, 0.0);
  parallel_for(data.rows, threads, 8192, [&](int64_t begin, int64_t end, int) {
    std::vector<double> partial(data.dim, 0.0);
    accumulate<T>(data, begin, end, partial);
    std::lock_guard<std::mutex> lock(merge);
    for (int64_t c = 0; c < data.dim; ++c) total[c] += partial[c];
  });
  std::vector<float> centroid(data.dim);
  for (int64_t c = 0; c < data.dim; ++c) centroid[c] = static_cast<float>(total[c] / data.rows);
  float best_distance = std::numeric_limits<float>::infinity();
  int64_t best = 0;
  parallel_for(data.rows, threads, 8192, [&](int64_t begin, int64_t end, int) {
    float local_distance = std::numeric_limits<float>::infinity();
    int64_t local = begin;
    for (int64_t i = begin; i < end; ++i) {
      float d = squared_distance(reinterpret_cast<const T*>(data.row(i)), centroid);
      if (d < local_distance) local_distance = d, local = i;
    }
    std::lock_guard<std::mutex> lock(merge);
    if (local_distance < best_distance || (local_distance == best_distance && local < best)) {
      best_distance = local_distance;
      best = local;
    }
  });
  return static_cast<uint32_t>(best);
}

}  // namespace

uint32_t nearest_to_centroid(const DatasetView& data, int threads) {
  switch (data.type) {
    case ElementType::Float32: return nearest<float>(data, threads);
    case ElementType::UInt8: return nearest<uint8_t>(data, threads);
    case ElementType::Int8: return nearest<int8_t>(data, threads);
  }
  return 0;
}

std::vector<uint32_t> choose_entry_points(const DatasetView& data, Metric metric, int count, int threads, uint64_t seed) {
  std::vector<uint32_t> entries{nearest_to_centroid(data, threads)};
  if (count <= 1 || data.rows < 2) return entries;
  const int regions = static_cast<int>(std::min<int64_t>(count - 1, data.rows - 1));
  SampledCentroids centroids = kmeans_on_sample(data, metric == Metric::Cosine, regions, 3, threads, seed ^ 0xE7u);
  for (uint32_t row : centroids.representatives) {
    if (row == kInvalidId) continue;
    bool repeat = false;
    for (uint32_t e : entries) repeat = repeat || e == row;
    if (!repeat) entries.push_back(row);
  }
  return entries;
}

}  // namespace annforge::cpu
