// The bytes of each vector file layout, made by hand for the reader tests (vector_files_test.cpp,
// vector_file_errors_test.cpp), and a check that a dataset holds given rows.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "annforge.hpp"
#include "tests/test_support.hpp"

namespace annforge_test {

// --- byte builders for each layout ---------------------------------------------------------

// texmex: every row is an int32 dimension followed by the values.
template <typename T>
Bytes texmex(const std::vector<std::vector<T>>& rows) {
  Bytes b;
  for (const auto& row : rows) {
    b.i32(static_cast<int32_t>(row.size()));
    b.raw(row.data(), row.size() * sizeof(T));
  }
  return b;
}

// big-ann-benchmarks: u32 rows, u32 dim, then the row-major values.
template <typename T>
Bytes bigann(const std::vector<std::vector<T>>& rows) {
  Bytes b;
  b.u32(static_cast<uint32_t>(rows.size())).u32(rows.empty() ? 0 : static_cast<uint32_t>(rows[0].size()));
  for (const auto& row : rows) b.raw(row.data(), row.size() * sizeof(T));
  return b;
}

// The .npy header exactly as NumPy 1.x (1.23 and later) writes it for version 1.0: the dict
// with sorted keys and repr() values, spare spaces after it so the first axis can grow to 21
// digits in place, then spaces and a newline so that the data starts at a multiple of 64
// (numpy/lib/format.py: _write_array_header and _wrap_header).
inline std::string numpy1_header(const std::string& descr, bool fortran_order, const std::vector<long long>& shape) {
  std::string shape_repr = "(";
  for (size_t i = 0; i < shape.size(); ++i) shape_repr += (i ? ", " : "") + std::to_string(shape[i]);
  shape_repr += shape.size() == 1 ? ",)" : ")";
  std::string header = "{'descr': '" + descr + "', 'fortran_order': " + (fortran_order ? "True" : "False") +
                       ", 'shape': " + shape_repr + ", }";
  if (!shape.empty()) {
    const std::string growing_axis = std::to_string(fortran_order ? shape.back() : shape.front());
    header.append(21 - growing_axis.size(), ' ');
  }
  const size_t magic_and_length = 10;  // "\x93NUMPY", major, minor, u16 header length
  const size_t hlen = header.size() + 1;
  const size_t padlen = 64 - ((magic_and_length + hlen) % 64);
  header.append(padlen, ' ');
  header.push_back('\n');
  Bytes b;
  b.u8(0x93).text("NUMPY").u8(1).u8(0).u16(static_cast<uint16_t>(header.size())).text(header);
  return std::string(b.data().begin(), b.data().end());
}

template <typename T>
Bytes npy(const std::string& descr, const std::vector<std::vector<T>>& rows) {
  Bytes b;
  b.text(numpy1_header(descr, false, {static_cast<long long>(rows.size()), static_cast<long long>(rows[0].size())}));
  for (const auto& row : rows) b.raw(row.data(), row.size() * sizeof(T));
  return b;
}

// Checks a dataset holds exactly `expected`, row by row.
template <typename T>
void expect_rows(const annforge::Dataset& d, annforge::ElementType type, const std::vector<std::vector<T>>& expected) {
  ASSERT_EQ(d.type(), type);
  ASSERT_EQ(d.rows(), static_cast<int64_t>(expected.size()));
  ASSERT_EQ(d.dim(), static_cast<int64_t>(expected[0].size()));
  for (int64_t i = 0; i < d.rows(); ++i) {
    std::vector<T> row(d.dim());
    std::memcpy(row.data(), d.view().row(i), d.view().row_bytes());
    EXPECT_EQ(row, expected[i]) << "row " << i;
  }
}

inline const std::vector<std::vector<float>> kFloatRows = {
    {0.5f, -1.25f, 3.0f, 1e-7f, -0.0f}, {2.0f, 4.0f, 8.0f, 16.0f, 32.0f}, {-3.5f, 1e30f, -1e-30f, 7.75f, 0.125f}};
inline const std::vector<std::vector<uint8_t>> kByteRows = {{0, 1, 2, 3, 255, 128, 7}, {9, 8, 7, 6, 5, 4, 3}};
inline const std::vector<std::vector<int8_t>> kSignedRows = {{-128, 127, 0, -1}, {1, 2, -3, -4}, {5, -6, 7, -8}};

}  // namespace annforge_test
