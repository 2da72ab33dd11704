// The index file (layout at the top of index/index_file.cpp): save/load/save is byte-for-byte
// stable and preserves everything; every kind of damage is refused with ErrorCode::Format and
// a message naming the file (never a crash); a newer format version is Unsupported; a failed
// save leaves neither a partial index nor a temporary file behind. Indexes built on either
// backend round-trip (".../Cpu", ".../Gpu"), and one backend searches what the other built: the
// format is the same.
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
#include "tests/test_support.hpp"

namespace {

using namespace annforge;
using namespace annforge_test;

// Field offsets of the 64-byte header.
constexpr size_t kVersionAt = 8, kHeaderBytesAt = 12, kMetricAt = 16, kTypeAt = 20, kRowsAt = 24, kDimAt = 32,
                 kDegreeAt = 40, kEntryCountAt = 44, kBackendAt = 48, kLevelCountAt = 52, kUpperWidthDivisorAt = 56,
                 kHeaderSize = 64;
constexpr uint32_t kNewestVersion = 3;  // the newest index format this build reads

uint32_t u32_at(const std::vector<uint8_t>& b, size_t at) {
  uint32_t v;
  std::memcpy(&v, b.data() + at, 4);
  return v;
}
uint64_t u64_at(const std::vector<uint8_t>& b, size_t at) {
  uint64_t v;
  std::memcpy(&v, b.data() + at, 8);
  return v;
}
std::vector<uint8_t> text_of(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }
void put_u32(std::vector<uint8_t>& b, size_t at, uint32_t v) { std::memcpy(b.data() + at, &v, 4); }

// Rewrites the trailing checksum so that only the structural checks can catch a change.
void fix_checksum(std::vector<uint8_t>& b) {
  detail::Checksum sum;
  sum.update(b.data(), b.size() - 8);
  uint64_t value = sum.value();
  std::memcpy(b.data() + b.size() - 8, &value, 8);
}

Index small_index(ElementType type = ElementType::Float32, Metric metric = Metric::L2, int64_t rows = 3000,
                  int64_t dim = 24, Device device = Device::Cpu) {
  BuildParams params;
  params.metric = metric;
  params.graph_degree = 32;
  params.intermediate_degree = 64;
  params.device = device;
  return build(clustered(rows, dim, type, 11), params);
}

void expect_same_index(const Index& a, const Index& b) {
  EXPECT_EQ(a.metric, b.metric);
  EXPECT_EQ(a.graph_degree, b.graph_degree);
  EXPECT_EQ(a.entry_points, b.entry_points);
  EXPECT_EQ(a.backend, b.backend);
  EXPECT_EQ(a.graph, b.graph);
  ASSERT_EQ(a.levels.size(), b.levels.size());
  for (size_t l = 0; l < a.levels.size(); ++l) {
    EXPECT_EQ(a.levels[l].members, b.levels[l].members) << "upper level " << l + 1;
    EXPECT_EQ(a.levels[l].degree, b.levels[l].degree) << "upper level " << l + 1;
    EXPECT_EQ(a.levels[l].graph, b.levels[l].graph) << "upper level " << l + 1;
  }
  ASSERT_EQ(a.rows(), b.rows());
  ASSERT_EQ(a.dim(), b.dim());
  ASSERT_EQ(a.vectors.type(), b.vectors.type());
  EXPECT_EQ(std::memcmp(a.vectors.view().data, b.vectors.view().data, a.rows() * a.vectors.view().row_bytes()), 0);
}

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

// One saved index shared by the damage tests of one process.
class DamagedIndex : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    index_ = new Index(small_index());
    index_->upper_width_divisor = 4;  // a version 2 file, whatever the build measured
    save(*index_, dir_->file("good.afi"));
    good_ = new std::vector<uint8_t>(read_bytes(dir_->file("good.afi")));
  }
  static void TearDownTestSuite() {
    delete good_;
    delete index_;
    delete dir_;
  }
  // Writes `bytes` to a fresh file and checks load() refuses it with `code`, naming the file.
  static ::testing::AssertionResult refused(const std::vector<uint8_t>& bytes, ErrorCode code,
                                            std::vector<std::string> needles = {}) {
    const std::string path = dir_->file("damaged.afi");
    write_bytes(path, bytes);
    needles.insert(needles.begin(), path);
    return throws_error([&] { load(path); }, code, needles);
  }
  static size_t graph_bytes() { return index_->rows() * index_->graph_degree * 4; }
  static size_t entry_bytes() { return index_->entry_points.size() * 4; }
  static size_t entries_at() { return kHeaderSize + graph_bytes(); }
  static size_t vectors_at() { return entries_at() + entry_bytes(); }
  static size_t vector_bytes() { return index_->rows() * index_->vectors.view().row_bytes(); }

  static TempDir* dir_;
  static Index* index_;
  static std::vector<uint8_t>* good_;
};
TempDir* DamagedIndex::dir_ = nullptr;
Index* DamagedIndex::index_ = nullptr;
std::vector<uint8_t>* DamagedIndex::good_ = nullptr;

