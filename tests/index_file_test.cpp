// The index file (layout at the top of index/index_file.cpp): save/load/save is byte-for-byte
// stable and preserves everything; a failed save leaves neither a partial index nor a temporary
// file behind; the checksum does not depend on how the bytes are fed. Indexes built on either
// backend round-trip (".../Cpu", ".../Gpu"), and one backend searches what the other built: the
// format is the same. Damaged files: index_damage_test.cpp.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "annforge.hpp"
#include "index/checksum.hpp"
#include "tests/index_file_support.hpp"
#include "tests/test_support.hpp"

namespace {

using namespace annforge;
using namespace annforge_test;

struct Variant {
  const char* name;
  ElementType type;
  Metric metric;
};
void PrintTo(const Variant& v, std::ostream* os) { *os << v.name; }

const Variant kVariants[] = {{"float32_l2", ElementType::Float32, Metric::L2},
                             {"uint8_l2", ElementType::UInt8, Metric::L2},
                             {"int8_l2", ElementType::Int8, Metric::L2},
                             {"float32_cosine", ElementType::Float32, Metric::Cosine},
                             {"float32_ip", ElementType::Float32, Metric::InnerProduct},
                             {"uint8_cosine", ElementType::UInt8, Metric::Cosine}};

class IndexRoundTrip : public DeviceTest<std::tuple<Variant, Device>> {};

TEST_P(IndexRoundTrip, SaveLoadSaveIsByteIdentical) {
  const auto [v, device] = GetParam();
  TempDir dir;
  const Index original = small_index(v.type, v.metric, 3000, 24, device);
  ASSERT_TRUE(graph_invariants(original, 32));
  EXPECT_EQ(original.backend, device == Device::Gpu ? "cuda" : "cpu");
  save(original, dir.file("a.afi"));
  const Index loaded = load(dir.file("a.afi"));
  expect_same_index(original, loaded);
  save(loaded, dir.file("b.afi"));
  const std::vector<uint8_t> a = read_bytes(dir.file("a.afi"));
  EXPECT_EQ(a, read_bytes(dir.file("b.afi")));
  EXPECT_EQ(list_dir(dir.path()), (std::vector<std::string>{"a.afi", "b.afi"})) << "no temporary file is left";

  // The documented layout.
  const int64_t rows = original.rows(), dim = original.dim(), degree = original.graph_degree;
  const size_t graph_bytes = rows * degree * 4, vector_bytes = rows * dim * element_size(v.type);
  const size_t entry_bytes = original.entry_points.size() * 4;
  size_t level_bytes = 0;
  for (const UpperLevel& level : original.levels) level_bytes += 8 + level.members.size() * (1 + level.degree) * 4;
  // Both backends build levels 1 and 2 over 3,000 rows.
  EXPECT_EQ(original.levels.size(), 2u);
  ASSERT_EQ(a.size(), kHeaderSize + graph_bytes + entry_bytes + vector_bytes + level_bytes + 8);
  EXPECT_EQ(std::string(a.begin(), a.begin() + 8), "ANNFIDX1");
  // Version 1 without levels, 2 with levels and the default upper beam divisor (4), 3 with another.
  const uint32_t version = original.levels.empty() ? 1u : original.upper_width_divisor == 4 ? 2u : 3u;
  EXPECT_EQ(u32_at(a, kVersionAt), version);
  EXPECT_EQ(u32_at(a, kUpperWidthDivisorAt), version == 3 ? static_cast<uint32_t>(original.upper_width_divisor) : 0u);
  EXPECT_EQ(u32_at(a, kLevelCountAt), original.levels.size());
  EXPECT_EQ(u32_at(a, kHeaderBytesAt), 64u);
  EXPECT_EQ(u32_at(a, kMetricAt), static_cast<uint32_t>(v.metric));
  EXPECT_EQ(u32_at(a, kTypeAt), static_cast<uint32_t>(v.type));
  EXPECT_EQ(u64_at(a, kRowsAt), static_cast<uint64_t>(rows));
  EXPECT_EQ(u64_at(a, kDimAt), static_cast<uint64_t>(dim));
  EXPECT_EQ(u32_at(a, kDegreeAt), static_cast<uint32_t>(degree));
  EXPECT_EQ(u32_at(a, kEntryCountAt), original.entry_points.size());
  EXPECT_EQ(u32_at(a, kBackendAt), device == Device::Gpu ? 1u : 0u) << "the backend that built it: 0 cpu, 1 cuda";
  for (size_t i = 60; i < 64; ++i) EXPECT_EQ(a[i], 0) << "reserved header byte " << i;
  size_t at = kHeaderSize + graph_bytes + entry_bytes + vector_bytes;
  for (const UpperLevel& level : original.levels) {
    EXPECT_EQ(u32_at(a, at), level.members.size());
    EXPECT_EQ(u32_at(a, at + 4), static_cast<uint32_t>(level.degree));
    EXPECT_EQ(std::memcmp(a.data() + at + 8, level.members.data(), level.members.size() * 4), 0);
    EXPECT_EQ(std::memcmp(a.data() + at + 8 + level.members.size() * 4, level.graph.data(), level.graph.size() * 4), 0);
    at += 8 + level.members.size() * (1 + level.degree) * 4;
  }
  EXPECT_EQ(std::memcmp(a.data() + kHeaderSize, original.graph.data(), graph_bytes), 0);
  EXPECT_EQ(std::memcmp(a.data() + kHeaderSize + graph_bytes, original.entry_points.data(), entry_bytes), 0);
  EXPECT_EQ(std::memcmp(a.data() + kHeaderSize + graph_bytes + entry_bytes, original.vectors.view().data, vector_bytes),
            0);
  detail::Checksum sum;
  sum.update(a.data(), a.size() - 8);
  EXPECT_EQ(u64_at(a, a.size() - 8), sum.value());

  // The loaded index answers queries exactly as the original does (on the backend that built it).
  Dataset queries = clustered(50, dim, v.type, 11, 2);
  const SearchParams sp = search_params(64, device);
  Neighbors before = search(original, queries.view(), 10, sp);
  Neighbors after = search(loaded, queries.view(), 10, sp);
  EXPECT_EQ(before.ids, after.ids);
  EXPECT_EQ(before.distances, after.distances);
}

INSTANTIATE_TEST_SUITE_P(Variants, IndexRoundTrip, ::testing::Combine(::testing::ValuesIn(kVariants), backends()),
                         [](const ::testing::TestParamInfo<std::tuple<Variant, Device>>& info) {
                           return std::string(std::get<0>(info.param).name) + "_" +
                                  device_name(std::get<1>(info.param));
                         });

// Tiny indexes (2 and 3 rows) leave partial checksum blocks between the sections of the file;
// they must still round-trip.
class TinyIndexFile : public DeviceTest<Device> {};

TEST_P(TinyIndexFile, RoundTrips) {
  for (int64_t rows : {1, 2, 5}) {
    SCOPED_TRACE("rows " + std::to_string(rows));
    TempDir dir;
    const Index original = small_index(ElementType::Float32, Metric::L2, rows, 8, device());
    ASSERT_TRUE(graph_invariants(original, 32));
    save(original, dir.file("t.afi"));
    const Index loaded = load(dir.file("t.afi"));
    expect_same_index(original, loaded);
    save(loaded, dir.file("u.afi"));
    EXPECT_EQ(read_bytes(dir.file("t.afi")), read_bytes(dir.file("u.afi")));
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, TinyIndexFile, backends(), ParamName());

// --- one format for both backends ---------------------------------------------------------------
//
// An index built on one backend, saved and loaded, is searched on the other: the graph, entry
// points and vectors mean the same to both. Recall is against the CPU's exact_knn; both
// searches of one index must be well formed and reach the recall the single-backend tests ask
// for. Every case needs a GPU (and the names say "Gpu", so '*Gpu*' selects them).

using CrossCase = std::tuple<Metric, ElementType>;
class IndexFormat : public ::testing::TestWithParam<CrossCase> {
 protected:
  void SetUp() override { skip_without(Device::Gpu); }

  // Builds on `built_on`, saves and loads; searches the loaded index on `searched_on` and on
  // `built_on`; extends it on `searched_on`.
  void check(Device built_on, Device searched_on) {
    const auto [metric, type] = GetParam();
    TempDir dir;
    Dataset base = clustered(4000, 32, type, 71);
    Dataset queries = clustered(200, 32, type, 71, 2);
    BuildParams params = params_for(metric, BuildAlgorithm::Auto, 32, built_on);
    const Index built = build(base, params);
    ASSERT_TRUE(graph_invariants(built, 32));
    save(built, dir.file("x.afi"));
    const Index loaded = load(dir.file("x.afi"));
    expect_same_index(built, loaded);
    EXPECT_EQ(loaded.backend, built_on == Device::Gpu ? "cuda" : "cpu") << "the file records who built it";

    const Neighbors truth = exact_knn(base.view(), queries.view(), 10, metric);
    const Neighbors found = search(loaded, queries.view(), 10, search_params(64, searched_on));
    EXPECT_TRUE(well_formed(found, base.view(), queries.view(), metric));
    const Neighbors home = search(loaded, queries.view(), 10, search_params(64, built_on));
    const double r = recall(found, truth, 10), r_home = recall(home, truth, 10);
    std::printf("[ recall   ] %s_%s built on %s: recall@10 %.4f searched on %s, %.4f on %s (beam 64)\n",
                to_string(metric), to_string(type), device_name(built_on), r, device_name(searched_on), r_home,
                device_name(built_on));
    EXPECT_GE(r, 0.9);
    EXPECT_GE(r_home, 0.9);
    // A loaded index can be extended by the other backend, too.
    Index grown = load(dir.file("x.afi"));
    Dataset more = clustered(300, 32, type, 71, 3);
    extend(grown, more.view(), params_for(metric, BuildAlgorithm::Auto, 32, searched_on));
    EXPECT_TRUE(graph_invariants(grown, 32));
    EXPECT_EQ(grown.rows(), 4300);
  }
};

TEST_P(IndexFormat, GpuBuiltIndexSearchedOnCpu) { check(Device::Gpu, Device::Cpu); }
TEST_P(IndexFormat, CpuBuiltIndexSearchedOnGpu) { check(Device::Cpu, Device::Gpu); }

INSTANTIATE_TEST_SUITE_P(CrossBackend, IndexFormat,
                         ::testing::Values(CrossCase{Metric::L2, ElementType::Float32},
                                           CrossCase{Metric::Cosine, ElementType::UInt8},
                                           CrossCase{Metric::InnerProduct, ElementType::Int8}),
                         ParamName());

// The checksum of a byte string must not depend on how it is fed to update().
TEST(Checksum, SameValueHoweverTheBytesAreSplit) {
  std::vector<uint8_t> bytes(300);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 131 + 7);
  for (size_t length : {size_t{0}, size_t{1}, size_t{31}, size_t{32}, size_t{33}, size_t{100}, size_t{300}}) {
    detail::Checksum whole;
    whole.update(bytes.data(), length);
    Rng rng(length + 1);
    for (int trial = 0; trial < 50; ++trial) {
      detail::Checksum pieces;
      size_t at = 0;
      while (at < length) {
        const size_t piece = std::min(length - at, static_cast<size_t>(rng.below(40)));
        pieces.update(bytes.data() + at, piece);
        at += piece;
      }
      ASSERT_EQ(pieces.value(), whole.value()) << length << " bytes, trial " << trial;
    }
  }
}

TEST(Checksum, ChangesWithContentAndLength) {
  std::vector<uint8_t> bytes(200, 0);
  detail::Checksum base;
  base.update(bytes.data(), bytes.size());
  std::set<uint64_t> values{base.value()};
  for (size_t at : {size_t{0}, size_t{31}, size_t{32}, size_t{100}, size_t{199}}) {
    bytes[at] ^= 1;
    detail::Checksum c;
    c.update(bytes.data(), bytes.size());
    EXPECT_TRUE(values.insert(c.value()).second) << "flipping byte " << at << " left the checksum unchanged";
    bytes[at] ^= 1;
  }
  detail::Checksum longer;
  bytes.push_back(0);
  longer.update(bytes.data(), bytes.size());
  EXPECT_TRUE(values.insert(longer.value()).second) << "one more zero byte left the checksum unchanged";
}

TEST(IndexFile, LoadMissingFileIsIo) {
  TempDir dir;
  const std::string path = dir.file("absent.afi");
  EXPECT_TRUE(throws_error([&] { load(path); }, ErrorCode::Io, {path}));
  EXPECT_TRUE(throws_error([&] { load(dir.path()); }, ErrorCode::Io, {dir.path()})) << "a directory";
}

TEST(IndexFile, SaveIntoMissingDirectoryIsIoAndLeavesNothing) {
  TempDir dir;
  const Index index = small_index(ElementType::Float32, Metric::L2, 200, 8);
  const std::string path = dir.file("missing/index.afi");
  EXPECT_TRUE(throws_error([&] { save(index, path); }, ErrorCode::Io, {path}));
  EXPECT_TRUE(list_dir(dir.path()).empty());
}

// The final rename fails (the target is a non-empty directory): the temporary file is removed.
TEST(IndexFile, FailedRenameLeavesNoTemporaryFile) {
  TempDir dir;
  const Index index = small_index(ElementType::Float32, Metric::L2, 200, 8);
  const std::string path = dir.file("index.afi");
  fs::create_directory(path);
  write_bytes(path + "/keep", std::string("x"));
  EXPECT_TRUE(throws_error([&] { save(index, path); }, ErrorCode::Io, {path}));
  EXPECT_EQ(list_dir(dir.path()), std::vector<std::string>{"index.afi"});
  EXPECT_EQ(list_dir(path), std::vector<std::string>{"keep"});
}

// Restores a resource limit and a signal disposition when the test ends, however it ends.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    previous_handler_ = std::signal(SIGXFSZ, SIG_IGN);  // exceeding the limit: EFBIG, not death
    ::getrlimit(RLIMIT_FSIZE, &previous_);
    struct rlimit limit = previous_;
    limit.rlim_cur = bytes;
    ok_ = ::setrlimit(RLIMIT_FSIZE, &limit) == 0;
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &previous_);
    std::signal(SIGXFSZ, previous_handler_);
  }
  bool ok() const { return ok_; }

 private:
  struct rlimit previous_ {};
  void (*previous_handler_)(int) = nullptr;
  bool ok_ = false;
};

