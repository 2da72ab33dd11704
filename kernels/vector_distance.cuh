// Device-side distances between single vectors, computed by a warp (each lane a strided share of
// the dimensions, then a shuffle reduction in a fixed order, so that the same pair always gives
// the same bits). The arithmetic is core::squared_l2 / core::dot's: integer inputs accumulate
// exactly in 32-bit integers.
#pragma once

#include <cstdint>

#include "annforge.hpp"
#include "kernels/shared/distance_core.hpp"

namespace annforge::cuda {

// How the metric turns (dot, norms) into a distance, passed to kernels by value.
struct MetricSpec {
  Metric metric;
  // Cosine: inverse norms per row of the base (nullptr for L2 / inner product).
  const float* inverse_norms;
};

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}
__device__ __forceinline__ int32_t warp_sum(int32_t v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// Distance between rows `a` and `b` of the same type (both in global memory), by a whole warp;
// every lane returns the result.
template <typename T>
__device__ float warp_row_distance(const T* a, const T* b, int dim, Metric metric, float inverse_norm_a,
                                   float inverse_norm_b, int lane) {
  if constexpr (sizeof(T) == 1) {
    int32_t s = 0;
    for (int i = lane; i < dim; i += 32) {
      const int32_t x = a[i], y = b[i];
      s += metric == Metric::L2 ? (x - y) * (x - y) : x * y;
    }
    const float v = static_cast<float>(warp_sum(s));
    if (metric == Metric::L2) return v;
    if (metric == Metric::InnerProduct) return core::inner_product_distance(v);
    return core::cosine_distance(v, inverse_norm_a, inverse_norm_b);
  } else {
    float s = 0.0f;
    for (int i = lane; i < dim; i += 32) {
      const float x = a[i], y = b[i];
      s += metric == Metric::L2 ? (x - y) * (x - y) : x * y;
    }
    const float v = warp_sum(s);
    if (metric == Metric::L2) return v;
    if (metric == Metric::InnerProduct) return core::inner_product_distance(v);
    return core::cosine_distance(v, inverse_norm_a, inverse_norm_b);
  }
}

// Distance between a query held as floats (shared memory) and a base row of type T, by a team
// of `Team` lanes (8, 16 or 32) of a warp. For 8-bit data the query holds the exact integer
// values, so the sums are exact in float up to 2^24 as in core::squared_l2. Each team scores
// its own row, so a warp scores 32 / Team rows at once (short vectors leave most of a whole
// warp idle). Every lane of the warp must call it (the shuffles span the warp); `active` false
// gives 0.
template <int Team, typename T>
__device__ float team_query_distance(const float* query, const T* row, int dim, Metric metric, float inverse_norm_query,
                                     float inverse_norm_row, int team_lane, bool active) {
  float s = 0.0f;
  if (active) {
    for (int i = team_lane; i < dim; i += Team) {
      const float x = query[i], y = static_cast<float>(row[i]);
      s += metric == Metric::L2 ? (x - y) * (x - y) : x * y;
    }
  }
#pragma unroll
  for (int offset = Team / 2; offset > 0; offset >>= 1) s += __shfl_xor_sync(0xffffffffu, s, offset);
  if (metric == Metric::L2) return s;
  if (metric == Metric::InnerProduct) return core::inner_product_distance(s);
  return core::cosine_distance(s, inverse_norm_query, inverse_norm_row);
}

}  // namespace annforge::cuda