TEST_F(DamagedIndex, TheUndamagedFileLoads) {
  const std::string path = dir_->file("copy.afi");
  write_bytes(path, *good_);
  expect_same_index(*index_, load(path));
}

TEST_F(DamagedIndex, TruncatedAnywhere) {
  const std::vector<uint8_t>& good = *good_;
  const size_t g = graph_bytes(), v = vector_bytes(), n = good.size(), e = entries_at(), x = vectors_at();
  for (size_t size : {size_t{0}, size_t{1}, size_t{7}, size_t{8}, size_t{12}, size_t{63}, size_t{64}, size_t{71},
                      size_t{72}, 64 + g / 2, e, e + 1, x - 1, x, x + v / 2, x + v, n - 8, n - 5, n - 1}) {
    SCOPED_TRACE("cut to " + std::to_string(size) + " of " + std::to_string(n) + " bytes");
    EXPECT_TRUE(refused(std::vector<uint8_t>(good.begin(), good.begin() + size), ErrorCode::Format));
  }
}

TEST_F(DamagedIndex, OneFlippedByteInTheGraph) {
  const size_t g = graph_bytes();
  for (size_t at : {size_t{0}, size_t{1}, size_t{3}, g / 3, g / 2 + 2, g - 4, g - 1}) {
    for (uint8_t mask : {uint8_t{0x01}, uint8_t{0x80}}) {
      SCOPED_TRACE("graph byte " + std::to_string(at) + " ^ " + std::to_string(mask));
      std::vector<uint8_t> bytes = *good_;
      bytes[kHeaderSize + at] ^= mask;
      EXPECT_TRUE(refused(bytes, ErrorCode::Format));
    }
  }
}

TEST_F(DamagedIndex, OneFlippedByteInTheVectors) {
  const size_t start = vectors_at(), v = vector_bytes();
  for (size_t at : {size_t{0}, size_t{2}, v / 2, v / 2 + 1, v - 1}) {
    for (uint8_t mask : {uint8_t{0x01}, uint8_t{0x40}}) {
      SCOPED_TRACE("vector byte " + std::to_string(at) + " ^ " + std::to_string(mask));
      std::vector<uint8_t> bytes = *good_;
      bytes[start + at] ^= mask;
      EXPECT_TRUE(refused(bytes, ErrorCode::Format));
    }
  }
}

TEST_F(DamagedIndex, OneFlippedByteInTheEntryPoints) {
  for (size_t at = 0; at < entry_bytes(); at += 3) {
    for (uint8_t mask : {uint8_t{0x01}, uint8_t{0x80}}) {
      SCOPED_TRACE("entry point byte " + std::to_string(at) + " ^ " + std::to_string(mask));
      std::vector<uint8_t> bytes = *good_;
      bytes[entries_at() + at] ^= mask;
      EXPECT_TRUE(refused(bytes, ErrorCode::Format));
    }
  }
}

