// The epilogue of the clustered kNN stage's blocked dot products: a block of dots becomes
// distances, and each pair is offered to both of its members' candidate buffers only when it
// beats either member's threshold. No distance row is stored or mirrored: one pass over the
// block, eight pairs per compare, and most blocks offer nothing once thresholds are tight.
#pragma once

#include <cstdint>
#include <limits>

#include "annforge.hpp"
#include "host/cpu/all_pairs/candidate_buffers.hpp"

namespace annforge::cpu {

// distance(a, b) = max(add[a] + add[b] - scale * (mul[a] * mul[b]) * dot(a, b), floor), over
// cluster positions a, b. Written so that (a, b) and (b, a) give the same float: a pair seen in
// two clusters, in either orientation, gets one distance. L2: add = squared norms, mul = 1,
// scale = 2, floor = 0; inner product: add = 0, mul = 1, scale = 1; cosine: add = 1/2,
// mul = inverse norms, scale = 1.
struct PairTerms {
  const float* add = nullptr;  // per cluster position, readable 8 entries past the last column
  const float* mul = nullptr;
  float scale = 2.0f;
  float floor = 0.0f;
};

// The terms of `metric` over `size` cluster positions, in the caller's add and mul (sized for
// the kernels' reads past the last column; mul filled with 1): add holds each row's squared norm
// where ClusterBlock::load wrote it, which L2 keeps; inner product sets 0, cosine 1/2 and mul
// the rows' inverse norms.
inline PairTerms metric_terms(Metric metric, int size, const float* inverse_norms, float* add, float* mul) {
  for (int i = 0; i < size; ++i) {
    if (metric == Metric::InnerProduct) {
      add[i] = 0.0f;
    } else if (metric == Metric::Cosine) {
      add[i] = 0.5f;
      mul[i] = inverse_norms[i];
    }
  }
  PairTerms terms;
  terms.add = add;
  terms.mul = mul;
  terms.scale = metric == Metric::L2 ? 2.0f : 1.0f;
  terms.floor = metric == Metric::L2 ? 0.0f : -std::numeric_limits<float>::infinity();
  return terms;
}

// dots[r * ld + c] = dot(row0 + r, col0 + c) for r < rows, c < cols; only pairs with
// col0 + c > row0 + r are offered (each unordered pair once, no self pairs). `ids` maps cluster
// positions to the ids offered; dots, ids and the buffers' thresholds must be readable 8 entries
// past the last row or column used.
using PairFilterKernel = void (*)(const float* dots, int ld, int row0, int rows, int col0, int cols,
                                  const PairTerms& terms, const uint32_t* ids, CandidateBuffers& buffers);
PairFilterKernel pair_filter_kernel();  // AVX2 + FMA where the CPU has them (ANNFORGE_SIMD=scalar: portable)
PairFilterKernel scalar_pair_filter_kernel();

}  // namespace annforge::cpu
