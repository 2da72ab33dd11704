// Fuzzes read_neighbors for one file type (FUZZ_EXTENSION: ivecs or ibin). Any input must be
// refused with annforge::Error or read as rows x k ids that write back and read again the same.
#include <cstdint>
#include <string>

#include "annforge.hpp"
#include "tests/fuzz/fuzz_support.hpp"

using namespace annforge;
using namespace annforge_fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string input = scratch_path("input." FUZZ_EXTENSION);
  static const std::string copy = scratch_path("copy." FUZZ_EXTENSION);
  write_file(input, data, size);
  Neighbors read;
  try {
    read = read_neighbors(input);
  } catch (const Error&) {
    return 0;
  }
  FUZZ_CHECK(read.rows > 0 && read.k > 0);
  FUZZ_CHECK(read.ids.size() == static_cast<size_t>(read.rows) * read.k);
  FUZZ_CHECK(read.distances.size() == read.ids.size());
  write_neighbors(copy, read);
  const Neighbors again = read_neighbors(copy);
  FUZZ_CHECK(again.rows == read.rows && again.k == read.k && again.ids == read.ids);
  return 0;
}
