// Vector and neighbour files: every reader on hand-made bytes, write/read round trips that are
// byte-for-byte stable, max_rows slicing, and every malformed input failing with the right
// ErrorCode and a message naming the file.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "annforge.hpp"
#include "tests/test_support.hpp"

namespace {

using namespace annforge;
using namespace annforge_test;

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
std::string numpy1_header(const std::string& descr, bool fortran_order, const std::vector<long long>& shape) {
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
void expect_rows(const Dataset& d, ElementType type, const std::vector<std::vector<T>>& expected) {
  ASSERT_EQ(d.type(), type);
  ASSERT_EQ(d.rows(), static_cast<int64_t>(expected.size()));
  ASSERT_EQ(d.dim(), static_cast<int64_t>(expected[0].size()));
  for (int64_t i = 0; i < d.rows(); ++i) {
    std::vector<T> row(d.dim());
    std::memcpy(row.data(), d.view().row(i), d.view().row_bytes());
    EXPECT_EQ(row, expected[i]) << "row " << i;
  }
}

const std::vector<std::vector<float>> kFloatRows = {
    {0.5f, -1.25f, 3.0f, 1e-7f, -0.0f}, {2.0f, 4.0f, 8.0f, 16.0f, 32.0f}, {-3.5f, 1e30f, -1e-30f, 7.75f, 0.125f}};
const std::vector<std::vector<uint8_t>> kByteRows = {{0, 1, 2, 3, 255, 128, 7}, {9, 8, 7, 6, 5, 4, 3}};
const std::vector<std::vector<int8_t>> kSignedRows = {{-128, 127, 0, -1}, {1, 2, -3, -4}, {5, -6, 7, -8}};

// --- readers ---------------------------------------------------------------------------

TEST(VectorFiles, ReadsFvecs) {
  TempDir dir;
  write_bytes(dir.file("a.fvecs"), texmex(kFloatRows).data());
  expect_rows(read_vectors(dir.file("a.fvecs")), ElementType::Float32, kFloatRows);
}

TEST(VectorFiles, ReadsBvecs) {
  TempDir dir;
  write_bytes(dir.file("a.bvecs"), texmex(kByteRows).data());
  expect_rows(read_vectors(dir.file("a.bvecs")), ElementType::UInt8, kByteRows);
}

TEST(VectorFiles, ReadsFbinU8binI8bin) {
  TempDir dir;
  write_bytes(dir.file("a.fbin"), bigann(kFloatRows).data());
  write_bytes(dir.file("a.u8bin"), bigann(kByteRows).data());
  write_bytes(dir.file("a.i8bin"), bigann(kSignedRows).data());
  expect_rows(read_vectors(dir.file("a.fbin")), ElementType::Float32, kFloatRows);
  expect_rows(read_vectors(dir.file("a.u8bin")), ElementType::UInt8, kByteRows);
  expect_rows(read_vectors(dir.file("a.i8bin")), ElementType::Int8, kSignedRows);
}

TEST(VectorFiles, ReadsNpyOfEachType) {
  TempDir dir;
  write_bytes(dir.file("f.npy"), npy("<f4", kFloatRows).data());
  write_bytes(dir.file("u.npy"), npy("|u1", kByteRows).data());
  write_bytes(dir.file("i.npy"), npy("|i1", kSignedRows).data());
  expect_rows(read_vectors(dir.file("f.npy")), ElementType::Float32, kFloatRows);
  expect_rows(read_vectors(dir.file("u.npy")), ElementType::UInt8, kByteRows);
  expect_rows(read_vectors(dir.file("i.npy")), ElementType::Int8, kSignedRows);
}

// float16 (.npy '<f2', .f16bin) and float64 (.npy '<f8') are converted to float32 at read,
// exactly (float16) or rounded (float64), and say so.
TEST(VectorFiles, ReadsFloat16AndFloat64AsFloat32) {
  TempDir dir;
  // 1.5, -2, 0.099975586 (the half nearest 0.1), 65504 (the largest half), a subnormal half.
  const std::vector<std::vector<uint16_t>> halves = {{0x3E00, 0xC000, 0x2E66}, {0x7BFF, 0x0001, 0x8000}};
  const std::vector<std::vector<float>> as_floats = {{1.5f, -2.0f, 0.0999755859375f},
                                                     {65504.0f, 5.9604644775390625e-08f, -0.0f}};
  write_bytes(dir.file("h.npy"), npy("<f2", halves).data());
  write_bytes(dir.file("h.f16bin"), bigann(halves).data());
  for (const char* name : {"h.npy", "h.f16bin"}) {
    const Dataset d = read_vectors(dir.file(name));
    expect_rows(d, ElementType::Float32, as_floats);
    EXPECT_EQ(d.converted_from(), "float16") << name;
    EXPECT_EQ(d.source(), dir.file(name));
    const Dataset first = read_vectors(dir.file(name), 1);
    EXPECT_EQ(first.rows(), 1);
  }
  const std::vector<std::vector<double>> doubles = {{0.1, -1e-3, 1e30}, {2.5, 3.0, -7.0}};
  write_bytes(dir.file("d.npy"), npy("<f8", doubles).data());
  const Dataset d = read_vectors(dir.file("d.npy"));
  expect_rows(d, ElementType::Float32, std::vector<std::vector<float>>{{0.1f, -1e-3f, 1e30f}, {2.5f, 3.0f, -7.0f}});
  EXPECT_EQ(d.converted_from(), "float64");
  // A file read as it is says nothing.
  write_bytes(dir.file("f.npy"), npy("<f4", kFloatRows).data());
  EXPECT_EQ(read_vectors(dir.file("f.npy")).converted_from(), "");
}

TEST(VectorFiles, Float64BeyondFloat32IsAnErrorNamingTheValue) {
  TempDir dir;
  write_bytes(dir.file("big.npy"), npy("<f8", std::vector<std::vector<double>>{{1.0, 2.0}, {3.0, -1e300}}).data());
  try {
    read_vectors(dir.file("big.npy"));
    FAIL() << "1e300 cannot be a float32";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Format);
    EXPECT_NE(std::string(e.what()).find("big.npy"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("row 1 column 1"), std::string::npos) << e.what();
  }
}

// .f16bin written from float32 rounds each value to the nearest half; reading it back gives
// those halves as floats, and a second write is byte-identical.
TEST(VectorFiles, F16binRoundTrip) {
  TempDir dir;
  Rng rng(11);
  Dataset data = Dataset::allocate(300, 17, ElementType::Float32);
  auto* values = static_cast<float*>(data.mutable_data());
  for (int i = 0; i < 300 * 17; ++i) values[i] = static_cast<float>(rng.normal() * 10.0);
  write_vectors(dir.file("a.f16bin"), data.view());
  EXPECT_EQ(read_bytes(dir.file("a.f16bin")).size(), 8u + 300u * 17u * 2u);
  const Dataset back = read_vectors(dir.file("a.f16bin"));
  ASSERT_EQ(back.rows(), 300);
  ASSERT_EQ(back.dim(), 17);
  const auto* read = static_cast<const float*>(back.view().data);
  for (int i = 0; i < 300 * 17; ++i) {
    ASSERT_LE(std::fabs(read[i] - values[i]), std::fabs(values[i]) * (1.0f / 2048) + 1e-7f) << i;
  }
  write_vectors(dir.file("b.f16bin"), back.view());
  EXPECT_EQ(read_bytes(dir.file("a.f16bin")), read_bytes(dir.file("b.f16bin")));
  // Only float32 rows go into an .f16bin.
  Dataset bytes = Dataset::allocate(2, 4, ElementType::UInt8);
  EXPECT_THROW(write_vectors(dir.file("c.f16bin"), bytes.view()), Error);
}

TEST(VectorFiles, TruncatedFloat16FilesAreRefused) {
  TempDir dir;
  Bytes cut = bigann(std::vector<std::vector<uint16_t>>{{1, 2, 3}, {4, 5, 6}});
  std::vector<uint8_t> bytes = cut.data();
  bytes.resize(bytes.size() - 3);
  write_bytes(dir.file("cut.f16bin"), bytes);
  try {
    read_vectors(dir.file("cut.f16bin"));
    FAIL() << "a truncated .f16bin must be refused";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Format);
    EXPECT_NE(std::string(e.what()).find("cut.f16bin"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
  }
}

// One file written byte by byte as NumPy 1.x lays it out: the header is padded so that the
// data begins on a 64-byte boundary, with the spare growth spaces NumPy adds.
TEST(VectorFiles, ReadsNpyLaidOutExactlyAsNumPy1) {
  TempDir dir;
  const int rows = 1234, dim = 3;  // a 4-digit first axis: the growth padding is 17 spaces
  std::vector<std::vector<float>> values(rows, std::vector<float>(dim));
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < dim; ++j) values[i][j] = static_cast<float>(i) - 0.5f * static_cast<float>(j);
  Bytes b = npy("<f4", values);
  const std::string header = numpy1_header("<f4", false, {rows, dim});
  ASSERT_EQ(header.size() % 64, 0u) << "the hand-made header must end on a 64-byte boundary";
  ASSERT_EQ(header.back(), '\n');
  // The exact text NumPy 1.24 writes for np.save of a (1234, 3) float32 array.
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (1234, 3), }";
  ASSERT_EQ(header.substr(10, dict.size()), dict);
  write_bytes(dir.file("numpy1.npy"), b.data());
  expect_rows(read_vectors(dir.file("numpy1.npy")), ElementType::Float32, values);
}

// .npy format version 2.0 stores the header length in 4 bytes; the data is the same.
TEST(VectorFiles, ReadsNpyVersion2Header) {
  TempDir dir;
  std::string dict = "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 7), }";
  size_t total = 12 + dict.size() + 1;
  dict.append((total + 63) / 64 * 64 - total, ' ');
  dict.push_back('\n');
  Bytes b;
  b.u8(0x93).text("NUMPY").u8(2).u8(0).u32(static_cast<uint32_t>(dict.size())).text(dict);
  for (const auto& row : kByteRows) b.raw(row.data(), row.size());
  write_bytes(dir.file("v2.npy"), b.data());
  expect_rows(read_vectors(dir.file("v2.npy")), ElementType::UInt8, kByteRows);
}

bool system_numpy_available() {
  if (!file_exists("/usr/bin/python3")) return false;
  return std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0;
}

// A file NumPy itself wrote (Debian's python3-numpy): it reads back, and it is byte-identical
// to the hand-made layout above, which proves that layout is NumPy's.
TEST(VectorFiles, ReadsNpyWrittenByNumPy) {
  if (!system_numpy_available()) GTEST_SKIP() << "/usr/bin/python3 with numpy (Debian python3-numpy) is not installed";
  TempDir dir;
  const std::string script =
      "import numpy as np, sys\n"
      "d = sys.argv[1]\n"
      "np.save(d + '/f.npy', (np.arange(1234 * 3, dtype=np.float32).reshape(1234, 3) * 0.5 - 7).astype(np.float32))\n"
      "np.save(d + '/u.npy', (np.arange(5 * 7) % 256).astype(np.uint8).reshape(5, 7))\n"
      "np.save(d + '/i.npy', (np.arange(4 * 9) - 18).astype(np.int8).reshape(4, 9))\n"
      "np.save(d + '/h.npy', (np.arange(6 * 5, dtype=np.float32).reshape(6, 5) * 0.25 - 3).astype(np.float16))\n"
      "np.save(d + '/d.npy', np.arange(6 * 5, dtype=np.float64).reshape(6, 5) * 0.25 - 3)\n";
  write_bytes(dir.file("make.py"), script);
  ASSERT_EQ(std::system(("/usr/bin/python3 " + dir.file("make.py") + " " + dir.path()).c_str()), 0);

  std::vector<std::vector<float>> f(1234, std::vector<float>(3));
  for (int i = 0; i < 1234 * 3; ++i) f[i / 3][i % 3] = static_cast<float>(i) * 0.5f - 7.0f;
  std::vector<std::vector<uint8_t>> u(5, std::vector<uint8_t>(7));
  for (int i = 0; i < 35; ++i) u[i / 7][i % 7] = static_cast<uint8_t>(i);
  std::vector<std::vector<int8_t>> s(4, std::vector<int8_t>(9));
  for (int i = 0; i < 36; ++i) s[i / 9][i % 9] = static_cast<int8_t>(i - 18);

  expect_rows(read_vectors(dir.file("f.npy")), ElementType::Float32, f);
  expect_rows(read_vectors(dir.file("u.npy")), ElementType::UInt8, u);
  expect_rows(read_vectors(dir.file("i.npy")), ElementType::Int8, s);
  EXPECT_EQ(read_bytes(dir.file("f.npy")), npy("<f4", f).data());
  EXPECT_EQ(read_bytes(dir.file("u.npy")), npy("|u1", u).data());
  EXPECT_EQ(read_bytes(dir.file("i.npy")), npy("|i1", s).data());
  // NumPy's float16 and float64 read as the same float32 values (all exact in both).
  std::vector<std::vector<float>> quarters(6, std::vector<float>(5));
  for (int i = 0; i < 30; ++i) quarters[i / 5][i % 5] = static_cast<float>(i) * 0.25f - 3.0f;
  expect_rows(read_vectors(dir.file("h.npy")), ElementType::Float32, quarters);
  expect_rows(read_vectors(dir.file("d.npy")), ElementType::Float32, quarters);
}

TEST(VectorFiles, ReadsNeighborFiles) {
  TempDir dir;
  const std::vector<std::vector<int32_t>> rows = {{5, 3, 9}, {0, -1, -1}, {2147483647, 1, 2}, {7, 8, 6}};
  write_bytes(dir.file("gt.ivecs"), texmex(rows).data());
  write_bytes(dir.file("gt.ibin"), bigann(rows).data());
  for (const std::string name : {"gt.ivecs", "gt.ibin"}) {
    SCOPED_TRACE(name);
    Neighbors n = read_neighbors(dir.file(name));
    ASSERT_EQ(n.rows, 4);
    ASSERT_EQ(n.k, 3);
    ASSERT_EQ(n.ids.size(), 12u);
    ASSERT_EQ(n.distances.size(), 12u);
    for (int i = 0; i < 4; ++i) {
      for (int j = 0; j < 3; ++j) {
        uint32_t expected = rows[i][j] < 0 ? kInvalidId : static_cast<uint32_t>(rows[i][j]);
        EXPECT_EQ(n.ids[i * 3 + j], expected) << "row " << i << " column " << j;
      }
    }
  }
}

TEST(VectorFiles, NeighborFilesAreNotVectorsAndViceVersa) {
  TempDir dir;
  write_bytes(dir.file("gt.ivecs"), texmex(std::vector<std::vector<int32_t>>{{1, 2}}).data());
  write_bytes(dir.file("gt.ibin"), bigann(std::vector<std::vector<int32_t>>{{1, 2}}).data());
  write_bytes(dir.file("v.fvecs"), texmex(kFloatRows).data());
  EXPECT_TRUE(throws_error([&] { read_vectors(dir.file("gt.ivecs")); }, ErrorCode::InvalidArgument, {dir.file("gt.ivecs")}));
  EXPECT_TRUE(throws_error([&] { read_vectors(dir.file("gt.ibin")); }, ErrorCode::InvalidArgument, {dir.file("gt.ibin")}));
  EXPECT_TRUE(throws_error([&] { read_neighbors(dir.file("v.fvecs")); }, ErrorCode::InvalidArgument, {dir.file("v.fvecs")}));
}

// --- round trips ---------------------------------------------------------------------------

struct FormatCase {
  const char* extension;
  ElementType type;
};

class VectorRoundTrip : public ::testing::TestWithParam<FormatCase> {};

// The exact size each layout must have for rows x dim values.
size_t expected_file_size(const std::string& extension, int64_t rows, int64_t dim, size_t elem, size_t npy_header) {
  if (extension == "fvecs" || extension == "bvecs") return rows * (4 + dim * elem);
  if (extension == "npy") return npy_header + rows * dim * elem;
  return 8 + rows * dim * elem;
}

TEST_P(VectorRoundTrip, WriteReadWriteIsByteIdentical) {
  const FormatCase c = GetParam();
  TempDir dir;
  const int64_t rows = 37, dim = 13;
  Dataset original = clustered(rows, dim, c.type, 3);
  const std::string first = dir.file(std::string("first.") + c.extension);
  const std::string second = dir.file(std::string("second.") + c.extension);

  write_vectors(first, original.view());
  Dataset read = read_vectors(first);
  ASSERT_EQ(read.type(), c.type);
  ASSERT_EQ(read.rows(), rows);
  ASSERT_EQ(read.dim(), dim);
  EXPECT_EQ(std::memcmp(read.view().data, original.view().data, rows * original.view().row_bytes()), 0);

  write_vectors(second, read.view());
  const std::vector<uint8_t> a = read_bytes(first), b = read_bytes(second);
  EXPECT_EQ(a, b) << "re-writing the data read back must give the same bytes";

  size_t npy_header = 0;
  if (std::string(c.extension) == "npy") {
    ASSERT_GE(a.size(), 10u);
    ASSERT_EQ(std::memcmp(a.data(), "\x93NUMPY\x01\x00", 8), 0);
    npy_header = 10 + (a[8] | (a[9] << 8));
    EXPECT_EQ(npy_header % 64, 0u) << "NumPy aligns the data to 64 bytes";
    ASSERT_LE(npy_header, a.size());
    std::string header(a.begin() + 10, a.begin() + npy_header);
    EXPECT_EQ(header.back(), '\n');
    EXPECT_NE(header.find("'shape': (37, 13)"), std::string::npos) << header;
    EXPECT_NE(header.find("'fortran_order': False"), std::string::npos) << header;
  }
  EXPECT_EQ(a.size(), expected_file_size(c.extension, rows, dim, element_size(c.type), npy_header));

  // max_rows: a prefix of the rows, and any limit past the end reads them all.
  for (int64_t limit : {int64_t{1}, int64_t{5}, rows - 1, rows, rows + 100, int64_t{-1}}) {
    Dataset part = read_vectors(first, limit);
    const int64_t expect = limit < 0 || limit > rows ? rows : limit;
    ASSERT_EQ(part.rows(), expect) << "max_rows " << limit;
    ASSERT_EQ(part.dim(), dim);
    EXPECT_EQ(std::memcmp(part.view().data, original.view().data, expect * original.view().row_bytes()), 0)
        << "max_rows " << limit;
  }
}

INSTANTIATE_TEST_SUITE_P(AllFormats, VectorRoundTrip,
                         ::testing::Values(FormatCase{"fvecs", ElementType::Float32},
                                           FormatCase{"bvecs", ElementType::UInt8},
                                           FormatCase{"fbin", ElementType::Float32},
                                           FormatCase{"u8bin", ElementType::UInt8},
                                           FormatCase{"i8bin", ElementType::Int8},
                                           FormatCase{"npy", ElementType::Float32},
                                           FormatCase{"npy", ElementType::UInt8},
                                           FormatCase{"npy", ElementType::Int8}),
                         [](const ::testing::TestParamInfo<FormatCase>& info) {
                           return std::string(info.param.extension) + "_" + to_string(info.param.type);
                         });

TEST(VectorFiles, NeighborRoundTripIsByteIdentical) {
  TempDir dir;
  Neighbors n;
  n.rows = 6;
  n.k = 4;
  for (int i = 0; i < n.rows * n.k; ++i) n.ids.push_back(i % 7 == 3 ? kInvalidId : static_cast<uint32_t>(i * 101));
  n.distances.assign(n.ids.size(), 1.5f);
  for (const std::string ext : {"ivecs", "ibin"}) {
    SCOPED_TRACE(ext);
    write_neighbors(dir.file("first." + ext), n);
    Neighbors back = read_neighbors(dir.file("first." + ext));
    EXPECT_EQ(back.rows, n.rows);
    EXPECT_EQ(back.k, n.k);
    EXPECT_EQ(back.ids, n.ids);
    write_neighbors(dir.file("second." + ext), back);
    const std::vector<uint8_t> bytes = read_bytes(dir.file("first." + ext));
    EXPECT_EQ(bytes, read_bytes(dir.file("second." + ext)));
    // The layout: missing neighbours are stored as -1.
    const size_t row_bytes = 4 * n.k + (ext == "ivecs" ? 4 : 0);
    const size_t header = ext == "ibin" ? 8 : 0;
    ASSERT_EQ(bytes.size(), header + n.rows * row_bytes);
    int32_t first_missing;  // id index 3: row 0, column 3
    std::memcpy(&first_missing, bytes.data() + header + (ext == "ivecs" ? 4 : 0) + 3 * 4, 4);
    EXPECT_EQ(first_missing, -1);
  }
}

// --- writer errors ---------------------------------------------------------------------------

TEST(VectorFiles, WriteRejectsMismatchedFormats) {
  TempDir dir;
  Dataset f = clustered(4, 3, ElementType::Float32, 1);
  Dataset u = clustered(4, 3, ElementType::UInt8, 1);
  Dataset s = clustered(4, 3, ElementType::Int8, 1);
  struct Case {
    std::string name;
    const Dataset* data;
  };
  for (const Case& c : std::vector<Case>{{"f.bvecs", &f}, {"u.fvecs", &u}, {"s.bvecs", &s}, {"s.fvecs", &s},
                                         {"f.u8bin", &f}, {"u.fbin", &u}, {"u.i8bin", &u}, {"v.ivecs", &f},
                                         {"v.ibin", &u}, {"v.txt", &f}, {"noextension", &f}}) {
    SCOPED_TRACE(c.name);
    const std::string path = dir.file(c.name);
    EXPECT_TRUE(throws_error([&] { write_vectors(path, c.data->view()); }, ErrorCode::InvalidArgument, {path}));
  }
  Neighbors n;
  n.rows = 1;
  n.k = 1;
  n.ids = {0};
  n.distances = {0};
  for (const std::string name : {"n.fvecs", "n.fbin", "n.npy", "n.txt"}) {
    const std::string path = dir.file(name);
    EXPECT_TRUE(throws_error([&] { write_neighbors(path, n); }, ErrorCode::InvalidArgument, {path}));
  }
  EXPECT_TRUE(list_dir(dir.path()).empty()) << "a rejected write must not create any file";
}

TEST(VectorFiles, WriteIntoMissingDirectoryFailsWithIo) {
  TempDir dir;
  Dataset f = clustered(4, 3, ElementType::Float32, 1);
  const std::string path = dir.file("no/such/dir/v.fbin");
  EXPECT_TRUE(throws_error([&] { write_vectors(path, f.view()); }, ErrorCode::Io, {path}));
  Neighbors n;
  n.rows = 1;
  n.k = 1;
  n.ids = {0};
  n.distances = {0};
  const std::string npath = dir.file("missing/n.ivecs");
  EXPECT_TRUE(throws_error([&] { write_neighbors(npath, n); }, ErrorCode::Io, {npath}));
  EXPECT_TRUE(list_dir(dir.path()).empty());
}

// --- reader errors ---------------------------------------------------------------------------

struct BadFile {
  const char* label;
  const char* name;
  std::vector<uint8_t> bytes;
  ErrorCode code;
  const char* mentions;  // besides the path; may be empty
  bool neighbors = false;  // read with read_neighbors instead of read_vectors
  // The damage lies past a whole first row that a read of one row does not reach (texmex row
  // headers are checked only as far as the rows read: vector_file_slices_test.cpp).
  bool first_row_readable = false;
};

std::vector<uint8_t> cut(const std::vector<uint8_t>& bytes, size_t size) {
  return std::vector<uint8_t>(bytes.begin(), bytes.begin() + size);
}
std::vector<uint8_t> plus(std::vector<uint8_t> bytes, const std::vector<uint8_t>& more) {
  bytes.insert(bytes.end(), more.begin(), more.end());
  return bytes;
}
std::vector<uint8_t> text_bytes(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

std::vector<uint8_t> npy_with_header(const std::string& dict, size_t data_bytes) {
  std::string header = dict;
  size_t total = 10 + header.size() + 1;
  header.append((total + 63) / 64 * 64 - total, ' ');
  header.push_back('\n');
  Bytes b;
  b.u8(0x93).text("NUMPY").u8(1).u8(0).u16(static_cast<uint16_t>(header.size())).text(header);
  std::vector<uint8_t> out = b.data();
  for (size_t i = 0; i < data_bytes; ++i) out.push_back(static_cast<uint8_t>(i * 37));
  return out;
}

std::vector<BadFile> bad_files() {
  const std::vector<uint8_t> fvecs = texmex(kFloatRows).data();        // 3 rows of 4 + 20 bytes
  const std::vector<uint8_t> bvecs = texmex(kByteRows).data();         // 2 rows of 4 + 7 bytes
  const std::vector<uint8_t> fbin = bigann(kFloatRows).data();         // 8 + 3 x 20 bytes
  const std::vector<uint8_t> u8bin = bigann(kByteRows).data();
  const std::vector<uint8_t> ivecs = texmex(std::vector<std::vector<int32_t>>{{1, 2}, {3, 4}}).data();
  const std::vector<uint8_t> ibin = bigann(std::vector<std::vector<int32_t>>{{1, 2}, {3, 4}}).data();
  const std::vector<uint8_t> npy_f = npy("<f4", kFloatRows).data();
  const std::vector<uint8_t> garbage = text_bytes("this is not a vector file at all, just some text\n");
  std::vector<uint8_t> two_then_three = texmex(std::vector<std::vector<float>>{{1, 2}, {3, 4}, {5, 6}}).data();
  int32_t three = 3;
  std::memcpy(two_then_three.data() + 12, &three, 4);  // row 1 claims dimension 3 (same file size)
  std::vector<uint8_t> bvecs_row1 = bvecs;
  int32_t six = 6;
  std::memcpy(bvecs_row1.data() + 11, &six, 4);
  std::vector<uint8_t> fbin_more_rows = fbin;
  uint32_t five = 5;
  std::memcpy(fbin_more_rows.data(), &five, 4);  // header claims 5 rows, 3 are present
  std::vector<uint8_t> npy_bad_magic = npy_f;
  npy_bad_magic[1] = 'X';
  std::vector<uint8_t> npy_v4 = npy_f;
  npy_v4[6] = 4;

  using V = std::vector<uint8_t>;
  return {
      {"empty_fvecs", "e.fvecs", V{}, ErrorCode::Format, "empty"},
      {"empty_bvecs", "e.bvecs", V{}, ErrorCode::Format, "empty"},
      {"empty_fbin", "e.fbin", V{}, ErrorCode::Format, "empty"},
      {"empty_u8bin", "e.u8bin", V{}, ErrorCode::Format, "empty"},
      {"empty_npy", "e.npy", V{}, ErrorCode::Format, ""},
      {"empty_ivecs", "e.ivecs", V{}, ErrorCode::Format, "empty", true},
      {"empty_ibin", "e.ibin", V{}, ErrorCode::Format, "empty", true},
      {"fvecs_cut_mid_first_header", "t.fvecs", cut(fvecs, 2), ErrorCode::Format, ""},
      {"fvecs_cut_mid_row", "t.fvecs", cut(fvecs, fvecs.size() - 5), ErrorCode::Format, "truncated"},
      {"fvecs_cut_mid_second_header", "t.fvecs", cut(fvecs, 24 + 2), ErrorCode::Format, "truncated"},
      {"bvecs_cut_mid_row", "t.bvecs", cut(bvecs, 14), ErrorCode::Format, "truncated"},
      {"ivecs_cut_mid_row", "t.ivecs", cut(ivecs, ivecs.size() - 1), ErrorCode::Format, "truncated", true},
      {"fvecs_garbage", "g.fvecs", garbage, ErrorCode::Format, ""},
      {"bvecs_garbage", "g.bvecs", garbage, ErrorCode::Format, ""},
      {"fbin_garbage", "g.fbin", garbage, ErrorCode::Format, ""},
      {"npy_garbage", "g.npy", garbage, ErrorCode::Format, ""},
      {"ivecs_garbage", "g.ivecs", garbage, ErrorCode::Format, "", true},
      {"fvecs_zero_dimension", "z.fvecs", Bytes().i32(0).data(), ErrorCode::Format, "dimension"},
      {"fvecs_negative_dimension", "n.fvecs", Bytes().i32(-4).f32(1).f32(2).f32(3).f32(4).data(), ErrorCode::Format,
       "dimension"},
      {"fvecs_inconsistent_dimension", "d.fvecs", two_then_three, ErrorCode::Format, "row 1", false, true},
      {"bvecs_inconsistent_dimension", "d.bvecs", bvecs_row1, ErrorCode::Format, "row 1", false, true},
      {"fbin_cut_mid_header", "t.fbin", cut(fbin, 5), ErrorCode::Format, "truncated"},
      {"fbin_cut_mid_row", "t.fbin", cut(fbin, fbin.size() - 3), ErrorCode::Format, "truncated"},
      {"fbin_header_claims_more_rows", "m.fbin", fbin_more_rows, ErrorCode::Format, "truncated"},
      {"fbin_trailing_bytes", "x.fbin", plus(fbin, {1, 2, 3}), ErrorCode::Format, "after"},
      {"u8bin_trailing_bytes", "x.u8bin", plus(u8bin, {9}), ErrorCode::Format, "after"},
      {"u8bin_zero_dimension", "z.u8bin", Bytes().u32(3).u32(0).data(), ErrorCode::Format, "dimension"},
      {"u8bin_zero_rows", "z.u8bin", Bytes().u32(0).u32(4).data(), ErrorCode::Format, "no vectors"},
      {"ibin_cut_mid_row", "t.ibin", cut(ibin, ibin.size() - 2), ErrorCode::Format, "truncated", true},
      {"ibin_trailing_bytes", "x.ibin", plus(ibin, {0, 0, 0, 0}), ErrorCode::Format, "", true},
      {"npy_bad_magic", "m.npy", npy_bad_magic, ErrorCode::Format, "magic"},
      {"npy_unknown_version", "v.npy", npy_v4, ErrorCode::Format, "version"},
      {"npy_float64_cut", "f8.npy", npy_with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 5), }", 119),
       ErrorCode::Format, "truncated"},
      {"npy_big_endian_float16", "be2.npy",
       npy_with_header("{'descr': '>f2', 'fortran_order': False, 'shape': (3, 5), }", 30), ErrorCode::Format, ">f2"},
      {"npy_complex64", "c8.npy", npy_with_header("{'descr': '<c8', 'fortran_order': False, 'shape': (3, 5), }", 120),
       ErrorCode::Format, "<c8"},
      {"npy_big_endian_float32", "be.npy",
       npy_with_header("{'descr': '>f4', 'fortran_order': False, 'shape': (3, 5), }", 60), ErrorCode::Format, ">f4"},
      {"npy_int32", "i4.npy", npy_with_header("{'descr': '<i4', 'fortran_order': False, 'shape': (3, 5), }", 60),
       ErrorCode::Format, "<i4"},
      {"npy_fortran_order", "fo.npy", npy_with_header("{'descr': '<f4', 'fortran_order': True, 'shape': (3, 5), }", 60),
       ErrorCode::Format, "Fortran"},
      {"npy_one_dimensional", "1d.npy", npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (15,), }", 60),
       ErrorCode::Format, "shape"},
      {"npy_scalar", "0d.npy", npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 4),
       ErrorCode::Format, "shape"},
      {"npy_truncated_data", "td.npy", cut(npy_f, npy_f.size() - 6), ErrorCode::Format, "truncated"},
      {"npy_truncated_header", "th.npy", cut(npy_f, 40), ErrorCode::Format, "truncated"},
      {"npy_cut_in_preamble", "tp.npy", cut(npy_f, 7), ErrorCode::Format, ""},
      {"npy_trailing_bytes", "tb.npy", plus(npy_f, {0, 0, 0, 0}), ErrorCode::Format, "trailing"},
      {"npy_no_shape_key", "ns.npy", npy_with_header("{'descr': '<f4', 'fortran_order': False, }", 60),
       ErrorCode::Format, "shape"},
  };
}

