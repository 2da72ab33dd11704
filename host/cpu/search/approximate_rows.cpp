// The bf16 copy of approximate_rows.hpp: built in parallel, prepared queries, and the kernels'
// dispatch (AVX-512 in approximate_rows_avx512.cpp, AVX2 in approximate_rows_avx2.cpp).
#include "host/cpu/search/approximate_rows.hpp"

#include <algorithm>
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
void avx512_int8_distances(Metric metric, const float* prepared, const void* const* rows, int count, int dim,
                           float* out);
// approximate_rows_avx2.cpp; only called where the CPU has AVX2 + FMA.
void avx2_approximate_distances(Metric metric, const float* prepared, const void* const* rows, int count, int dim,
                                float* out);
void avx2_int8_distances(Metric metric, const float* prepared, const void* const* rows, int count, int dim,
                         float* out);

ApproximateKind approximate_kind() {
  // Int8 by default: on 1M x 256 text embeddings (cosine, inner product) and 1M x 64 clustered
  // L2 data the walk over int8 rows kept bf16's recall at every beam (within 0.0005) with
  // 15-25% more queries/s (Intel Xeon, 2 threads, 2026-12-04).
  const char* knob = std::getenv("ANNFORGE_CPU_SEARCH_ROWS");
  if (knob == nullptr || *knob == '\0' || std::strcmp(knob, "int8") == 0) return ApproximateKind::Int8;
  if (std::strcmp(knob, "bf16") == 0) return ApproximateKind::Bf16;
  throw Error(ErrorCode::InvalidArgument, std::string("ANNFORGE_CPU_SEARCH_ROWS=") + knob + ": expected bf16 or int8");
}

bool approximate_kind_asked() {
  const char* knob = std::getenv("ANNFORGE_CPU_SEARCH_ROWS");
  return knob != nullptr && *knob != '\0';
}

bool approximate_rows_usable(const DatasetView& data) {
  // Read on every call (tests switch it between searches); a typo is refused rather than read
  // as "on".
  const char* knob = std::getenv("ANNFORGE_CPU_SEARCH_BF16");
  const bool off = knob != nullptr && *knob != '\0' && std::strcmp(knob, "1") != 0;
  if (off && std::strcmp(knob, "0") != 0) {
    throw Error(ErrorCode::InvalidArgument, std::string("ANNFORGE_CPU_SEARCH_BF16=") + knob + ": expected 0 or 1");
  }
  // Up to 16 dimensions a fp32 row is one cache line already: a compact copy saves no memory
  // traffic and its rounding only blurs the walk (200K x 2 uniform rows: recall@10 0.9239 /
  // 0.9978 at beam 16 / 64 walking int8 codes, 1.0000 / 1.0000 and faster walking fp32).
  return !off && data.type == ElementType::Float32 && data.dim > 16 && (cpu_has_avx512() || cpu_has_avx2_fma());
}

namespace {

// Rows [first, first + count) of `data` written into `rows`' codes or values (sized for them
// already) with its centre and scales: normalised (cosine, by `norms`, indexed from 0 at
// `first`), centred, then bf16, or int8 codes of each dimension's scale (clamped to +-127).
void encode_rows(ApproximateRows& rows, const DatasetView& data, int64_t first, int64_t count, const float* norms,
                 int threads) {
  const int dim = rows.dim;
  parallel_for(count, threads, 4096, [&](int64_t begin, int64_t end, int) {
    for (int64_t i = begin; i < end; ++i) {
      const float* row = reinterpret_cast<const float*>(data.row(first + i));
      const float scale = norms != nullptr ? norms[i] : 1.0f;
      if (rows.kind == ApproximateKind::Int8) {
        int8_t* to = rows.codes.data() + (first + i) * dim;
        for (int d = 0; d < dim; ++d) {
          const float code = std::nearbyint((row[d] * scale - rows.centre[d]) / rows.scales[d]);
          // NaN (an infinite value minus an infinite centre) as 0; infinities clamp.
          to[d] = std::isnan(code) ? int8_t{0} : static_cast<int8_t>(std::clamp(code, -127.0f, 127.0f));
        }
      } else {
        uint16_t* to = rows.values.data() + (first + i) * dim;
        for (int d = 0; d < dim; ++d) to[d] = to_bf16(row[d] * scale - rows.centre[d]);
      }
    }
  });
}

}  // namespace

