// The writers behind export_index (index/export.cpp): one per format, each given the index, the
// HNSW hierarchy built over it and an all-or-nothing file writer.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "annforge.hpp"
#include "host/cpu/graph/hnsw_hierarchy.hpp"
#include "host/cpu/parallel.hpp"
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

// The next `bytes` of the file, filled in `blocks` blocks on `threads` threads, each block
// written at its place by the thread that filled it (AtomicFileWriter::reserve / write_at), so
// that converting the rows and the kernel's copy into the page cache both run on every thread:
// `fill(b, buffer)` puts block b's values into `buffer` (a vector per thread, reused), written at
// `offset_of(b)` bytes into the range.
template <typename T, typename OffsetOf, typename Fill>
void write_blocks(AtomicFileWriter& out, uint64_t bytes, int64_t blocks, int threads, OffsetOf offset_of, Fill fill) {
  const uint64_t at = out.reserve(bytes);
  std::vector<std::vector<T>> buffers(cpu::resolve_threads(threads));
  cpu::parallel_for(blocks, threads, 1, [&](int64_t first, int64_t end, int thread) {
    std::vector<T>& buffer = buffers[thread];
    for (int64_t b = first; b < end; ++b) {
      fill(b, buffer);
      out.write_at(at + offset_of(b), buffer.data(), buffer.size() * sizeof(T));
    }
  });
}

// `threads`: for filling the blocks of rows before each write (0: every hardware thread).
void write_hnswlib(const Index& index, const cpu::HnswHierarchy& hierarchy, int threads, AtomicFileWriter& out);
void write_faiss(const Index& index, const cpu::HnswHierarchy& hierarchy, int threads, AtomicFileWriter& out);

}  // namespace annforge::detail
