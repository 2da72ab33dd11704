// A bfloat16 copy of a float index's vectors for the beam search's walk. Searching float data is
// bound by memory (a 256-d row is 16 cache lines read per distance, and the prefetches wait for
// free fill buffers): rows of half the bytes halve that traffic. The walk ranks by these
// distances; the beam's nearest are re-ranked by exact fp32 distances before they are returned.
//   L2: rows centred on the data's mean (the rounding then scales with the spread of the data,
//       not its distance from the origin), queries centred alike: |q - x|^2 unchanged.
//   Cosine: rows normalised before rounding; distance 1 - <q/|q|, x/|x|>.
//   Inner product: rows as they are; distance -<q, x>.
// Used where the CPU has AVX-512 (the kernels widen bf16 to fp32 on 16 lanes) and the data is
// float32; 8-bit data is already smaller than bf16.
#pragma once

#include <cstdint>
#include <vector>

#include "annforge.hpp"

namespace annforge::cpu {

struct ApproximateRows {
  Metric metric = Metric::L2;
  int64_t rows = 0;
  int dim = 0;
  std::vector<uint16_t> values;  // rows x dim bf16
  std::vector<float> centre;     // L2 only: dim floats
  const uint16_t* row(int64_t i) const { return values.data() + i * dim; }
};

// Whether approximate rows can serve `data` here (float32, AVX-512, not switched off by
// ANNFORGE_CPU_SEARCH_BF16=0).
bool approximate_rows_usable(const DatasetView& data);
ApproximateRows make_approximate_rows(const DatasetView& data, Metric metric, int threads);

// A query in the rows' terms: centred (L2), normalised by its `inverse_norm` (cosine; as
// Distance::query_inverse_norm gives it) or as it is (inner product).
void prepare_query(const ApproximateRows& rows, const float* query, float inverse_norm, float* prepared);
// out[i] = the metric between a prepared query and rows[i] (bf16 rows of `dim` values; the
// pointers as the distance kernels take theirs).
void approximate_distances(Metric metric, const float* prepared, const void* const* rows, int count, int dim,
                           float* out);

}  // namespace annforge::cpu
