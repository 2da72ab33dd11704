// Fuzzes read_vectors for one file type (FUZZ_EXTENSION, one binary per extension). Any input
// must either be refused with annforge::Error or read as a matrix whose every byte is readable,
// whose rows are aligned for their element type, and which writes back and reads again the same.
#include <cstdint>
#include <cstring>
#include <string>

#include "annforge.hpp"
#include "tests/fuzz/fuzz_support.hpp"

using namespace annforge;
using namespace annforge_fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string input = scratch_path("input." FUZZ_EXTENSION);
  static const std::string copy = scratch_path("copy." FUZZ_EXTENSION);
  write_file(input, data, size);
  for (int64_t max_rows : {int64_t{-1}, int64_t{2}}) {
    Dataset read;
    try {
      read = read_vectors(input, max_rows);
    } catch (const Error&) {
      continue;  // refused with a message: the wanted outcome for a bad file
    }
    const DatasetView& v = read.view();
    FUZZ_CHECK(v.rows > 0 && v.dim > 0);
    FUZZ_CHECK(max_rows < 0 || v.rows <= max_rows);
    FUZZ_CHECK(reinterpret_cast<uintptr_t>(v.data) % element_size(v.type) == 0);
    FUZZ_CHECK(v.row_stride() >= v.row_bytes() && v.row_stride() % element_size(v.type) == 0);
    // Rows may lie apart (texmex files are read in place): every row's bytes are readable.
    for (int64_t r = 0; r < v.rows; ++r) touch(v.row(r), v.row_bytes());
    // A file that was read writes back and reads again as the same matrix.
    write_vectors(copy, v);
    const Dataset again = read_vectors(copy);
    FUZZ_CHECK(again.rows() == v.rows && again.dim() == v.dim && again.type() == v.type);
    for (int64_t r = 0; r < v.rows; ++r) FUZZ_CHECK(std::memcmp(again.view().row(r), v.row(r), v.row_bytes()) == 0);
  }
  return 0;
}
