// Distances on the CPU: SIMD kernels chosen once per process by CPU features, bound to a
// metric and a base matrix. Cosine uses inverse norms computed once per vector.
#pragma once

#include <vector>

#include "annforge.hpp"

namespace annforge::cpu {

using PairKernel = float (*)(const void* a, const void* b, size_t dim);

struct KernelTable {
  PairKernel squared_l2;
  PairKernel dot;
  const char* instruction_set;  // "avx2" or "scalar"
};

// The kernels for one element type, best available on this CPU (set ANNFORGE_SIMD=scalar to
// force the portable ones, for testing).
const KernelTable& kernels_for(ElementType type);
const KernelTable& scalar_kernels_for(ElementType type);
const char* simd_level();

// 1/||x|| for every row (0 for a zero vector, so its cosine distance is 1 to everything).
std::vector<float> inverse_norms(const DatasetView& data, int threads);
float inverse_norm(const void* vector, size_t dim, ElementType type);

// A metric bound to a base matrix: distances between base rows, and from a query to a row.
class Distance {
 public:
  Distance(Metric metric, const DatasetView& base, const std::vector<float>* base_inverse_norms = nullptr);

  float between(int64_t i, int64_t j) const { return to_query(base_.row(i), inverse_norm_of(i), j); }

  float to_query(const void* query, float query_inverse_norm, int64_t j) const {
    const void* b = base_.row(j);
    switch (metric_) {
      case Metric::L2: return kernels_.squared_l2(query, b, dim_);
      case Metric::InnerProduct: return -kernels_.dot(query, b, dim_);
      case Metric::Cosine: return 1.0f - kernels_.dot(query, b, dim_) * query_inverse_norm * (*norms_)[j];
    }
    return 0.0f;
  }
  float query_inverse_norm(const void* query) const {
    return metric_ == Metric::Cosine ? inverse_norm(query, dim_, base_.type) : 1.0f;
  }
  float inverse_norm_of(int64_t i) const { return metric_ == Metric::Cosine ? (*norms_)[i] : 1.0f; }
  const DatasetView& base() const { return base_; }
  Metric metric() const { return metric_; }

 private:
  Metric metric_;
  DatasetView base_;
  size_t dim_;
  KernelTable kernels_;
  std::vector<float> owned_norms_;
  const std::vector<float>* norms_ = nullptr;
};

}  // namespace annforge::cpu
