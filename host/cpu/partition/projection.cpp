// Subspace (block power) iteration for the top eigenvectors of the sample's second-moment
// matrix, without forming the matrix: each round computes X^T (X Q) and re-orthonormalises.
#include "host/cpu/partition/projection.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include "host/cpu/distance/distance.hpp"
#include "host/cpu/partition/kmeans.hpp"
#include "host/cpu/parallel.hpp"

namespace annforge::cpu {
namespace {

// Gram-Schmidt on the rows of `basis` (count x dim), in double, with a second pass ("twice is
// enough") so that rows which were mostly spanned by earlier ones still come out orthogonal. A
// row that collapses (data of lower rank than the basis) is replaced by a random one.
void orthonormalise(std::vector<float>& basis, int count, int64_t dim, std::mt19937_64& rng) {
  std::normal_distribution<double> gaussian;
  std::vector<double> row(dim);
  for (int r = 0; r < count; ++r) {
    for (int64_t c = 0; c < dim; ++c) row[c] = basis[r * dim + c];
    for (int attempt = 0;; ++attempt) {
      double original = 0;
      for (double v : row) original += v * v;
      for (int pass = 0; pass < 2; ++pass) {
        for (int q = 0; q < r; ++q) {
          const float* other = &basis[q * dim];
          double dot = 0;
          for (int64_t c = 0; c < dim; ++c) dot += row[c] * other[c];
          for (int64_t c = 0; c < dim; ++c) row[c] -= dot * other[c];
        }
      }
      double norm = 0;
      for (double v : row) norm += v * v;
      if (norm > 1e-12 * original && norm > 0) {
        const double scale = 1.0 / std::sqrt(norm);
        for (int64_t c = 0; c < dim; ++c) basis[r * dim + c] = static_cast<float>(row[c] * scale);
        break;
      }
      for (double& v : row) v = gaussian(rng);
    }
  }
}

}  // namespace

Projection fit_projection(const DatasetView& data, bool normalise, int threads, uint64_t seed) {
  Projection projection;
  const int64_t dim = data.dim;
  // A quarter of the dimensions, at most 64: enough to rank candidates well. The first pass
  // pays only where an exact distance reads at least three times the bytes of a projected one
  // (wide float vectors, 8-bit vectors of ~768 dimensions and more): on 128-d uint8 SIFT the
  // 32-d float pass cost as much as the exact pass it replaced.
  const int out = static_cast<int>(std::min<int64_t>(64, dim / 4));
  if (out < 16 || data.row_bytes() < 3 * out * sizeof(float)) return projection;
  const int64_t count = std::min<int64_t>(data.rows, 4000);
  std::mt19937_64 rng(seed ^ 0x9C1Au);
  std::vector<float> sample = sample_as_float(data, count, normalise, rng, nullptr);
  const KernelTable& f32 = kernels_for(ElementType::Float32);

  std::vector<float> basis(static_cast<size_t>(out) * dim);
  std::normal_distribution<float> gaussian;
  for (float& b : basis) b = gaussian(rng);
  orthonormalise(basis, out, dim, rng);
  std::vector<float> coordinates(static_cast<size_t>(count) * out);
  for (int round = 0; round < 6; ++round) {
    // coordinates = X Q^T (count x out)
    parallel_for(count, threads, 256, [&](int64_t begin, int64_t end, int) {
      for (int64_t i = begin; i < end; ++i) {
        for (int r = 0; r < out; ++r) coordinates[i * out + r] = f32.dot(&sample[i * dim], &basis[r * dim], dim);
      }
    });
    // basis = (X^T coordinates)^T: each basis row r accumulates sum_i coordinates[i][r] x_i.
    parallel_for(out, threads, 1, [&](int64_t begin, int64_t end, int) {
      for (int64_t r = begin; r < end; ++r) {
        float* row = &basis[r * dim];
        std::fill(row, row + dim, 0.0f);
        for (int64_t i = 0; i < count; ++i) {
          const float weight = coordinates[i * out + r];
          const float* x = &sample[i * dim];
          for (int64_t c = 0; c < dim; ++c) row[c] += weight * x[c];
        }
      }
    });
    orthonormalise(basis, out, dim, rng);
  }
  projection.input_dim = dim;
  projection.output_dim = out;
  projection.normalise = normalise;
  projection.basis = std::move(basis);
  return projection;
}

std::vector<float> project_rows(const DatasetView& data, const Projection& projection, int threads) {
  const int out = projection.output_dim;
  std::vector<float> projected(static_cast<size_t>(data.rows) * out);
  const KernelTable& f32 = kernels_for(ElementType::Float32);
  std::vector<const void*> basis_rows(out);
  for (int r = 0; r < out; ++r) basis_rows[r] = &projection.basis[r * data.dim];
  parallel_for(data.rows, threads, 1024, [&](int64_t begin, int64_t end, int) {
    std::vector<float> x(data.dim);
    for (int64_t i = begin; i < end; ++i) {
      row_as_float(data, i, projection.normalise, x.data());
      f32.dot_many(x.data(), basis_rows.data(), out, data.dim, &projected[i * out]);
    }
  });
  return projected;
}

}  // namespace annforge::cpu
