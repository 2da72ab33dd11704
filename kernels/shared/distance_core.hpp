// Distance arithmetic shared by the CPU backend and the CUDA kernels: plain loops that compile
// as __host__ __device__ under nvcc, so the CPU tests cover the same logic the GPU runs.
// These are the reference definitions; the SIMD kernels in host/cpu/ must agree with them.
#pragma once

#include <cstddef>
#include <cstdint>

#if defined(__CUDACC__)
#define ANNFORGE_HD __host__ __device__ __forceinline__
#else
#define ANNFORGE_HD inline
#endif

namespace annforge::core {

// Squared Euclidean distance. Integer inputs accumulate exactly in 32-bit integers, which holds
// for dimensions up to 33,000 (255^2 * 33,000 < 2^31).
template <typename T>
ANNFORGE_HD float squared_l2(const T* a, const T* b, size_t dim) {
  if constexpr (sizeof(T) == 1) {
    int32_t sum = 0;
    for (size_t i = 0; i < dim; ++i) {
      int32_t d = static_cast<int32_t>(a[i]) - static_cast<int32_t>(b[i]);
      sum += d * d;
    }
    return static_cast<float>(sum);
  } else {
    float sum = 0.0f;
    for (size_t i = 0; i < dim; ++i) {
      float d = a[i] - b[i];
      sum += d * d;
    }
    return sum;
  }
}

template <typename T>
ANNFORGE_HD float dot(const T* a, const T* b, size_t dim) {
  if constexpr (sizeof(T) == 1) {
    int32_t sum = 0;
    for (size_t i = 0; i < dim; ++i) sum += static_cast<int32_t>(a[i]) * static_cast<int32_t>(b[i]);
    return static_cast<float>(sum);
  } else {
    float sum = 0.0f;
    for (size_t i = 0; i < dim; ++i) sum += a[i] * b[i];
    return sum;
  }
}

// Metric distances from a dot product; smaller is nearer in every metric.
ANNFORGE_HD float inner_product_distance(float dot_value) { return -dot_value; }
ANNFORGE_HD float cosine_distance(float dot_value, float inverse_norm_a, float inverse_norm_b) {
  return 1.0f - dot_value * (inverse_norm_a * inverse_norm_b);  // the same bits from either end
}

}  // namespace annforge::core