ApproximateRows make_approximate_rows(const DatasetView& data, Metric metric, int threads, ApproximateKind kind,
                                      const std::vector<float>* inverse_norms_of_rows) {
  ApproximateRows out;
  out.metric = metric;
  out.kind = kind;
  out.rows = data.rows;
  out.dim = static_cast<int>(data.dim);
  const int dim = out.dim;
  const int workers = resolve_threads(threads);
  auto x_row = [&](int64_t i) { return reinterpret_cast<const float*>(data.row(i)); };
  // Cosine normalises each row: its inverse norm, computed once for the three passes below.
  std::vector<float> own_norms;
  const std::vector<float>* norms = nullptr;
  if (metric == Metric::Cosine) {
    if (inverse_norms_of_rows == nullptr || static_cast<int64_t>(inverse_norms_of_rows->size()) != data.rows) {
      own_norms = inverse_norms(data, threads);
      inverse_norms_of_rows = &own_norms;
    }
    norms = inverse_norms_of_rows;
  }
  auto row_scale = [&](int64_t i) { return norms != nullptr ? (*norms)[i] : 1.0f; };
  {
    // The mean of the rows as walked (normalised for cosine), in double, summed per thread
    // then combined.
    std::vector<std::vector<double>> partial(workers, std::vector<double>(dim, 0.0));
    parallel_for(data.rows, threads, 4096, [&](int64_t begin, int64_t end, int t) {
      for (int64_t i = begin; i < end; ++i) {
        const float scale = row_scale(i);
        const float* row = x_row(i);
        for (int d = 0; d < dim; ++d) partial[t][d] += row[d] * scale;
      }
    });
    out.centre.assign(dim, 0.0f);
    for (int d = 0; d < dim; ++d) {
      double sum = 0.0;
      for (const std::vector<double>& p : partial) sum += p[d];
      out.centre[d] = static_cast<float>(sum / static_cast<double>(std::max<int64_t>(data.rows, 1)));
    }
  }
  if (kind == ApproximateKind::Int8) {
    // Scales: each dimension's largest magnitude (normalised for cosine, centred) maps to 127.
    std::vector<std::vector<float>> largest(workers, std::vector<float>(dim, 0.0f));
    parallel_for(data.rows, threads, 4096, [&](int64_t begin, int64_t end, int t) {
      for (int64_t i = begin; i < end; ++i) {
        const float* row = x_row(i);
        const float scale = row_scale(i);
        for (int d = 0; d < dim; ++d) {
          largest[t][d] = std::max(largest[t][d], std::fabs(row[d] * scale - out.centre[d]));
        }
      }
    });
    out.scales.assign(dim, 1.0f);
    for (int d = 0; d < dim; ++d) {
      float m = 0.0f;
      for (const std::vector<float>& l : largest) m = std::max(m, l[d]);
      // A scale must be a normal number: a subnormal largest magnitude divided by 127 can round
      // to 0 (then 0 / 0 gives NaN codes); such a dimension keeps scale 1 and codes of 0.
      const float scale = m / 127.0f;
      if (std::isfinite(m) && std::isnormal(scale)) out.scales[d] = scale;
    }
    reserve_huge(out.codes, static_cast<size_t>(data.rows) * dim, workers);
    out.codes.resize(static_cast<size_t>(data.rows) * dim);
  } else {
    reserve_huge(out.values, static_cast<size_t>(data.rows) * dim, workers);
    out.values.resize(static_cast<size_t>(data.rows) * dim);
  }
  encode_rows(out, data, 0, data.rows, norms != nullptr ? norms->data() : nullptr, threads);
  return out;
}

void append_approximate_rows(ApproximateRows& rows, const DatasetView& data, int threads,
                             const std::vector<float>* inverse_norms_of_new_rows) {
  const int64_t first = rows.rows;
  const int64_t count = data.rows - first;
  if (count <= 0) return;
  std::vector<float> own_norms;
  const float* norms = nullptr;
  if (rows.metric == Metric::Cosine) {
    if (inverse_norms_of_new_rows == nullptr || static_cast<int64_t>(inverse_norms_of_new_rows->size()) != count) {
      own_norms = inverse_norms(data.slice(first, count), threads);
      inverse_norms_of_new_rows = &own_norms;
    }
    norms = inverse_norms_of_new_rows->data();
  }
  // Amortised growth: std::vector doubles its capacity.
  if (rows.kind == ApproximateKind::Int8) {
    rows.codes.resize(static_cast<size_t>(data.rows) * rows.dim);
  } else {
    rows.values.resize(static_cast<size_t>(data.rows) * rows.dim);
  }
  encode_rows(rows, data, first, count, norms, threads);
  rows.rows = data.rows;
}

void prepare_query(const ApproximateRows& rows, const float* query, float inverse_norm, float* prepared) {
  const int dim = rows.dim;
  for (int d = 0; d < dim; ++d) {
    switch (rows.metric) {
      case Metric::L2: prepared[d] = query[d] - rows.centre[d]; break;
      case Metric::Cosine: prepared[d] = query[d] * inverse_norm; break;
      case Metric::InnerProduct: prepared[d] = query[d]; break;
    }
  }
  if (rows.metric != Metric::L2) {
    // <q, x> = <q, x - m> + <q, m>: the rows hold x - m, the last entry carries <q, m>.
    double dot = 0.0;
    for (int d = 0; d < dim; ++d) dot += static_cast<double>(prepared[d]) * rows.centre[d];
    prepared[dim] = static_cast<float>(dot);
  }
  if (rows.kind != ApproximateKind::Int8) return;
  // Int8 rows hold value / scale: a dot takes the query times the scale; L2 takes
  // sum scale^2 (query / scale - code)^2, the query in code units and the weights after it.
  for (int d = 0; d < dim; ++d) {
    const float scale = rows.scales[d];
    if (rows.metric == Metric::L2) {
      prepared[dim + d] = scale * scale;
      prepared[d] /= scale;
    } else {
      prepared[d] *= scale;
    }
  }
}

void approximate_distances(const ApproximateRows& rows, const float* prepared, const void* const* row_pointers,
                           int count, float* out) {
  static const bool avx512 = cpu_has_avx512();  // else AVX2 (approximate_rows_usable)
  if (rows.kind == ApproximateKind::Int8) {
    (avx512 ? avx512_int8_distances : avx2_int8_distances)(rows.metric, prepared, row_pointers, count, rows.dim, out);
    return;
  }
  (avx512 ? avx512_approximate_distances : avx2_approximate_distances)(rows.metric, prepared, row_pointers, count,
                                                                        rows.dim, out);
}

void approximate_distances_avx2(const ApproximateRows& rows, const float* prepared, const void* const* row_pointers,
                                int count, float* out) {
  (rows.kind == ApproximateKind::Int8 ? avx2_int8_distances : avx2_approximate_distances)(rows.metric, prepared,
                                                                                          row_pointers, count,
                                                                                          rows.dim, out);
}

}  // namespace annforge::cpu
