// A linear projection onto the top principal directions of the data (uncentred, so that both
// differences and dot products are approximated), found by subspace iteration on a sample.
// Distances between projected rows are a cheap first pass: the all-pairs stage ranks a
// cluster by projected distance and computes exact distances for the best few only.
#pragma once

#include <vector>

#include "annforge.hpp"

namespace annforge::cpu {

struct Projection {
  int64_t input_dim = 0;
  int output_dim = 0;
  bool normalise = false;        // rows are scaled to unit length first (cosine)
  std::vector<float> basis;      // output_dim x input_dim, orthonormal rows

  bool empty() const { return output_dim == 0; }
};

// The projection worth using for this data, or an empty one where a first pass would not pay
// (narrow vectors, or 8-bit vectors where exact distances are already cheap).
Projection fit_projection(const DatasetView& data, bool normalise, int threads, uint64_t seed);

// Every row projected: rows x output_dim floats.
std::vector<float> project_rows(const DatasetView& data, const Projection& projection, int threads);

}  // namespace annforge::cpu
