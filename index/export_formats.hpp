// The writers behind export_index (index/export.cpp): one per format, each given the index, the
// HNSW hierarchy built over it and an all-or-nothing file writer.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "annforge.hpp"
#include "host/cpu/graph/hnsw_hierarchy.hpp"
#include "index/mapped_file.hpp"

namespace annforge::detail {

// Appends `value`'s bytes (native order, as both libraries write their files) to `bytes`.
template <typename T>
void put(std::vector<uint8_t>& bytes, T value) {
  const size_t at = bytes.size();
  bytes.resize(at + sizeof(T));
  std::memcpy(bytes.data() + at, &value, sizeof(T));
}

// Rows [first, first + count) as float32, as the exporting libraries store them: 8-bit rows
// converted, cosine rows scaled to unit length (a zero row stays zero).
void rows_as_float32(const Index& index, int64_t first, int64_t count, float* out);

// `threads`: for filling the blocks of rows before each write (0: every hardware thread).
void write_hnswlib(const Index& index, const cpu::HnswHierarchy& hierarchy, int threads, AtomicFileWriter& out);
void write_faiss(const Index& index, const cpu::HnswHierarchy& hierarchy, int threads, AtomicFileWriter& out);

}  // namespace annforge::detail
