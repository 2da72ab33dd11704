// The GPU build's device memory, as a formula the build checks before it starts and the plan
// (BuildPlan) reports: plain C++, so that both the CUDA code and the host-side plan use it.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "annforge.hpp"

namespace annforge::cuda_detail {

// The GPU's kNN degree: the caller's, else 2 x degree and at least 64 (at most n - 1).
inline int gpu_intermediate_degree(const BuildParams& params, int64_t n, int degree) {
  const int wanted = params.intermediate_degree != 0 ? params.intermediate_degree : std::max(64, 2 * degree);
  return static_cast<int>(std::min<int64_t>(std::max(wanted, degree), n - 1));
}

struct GpuBuildBytes {
  size_t data = 0;    // the vectors and their norms
  size_t knn = 0;     // two kNN lists (ids and distances): the current and the next round's
  size_t forest = 0;  // one tree's candidates beside the lists, sort keys, a batch of leaf tiles
  size_t graph = 0;   // pruning and reverse edges
  size_t total() const { return data + knn + std::max(forest, graph); }
};

inline GpuBuildBytes gpu_build_bytes(int64_t n, size_t row_bytes, int k, int degree) {
  GpuBuildBytes b;
  const size_t rows = static_cast<size_t>(n);
  b.data = rows * row_bytes + rows * 4;
  b.knn = 2 * rows * static_cast<size_t>(k) * 8;
  b.forest = rows * static_cast<size_t>(2 * k) * 8 + rows * 24 + (size_t{3} << 30);
  b.graph = 3 * rows * static_cast<size_t>(degree) * 4 + rows * 4;
  return b;
}

}  // namespace annforge::cuda_detail
