// The GPU build's device-memory formula (host/cuda/gpu_memory_model.hpp), checked on the CPU:
// against the peaks an H200 measured (ANNFORGE_TRACE's sampled cudaMemGetInfo, scripts/
// gpu-check.sh, 2026-12-04: bench/results/gpu-2026-12-04/summary-flat.md), and for the shape of its
// growth, so that the plan and the build's up-front check stay honest where no GPU is lent.
#include <gtest/gtest.h>

#include <cmath>

#include "host/cuda/gpu_memory_model.hpp"

namespace {

using annforge::BuildParams;
using namespace annforge::cuda_detail;

double planned_mib(int64_t rows, int64_t dim, size_t element_bytes) {
  BuildParams params;
  const int degree = 32;
  const int k = gpu_intermediate_degree(params, rows, degree);
  return static_cast<double>(gpu_build_bytes(rows, dim, element_bytes, k, degree).total()) / (1 << 20);
}

TEST(GpuMemoryModel, WithinFifteenPercentOfTheMeasuredPeaks) {
  struct Measured {
    const char* what;
    int64_t rows, dim;
    size_t element_bytes;
    double peak_mib;
  };
  const Measured measured[] = {
      {"sift-vl-1m, 200K x 128 uint8", 200000, 128, 1, 1248},
      {"MNIST, 60K x 784 uint8", 60000, 784, 1, 578},
      {"1M x 64 float32 in 5,000 clusters", 1000000, 64, 4, 3190},
  };
  for (const Measured& m : measured) {
    const double planned = planned_mib(m.rows, m.dim, m.element_bytes);
    EXPECT_NEAR(planned / m.peak_mib, 1.0, 0.15) << m.what << ": planned " << planned << " MiB, measured "
                                                  << m.peak_mib << " MiB";
  }
}

TEST(GpuMemoryModel, LeafTilesAreCappedSoMemoryGrowsLinearly) {
  // Past ~1M rows the leaf-tile batch stays at its 1 GiB cap: ten times the rows, at most ten
  // times the bytes (and more than five times: the lists grow with the rows).
  const double one = planned_mib(10'000'000, 96, 1);
  const double ten = planned_mib(100'000'000, 96, 1);
  EXPECT_GT(ten, 5 * one);
  EXPECT_LE(ten, 10 * one);
  // 100M x 96 uint8 needs more than the vectors and two 64-wide lists, less than an H200 holds
  // twice over: the figure the partitioned build plans its pieces by.
  EXPECT_GT(ten, (100e6 * 96 + 100e6 * 64 * 16) / (1 << 20));
  EXPECT_LT(ten, 2 * 141e9 / (1 << 20));
}

TEST(GpuMemoryModel, ForestShapeKeepsLeavesWithinTheTarget) {
  for (int64_t n : {1000, 65537, 200000, 1000000, 12345678}) {
    const ForestShape shape = forest_shape(n, 64, 1024);
    EXPECT_LE(shape.side, 1024) << n;
    EXPECT_GE(n >> shape.levels, 65) << n;  // every leaf still holds k + 1 rows
    EXPECT_EQ(shape.kk, 64) << n;
    EXPECT_LE(static_cast<int64_t>(shape.side) * shape.side * leaves_per_batch(shape), kLeafTileFloats) << n;
  }
}

}  // namespace
