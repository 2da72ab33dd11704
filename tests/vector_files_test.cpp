// Vector and neighbour files: every reader on hand-made bytes, write/read round trips that are
// byte-for-byte stable, and max_rows slicing (malformed input: vector_file_errors_test.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "annforge.hpp"
#include "tests/test_support.hpp"
#include "tests/vector_file_bytes.hpp"

namespace {

using namespace annforge;
using namespace annforge_test;

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
  for (int64_t r = 0; r < rows; ++r) {  // texmex rows are read in place, their headers between them
    EXPECT_EQ(std::memcmp(read.view().row(r), original.view().row(r), original.view().row_bytes()), 0) << "row " << r;
  }

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
    for (int64_t r = 0; r < expect; ++r) {
      EXPECT_EQ(std::memcmp(part.view().row(r), original.view().row(r), original.view().row_bytes()), 0)
          << "max_rows " << limit << ", row " << r;
    }
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

}  // namespace
