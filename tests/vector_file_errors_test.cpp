// Vector files that must be refused: writers asked for the impossible, and every malformed input
// failing with the right ErrorCode and a message naming the file, sizes whose arithmetic
// overflows, data that starts misaligned.
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
