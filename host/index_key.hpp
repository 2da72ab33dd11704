// What identifies an index's derived copies (the GPU backend's device copy, the CPU backend's
// bf16 rows for search): its storage and shape, and a fingerprint of sampled graph entries and
// vector bytes, so that an index changed in place gets its copies made again.
#pragma once

#include <cstdint>

#include "annforge.hpp"
#include "kernels/shared/partition_core.hpp"

namespace annforge::detail {

struct IndexKey {
  const void* vectors = nullptr;
  const void* graph = nullptr;
  int64_t rows = 0, dim = 0, graph_size = 0, entries = 0;
  int type = 0, metric = 0, degree = 0;
  uint64_t fingerprint = 0;
  bool operator==(const IndexKey& o) const {
    return vectors == o.vectors && graph == o.graph && rows == o.rows && dim == o.dim && graph_size == o.graph_size &&
           entries == o.entries && type == o.type && metric == o.metric && degree == o.degree &&
           fingerprint == o.fingerprint;
  }
};

// Sampled bytes of the first `rows` rows of `v` (64 of them, evenly spread), mixed: whether a
// grown index's first rows are still the ones an earlier copy was made from.
inline uint64_t rows_fingerprint(const DatasetView& v, int64_t rows) {
  uint64_t h = core::mix_bits(static_cast<uint64_t>(rows));
  const size_t row_bytes = v.row_bytes();
  if (rows <= 0 || row_bytes == 0) return h;
  for (int i = 0; i < 64; ++i) {
    const int64_t row = (rows - 1) * i / 63;
    const size_t at = (row_bytes - 1) * static_cast<size_t>(i) / 63;
    h = core::mix_bits(h ^ static_cast<const uint8_t*>(v.row(row))[at]);
  }
  return h;
}

inline IndexKey key_of(const Index& index) {
  IndexKey key;
  const DatasetView& v = index.vectors.view();
  key.vectors = v.data;
  key.graph = index.graph.data();
  key.rows = v.rows;
  key.dim = v.dim;
  key.graph_size = static_cast<int64_t>(index.graph.size());
  key.entries = static_cast<int64_t>(index.entry_points.size());
  key.type = static_cast<int>(v.type);
  key.metric = static_cast<int>(index.metric);
  key.degree = index.graph_degree;
  uint64_t h = rows_fingerprint(v, v.rows);
  for (int i = 0; i < 64 && !index.graph.empty(); ++i) {
    h = core::mix_bits(h ^ index.graph[(index.graph.size() - 1) * i / 63]);
  }
  for (uint32_t e : index.entry_points) h = core::mix_bits(h ^ e);
  h = core::mix_bits(h ^ static_cast<uint64_t>(index.upper_width_divisor));
  for (const UpperLevel& level : index.levels) {
    h = core::mix_bits(h ^ level.members.size() ^ (static_cast<uint64_t>(level.degree) << 40));
    if (!level.graph.empty()) h = core::mix_bits(h ^ level.graph[level.graph.size() / 2] ^ level.graph.back());
  }
  key.fingerprint = h;
  return key;
}

}  // namespace annforge::detail
