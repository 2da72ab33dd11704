// Distances on the CPU: SIMD kernels chosen once per process by CPU features, bound to a
// metric and a base matrix. Cosine uses inverse norms computed once per vector.
#pragma once

#include <vector>

#include "annforge.hpp"
#include "kernels/shared/distance_core.hpp"

namespace annforge::cpu {

using PairKernel = float (*)(const void* a, const void* b, size_t dim);
// One vector against `count` others: out[i] = kernel(a, rows[i]). Loads of `a` and the call
// are shared across rows, and SIMD kernels work on several rows at once.
using ManyKernel = void (*)(const void* a, const void* const* rows, int count, size_t dim, float* out);

struct KernelTable {
  PairKernel squared_l2;
  PairKernel dot;
  ManyKernel squared_l2_many;
  ManyKernel dot_many;
  const char* instruction_set;  // "avx512" (float only), "avx2" or "scalar"
};

// The kernels for one element type, best available on this CPU (set ANNFORGE_SIMD=avx2 or
// scalar to force the lower ones, for testing). The AVX-512 float kernels give a pair the same
// value in the pair and the batched call, wherever it sits in a batch.
const KernelTable& kernels_for(ElementType type);
// Whether this CPU runs the AVX2 + FMA kernels (false under ANNFORGE_SIMD=scalar).
bool cpu_has_avx2_fma();
// Whether this CPU runs the AVX-512 F/BW/VL/DQ kernels (false under ANNFORGE_SIMD=avx2 or scalar).
bool cpu_has_avx512();
const KernelTable& scalar_kernels_for(ElementType type);

// 1/||x|| for every row (0 for a zero vector, so its cosine distance is 1 to everything).
std::vector<float> inverse_norms(const DatasetView& data, int threads);
float inverse_norm(const void* vector, size_t dim, ElementType type);

// Starts loading a row into cache (all of it, for rows up to 256 bytes).
inline void prefetch_row(const DatasetView& data, uint32_t row) {
  const uint8_t* p = data.row(row);
  const size_t bytes = data.row_bytes();
  __builtin_prefetch(p);
  if (bytes > 64) __builtin_prefetch(p + 64);
  if (bytes > 128) __builtin_prefetch(p + 128);
  if (bytes > 192) __builtin_prefetch(p + 192);
}

// Calls measure(first, n) over rows [0, count) in blocks of 16, each block's rows (`row_bytes`
// each, all of their lines) requested while the block before is measured: for rows scattered
// over memory, on which a distance kernel alone would wait row by row.
template <typename Measure>
void in_prefetched_blocks(const void* const* rows, int count, size_t row_bytes, Measure measure) {
  auto request = [&](int i) {
    for (size_t line = 0; line < row_bytes; line += 64) __builtin_prefetch(static_cast<const char*>(rows[i]) + line);
  };
  constexpr int kBlock = 16;
  for (int i = 0; i < count && i < kBlock; ++i) request(i);
  for (int first = 0; first < count; first += kBlock) {
    const int n = count - first < kBlock ? count - first : kBlock;
    for (int i = first + kBlock; i < count && i < first + 2 * kBlock; ++i) request(i);
    measure(first, n);
  }
}

// A metric bound to a base matrix: distances between base rows, and from a query to a row.
// Cosine is core::cosine_distance everywhere (the two inverse norms multiplied first): a pair's
// distance is then the same bits from either end (between(i, j) == between(j, i)), which the
// repair's lists rely on to treat a pair met twice as one.
class Distance {
 public:
  // How cosine has the base rows' inverse norms where the caller gives none: a table made here
  // (every row read once), or each computed when asked, from the row being read anyway (the same
  // bits). A search of a few queries over borrowed rows reads a few thousand rows per query, and
  // the table would read them all, per call (1M x 256 float rows: ~25 ms, a hundred queries'
  // walks).
  enum class BaseNorms { Table, OnDemand };
  Distance(Metric metric, const DatasetView& base, const std::vector<float>* base_inverse_norms = nullptr,
           BaseNorms base_norms = BaseNorms::Table);

  float between(int64_t i, int64_t j) const { return to_query(base_.row(i), inverse_norm_of(i), j); }

  float to_query(const void* query, float query_inverse_norm, int64_t j) const {
    const void* b = base_.row(j);
    switch (metric_) {
      case Metric::L2: return kernels_.squared_l2(query, b, dim_);
      case Metric::InnerProduct: return -kernels_.dot(query, b, dim_);
      case Metric::Cosine: return core::cosine_distance(kernels_.dot(query, b, dim_), query_inverse_norm, inverse_norm_of(j));
    }
    return 0.0f;
  }
  // The metric between two raw vectors of this base's type, given their inverse norms (used by
  // cosine only): for vectors gathered into a contiguous block.
  float raw(const void* a, float inverse_norm_a, const void* b, float inverse_norm_b) const {
    switch (metric_) {
      case Metric::L2: return kernels_.squared_l2(a, b, dim_);
      case Metric::InnerProduct: return -kernels_.dot(a, b, dim_);
      case Metric::Cosine: return core::cosine_distance(kernels_.dot(a, b, dim_), inverse_norm_a, inverse_norm_b);
    }
    return 0.0f;
  }
  // raw() for one vector against many: out[i] = raw(a, inverse_norm_a, rows[i], row_norms[i]).
  // row_norms may be null except for cosine.
  void raw_many(const void* a, float inverse_norm_a, const void* const* rows, const float* row_norms, int count,
                float* out) const {
    switch (metric_) {
      case Metric::L2: kernels_.squared_l2_many(a, rows, count, dim_, out); return;
      case Metric::InnerProduct:
        kernels_.dot_many(a, rows, count, dim_, out);
        for (int i = 0; i < count; ++i) out[i] = -out[i];
        return;
      case Metric::Cosine:
        kernels_.dot_many(a, rows, count, dim_, out);
        for (int i = 0; i < count; ++i) out[i] = core::cosine_distance(out[i], inverse_norm_a, row_norms[i]);
        return;
    }
  }
  // Distances from base row `from` to base rows ids[0..count) into `out`, the rows requested a
  // block ahead (in_prefetched_blocks): for rows scattered over memory, on which the kernel alone
  // would wait row by row. `pointers` and `norms` are scratch of `count` entries.
  void row_to_rows(int64_t from, const uint32_t* ids, int count, const void** pointers, float* norms,
                   float* out) const {
    for (int i = 0; i < count; ++i) {
      pointers[i] = base_.row(ids[i]);
      norms[i] = inverse_norm_of(ids[i]);
    }
    in_prefetched_blocks(pointers, count, base_.row_bytes(), [&](int first, int n) {
      raw_many(base_.row(from), inverse_norm_of(from), pointers + first, norms + first, n, out + first);
    });
  }
  float query_inverse_norm(const void* query) const {
    return metric_ == Metric::Cosine ? inverse_norm(query, dim_, base_.type) : 1.0f;
  }
  float inverse_norm_of(int64_t i) const {
    if (metric_ != Metric::Cosine) return 1.0f;
    return norms_ != nullptr ? (*norms_)[i] : inverse_norm(base_.row(i), dim_, base_.type);
  }
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
