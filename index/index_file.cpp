// The annforge index file, version 1. Little-endian, 64-byte header, then the payload, then a
// checksum of everything before it:
//   0  char[8]  magic "ANNFIDX1"        8  u32 format version (1)     12 u32 header bytes (64)
//   16 u32 metric (0 l2, 1 ip, 2 cos)   20 u32 element type (0 f32, 1 u8, 2 i8)
//   24 u64 rows                         32 u64 dim
//   40 u32 graph degree                 44 u32 entry point count (>= 1)
//   48 u32 backend that built it (0 cpu, 1 cuda)                 52..63 zero
//   64 graph: rows x degree u32 ids, then the entry points (u32 ids), then vectors: rows x dim
//   end-8 u64 checksum (index/checksum.hpp) of all bytes before it
// Loading maps the file and shares the vectors from the mapping (no copy); the graph is copied.
#include <cmath>
#include <cstring>

#include "annforge.hpp"
#include "checked_size.hpp"
#include "checksum.hpp"
#include "mapped_file.hpp"

namespace annforge {
namespace {

constexpr char kMagic[8] = {'A', 'N', 'N', 'F', 'I', 'D', 'X', '1'};
constexpr uint32_t kFormatVersion = 1;
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
  uint8_t reserved[12];
};
static_assert(sizeof(Header) == kHeaderBytes, "the header layout is part of the file format");

[[noreturn]] void corrupt(const std::string& path, const std::string& what) {
  throw Error(ErrorCode::Format, path + ": " + what);
}

}  // namespace

void save(const Index& index, const std::string& path) {
  if (index.rows() <= 0) throw Error(ErrorCode::InvalidArgument, path + ": cannot save an empty index");
  if (index.entry_points.empty()) throw Error(ErrorCode::InvalidArgument, path + ": index has no entry points");
  if (index.graph.size() != static_cast<size_t>(index.rows()) * index.graph_degree) {
    throw Error(ErrorCode::InvalidArgument, path + ": index graph size does not match rows x graph_degree");
  }
  Header header{};
  std::memcpy(header.magic, kMagic, 8);
  header.version = kFormatVersion;
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
  write(index.vectors.view().data, index.rows() * index.vectors.view().row_bytes());
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
    if (b != 0) corrupt(path, "corrupt header: reserved bytes 52..63 are not zero");
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

  index.backend = header.backend == 1 ? "cuda" : "cpu";
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
    // build() refuses NaN and infinity, so a file holding one was not written by annforge
    // intact; searching it would feed NaN to every comparison of distances.
    float value;
    for (uint64_t i = 0; i < header.rows * header.dim; ++i) {
      std::memcpy(&value, view.row(0) + i * sizeof(float), sizeof(float));
      if (!std::isfinite(value)) {
        corrupt(path, "corrupt: vector " + std::to_string(i / header.dim) + " holds " +
                          (std::isnan(value) ? "NaN" : "an infinite value"));
      }
    }
  }
  index.vectors = Dataset::wrap(view, std::static_pointer_cast<const void>(file));
  return index;
}

}  // namespace annforge
