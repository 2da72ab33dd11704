// ann-benchmarks .hdf5 input (index/hdf5_file.cpp): `train`, `test` and `neighbors` read as
// vectors and ids, the `distance` attribute as the metric, float64 converted, and every bad
// file (garbage, truncated, wrong shape or type, missing member) an Error naming the file.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "annforge.hpp"
#include "tests/test_support.hpp"

#ifdef ANNFORGE_TEST_HDF5
#include "tests/hdf5_writer.hpp"
#endif

namespace {

using namespace annforge;
using namespace annforge_test;

// The message of the Error `read` throws, with its code checked.
template <typename Read>
std::string error_of(Read read, ErrorCode code) {
  try {
    read();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return "";
}

#ifndef ANNFORGE_TEST_HDF5

TEST(Hdf5Input, WithoutLibhdf5TheErrorSaysSo) {
  TempDir dir;
  write_bytes(dir.file("x.hdf5"), std::string("\x89HDF\r\n\x1a\n", 8));
  const std::string message = error_of([&] { read_vectors(dir.file("x.hdf5")); }, ErrorCode::Unsupported);
  EXPECT_NE(message.find("libhdf5"), std::string::npos) << message;
}

#else

struct AnnBenchmarksFile {
  std::vector<float> train;
  std::vector<double> test;
  std::vector<int32_t> neighbors;
  static constexpr hsize_t kRows = 300, kQueries = 12, kDim = 9, kK = 5;

  AnnBenchmarksFile() {
    Rng rng(17);
    for (hsize_t i = 0; i < kRows * kDim; ++i) train.push_back(static_cast<float>(rng.normal()));
    for (hsize_t i = 0; i < kQueries * kDim; ++i) test.push_back(rng.normal());
    for (hsize_t i = 0; i < kQueries * kK; ++i) neighbors.push_back(static_cast<int32_t>(rng.below(kRows)));
    neighbors[3] = -1;  // ann-benchmarks pads short lists with -1
  }
  void write(const std::string& path, const std::string& distance = "angular", bool variable_length = true) const {
    Hdf5Writer(path)
        .dataset("train", {kRows, kDim}, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, train)
        .dataset("test", {kQueries, kDim}, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, test)
        .dataset("neighbors", {kQueries, kK}, H5T_STD_I32LE, H5T_NATIVE_INT, neighbors)
        .attribute("distance", distance, variable_length);
  }
};

TEST(Hdf5Input, ReadsTrainTestNeighborsAndDistance) {
  TempDir dir;
  const AnnBenchmarksFile f;
  f.write(dir.file("set.hdf5"));
  const Dataset train = read_vectors(dir.file("set.hdf5"));
  ASSERT_EQ(train.rows(), 300);
  ASSERT_EQ(train.dim(), 9);
  ASSERT_EQ(train.type(), ElementType::Float32);
  EXPECT_EQ(train.converted_from(), "");
  EXPECT_EQ(train.source(), dir.file("set.hdf5"));
  EXPECT_EQ(std::vector<float>(static_cast<const float*>(train.view().data),
                               static_cast<const float*>(train.view().data) + f.train.size()),
            f.train);
  const Dataset test = read_vectors(dir.file("set.hdf5"), -1, "test");
  ASSERT_EQ(test.rows(), 12);
  EXPECT_EQ(test.converted_from(), "float64");
  const auto* q = static_cast<const float*>(test.view().data);
  for (size_t i = 0; i < f.test.size(); ++i) ASSERT_EQ(q[i], static_cast<float>(f.test[i])) << i;
  EXPECT_EQ(read_vectors(dir.file("set.hdf5"), 50).rows(), 50);

  const Neighbors truth = read_neighbors(dir.file("set.hdf5"));
  ASSERT_EQ(truth.rows, 12);
  ASSERT_EQ(truth.k, 5);
  for (size_t i = 0; i < f.neighbors.size(); ++i) {
    EXPECT_EQ(truth.ids[i], f.neighbors[i] < 0 ? kInvalidId : static_cast<uint32_t>(f.neighbors[i])) << i;
  }
  Metric metric = Metric::L2;
  ASSERT_TRUE(declared_metric(dir.file("set.hdf5"), &metric));
  EXPECT_EQ(metric, Metric::Cosine);
}

TEST(Hdf5Input, DistanceAttributeInEachForm) {
  TempDir dir;
  const AnnBenchmarksFile f;
  Metric metric = Metric::Cosine;
  f.write(dir.file("fixed.hdf5"), "euclidean", /*variable_length=*/false);
  ASSERT_TRUE(declared_metric(dir.file("fixed.hdf5"), &metric));
  EXPECT_EQ(metric, Metric::L2);
  f.write(dir.file("dot.hdf5"), "dot");
  ASSERT_TRUE(declared_metric(dir.file("dot.hdf5"), &metric));
  EXPECT_EQ(metric, Metric::InnerProduct);
  f.write(dir.file("hamming.hdf5"), "hamming");
  const std::string message = error_of([&] { declared_metric(dir.file("hamming.hdf5"), &metric); }, ErrorCode::Unsupported);
  EXPECT_NE(message.find("hamming"), std::string::npos) << message;
  Hdf5Writer(dir.file("none.hdf5")).dataset("train", {2, 2}, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, std::vector<float>{1, 2, 3, 4});
  EXPECT_FALSE(declared_metric(dir.file("none.hdf5"), &metric));
  // Formats that declare no metric.
  write_bytes(dir.file("a.fbin"), std::string(8, '\0'));
  EXPECT_FALSE(declared_metric(dir.file("a.fbin"), &metric));
}

TEST(Hdf5Input, ReadsUint8Vectors) {
  TempDir dir;
  std::vector<uint8_t> bytes(40);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 7);
  Hdf5Writer(dir.file("u8.h5")).dataset("train", {5, 8}, H5T_STD_U8LE, H5T_NATIVE_UCHAR, bytes);
  const Dataset d = read_vectors(dir.file("u8.h5"));
  ASSERT_EQ(d.type(), ElementType::UInt8);
  EXPECT_EQ(std::vector<uint8_t>(d.view().row(0), d.view().row(0) + 40), bytes);
}

TEST(Hdf5Input, BadFilesAreErrorsNamingTheFile) {
  TempDir dir;
  const AnnBenchmarksFile f;
  f.write(dir.file("good.hdf5"));
  auto expect_named = [&](const std::string& name, const std::string& mentions, auto read, ErrorCode code) {
    const std::string message = error_of(read, code);
    EXPECT_NE(message.find(name), std::string::npos) << message;
    EXPECT_NE(message.find(mentions), std::string::npos) << message;
  };
  // A missing member lists what the file has.
  expect_named("good.hdf5", "'learn'", [&] { read_vectors(dir.file("good.hdf5"), -1, "learn"); }, ErrorCode::Format);
  expect_named("good.hdf5", "'train'", [&] { read_vectors(dir.file("good.hdf5"), -1, "learn"); }, ErrorCode::Format);
  // Neighbour ids are not vectors, and floats are not ids.
  expect_named("good.hdf5", "integers", [&] { read_vectors(dir.file("good.hdf5"), -1, "neighbors"); }, ErrorCode::Format);
  expect_named("good.hdf5", "'train'", [&] { read_neighbors(dir.file("good.hdf5"), "train"); }, ErrorCode::Format);
  // Wrong shape.
  Hdf5Writer(dir.file("cube.hdf5")).dataset("train", {2, 2, 2}, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, std::vector<float>(8));
  expect_named("cube.hdf5", "3 dimensions", [&] { read_vectors(dir.file("cube.hdf5")); }, ErrorCode::Format);
  // Garbage, empty, missing.
  write_bytes(dir.file("garbage.hdf5"), std::string(4096, 'x'));
  expect_named("garbage.hdf5", "not an HDF5 file", [&] { read_vectors(dir.file("garbage.hdf5")); }, ErrorCode::Format);
  write_bytes(dir.file("empty.hdf5"), std::string());
  expect_named("empty.hdf5", "empty", [&] { read_vectors(dir.file("empty.hdf5")); }, ErrorCode::Format);
  expect_named("missing.hdf5", "cannot open", [&] { read_vectors(dir.file("missing.hdf5")); }, ErrorCode::Io);
  // Other formats have no members.
  write_bytes(dir.file("a.fbin"), std::string(8, '\0'));
  expect_named("a.fbin", "only .hdf5", [&] { read_vectors(dir.file("a.fbin"), -1, "test"); }, ErrorCode::InvalidArgument);
}

// Cut at many lengths: each read either succeeds with the right data (a cut past the data
// libhdf5 needs) or fails with an Error naming the file; never a crash or wrong values.
TEST(Hdf5Input, TruncatedFilesNeverCrashOrLie) {
  TempDir dir;
  const AnnBenchmarksFile f;
  f.write(dir.file("good.hdf5"));
  const std::vector<uint8_t> whole = read_bytes(dir.file("good.hdf5"));
  int refused = 0;
  for (size_t keep : {size_t{8}, size_t{100}, size_t{512}, size_t{2048}, whole.size() / 2, whole.size() - 100, whole.size() - 1}) {
    if (keep >= whole.size()) continue;
    const std::string path = dir.file("cut-" + std::to_string(keep) + ".hdf5");
    write_bytes(path, std::vector<uint8_t>(whole.begin(), whole.begin() + keep));
    try {
      const Dataset train = read_vectors(path);
      const Neighbors truth = read_neighbors(path);
      EXPECT_EQ(std::vector<float>(static_cast<const float*>(train.view().data),
                                   static_cast<const float*>(train.view().data) + f.train.size()),
                f.train) << keep;
    } catch (const Error& e) {
      ++refused;
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  }
  EXPECT_GT(refused, 3);
}

#endif  // ANNFORGE_TEST_HDF5

}  // namespace
