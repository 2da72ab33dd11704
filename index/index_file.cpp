// The annforge index file, versions 1 to 3. Little-endian, 64-byte header, then the payload,
// then a checksum of everything before it:
//   0  char[8]  magic "ANNFIDX1"        8  u32 format version (1 to 3) 12 u32 header bytes (64)
//   16 u32 metric (0 l2, 1 ip, 2 cos)   20 u32 element type (0 f32, 1 u8, 2 i8)
//   24 u64 rows                         32 u64 dim
//   40 u32 graph degree                 44 u32 entry point count (>= 1)
//   48 u32 backend that built it (0 cpu, 1 cuda)
//   52 u32 upper level count L (versions 2 and 3: 1..32; version 1: 0)
//   56 u32 version 3: the upper levels' beam divisor (Index::upper_width_divisor: 1..64, not 4);
//      versions 1 and 2: zero (a divisor of 4)              60..63 zero
//   64 graph: rows x degree u32 ids, then the entry points (u32 ids), then vectors: rows x dim
//   versions 2 and 3, after the vectors, each upper level from level 1 up (Index::levels): u32 member
//      count, u32 degree, the members (ascending u32 row ids, each level a subset of the one
//      below, level 1 holding every entry point), then members x degree u32 positions
//   end-8 u64 checksum (index/checksum.hpp) of all bytes before it
// An index without levels is written as version 1, one with levels and the default divisor (4)
// as version 2, so older readers still load them. Loading maps
// the file and shares the vectors from the mapping (no copy); the graph and levels are copied.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "annforge.hpp"
#include "checked_size.hpp"
#include "checksum.hpp"
#include "host/huge_pages.hpp"
#include "mapped_file.hpp"
#include "row_runs.hpp"
#include "squared_norm.hpp"

