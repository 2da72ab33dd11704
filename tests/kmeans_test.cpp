// The partition's nearest centroids (host/cpu/partition/kmeans.*) on every path this CPU has
// (fp32 blocked dots, or bf16 dots on AMX with rows and centroids centred first): each row's
// chosen centroids are its nearest up to the path's rounding, even on data far from the origin
// (where uncentred bf16 would lose the distances), and the scores are ||c||^2 - 2 <x, c>.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "host/cpu/partition/kmeans.hpp"

namespace {

namespace cpu = annforge::cpu;

TEST(Centroids, NearestBlockFindsTheNearestOnOffsetData) {
  const int64_t dim = 96;
  const int count = 200, rows = 77, want = 3;
  std::mt19937_64 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  cpu::Centroids centroids;
  centroids.count = count;
  centroids.dim = dim;
  centroids.values.resize(static_cast<size_t>(count) * dim);
  // 10^3 from the origin, neighbours ~1 apart: bf16 of the raw values would be off by ~4.
  for (float& x : centroids.values) x = 1000.0f + normal(rng);
  std::vector<float> points(static_cast<size_t>(rows + 8) * dim, 0.0f);
  for (int i = 0; i < rows; ++i) {
    const int near = static_cast<int>(rng() % count);
    for (int64_t d = 0; d < dim; ++d) points[i * dim + d] = centroids.values[near * dim + d] + 0.3f * normal(rng);
  }
  centroids.refresh_norms(cpu::kernels_for(annforge::ElementType::Float32));
  std::vector<int> out(static_cast<size_t>(rows) * want);
  std::vector<float> scores(out.size()), dots;
  centroids.nearest_block(points.data(), rows, want, out.data(), scores.data(), dots);
  for (int i = 0; i < rows; ++i) {
    std::vector<std::pair<double, int>> exact;
    for (int c = 0; c < count; ++c) {
      double sum = 0.0;
      for (int64_t d = 0; d < dim; ++d) {
        const double diff = double{points[i * dim + d]} - centroids.values[c * dim + d];
        sum += diff * diff;
      }
      exact.push_back({sum, c});
    }
    std::sort(exact.begin(), exact.end());
    double norm = 0.0;
    for (int64_t d = 0; d < dim; ++d) norm += double{points[i * dim + d]} * points[i * dim + d];
    for (int w = 0; w < want; ++w) {
      const int c = out[i * want + w];
      ASSERT_GE(c, 0) << "row " << i;
      double chosen = 0.0;
      for (int64_t d = 0; d < dim; ++d) {
        const double diff = double{points[i * dim + d]} - centroids.values[c * dim + d];
        chosen += diff * diff;
      }
      // The w-th choice is the w-th nearest to within rounding (bf16 of centred values: a few
      // hundredths of these distances, ~100).
      EXPECT_LE(chosen, exact[w].first * 1.01 + 0.5) << "row " << i << " choice " << w;
      // The score is ||x - c||^2 - ||x||^2 (fp32 sums of ~10^8: a few units of 10^1 of slack).
      EXPECT_NEAR(scores[i * want + w] + norm, chosen, 1e-6 * norm + 1.0) << "row " << i << " choice " << w;
    }
  }
}

}  // namespace
