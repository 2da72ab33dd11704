// The index file refuses every kind of damage (layout at the top of index/index_file.cpp): a
// truncation anywhere, a flipped byte in any section, structural damage under a valid checksum,
// damaged upper levels, a newer format version (Unsupported); each with ErrorCode::Format and a
// message naming the file, never a crash. Split from index_file_test.cpp (round trips, saves).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "annforge.hpp"
#include "index/checksum.hpp"
#include "tests/index_file_support.hpp"
#include "tests/test_support.hpp"

namespace {

using namespace annforge;
using namespace annforge_test;

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
  // A finite value whose square overflows float32's distances (build() refuses those too).
  const float huge = 1e20f;
  uint32_t huge_bits;
  std::memcpy(&huge_bits, &huge, 4);
  EXPECT_TRUE(refused(damaged(last_value, huge_bits), ErrorCode::Format,
                      {"vector " + std::to_string(rows - 1), "squared norm"}));
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
}  // namespace
