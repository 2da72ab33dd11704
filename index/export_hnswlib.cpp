// hnswlib's index file (HierarchicalNSW::saveIndex / loadIndex, hnswlib 0.6-0.8), native byte
// order as hnswlib writes it:
//   size_t offsetLevel0 (0), max_elements, cur_element_count, size_data_per_element,
//          label_offset, offsetData; int maxlevel; uint32 enterpoint_node;
//   size_t maxM, maxM0, M; double mult; size_t ef_construction;
//   per element (internal id = its place in locality_order.hpp's order; label = its row):
//          uint32 link count (low 16 bits; bits 16-23 hold the deletion mark), maxM0 uint32
//          ids, the vector (dim float32), size_t label;
//   per element: uint32 bytes of its upper links (levels x (4 + 4 maxM)), then per level
//          1..its top: uint32 count, maxM uint32 ids.
// loadIndex checks that these sizes add up to the file's length exactly.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "host/cpu/graph/locality_order.hpp"
#include "host/cpu/parallel.hpp"
#include "host/cpu/trace.hpp"
#include "host/env_knob.hpp"
#include "index/export_formats.hpp"

namespace annforge::detail {

namespace {

// hnswlib's efConstruction default: used by hnswlib only for rows added after loading.
constexpr size_t kEfConstruction = 200;

}  // namespace

void write_hnswlib(const Index& index, const cpu::HnswHierarchy& hierarchy, int threads, AtomicFileWriter& out) {
  const int64_t rows = index.rows();
  const int64_t dim = index.dim();
  // M is what the upper levels were built with (graph_degree / 2, HNSW's rule); the lists hold
  // up to maxM = M + the long links' slots, and level 0 up to maxM0 = graph_degree + 1 (the
  // long links in place of a full list's last links; the last slot always free).
  const size_t m = static_cast<size_t>(std::max(1, hierarchy.m));
  const size_t max_m = m + static_cast<size_t>(hierarchy.level_extra);
  const size_t max_m0 = static_cast<size_t>(std::max(1, hierarchy.base_degree));
  const size_t links_level0 = max_m0 * sizeof(uint32_t) + sizeof(uint32_t);
  const size_t data_size = static_cast<size_t>(dim) * sizeof(float);
  const size_t per_element = links_level0 + data_size + sizeof(uint64_t);
  const size_t links_upper = max_m * sizeof(uint32_t) + sizeof(uint32_t);

  // Elements in locality order (labels stay the caller's rows): element p is row order[p], and
  // links to row r name element position_of[r]. ANNFORGE_EXPORT_ORDER=2 keeps row order (A/B).
  cpu::StageTimer timer;
  std::vector<uint32_t> order;
  if (env_knob("ANNFORGE_EXPORT_ORDER", 1) == 1) {
    order = cpu::hierarchy_locality_order(hierarchy, threads);
  } else {
    order.resize(rows);
    for (int64_t r = 0; r < rows; ++r) order[r] = static_cast<uint32_t>(r);
  }
  const std::vector<uint32_t> position_of = cpu::inverse_permutation(order);
  timer.lap("export: hnswlib elements in locality order");

  std::vector<uint8_t> bytes;
  put<uint64_t>(bytes, 0);  // offsetLevel0
  put<uint64_t>(bytes, static_cast<uint64_t>(rows));
  put<uint64_t>(bytes, static_cast<uint64_t>(rows));
  put<uint64_t>(bytes, per_element);
  put<uint64_t>(bytes, links_level0 + data_size);  // label_offset
  put<uint64_t>(bytes, links_level0);              // offsetData
  put<int32_t>(bytes, hierarchy.max_level());
  put<uint32_t>(bytes, position_of[hierarchy.entry]);
  put<uint64_t>(bytes, max_m);
  put<uint64_t>(bytes, max_m0);
  put<uint64_t>(bytes, m);
  put<double>(bytes, 1.0 / std::log(static_cast<double>(std::max<size_t>(2, m))));
  put<uint64_t>(bytes, std::max(kEfConstruction, m));
  out.write(bytes.data(), bytes.size());

  // Level 0 in blocks of rows (links, vector, label), each block filled and written by one of
  // `threads` threads at its place in the file: the float32 conversion and the kernel's copy
  // into the page cache both run on every thread (one thread writing took 0.9 s of a 1M SIFT
  // export; the blocks filled in parallel and then written by one, 0.35-0.55 s).
  constexpr int64_t kBlock = 1 << 14;
  write_blocks<uint8_t>(
      out, static_cast<uint64_t>(rows) * per_element, (rows + kBlock - 1) / kBlock, threads,
      [&](int64_t b) { return static_cast<uint64_t>(b) * kBlock * per_element; },
      [&](int64_t b, std::vector<uint8_t>& block) {
        const int64_t first = b * kBlock;
        const int64_t count = std::min(kBlock, rows - first);
        std::vector<uint32_t> ids(max_m0);
        block.assign(static_cast<size_t>(count) * per_element, 0);
        for (int64_t i = 0; i < count; ++i) {
          uint8_t* element = block.data() + i * per_element;
          const uint32_t row = order[first + i];
          const uint32_t links = static_cast<uint32_t>(hierarchy.links(row, 0, static_cast<int>(max_m0), ids.data()));
          for (uint32_t j = 0; j < links; ++j) ids[j] = position_of[ids[j]];
          std::memcpy(element, &links, sizeof(uint32_t));
          std::memcpy(element + sizeof(uint32_t), ids.data(), links * sizeof(uint32_t));
          rows_as_float32(index, row, 1, reinterpret_cast<float*>(element + links_level0));
          const uint64_t label = row;
          std::memcpy(element + links_level0 + data_size, &label, sizeof(uint64_t));
        }
      });

  // Upper levels, element by element in the same order, each list in internal ids.
  std::vector<uint32_t> ids;
  for (int64_t first = 0; first < rows; first += kBlock) {
    const int64_t count = std::min(kBlock, rows - first);
    bytes.clear();
    for (int64_t p = first; p < first + count; ++p) {
      const uint32_t r = order[p];
      const int top = hierarchy.top_level[r];
      put<uint32_t>(bytes, static_cast<uint32_t>(links_upper * top));
      for (int level = 1; level <= top; ++level) {
        const size_t at = bytes.size();
        bytes.resize(at + links_upper, 0);
        ids.resize(max_m);
        const uint32_t links =
            static_cast<uint32_t>(hierarchy.links(r, level, static_cast<int>(max_m), ids.data()));
        for (uint32_t j = 0; j < links; ++j) ids[j] = position_of[ids[j]];
        std::memcpy(bytes.data() + at, &links, sizeof(uint32_t));
        std::memcpy(bytes.data() + at + sizeof(uint32_t), ids.data(), links * sizeof(uint32_t));
      }
    }
    out.write(bytes.data(), bytes.size());
  }
}

}  // namespace annforge::detail