TEST_F(DamagedIndex, OneFlippedByteInTheChecksum) {
  for (size_t back = 1; back <= 8; ++back) {
    std::vector<uint8_t> bytes = *good_;
    bytes[bytes.size() - back] ^= 0x10;
    EXPECT_TRUE(refused(bytes, ErrorCode::Format)) << "checksum byte " << 8 - back;
  }
}

// Every header byte, two different bit flips each. The version field is the one place where a
// flip may instead read as a newer version (Unsupported): that check has to come before any
// other, since a newer format may lay out the rest differently. (A flip to another version this
// build reads is a Format error: the fixture is version 2, 0x01 makes it 3, whose divisor is 0.)
TEST_F(DamagedIndex, OneFlippedByteInTheHeader) {
  for (size_t at = 0; at < kHeaderSize; ++at) {
    for (uint8_t mask : {uint8_t{0x01}, uint8_t{0x80}}) {
      SCOPED_TRACE("header byte " + std::to_string(at) + " ^ " + std::to_string(mask));
      std::vector<uint8_t> bytes = *good_;
      bytes[at] ^= mask;
      const bool version_field = at >= kVersionAt && at < kVersionAt + 4;
      const bool newer = u32_at(bytes, kVersionAt) > kNewestVersion;
      EXPECT_TRUE(refused(bytes, version_field && newer ? ErrorCode::Unsupported : ErrorCode::Format));
    }
  }
}

TEST_F(DamagedIndex, BadMagic) {
  std::vector<uint8_t> bytes = *good_;
  std::memcpy(bytes.data(), "ANNFIDX2", 8);
  EXPECT_TRUE(refused(bytes, ErrorCode::Format, {"magic"}));
  EXPECT_TRUE(refused(text_of("hello, this is a text file and not an index at all\n"), ErrorCode::Format, {"magic"}));
  EXPECT_TRUE(refused(text_of("short"), ErrorCode::Format));
}

// The version field patched to the version after the newest this build reads, nothing else
// changed (not even the checksum): Unsupported, naming the version.
TEST_F(DamagedIndex, NewerFormatVersionIsUnsupported) {
  std::vector<uint8_t> bytes = *good_;
  const uint32_t current = kNewestVersion;
  put_u32(bytes, kVersionAt, current + 1);
  EXPECT_TRUE(refused(bytes, ErrorCode::Unsupported, {"version " + std::to_string(current + 1)}));
  put_u32(bytes, kVersionAt, 1000);
  EXPECT_TRUE(refused(bytes, ErrorCode::Unsupported, {"version 1000"}));
  put_u32(bytes, kVersionAt, 0);
  EXPECT_TRUE(refused(bytes, ErrorCode::Format));
}

TEST_F(DamagedIndex, TrailingBytes) {
  for (size_t extra : {1, 7, 8, 4096}) {
    std::vector<uint8_t> bytes = *good_;
    bytes.resize(bytes.size() + extra, 0);
    EXPECT_TRUE(refused(bytes, ErrorCode::Format)) << extra << " trailing bytes";
  }
}

