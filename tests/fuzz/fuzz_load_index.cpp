// Fuzzes the index loader. With FUZZ_FIX_CHECKSUM the harness first writes a valid checksum
// into the last 8 bytes, so that mutations get past it and reach the header and structure
// checks; without it, the checksum itself is under test. Any input must be refused with
// annforge::Error or load as an index that satisfies the graph invariants the loader promises
// and saves back byte for byte.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "annforge.hpp"
#include "tests/fuzz/fuzz_support.hpp"

using namespace annforge;
using namespace annforge_fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string input = scratch_path("input.afi");
  static const std::string copy = scratch_path("copy.afi");
  std::vector<uint8_t> bytes(data, data + size);
#ifdef FUZZ_FIX_CHECKSUM
  fix_checksum(bytes);
#endif
  Index index;
  if (!load_written(input, bytes, &index)) return 0;
  FUZZ_CHECK(index.rows() > 0 && index.dim() > 0);
  FUZZ_CHECK(index.graph.size() == static_cast<size_t>(index.rows()) * index.graph_degree);
  FUZZ_CHECK(!index.entry_points.empty());
  for (uint32_t id : index.graph) FUZZ_CHECK(id < index.rows());
  for (uint32_t id : index.entry_points) FUZZ_CHECK(id < index.rows());
  touch(index.vectors.view().data, index.rows() * index.vectors.view().row_bytes());
  save(index, copy);
  std::FILE* f = std::fopen(copy.c_str(), "rb");
  FUZZ_CHECK(f != nullptr);
  std::vector<uint8_t> saved(bytes.size() + 1);
  const size_t got = std::fread(saved.data(), 1, saved.size(), f);
  std::fclose(f);
  FUZZ_CHECK(got == bytes.size() && std::memcmp(saved.data(), bytes.data(), got) == 0);
  return 0;
}