void PrintTo(const BadFile& c, std::ostream* os) { *os << c.label << " (" << c.bytes.size() << " bytes)"; }

class BadVectorFile : public ::testing::TestWithParam<BadFile> {};

TEST_P(BadVectorFile, FailsWithCodeAndPath) {
  const BadFile& c = GetParam();
  TempDir dir;
  const std::string path = dir.file(c.name);
  write_bytes(path, c.bytes);
  std::vector<std::string> needles{path};
  if (c.mentions[0] != '\0') needles.push_back(c.mentions);
  if (c.neighbors) {
    EXPECT_TRUE(throws_error([&] { read_neighbors(path); }, c.code, needles));
  } else {
    EXPECT_TRUE(throws_error([&] { read_vectors(path); }, c.code, needles));
    if (c.first_row_readable) {
      EXPECT_EQ(read_vectors(path, 1).rows(), 1) << "the first row is whole";
    } else {
      EXPECT_TRUE(throws_error([&] { read_vectors(path, 1); }, c.code, needles)) << "with max_rows 1";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Malformed, BadVectorFile, ::testing::ValuesIn(bad_files()),
                         [](const ::testing::TestParamInfo<BadFile>& info) { return std::string(info.param.label); });

// A 3-D .npy shape is refused as such, never read as its first two axes.
TEST(VectorFiles, NpyThreeDimensionalShapesAreRefused) {
  TempDir dir;
  const std::string a = dir.file("3d.npy"), b = dir.file("3d1.npy");
  write_bytes(a, npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (4, 2, 3), }", 96));
  write_bytes(b, npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 5, 1), }", 60));
  EXPECT_TRUE(throws_error([&] { read_vectors(a); }, ErrorCode::Format, {a, "shape"}));
  EXPECT_TRUE(throws_error([&] { read_vectors(b); }, ErrorCode::Format, {b, "shape"}));
}

TEST(VectorFiles, MissingFileFailsWithIo) {
  TempDir dir;
  for (const std::string name : {"absent.fvecs", "absent.bvecs", "absent.fbin", "absent.u8bin", "absent.i8bin",
                                 "absent.npy"}) {
    const std::string path = dir.file(name);
    EXPECT_TRUE(throws_error([&] { read_vectors(path); }, ErrorCode::Io, {path}));
  }
  for (const std::string name : {"absent.ivecs", "absent.ibin"}) {
    const std::string path = dir.file(name);
    EXPECT_TRUE(throws_error([&] { read_neighbors(path); }, ErrorCode::Io, {path}));
  }
}

TEST(VectorFiles, DirectoryIsNotAVectorFile) {
  TempDir dir;
  const std::string path = dir.file("looks_like.fvecs");
  fs::create_directory(path);
  EXPECT_TRUE(throws_error([&] { read_vectors(path); }, ErrorCode::Io, {path}));
}

TEST(VectorFiles, UnknownExtensionIsInvalidArgument) {
  TempDir dir;
  for (const std::string name : {"data.txt", "data", "dir.fvecs/data", "data.fvecs.gz"}) {
    const std::string path = dir.file(name);
    if (name.find('/') != std::string::npos) fs::create_directories(fs::path(path).parent_path());
    write_bytes(path, texmex(kFloatRows).data());  // valid fvecs bytes: only the name is wrong
    EXPECT_TRUE(throws_error([&] { read_vectors(path); }, ErrorCode::InvalidArgument, {path}));
    EXPECT_TRUE(throws_error([&] { read_neighbors(path); }, ErrorCode::InvalidArgument, {path}));
  }
}

// --- sizes from headers that overflow, and data that starts misaligned ------------------------

// A 128-byte .npy whose shape (2^44, 2^20) of uint8 is 2^64 bytes: the size wrapped to 0 and the
// file was accepted as a huge array (a build then died of SIGBUS). It must be refused up front.
TEST(VectorFiles, NpyShapeWhoseSizeOverflowsIsRefused) {
  TempDir dir;
  struct Case {
    const char* descr;
    const char* shape;
  };
  for (const Case& c : {Case{"|u1", "(17592186044416, 1048576)"}, Case{"<f4", "(4398046511104, 1048576)"},
                        Case{"<f4", "(18446744073709551615, 4)"}, Case{"|u1", "(99999999999999999999999, 2)"}}) {
    SCOPED_TRACE(std::string(c.descr) + " " + c.shape);
    const std::string path = dir.file("huge.npy");
    for (size_t data_bytes : {0, 64}) {  // 0: the wrapped size equals the file's exactly
      write_bytes(path, npy_with_header(std::string("{'descr': '") + c.descr + "', 'fortran_order': False, 'shape': " +
                                            c.shape + ", }",
                                        data_bytes));
      EXPECT_TRUE(throws_error([&] { read_vectors(path); }, ErrorCode::Format, {path}));
      EXPECT_TRUE(throws_error([&] { read_vectors(path, 10); }, ErrorCode::Format, {path}));
    }
  }
}

// A .npy header length that is not a multiple of 4 puts the first float between two floats;
// reading it in place is undefined behaviour. The rows come back aligned, with the same values.
TEST(VectorFiles, NpyWithMisalignedDataIsReadIntoAlignedRows) {
  TempDir dir;
  int misaligned_cases = 0;
  for (size_t pad : {0, 1, 2, 3}) {
    SCOPED_TRACE("padding " + std::to_string(pad));
    std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(kFloatRows.size()) +
                       ", " + std::to_string(kFloatRows[0].size()) + "), }";
    dict.append(pad, ' ');
    dict.push_back('\n');
    if ((10 + dict.size()) % 4 == 0) continue;  // this padding happens to align the data
    ++misaligned_cases;
    Bytes b;
    b.u8(0x93).text("NUMPY").u8(1).u8(0).u16(static_cast<uint16_t>(dict.size())).text(dict);
    for (const auto& row : kFloatRows) {
      for (float v : row) b.f32(v);
    }
    const std::string path = dir.file("odd.npy");
    write_bytes(path, b.data());
    const Dataset read = read_vectors(path);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(read.view().data) % alignof(float), 0u);
    expect_rows(read, ElementType::Float32, kFloatRows);
  }
  EXPECT_EQ(misaligned_cases, 3);
}