// Damage that keeps a valid checksum (as a buggy writer would produce): the structural checks
// must still catch it before anything indexes out of bounds.
TEST_F(DamagedIndex, StructuralDamageWithAValidChecksum) {
  const uint32_t rows = static_cast<uint32_t>(index_->rows());
  auto damaged = [&](size_t at, uint32_t value) {
    std::vector<uint8_t> bytes = *good_;
    put_u32(bytes, at, value);
    fix_checksum(bytes);
    return bytes;
  };
  EXPECT_TRUE(refused(damaged(kHeaderSize + 4 * 100, rows), ErrorCode::Format, {"id"})) << "an edge to no row";
  EXPECT_TRUE(refused(damaged(kHeaderSize + 4 * 101, kInvalidId), ErrorCode::Format, {"id"})) << "an invalid edge";
  EXPECT_TRUE(refused(damaged(entries_at(), rows), ErrorCode::Format, {"entry point"})) << "an entry point past the end";
  EXPECT_TRUE(refused(damaged(kEntryCountAt, 0), ErrorCode::Format, {"entry point"})) << "no entry points";
  EXPECT_TRUE(refused(damaged(kEntryCountAt, rows + 1), ErrorCode::Format, {"entry point"}));
  EXPECT_TRUE(refused(damaged(kMetricAt, 3), ErrorCode::Format, {"metric"}));
  EXPECT_TRUE(refused(damaged(kTypeAt, 7), ErrorCode::Format, {"element type"}));
  EXPECT_TRUE(refused(damaged(kHeaderBytesAt, 128), ErrorCode::Format));
  EXPECT_TRUE(refused(damaged(kDegreeAt, 1025), ErrorCode::Format, {"degree"}));
  EXPECT_TRUE(refused(damaged(kDegreeAt, rows), ErrorCode::Format, {"degree"}));
  // What the writer always sets: a file that loads must save back byte for byte.
  EXPECT_TRUE(refused(damaged(kBackendAt, 2), ErrorCode::Format, {"backend"}));
  EXPECT_TRUE(refused(damaged(kBackendAt + 8, 1), ErrorCode::Format, {"reserved"}));
  EXPECT_TRUE(refused(damaged(kHeaderSize - 4, 0x01000000), ErrorCode::Format, {"reserved"}));
  // build() refuses NaN and infinity; vectors holding one would poison every distance compare.
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  uint32_t nan_bits, inf_bits;
  std::memcpy(&nan_bits, &nan, 4);
  std::memcpy(&inf_bits, &inf, 4);
  const size_t last_value = vectors_at() + vector_bytes() - 4;
  EXPECT_TRUE(refused(damaged(vectors_at() + 4 * 5, nan_bits), ErrorCode::Format, {"vector 0", "NaN"}));
  EXPECT_TRUE(refused(damaged(last_value, inf_bits), ErrorCode::Format, {"infinite"}));
  {
    // Rows halved, every section cut to match, checksum fixed: a consistent-looking smaller
    // index whose graph now points past its end.
    const uint64_t half = rows / 2;
    const size_t degree = index_->graph_degree, row_bytes = index_->vectors.view().row_bytes();
    std::vector<uint8_t> bytes(good_->begin(), good_->begin() + kHeaderSize + half * degree * 4);
    std::vector<uint32_t> entries;
    for (uint32_t e : index_->entry_points) entries.push_back(e < half ? e : 0);
    bytes.resize(bytes.size() + entries.size() * 4);
    std::memcpy(bytes.data() + bytes.size() - entries.size() * 4, entries.data(), entries.size() * 4);
    bytes.insert(bytes.end(), good_->begin() + vectors_at(), good_->begin() + vectors_at() + half * row_bytes);
    bytes.resize(bytes.size() + 8);
    std::memcpy(bytes.data() + kRowsAt, &half, 8);
    put_u32(bytes, kVersionAt, 1);  // the levels are left out
    put_u32(bytes, kLevelCountAt, 0);
    fix_checksum(bytes);
    EXPECT_TRUE(refused(bytes, ErrorCode::Format, {"id"}));
  }
}

