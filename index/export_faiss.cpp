// FAISS's IndexHNSWFlat as faiss::write_index lays it out (read by faiss::read_index, FAISS
// 1.7 and later), native byte order:
//   "IHNf"; index header: int32 d, int64 ntotal, int64 dummy x 2 (1 << 20), bool is_trained,
//          int32 metric_type (0 inner product, 1 L2);
//   HNSW: vector<double> assign_probas, vector<int32> cum_nneighbor_per_level,
//          vector<int32> levels (per node: its top level + 1), vector<size_t> offsets (ntotal + 1),
//          vector<int32> neighbors (per node: 2M level-0 slots, then M per upper level; -1 pads),
//          int32 entry_point, max_level, efConstruction, efSearch, upper_beam (1);
//   storage: "IxF2" or "IxFI", the same index header, size_t floats, the float32 rows.
// A vector<T> is its size_t element count, then the elements.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "host/cpu/parallel.hpp"
#include "index/export_formats.hpp"

namespace annforge::detail {

namespace {

uint32_t fourcc(const char* code) {
  return static_cast<uint32_t>(static_cast<unsigned char>(code[0])) |
         static_cast<uint32_t>(static_cast<unsigned char>(code[1])) << 8 |
         static_cast<uint32_t>(static_cast<unsigned char>(code[2])) << 16 |
         static_cast<uint32_t>(static_cast<unsigned char>(code[3])) << 24;
}

void put_index_header(std::vector<uint8_t>& bytes, const Index& index) {
  put<int32_t>(bytes, static_cast<int32_t>(index.dim()));
  put<int64_t>(bytes, index.rows());
  put<int64_t>(bytes, int64_t{1} << 20);
  put<int64_t>(bytes, int64_t{1} << 20);
  put<uint8_t>(bytes, 1);                                         // is_trained
  put<int32_t>(bytes, index.metric == Metric::L2 ? 1 : 0);        // METRIC_L2 / METRIC_INNER_PRODUCT
}

// FAISS's defaults where they are only used for later additions or as a search default.
constexpr int32_t kEfConstruction = 40, kEfSearch = 16;

}  // namespace

void write_faiss(const Index& index, const cpu::HnswHierarchy& hierarchy, int threads, AtomicFileWriter& out) {
  const int64_t rows = index.rows();
  const int64_t dim = index.dim();
  // Slots per level as in the hnswlib export: level 0 graph_degree (its long links in place of a
  // full list's last links; the hierarchy's one more slot, always free, is for hnswlib's read
  // past a list and FAISS does not need it), upper levels M + long links; the level
  // probabilities follow M (what the upper levels were built with).
  const int32_t m0 = std::max(1, hierarchy.base_degree - 1);
  const int32_t m_upper = std::max(1, hierarchy.m + hierarchy.level_extra);
  const int32_t m = std::max(1, hierarchy.m);
  const int max_level = hierarchy.max_level();
  // HNSW::set_default_probas(M, 1 / ln M): level l with probability M^-l (1 - 1/M), while above
  // 1e-9; cum_nneighbor_per_level = 0, 2M, 3M, ... and at least up to the top level we write.
  const double level_mult = 1.0 / std::log(static_cast<double>(std::max(2, m)));
  std::vector<double> probas;
  for (int level = 0;; ++level) {
    const double p = std::exp(-level / level_mult) * (1.0 - std::exp(-1.0 / level_mult));
    if (p < 1e-9) break;
    probas.push_back(p);
  }
  std::vector<int32_t> cumulative{0};
  const int levels_wanted = std::max<int>(static_cast<int>(probas.size()), max_level + 1);
  for (int level = 0; level < levels_wanted; ++level) cumulative.push_back(cumulative.back() + (level == 0 ? m0 : m_upper));

  std::vector<uint8_t> bytes;
  put<uint32_t>(bytes, fourcc("IHNf"));
  put_index_header(bytes, index);
  put<uint64_t>(bytes, probas.size());
  for (double p : probas) put<double>(bytes, p);
  put<uint64_t>(bytes, cumulative.size());
  for (int32_t c : cumulative) put<int32_t>(bytes, c);
  put<uint64_t>(bytes, static_cast<uint64_t>(rows));
  for (int64_t r = 0; r < rows; ++r) put<int32_t>(bytes, hierarchy.top_level[r] + 1);
  put<uint64_t>(bytes, static_cast<uint64_t>(rows + 1));
  uint64_t offset = 0;
  put<uint64_t>(bytes, offset);
  for (int64_t r = 0; r < rows; ++r) {
    offset += static_cast<uint64_t>(cumulative[hierarchy.top_level[r] + 1]);
    put<uint64_t>(bytes, offset);
  }
  put<uint64_t>(bytes, offset);  // neighbors' element count
  out.write(bytes.data(), bytes.size());

  // Each node's slots: level 0 (m0), then m per upper level up to its top; -1 where empty. In
  // blocks of rows, each filled and written by one of `threads` threads at its place.
  constexpr int64_t kBlock = 1 << 14;
  const int64_t blocks = (rows + kBlock - 1) / kBlock;
  std::vector<uint64_t> block_offset(blocks + 1, 0);  // in slots, from the first node's
  for (int64_t r = 0; r < rows; ++r) block_offset[r / kBlock + 1] += cumulative[hierarchy.top_level[r] + 1];
  for (int64_t b = 0; b < blocks; ++b) block_offset[b + 1] += block_offset[b];
  write_blocks<int32_t>(
      out, block_offset[blocks] * sizeof(int32_t), blocks, threads,
      [&](int64_t b) { return block_offset[b] * sizeof(int32_t); },
      [&](int64_t b, std::vector<int32_t>& slots) {
        std::vector<uint32_t> ids;
        slots.clear();
        for (int64_t r = b * kBlock; r < std::min(rows, (b + 1) * kBlock); ++r) {
          const size_t base = slots.size();
          slots.resize(base + cumulative[hierarchy.top_level[r] + 1], -1);
          for (int level = 0; level <= hierarchy.top_level[r]; ++level) {
            const int room = cumulative[level + 1] - cumulative[level];
            ids.resize(room);
            const int count = hierarchy.links(static_cast<uint32_t>(r), level, room, ids.data());
            std::copy_n(ids.data(), count, slots.data() + base + cumulative[level]);  // < 2^31: export_index checks
          }
        }
      });
  bytes.clear();
  put<int32_t>(bytes, static_cast<int32_t>(hierarchy.entry));
  put<int32_t>(bytes, max_level);
  put<int32_t>(bytes, kEfConstruction);
  put<int32_t>(bytes, kEfSearch);
  put<int32_t>(bytes, 1);  // upper_beam
  // The storage: an IndexFlatL2 / IndexFlatIP of the rows as float32.
  put<uint32_t>(bytes, fourcc(index.metric == Metric::L2 ? "IxF2" : "IxFI"));
  put_index_header(bytes, index);
  put<uint64_t>(bytes, static_cast<uint64_t>(rows * dim));
  out.write(bytes.data(), bytes.size());
  // The rows as float32 in blocks, each converted and written by one of `threads` threads at its
  // place in the file, as hnswlib's level 0 is.
  constexpr int64_t kRowsBlock = 1 << 14;
  const size_t row_bytes = static_cast<size_t>(dim) * sizeof(float);
  write_blocks<float>(
      out, static_cast<uint64_t>(rows) * row_bytes, (rows + kRowsBlock - 1) / kRowsBlock, threads,
      [&](int64_t b) { return static_cast<uint64_t>(b) * kRowsBlock * row_bytes; },
      [&](int64_t b, std::vector<float>& floats) {
        const int64_t first = b * kRowsBlock;
        const int64_t count = std::min(kRowsBlock, rows - first);
        floats.resize(static_cast<size_t>(count) * dim);
        rows_as_float32(index, first, count, floats.data());
      });
}

}  // namespace annforge::detail
