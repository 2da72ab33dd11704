// How large a float32 row may be: every kernel computes distances in float32, so a row whose
// squared norm nears FLT_MAX gives infinite or NaN distances, which no ranking survives (values
// of 1e20 in 16 dimensions, all finite, crashed the build's k-means on 2026-12-07). build(),
// search(), extend() and exact_knn() refuse such rows (check_vectors), and the index loader a
// file that holds one.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace annforge::detail {

// Every distance between two rows within it (L2 up to (|a| + |b|)^2 = 4 x this, a dot product up
// to this) and the kernels' intermediate sums (|a|^2 + |b|^2 - 2 <a, b>) stay finite with room to
// spare: FLT_MAX / 16, a norm of ~4.6e18.
constexpr float kLargestSquaredNorm = 3.4028234e38f / 16.0f;

// The sum of squares in float: infinite where it overflows, NaN where a value is NaN (so one
// comparison with kLargestSquaredNorm refuses NaN, infinity and overflow alike). Eight lanes, so
// that the compiler vectorises it without reassociating; memcpy, so that `values` may be
// unaligned (a mapped index file).
inline float squared_norm(const void* values, int64_t dim) {
  const auto* bytes = static_cast<const unsigned char*>(values);
  float lanes[8] = {};
  int64_t i = 0;
  for (; i + 8 <= dim; i += 8) {
    float v[8];
    std::memcpy(v, bytes + i * sizeof(float), sizeof v);
    for (int j = 0; j < 8; ++j) lanes[j] += v[j] * v[j];
  }
  for (; i < dim; ++i) {
    float v;
    std::memcpy(&v, bytes + i * sizeof(float), sizeof v);
    lanes[0] += v * v;
  }
  float sum = 0.0f;
  for (float lane : lanes) sum += lane;
  return sum;
}

// The column of a row's first NaN or infinite value, -1 where every value is finite: what a row
// that squared_norm refuses is told first.
inline int64_t first_non_finite(const void* values, int64_t dim) {
  const auto* bytes = static_cast<const unsigned char*>(values);
  for (int64_t i = 0; i < dim; ++i) {
    float v;
    std::memcpy(&v, bytes + i * sizeof(float), sizeof v);
    if (!std::isfinite(v)) return i;
  }
  return -1;
}

// The same in double, for messages (finite where the float sum overflowed).
inline double squared_norm_exact(const void* values, int64_t dim) {
  const auto* bytes = static_cast<const unsigned char*>(values);
  double sum = 0.0;
  for (int64_t i = 0; i < dim; ++i) {
    float v;
    std::memcpy(&v, bytes + i * sizeof(float), sizeof v);
    sum += static_cast<double>(v) * v;
  }
  return sum;
}

}  // namespace annforge::detail