// Damage to the upper levels (version 2), each with a valid checksum: refused before a search
// could read past a level's members or graph.
TEST_F(DamagedIndex, DamagedUpperLevels) {
  ASSERT_GE(index_->levels.size(), 1u) << "the fixture's index must have a level 1";
  const uint32_t levels = static_cast<uint32_t>(index_->levels.size());
  const UpperLevel& level = index_->levels[0];
  const size_t at = vectors_at() + vector_bytes();  // the level's member count, degree, members, graph
  const size_t members_at = at + 8, graph_at = members_at + level.members.size() * 4;
  auto damaged = [&](size_t offset, uint32_t value) {
    std::vector<uint8_t> bytes = *good_;
    put_u32(bytes, offset, value);
    fix_checksum(bytes);
    return bytes;
  };
  const uint32_t count = static_cast<uint32_t>(level.members.size());
  EXPECT_TRUE(refused(damaged(kLevelCountAt, 0), ErrorCode::Format, {"upper levels"})) << "version 2 without levels";
  EXPECT_TRUE(refused(damaged(kLevelCountAt, 33), ErrorCode::Format, {"upper levels"}));
  EXPECT_TRUE(refused(damaged(kLevelCountAt, levels + 1), ErrorCode::Format, {"upper level " + std::to_string(levels + 1)}))
      << "a level that is not there";
  EXPECT_TRUE(refused(damaged(kVersionAt, 1), ErrorCode::Format, {"version 1"}));
  EXPECT_TRUE(refused(damaged(at, static_cast<uint32_t>(index_->rows()) + 1), ErrorCode::Format, {"members"}));
  EXPECT_TRUE(refused(damaged(at, 0), ErrorCode::Format, {"members"}));
  EXPECT_TRUE(refused(damaged(at + 4, count), ErrorCode::Format, {"degree"}));
  EXPECT_TRUE(refused(damaged(members_at + 4, level.members[0]), ErrorCode::Format, {"ascending"}));
  EXPECT_TRUE(refused(damaged(members_at + 4 * (count - 1), static_cast<uint32_t>(index_->rows())), ErrorCode::Format,
                      {"ascending"}));
  EXPECT_TRUE(refused(damaged(graph_at + 4 * 7, count), ErrorCode::Format, {"position"}));
  // An entry point that level 1 lacks: the search looks entry points up there.
  uint32_t outsider = 0;
  while (std::binary_search(level.members.begin(), level.members.end(), outsider)) ++outsider;
  EXPECT_TRUE(refused(damaged(entries_at() + 4, outsider), ErrorCode::Format, {"entry point"}));
  // The cut, anywhere in the levels.
  for (size_t cut : {at + 3, members_at + 5, graph_at + 9, good_->size() - 9}) {
    EXPECT_TRUE(refused(std::vector<uint8_t>(good_->begin(), good_->begin() + cut), ErrorCode::Format)) << "cut at " << cut;
  }
}

// An index whose upper levels' beam divisor is not the default 4 is written as version 3, the
// divisor in bytes 56..59; it loads and saves back byte for byte. Any other divisor value, or a
// divisor in a version 2 file, is refused (the writer never makes them).
TEST_F(DamagedIndex, UpperWidthDivisorIsVersion3) {
  Index index = *index_;
  for (int divisor : {1, 2, 64}) {
    index.upper_width_divisor = divisor;
    const std::string path = dir_->file("divisor.afi");
    save(index, path);
    std::vector<uint8_t> bytes = read_bytes(path);
    EXPECT_EQ(u32_at(bytes, kVersionAt), 3u);
    EXPECT_EQ(u32_at(bytes, kUpperWidthDivisorAt), static_cast<uint32_t>(divisor));
    const Index loaded = load(path);
    EXPECT_EQ(loaded.upper_width_divisor, divisor);
    save(loaded, dir_->file("again.afi"));
    EXPECT_EQ(read_bytes(dir_->file("again.afi")), bytes);
    if (divisor != 1) continue;
    auto damaged = [&](size_t at, uint32_t value) {
      std::vector<uint8_t> copy = bytes;
      put_u32(copy, at, value);
      fix_checksum(copy);
      return copy;
    };
    for (uint32_t bad : {0u, 4u, 65u, 0xFFFFFFFFu}) {
      EXPECT_TRUE(refused(damaged(kUpperWidthDivisorAt, bad), ErrorCode::Format, {"divisor"})) << bad;
    }
    EXPECT_TRUE(refused(damaged(kVersionAt, 2), ErrorCode::Format, {"reserved"})) << "a divisor in a version 2 file";
  }
  index.upper_width_divisor = 4;
  save(index, dir_->file("default.afi"));
  EXPECT_EQ(read_bytes(dir_->file("default.afi")), *good_) << "the default divisor is version 2, as before";
  for (int bad : {0, 65, -1}) {
    index.upper_width_divisor = bad;
    EXPECT_TRUE(throws_error([&] { save(index, dir_->file("bad.afi")); }, ErrorCode::InvalidArgument,
                             {"upper_width_divisor"}))
        << bad;
  }
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