// read_vectors records the file it read (mapped in place or copied), and build() names it in
// its errors about the data.
TEST(VectorFiles, ReadVectorsNamesItsSourceForBuildErrors) {
  TempDir dir;
  std::vector<std::vector<float>> rows = kFloatRows;
  rows[1][2] = std::nanf("");
  write_bytes(dir.file("nan.fbin"), bigann(rows).data());
  write_bytes(dir.file("nan.fvecs"), texmex(rows).data());
  for (const std::string name : {"nan.fbin", "nan.fvecs"}) {
    const Dataset read = read_vectors(dir.file(name));
    EXPECT_EQ(read.source(), dir.file(name));
    EXPECT_TRUE(throws_error([&] { build(read); }, ErrorCode::InvalidArgument, {dir.file(name), "row 1, column 2", "NaN"}));
  }
}

// A header count that cannot fit a file: refused by every reader with the file named.
TEST(VectorFiles, HeaderCountsBeyondTheFileAreRefused) {
  TempDir dir;
  Bytes fbin;
  fbin.u32(0xFFFFFFFFu).u32(1u << 20).f32(1.0f);
  write_bytes(dir.file("h.fbin"), fbin.data());
  EXPECT_TRUE(throws_error([&] { read_vectors(dir.file("h.fbin")); }, ErrorCode::Format, {dir.file("h.fbin"), "truncated"}));
  Bytes ibin;
  ibin.u32(0xFFFFFFFFu).u32(1u << 20).i32(1);
  write_bytes(dir.file("h.ibin"), ibin.data());
  EXPECT_TRUE(throws_error([&] { read_neighbors(dir.file("h.ibin")); }, ErrorCode::Format, {dir.file("h.ibin")}));
}

}  // namespace
