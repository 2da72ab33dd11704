// Reading the first rows of a vector file (read_vectors' max_rows, the CLI's --rows): the rows
// read are the file's first ones, and a texmex file's row headers are checked as far as the
// rows read (a slice of a large file does not page the rest in), while the whole file is still
// refused for a bad header anywhere.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "annforge.hpp"
#include "tests/test_support.hpp"

namespace {

using namespace annforge;
using annforge_test::TempDir;

// A .fvecs file of `rows` rows of `dim` floats (row r holds r * 10 + d); the header of row
// `bad_row` (if any) says dim + 1.
std::vector<uint8_t> fvecs_bytes(int rows, int dim, int bad_row) {
  std::vector<uint8_t> bytes;
  for (int r = 0; r < rows; ++r) {
    const int32_t header = r == bad_row ? dim + 1 : dim;
    const uint8_t* h = reinterpret_cast<const uint8_t*>(&header);
    bytes.insert(bytes.end(), h, h + 4);
    for (int d = 0; d < dim; ++d) {
      const float value = static_cast<float>(r * 10 + d);
      const uint8_t* v = reinterpret_cast<const uint8_t*>(&value);
      bytes.insert(bytes.end(), v, v + 4);
    }
  }
  return bytes;
}

TEST(VectorFileSlices, FirstRowsAreReadAndCheckedOnlySoFar) {
  TempDir dir;
  const std::string path = dir.file("late-bad-header.fvecs");
  annforge_test::write_bytes(path, fvecs_bytes(8, 3, 5));
  // The first five rows are whole and consistent: they read.
  const Dataset first = read_vectors(path, 5);
  ASSERT_EQ(first.rows(), 5);
  ASSERT_EQ(first.dim(), 3);
  // In place: the rows where the file holds them, its 4-byte header between them.
  EXPECT_EQ(first.view().row_stride(), 4u + 3 * sizeof(float));
  for (int r = 0; r < 5; ++r) {
    const float* x = reinterpret_cast<const float*>(first.view().row(r));
    for (int d = 0; d < 3; ++d) EXPECT_EQ(x[d], static_cast<float>(r * 10 + d)) << r << ", " << d;
  }
  // Six rows reach the bad header; the whole file too.
  for (int64_t rows : {int64_t{6}, int64_t{-1}}) {
    try {
      (void)read_vectors(path, rows);
      FAIL() << "read " << rows << " rows past the bad header of row 5";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("row 5 has dimension 4"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
