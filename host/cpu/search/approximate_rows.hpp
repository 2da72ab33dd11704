// A compact copy of a float index's vectors for the beam search's walk: int8 codes with a scale
// per dimension (the default) or bfloat16. Searching float data is bound by memory (a 256-d row
// is 16 cache lines read per distance, and the prefetches wait for free fill buffers): rows of
// a quarter (or half) of the bytes cut that traffic. The walk ranks by these
// distances; the beam's nearest are re-ranked by exact fp32 distances before they are returned.
//   L2: rows centred on the data's mean (the rounding then scales with the spread of the data,
//       not its distance from the origin), queries centred alike: |q - x|^2 unchanged.
//   Cosine: rows normalised, then centred on the mean of the normalised rows; distance
//       1 - <q/|q|, x/|x| - m> - <q/|q|, m>, the last term once per query.
//   Inner product: rows centred on their mean; distance -<q, x - m> - <q, m>.
// Centring keeps the rounding to the rows' spread: rows that share a large common component
// (embeddings with a "rogue dimension", or all near one direction) lost their angles in the
// rounding without it (200K x 96 cosine rows with a common part 30x their spread: recall@10
// 0.076 at beam 64, 1.000 walking exact rows or centred codes).
// Used where the CPU has AVX-512 or AVX2 + FMA (the kernels widen bf16 or int8 to fp32 on 16 or
// 8 lanes) and the data is float32; 8-bit data is already smaller than bf16.
#pragma once

#include <cstdint>
#include <vector>

#include "annforge.hpp"

namespace annforge::cpu {

// What the walk's rows are made of: bfloat16 (half of fp32's bytes, ~3 significant digits), or
// int8 codes with one scale per dimension (a quarter of the bytes; the rounding is uniform,
// half a step of that dimension's range / 254).
enum class ApproximateKind { Bf16, Int8 };

struct ApproximateRows {
  Metric metric = Metric::L2;
  ApproximateKind kind = ApproximateKind::Bf16;
  int64_t rows = 0;
  int dim = 0;
  std::vector<uint16_t> values;  // Bf16: rows x dim bf16
  std::vector<int8_t> codes;     // Int8: rows x dim codes; value = code * scales[d]
  std::vector<float> scales;     // Int8: dim floats
  std::vector<float> centre;     // dim floats: the mean of the rows as walked
  // How deep a search re-ranks the walk's nearest for 10 neighbours (rerank_depth.hpp; 26 until
  // measured on an index's graph).
  int rerank_at_10 = 26;
  size_t row_bytes() const { return kind == ApproximateKind::Bf16 ? static_cast<size_t>(dim) * 2 : static_cast<size_t>(dim); }
  const char* bytes() const {
    return kind == ApproximateKind::Bf16 ? reinterpret_cast<const char*>(values.data())
                                         : reinterpret_cast<const char*>(codes.data());
  }
  // A query prepared for these rows takes prepared_size() floats.
  int prepared_size() const {
    return metric != Metric::L2 ? dim + 1 : kind == ApproximateKind::Int8 ? 2 * dim : dim;
  }
};

// Whether approximate rows can serve `data` here (float32 rows of more than 16 dimensions,
// AVX-512 or AVX2 + FMA, not switched off by ANNFORGE_CPU_SEARCH_BF16=0).
bool approximate_rows_usable(const DatasetView& data);
// The kind asked for by ANNFORGE_CPU_SEARCH_ROWS (int8 or bf16; default int8), and whether it
// was asked for at all (unset: the search chooses, see rerank_depth.hpp).
ApproximateKind approximate_kind();
bool approximate_kind_asked();
// `inverse_norms_of_rows` (cosine, optional): the rows' inverse norms as inverse_norms() gives
// them, where the caller has them already.
ApproximateRows make_approximate_rows(const DatasetView& data, Metric metric, int threads,
                                      ApproximateKind kind = ApproximateKind::Bf16,
                                      const std::vector<float>* inverse_norms_of_rows = nullptr);

// The rows of `data` past rows.rows (the rows it was made from, followed by new ones) appended
// with the rows' own centre and scales (codes clamped to +-127), so that an index extended by a
// few rows does not make all of them again. `inverse_norms_of_new_rows`: cosine, optional.
void append_approximate_rows(ApproximateRows& rows, const DatasetView& data, int threads,
                             const std::vector<float>* inverse_norms_of_new_rows = nullptr);

// A query in the rows' terms: centred (L2), normalised by its `inverse_norm` (cosine; as
// Distance::query_inverse_norm gives it) or as it is (inner product), then <q, m> at [dim]
// (cosine, inner product); for int8 rows scaled per dimension (L2: the query in code units,
// then the squared scales as weights).
void prepare_query(const ApproximateRows& rows, const float* query, float inverse_norm, float* prepared);
// out[i] = the metric between a prepared query and rows[i] (rows of `rows`' kind; the
// pointers as the distance kernels take theirs).
void approximate_distances(const ApproximateRows& rows, const float* prepared, const void* const* row_pointers,
                           int count, float* out);
// The metric from a walk kernel's sums (approximate_rows_avx512.cpp, approximate_rows_avx2.cpp),
// in place: L2 as it is; inner product -dot and cosine 1 - dot, the rows being centred: the dot
// with the centre, at prepared[dim], added back.
inline void metric_from_sums(Metric metric, const float* prepared, int dim, int count, float* sums) {
  if (metric == Metric::L2) return;
  const float one = metric == Metric::Cosine ? 1.0f : 0.0f;
  for (int i = 0; i < count; ++i) sums[i] = one - (sums[i] + prepared[dim]);
}
// The AVX2 kernels on their own, whatever this CPU dispatches to (it must have AVX2 + FMA): for
// the tests, which hold them to the dispatched ones on CPUs with AVX-512.
void approximate_distances_avx2(const ApproximateRows& rows, const float* prepared, const void* const* row_pointers,
                                int count, float* out);

}  // namespace annforge::cpu