namespace annforge {
namespace {

constexpr char kMagic[8] = {'A', 'N', 'N', 'F', 'I', 'D', 'X', '1'};
constexpr uint32_t kFormatVersion = 3;  // the newest this build reads and writes
constexpr uint32_t kMaxLevels = 32;
constexpr size_t kHeaderBytes = 64;
constexpr uint64_t kMaxDim = 1 << 20;

struct Header {
  char magic[8];
  uint32_t version;
  uint32_t header_bytes;
  uint32_t metric;
  uint32_t element_type;
  uint64_t rows;
  uint64_t dim;
  uint32_t graph_degree;
  uint32_t entry_count;
  uint32_t backend;
  uint32_t level_count;
  uint32_t upper_width_divisor;
  uint8_t reserved[4];
};
static_assert(sizeof(Header) == kHeaderBytes, "the header layout is part of the file format");

[[noreturn]] void corrupt(const std::string& path, const std::string& what) {
  throw Error(ErrorCode::Format, path + ": " + what);
}

}  // namespace

constexpr int kDefaultUpperWidthDivisor = 4;
constexpr int kMaxUpperWidthDivisor = 64;

int index_file_version(const Index& index) {
  if (index.levels.empty()) return 1;
  return index.upper_width_divisor == kDefaultUpperWidthDivisor ? 2 : 3;
}

void save(const Index& index, const std::string& path) {
  if (index.rows() <= 0) throw Error(ErrorCode::InvalidArgument, path + ": cannot save an empty index");
  if (index.entry_points.empty()) throw Error(ErrorCode::InvalidArgument, path + ": index has no entry points");
  if (index.graph.size() != static_cast<size_t>(index.rows()) * index.graph_degree) {
    throw Error(ErrorCode::InvalidArgument, path + ": index graph size does not match rows x graph_degree");
  }
  Header header{};
  std::memcpy(header.magic, kMagic, 8);
  if (index.levels.size() > kMaxLevels) throw Error(ErrorCode::InvalidArgument, path + ": more than 32 upper levels");
  for (const UpperLevel& level : index.levels) {
    if (level.members.empty() || level.degree < 0 ||
        level.graph.size() != level.members.size() * static_cast<size_t>(level.degree)) {
      throw Error(ErrorCode::InvalidArgument, path + ": an upper level's graph does not match members x degree");
    }
  }
  if (!index.levels.empty() &&
      (index.upper_width_divisor < 1 || index.upper_width_divisor > kMaxUpperWidthDivisor)) {
    throw Error(ErrorCode::InvalidArgument, path + ": upper_width_divisor " + std::to_string(index.upper_width_divisor) +
                                                " is outside 1..64");
  }
  header.version = static_cast<uint32_t>(index_file_version(index));
  if (header.version == 3) header.upper_width_divisor = static_cast<uint32_t>(index.upper_width_divisor);
  header.level_count = static_cast<uint32_t>(index.levels.size());
  header.header_bytes = kHeaderBytes;
  header.metric = static_cast<uint32_t>(index.metric);
  header.element_type = static_cast<uint32_t>(index.vectors.type());
  header.rows = static_cast<uint64_t>(index.rows());
  header.dim = static_cast<uint64_t>(index.dim());
  header.graph_degree = static_cast<uint32_t>(index.graph_degree);
  header.entry_count = static_cast<uint32_t>(index.entry_points.size());
  header.backend = index.backend == "cuda" ? 1 : 0;

  detail::AtomicFileWriter out(path);
  detail::Checksum checksum;
  auto write = [&](const void* data, size_t bytes) {
    out.write(data, bytes);
    checksum.update(data, bytes);
  };
  write(&header, sizeof(header));
  write(index.graph.data(), index.graph.size() * sizeof(uint32_t));
  write(index.entry_points.data(), index.entry_points.size() * sizeof(uint32_t));
  detail::for_each_row_run(index.vectors.view(), write);
  for (const UpperLevel& level : index.levels) {
    const uint32_t shape[2] = {static_cast<uint32_t>(level.members.size()), static_cast<uint32_t>(level.degree)};
    write(shape, sizeof(shape));
    write(level.members.data(), level.members.size() * sizeof(uint32_t));
    write(level.graph.data(), level.graph.size() * sizeof(uint32_t));
  }
  uint64_t sum = checksum.value();
  out.write(&sum, sizeof(sum));
  out.commit();
}

Index load(const std::string& path) {
  auto file = detail::MappedFile::open(path);
  if (file->size() < kHeaderBytes + 8) {
    if (file->size() >= 8 && std::memcmp(file->data(), kMagic, 8) != 0) corrupt(path, "not an annforge index (bad magic)");
    corrupt(path, "truncated: " + std::to_string(file->size()) + " bytes is shorter than an index header");
  }
  Header header;
  std::memcpy(&header, file->data(), sizeof(header));
  if (std::memcmp(header.magic, kMagic, 8) != 0) corrupt(path, "not an annforge index (bad magic)");
  if (header.version > kFormatVersion) {
    throw Error(ErrorCode::Unsupported, path + ": written by a newer annforge (index format version " +
                                            std::to_string(header.version) + "; this build reads up to " +
                                            std::to_string(kFormatVersion) + ")");
  }
  if (header.version == 0 || header.header_bytes != kHeaderBytes) corrupt(path, "corrupt header");
  // Everything the writer fixes is checked, so a file that loads saves back byte for byte.
  if (header.backend > 1) corrupt(path, "corrupt header: unknown backend " + std::to_string(header.backend));
  for (uint8_t b : header.reserved) {
    if (b != 0) corrupt(path, "corrupt header: reserved bytes 60..63 are not zero");
  }
  if (header.version < 3 && header.upper_width_divisor != 0) {
    corrupt(path, "corrupt header: reserved bytes 56..59 are not zero");
  }
  if (header.version == 3 && (header.upper_width_divisor == 0 || header.upper_width_divisor > kMaxUpperWidthDivisor ||
                              header.upper_width_divisor == kDefaultUpperWidthDivisor)) {
    corrupt(path, "corrupt header: upper beam divisor " + std::to_string(header.upper_width_divisor) +
                      " (version 3: 1 to 64, not 4)");
  }
  if (header.version == 1 && header.level_count != 0) corrupt(path, "corrupt header: upper levels in a version 1 file");
  if (header.version >= 2 && (header.level_count == 0 || header.level_count > kMaxLevels)) {
    corrupt(path, "corrupt header: " + std::to_string(header.level_count) + " upper levels (expected 1 to 32)");
  }
  if (header.metric > 2) corrupt(path, "corrupt header: unknown metric " + std::to_string(header.metric));
  if (header.element_type > 2) corrupt(path, "corrupt header: unknown element type " + std::to_string(header.element_type));
  if (header.rows == 0 || header.rows >= kInvalidId) corrupt(path, "corrupt header: " + std::to_string(header.rows) + " rows");
  if (header.dim == 0 || header.dim > kMaxDim) corrupt(path, "corrupt header: dimension " + std::to_string(header.dim));
  if (header.graph_degree > 1024 || header.graph_degree >= header.rows + (header.rows == 1 ? 1 : 0)) {
    corrupt(path, "corrupt header: graph degree " + std::to_string(header.graph_degree) + " for " +
                      std::to_string(header.rows) + " rows");
  }
  if (header.entry_count == 0 || header.entry_count > header.rows) {
    corrupt(path, "corrupt header: " + std::to_string(header.entry_count) + " entry points for " + std::to_string(header.rows) + " rows");
  }

  const ElementType type = static_cast<ElementType>(header.element_type);
  // The bounds above keep these below 2^55; checked all the same, so that a bound loosened later
  // cannot let a header wrap a size around.
  uint64_t graph_bytes = 0, vector_bytes = 0, entry_bytes = 0, expected = 0;
  if (!detail::checked_product({header.rows, header.graph_degree, sizeof(uint32_t)}, &graph_bytes) ||
      !detail::checked_product({header.rows, header.dim, element_size(type)}, &vector_bytes) ||
      !detail::checked_product({header.entry_count, sizeof(uint32_t)}, &entry_bytes) ||
      !detail::checked_sum({kHeaderBytes, graph_bytes, entry_bytes, vector_bytes, 8}, &expected)) {
    corrupt(path, "corrupt header: its sizes overflow 64 bits");
  }
  // Version 2: the upper levels between the vectors and the checksum, each sized by its own
  // 8-byte shape; walked here with every size checked before anything is read.
  struct LevelShape {
    uint64_t at, members, degree;
  };
  std::vector<LevelShape> level_shapes;
  uint64_t previous_members = header.rows;
  for (uint32_t l = 0; l < header.level_count; ++l) {
    const std::string which = "upper level " + std::to_string(l + 1);
    if (file->size() < expected + 8) corrupt(path, "truncated: " + which + " is cut short");
    uint32_t shape[2];
    std::memcpy(shape, file->data() + expected - 8, sizeof(shape));
    const uint64_t members = shape[0], degree = shape[1];
    if (members == 0 || members > previous_members) {
      corrupt(path, "corrupt: " + which + " has " + std::to_string(members) + " members, the level below " +
                        std::to_string(previous_members));
    }
    if (degree > 1024 || degree >= members + (members == 1 ? 1 : 0)) {
      corrupt(path, "corrupt: " + which + " has degree " + std::to_string(degree) + " for " + std::to_string(members) + " members");
    }
    uint64_t level_bytes = 0;
    if (!detail::checked_product({members, degree + 1, sizeof(uint32_t)}, &level_bytes) ||
        !detail::checked_sum({expected, 8, level_bytes}, &expected)) {
      corrupt(path, "corrupt: " + which + "'s size overflows 64 bits");
    }
    level_shapes.push_back({expected - 8 - level_bytes, members, degree});
    previous_members = members;
  }
  if (file->size() < expected) {
    corrupt(path, "truncated: " + std::to_string(file->size()) + " bytes, the header describes " +
                      std::to_string(expected));
  }
  if (file->size() > expected) corrupt(path, "corrupt: " + std::to_string(file->size() - expected) + " bytes past the end of the index");

  detail::Checksum checksum;
  checksum.update(file->data(), expected - 8);
  uint64_t stored;
  std::memcpy(&stored, file->data() + expected - 8, 8);
  if (stored != checksum.value()) corrupt(path, "corrupt: checksum mismatch (the file was damaged after it was written)");

  Index index;
  index.metric = static_cast<Metric>(header.metric);
  index.graph_degree = static_cast<int>(header.graph_degree);
  index.upper_width_divisor =
      header.version == 3 ? static_cast<int>(header.upper_width_divisor) : kDefaultUpperWidthDivisor;

  index.backend = header.backend == 1 ? "cuda" : "cpu";
  // On huge pages: a search reads the graph's lists at random, and 4 KiB pages made most of
  // those reads TLB misses too (1M rows x 32 links is 128 MiB).
  reserve_huge(index.graph, header.rows * header.graph_degree);
  index.graph.resize(header.rows * header.graph_degree);
  // A one-row index has degree 0 and an empty graph whose data() may be null: no memcpy then.
  if (graph_bytes > 0) std::memcpy(index.graph.data(), file->data() + kHeaderBytes, graph_bytes);
  index.entry_points.resize(header.entry_count);
  std::memcpy(index.entry_points.data(), file->data() + kHeaderBytes + graph_bytes, entry_bytes);
  for (uint32_t id : index.graph) {
    if (id >= header.rows) corrupt(path, "corrupt: graph holds id " + std::to_string(id) + " out of range");
  }
  for (uint32_t id : index.entry_points) {
    if (id >= header.rows) corrupt(path, "corrupt: entry point " + std::to_string(id) + " out of range");
  }
  DatasetView view{file->data() + kHeaderBytes + graph_bytes + entry_bytes, static_cast<int64_t>(header.rows),
                   static_cast<int64_t>(header.dim), type};
  if (type == ElementType::Float32) {
    // build() refuses NaN, infinity and rows too large for float32 distances, so a file holding
    // one was not written by annforge intact; searching it would feed NaN to every comparison
    // of distances.
    for (uint64_t r = 0; r < header.rows; ++r) {
      const uint8_t* row = view.row(0) + r * header.dim * sizeof(float);
      if (detail::squared_norm(row, header.dim) <= detail::kLargestSquaredNorm) continue;
      const int64_t i = detail::first_non_finite(row, header.dim);
      if (i >= 0) {
        float value;
        std::memcpy(&value, row + i * sizeof(float), sizeof(float));
        corrupt(path, "corrupt: vector " + std::to_string(r) + " holds " +
                          (std::isnan(value) ? "NaN" : "an infinite value"));
      }
      char norm[32];
      std::snprintf(norm, sizeof norm, "%.3g", detail::squared_norm_exact(row, header.dim));
      corrupt(path, "corrupt: vector " + std::to_string(r) + " has a squared norm of " + norm +
                        ", more than float32 distances hold");
    }
  }
  index.levels.reserve(level_shapes.size());  // `below` points into it: no reallocation
  const std::vector<uint32_t>* below = nullptr;  // the members of the level below (none: all rows)
  for (size_t l = 0; l < level_shapes.size(); ++l) {
    const LevelShape& shape = level_shapes[l];
    const std::string which = "upper level " + std::to_string(l + 1);
    UpperLevel level;
    level.degree = static_cast<int>(shape.degree);
    level.members.resize(shape.members);
    std::memcpy(level.members.data(), file->data() + shape.at, shape.members * sizeof(uint32_t));
    level.graph.resize(shape.members * shape.degree);
    if (!level.graph.empty()) {
      std::memcpy(level.graph.data(), file->data() + shape.at + shape.members * sizeof(uint32_t),
                  level.graph.size() * sizeof(uint32_t));
    }
    // Members ascending, each one a member of the level below: the descent looks rows up by
    // binary search and steps down from a level to the one below.
    size_t cursor = 0;
    for (size_t i = 0; i < level.members.size(); ++i) {
      const uint32_t row = level.members[i];
      if (row >= header.rows || (i > 0 && row <= level.members[i - 1])) {
        corrupt(path, "corrupt: " + which + "'s members are not ascending row ids");
      }
      if (below != nullptr) {
        while (cursor < below->size() && (*below)[cursor] < row) ++cursor;
        if (cursor == below->size() || (*below)[cursor] != row) {
          corrupt(path, "corrupt: " + which + " holds row " + std::to_string(row) + ", which the level below lacks");
        }
      }
    }
    for (uint32_t position : level.graph) {
      if (position >= shape.members) corrupt(path, "corrupt: " + which + "'s graph holds position " + std::to_string(position) + " out of range");
    }
    index.levels.push_back(std::move(level));
    below = &index.levels.back().members;
  }
  // A search seeds level 1 with the entry points by their positions there.
  for (uint32_t e : index.entry_points) {
    if (!index.levels.empty() && !std::binary_search(index.levels[0].members.begin(), index.levels[0].members.end(), e)) {
      corrupt(path, "corrupt: upper level 1 lacks entry point " + std::to_string(e));
    }
  }
  index.vectors = Dataset::wrap(view, std::static_pointer_cast<const void>(file));
  return index;
}

}  // namespace annforge