// A write that fails half way (the file size limit): Io, no temporary file, and an index that
// was already at the path is left untouched.
TEST(IndexFile, FailedWriteLeavesOldIndexAndNoTemporaryFile) {
  TempDir dir;
  const Index old_index = small_index(ElementType::Float32, Metric::L2, 200, 8);
  const Index new_index = small_index(ElementType::Float32, Metric::L2, 3000, 24);
  const std::string path = dir.file("index.afi");
  save(old_index, path);
  const std::vector<uint8_t> old_bytes = read_bytes(path);
  ASSERT_LT(old_bytes.size(), 64u * 1024);
  {
    FileSizeLimit limit(64 * 1024);
    ASSERT_TRUE(limit.ok()) << "cannot lower RLIMIT_FSIZE";
    EXPECT_TRUE(throws_error([&] { save(new_index, path); }, ErrorCode::Io, {path}));
  }
  EXPECT_EQ(list_dir(dir.path()), std::vector<std::string>{"index.afi"});
  EXPECT_EQ(read_bytes(path), old_bytes);
  expect_same_index(old_index, load(path));
}

TEST(IndexFile, SaveReplacesAnExistingIndex) {
  TempDir dir;
  const Index first = small_index(ElementType::Float32, Metric::L2, 300, 8);
  const Index second = small_index(ElementType::UInt8, Metric::Cosine, 500, 12);
  const std::string path = dir.file("index.afi");
  save(first, path);
  save(second, path);
  expect_same_index(second, load(path));
  EXPECT_EQ(list_dir(dir.path()), std::vector<std::string>{"index.afi"});
}

TEST(IndexFile, SaveRejectsInconsistentIndexes) {
  TempDir dir;
  const std::string path = dir.file("index.afi");
  EXPECT_TRUE(throws_error([&] { save(Index{}, path); }, ErrorCode::InvalidArgument, {path})) << "empty index";
  Index broken = small_index(ElementType::Float32, Metric::L2, 200, 8);
  broken.graph.pop_back();
  EXPECT_TRUE(throws_error([&] { save(broken, path); }, ErrorCode::InvalidArgument, {path})) << "short graph";
  EXPECT_TRUE(list_dir(dir.path()).empty());
}

}  // namespace
