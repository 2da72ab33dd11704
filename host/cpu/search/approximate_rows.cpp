// The bf16 copy of approximate_rows.hpp: built in parallel, prepared queries, and the kernels'
// dispatch (AVX-512 in approximate_rows_avx512.cpp).
#include "host/cpu/search/approximate_rows.hpp"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

#include "host/cpu/distance/bf16.hpp"
#include "host/cpu/distance/distance.hpp"
#include "host/cpu/parallel.hpp"
#include "host/huge_pages.hpp"

namespace annforge::cpu {

// approximate_rows_avx512.cpp; only called where the CPU has AVX-512.
void avx512_approximate_distances(Metric metric, const float* prepared, const void* const* rows, int count, int dim,
                                  float* out);

bool approximate_rows_usable(const DatasetView& data) {
  // Read on every call (tests switch it between searches); a typo is refused rather than read
  // as "on".
  const char* knob = std::getenv("ANNFORGE_CPU_SEARCH_BF16");
  const bool off = knob != nullptr && *knob != '\0' && std::strcmp(knob, "1") != 0;
  if (off && std::strcmp(knob, "0") != 0) {
    throw Error(ErrorCode::InvalidArgument, std::string("ANNFORGE_CPU_SEARCH_BF16=") + knob + ": expected 0 or 1");
  }
  return !off && data.type == ElementType::Float32 && cpu_has_avx512();
}

ApproximateRows make_approximate_rows(const DatasetView& data, Metric metric, int threads) {
  ApproximateRows out;
  out.metric = metric;
  out.rows = data.rows;
  out.dim = static_cast<int>(data.dim);
  const int dim = out.dim;
  const float* x = static_cast<const float*>(data.data);
  if (metric == Metric::L2) {
    // The mean in double, summed per thread then combined.
    const int workers = resolve_threads(threads);
    std::vector<std::vector<double>> partial(workers, std::vector<double>(dim, 0.0));
    parallel_for(data.rows, threads, 4096, [&](int64_t begin, int64_t end, int t) {
      for (int64_t i = begin; i < end; ++i) {
        for (int d = 0; d < dim; ++d) partial[t][d] += x[i * dim + d];
      }
    });
    out.centre.assign(dim, 0.0f);
    for (int d = 0; d < dim; ++d) {
      double sum = 0.0;
      for (const std::vector<double>& p : partial) sum += p[d];
      out.centre[d] = static_cast<float>(sum / static_cast<double>(std::max<int64_t>(data.rows, 1)));
    }
  }
  reserve_huge(out.values, static_cast<size_t>(data.rows) * dim, resolve_threads(threads));
  out.values.resize(static_cast<size_t>(data.rows) * dim);
  parallel_for(data.rows, threads, 4096, [&](int64_t begin, int64_t end, int) {
    for (int64_t i = begin; i < end; ++i) {
      const float* row = x + i * dim;
      uint16_t* to = out.values.data() + i * dim;
      float scale = 1.0f;
      if (metric == Metric::Cosine) scale = inverse_norm(row, dim, ElementType::Float32);
      for (int d = 0; d < dim; ++d) {
        const float value = metric == Metric::L2 ? row[d] - out.centre[d] : row[d] * scale;
        to[d] = to_bf16(value);
      }
    }
  });
  return out;
}

void prepare_query(const ApproximateRows& rows, const float* query, float inverse_norm, float* prepared) {
  const int dim = rows.dim;
  switch (rows.metric) {
    case Metric::L2:
      for (int d = 0; d < dim; ++d) prepared[d] = query[d] - rows.centre[d];
      return;
    case Metric::Cosine:
      for (int d = 0; d < dim; ++d) prepared[d] = query[d] * inverse_norm;
      return;
    case Metric::InnerProduct: std::memcpy(prepared, query, dim * sizeof(float)); return;
  }
}

void approximate_distances(Metric metric, const float* prepared, const void* const* rows, int count, int dim,
                           float* out) {
  avx512_approximate_distances(metric, prepared, rows, count, dim, out);
}

}  // namespace annforge::cpu
