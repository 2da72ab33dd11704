// Readers and writers for vector files: texmex (.fvecs .bvecs .ivecs), big-ann-benchmarks
// (.fbin .u8bin .i8bin .ibin) and NumPy (.npy). Contiguous formats are memory-mapped and
// shared zero-copy; texmex rows carry a per-row header and are copied into one matrix.
#include <algorithm>
#include <cstring>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "annforge.hpp"
#include "checked_size.hpp"
#include "mapped_file.hpp"

namespace annforge {
namespace {

using detail::AtomicFileWriter;
using detail::MappedFile;

[[noreturn]] void format_error(const std::string& path, const std::string& what) {
  throw Error(ErrorCode::Format, path + ": " + what);
}

std::string extension_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  auto dot = path.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
  return path.substr(dot + 1);
}

enum class Layout { Texmex, BigAnn, Npy };
struct FileKind {
  Layout layout;
  ElementType type;  // for .ivecs/.ibin: the int32 payload is read as neighbours, not vectors
  bool int32 = false;
};

FileKind kind_of(const std::string& path) {
  std::string ext = extension_of(path);
  if (ext == "fvecs") return {Layout::Texmex, ElementType::Float32};
  if (ext == "bvecs") return {Layout::Texmex, ElementType::UInt8};
  if (ext == "ivecs") return {Layout::Texmex, ElementType::Float32, true};
  if (ext == "fbin") return {Layout::BigAnn, ElementType::Float32};
  if (ext == "u8bin") return {Layout::BigAnn, ElementType::UInt8};
  if (ext == "i8bin") return {Layout::BigAnn, ElementType::Int8};
  if (ext == "ibin") return {Layout::BigAnn, ElementType::Float32, true};
  if (ext == "npy") return {Layout::Npy, ElementType::Float32};
  throw Error(ErrorCode::InvalidArgument,
              path + (ext.empty() ? std::string(": no file extension to tell its type by")
                                  : ": unknown file type '." + ext + "'") +
                  " (expected .fvecs .bvecs .ivecs .fbin .u8bin .i8bin .ibin or .npy)");
}

uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

constexpr int64_t kMaxDim = 1 << 20;

// A matrix found inside a mapped file: where its rows start and how they are spaced.
struct RawMatrix {
  const uint8_t* first_row;
  int64_t rows;
  int64_t dim;
  size_t stride;      // bytes from one row's values to the next
  size_t elem_bytes;
};

// Checks the row headers of the first `check_rows` rows (all when negative): a read of the
// first N rows does not touch (page in) the rest of a large file.
RawMatrix parse_texmex(const MappedFile& file, size_t elem_bytes, int64_t check_rows = -1) {
  const std::string& path = file.path();
  if (file.size() == 0) format_error(path, "empty file");
  if (file.size() < 4) format_error(path, "truncated: shorter than one row header");
  int32_t dim;
  std::memcpy(&dim, file.data(), 4);
  if (dim <= 0 || dim > kMaxDim) format_error(path, "bad dimension " + std::to_string(dim) + " in the first row header");
  size_t stride = 4 + static_cast<size_t>(dim) * elem_bytes;
  if (file.size() % stride != 0) {
    format_error(path, "truncated or corrupt: size " + std::to_string(file.size()) +
                           " bytes is not a whole number of rows of dimension " + std::to_string(dim) +
                           " (" + std::to_string(stride) + " bytes each)");
  }
  int64_t rows = static_cast<int64_t>(file.size() / stride);
  const int64_t checked = check_rows >= 0 ? std::min(rows, check_rows) : rows;
  for (int64_t i = 1; i < checked; ++i) {
    int32_t d;
    std::memcpy(&d, file.data() + i * stride, 4);
    if (d != dim) {
      format_error(path, "row " + std::to_string(i) + " has dimension " + std::to_string(d) +
                             ", the first row has " + std::to_string(dim));
    }
  }
  return {file.data() + 4, rows, dim, stride, elem_bytes};
}

RawMatrix parse_bigann(const MappedFile& file, size_t elem_bytes) {
  const std::string& path = file.path();
  if (file.size() == 0) format_error(path, "empty file");
  if (file.size() < 8) format_error(path, "truncated: shorter than the 8-byte header");
  int64_t rows = load_u32(file.data());
  int64_t dim = load_u32(file.data() + 4);
  if (dim <= 0 || dim > kMaxDim) format_error(path, "bad dimension " + std::to_string(dim) + " in the header");
  uint64_t expected = 0;  // cannot overflow with 32-bit counts, checked all the same
  if (!detail::checked_product({static_cast<uint64_t>(rows), static_cast<uint64_t>(dim), elem_bytes}, &expected) ||
      !detail::checked_sum({expected, 8}, &expected)) {
    format_error(path, "corrupt: header says " + std::to_string(rows) + " x " + std::to_string(dim) +
                           ", more bytes than any file can hold");
  }
  if (file.size() < expected) {
    format_error(path, "truncated: header says " + std::to_string(rows) + " x " + std::to_string(dim) +
                           " (" + std::to_string(expected) + " bytes) but the file has " +
                           std::to_string(file.size()) + " bytes");
  }
  if (file.size() > expected) {
    format_error(path, "corrupt: " + std::to_string(file.size() - expected) +
                           " bytes after the " + std::to_string(rows) + " x " + std::to_string(dim) + " matrix");
  }
  return {file.data() + 8, rows, dim, static_cast<size_t>(dim) * elem_bytes, elem_bytes};
}

// "(n, d)" with optional spaces and a trailing comma, both whole numbers that fit int64 (NumPy
// writes "(1000, 128)"). sscanf's %lld is not used: its behaviour on overflow is undefined.
bool parse_shape(const std::string& text, int64_t* rows, int64_t* dim) {
  size_t at = 0;
  auto skip_spaces = [&] { while (at < text.size() && text[at] == ' ') ++at; };
  auto expect = [&](char c) {
    skip_spaces();
    if (at >= text.size() || text[at] != c) return false;
    ++at;
    return true;
  };
  auto number = [&](int64_t* out) {
    skip_spaces();
    const size_t start = at;
    uint64_t value = 0;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
      if (at - start >= 18) return false;  // 10^18 already exceeds any file
      value = value * 10 + static_cast<uint64_t>(text[at++] - '0');
    }
    *out = static_cast<int64_t>(value);
    return at > start;
  };
  if (!expect('(') || !number(rows) || !expect(',') || !number(dim)) return false;
  skip_spaces();
  if (at < text.size() && text[at] == ',') ++at;
  return expect(')');
}

// Parses the NumPy header dictionary: {'descr': '<f4', 'fortran_order': False, 'shape': (n, d), }
RawMatrix parse_npy(const MappedFile& file, ElementType* type) {
  const std::string& path = file.path();
  static const char kMagic[] = "\x93NUMPY";
  if (file.size() < 10 || std::memcmp(file.data(), kMagic, 6) != 0) format_error(path, "not a .npy file (bad magic)");
  int major = file.data()[6];
  size_t header_len, header_start;
  if (major == 1) {
    header_len = file.data()[8] | (file.data()[9] << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (file.size() < 12) format_error(path, "truncated .npy header");
    header_len = load_u32(file.data() + 8);
    header_start = 12;
  } else {
    format_error(path, "unsupported .npy format version " + std::to_string(major));
  }
  if (header_start + header_len > file.size()) format_error(path, "truncated .npy header");
  std::string header(reinterpret_cast<const char*>(file.data() + header_start), header_len);

  auto value_after = [&](const std::string& key) -> std::string {
    auto k = header.find("'" + key + "'");
    if (k == std::string::npos) format_error(path, ".npy header has no '" + key + "'");
    auto colon = header.find(':', k);
    if (colon == std::string::npos) format_error(path, ".npy header is malformed");
    auto start = header.find_first_not_of(' ', colon + 1);
    return start == std::string::npos ? "" : header.substr(start);
  };
  std::string descr = value_after("descr");
  size_t elem_bytes;
  if (descr.rfind("'<f4'", 0) == 0) {
    *type = ElementType::Float32;
    elem_bytes = 4;
  } else if (descr.rfind("'|u1'", 0) == 0 || descr.rfind("'u1'", 0) == 0) {
    *type = ElementType::UInt8;
    elem_bytes = 1;
  } else if (descr.rfind("'|i1'", 0) == 0 || descr.rfind("'i1'", 0) == 0) {
    *type = ElementType::Int8;
    elem_bytes = 1;
  } else {
    format_error(path, "unsupported .npy dtype " + descr.substr(0, descr.find(',')) +
                           " (expected little-endian float32, uint8 or int8)");
  }
  if (value_after("fortran_order").rfind("False", 0) != 0) format_error(path, ".npy array is in Fortran order; expected C order");
  std::string shape = value_after("shape");
  int64_t n = -1, d = -1;
  if (!parse_shape(shape, &n, &d) || d <= 0 || d > kMaxDim) {
    format_error(path, ".npy shape " + shape.substr(0, shape.find(')') + 1) + " is not a 2-D (rows, dim) shape" +
                           " with 1 <= dim <= " + std::to_string(kMaxDim));
  }
  const uint64_t data_start = header_start + header_len;
  uint64_t expected = 0;
  if (!detail::checked_product({static_cast<uint64_t>(n), static_cast<uint64_t>(d), elem_bytes}, &expected) ||
      !detail::checked_sum({expected, data_start}, &expected)) {
    format_error(path, "corrupt: .npy shape " + std::to_string(n) + " x " + std::to_string(d) +
                           " is more bytes than any file can hold");
  }
  if (file.size() < expected) {
    format_error(path, "truncated: .npy shape is " + std::to_string(n) + " x " + std::to_string(d) + " but the data is short by " +
                           std::to_string(expected - file.size()) + " bytes");
  }
  if (file.size() > expected) format_error(path, "corrupt: trailing bytes after the .npy array");
  return {file.data() + data_start, n, d, static_cast<size_t>(d) * elem_bytes, elem_bytes};
}

// Copies (a prefix of) a strided matrix into one contiguous, owned Dataset.
// Rows with headers between them (.fvecs/.bvecs) packed into one block. A large copy runs on
// several threads: its first touch of fresh memory costs more than the copy itself on a VM.
Dataset copy_rows(const RawMatrix& m, int64_t rows, ElementType type) {
  Dataset out = Dataset::allocate(rows, m.dim, type);
  auto* dst = static_cast<uint8_t*>(out.mutable_data());
  const size_t row_bytes = m.dim * m.elem_bytes;
  auto copy = [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) std::memcpy(dst + i * row_bytes, m.first_row + i * m.stride, row_bytes);
  };
  constexpr size_t kParallelBytes = size_t{32} << 20;
  const int threads = static_cast<int>(std::min(8u, std::max(1u, std::thread::hardware_concurrency())));
  if (threads == 1 || static_cast<size_t>(rows) * row_bytes < kParallelBytes) {
    copy(0, rows);
    return out;
  }
  std::vector<std::thread> workers;
  for (int t = 1; t < threads; ++t) workers.emplace_back(copy, rows * t / threads, rows * (t + 1) / threads);
  copy(0, rows / threads);
  for (std::thread& w : workers) w.join();
  return out;
}

int64_t clamp_rows(int64_t rows, int64_t max_rows) { return (max_rows >= 0 && max_rows < rows) ? max_rows : rows; }

}  // namespace

Dataset read_vectors(const std::string& path, int64_t max_rows) {
  if (max_rows == 0) throw Error(ErrorCode::InvalidArgument, path + ": asked to read 0 rows");
  FileKind kind = kind_of(path);
  if (kind.int32) {
    throw Error(ErrorCode::InvalidArgument, path + ": holds int32 neighbour ids, not vectors");
  }
  auto file = MappedFile::open(path);
  ElementType type = kind.type;
  RawMatrix m{};
  switch (kind.layout) {
    case Layout::Texmex: m = parse_texmex(*file, element_size(type), max_rows); break;
    case Layout::BigAnn: m = parse_bigann(*file, element_size(type)); break;
    case Layout::Npy: m = parse_npy(*file, &type); break;
  }
  int64_t rows = clamp_rows(m.rows, max_rows);
  if (rows == 0) format_error(path, "holds no vectors");
  // Rows with headers between them, or rows that start misaligned for their element type (a
  // .npy header whose length is not a multiple of 4; reading floats there is undefined
  // behaviour), are copied into aligned storage.
  const bool aligned = reinterpret_cast<uintptr_t>(m.first_row) % m.elem_bytes == 0;
  Dataset read;
  if (m.stride != m.dim * m.elem_bytes || !aligned) {
    read = copy_rows(m, rows, type);
  } else {
    // Contiguous: share the mapping. The file's page cache is the storage; nothing is copied.
    DatasetView view{m.first_row, rows, m.dim, type};
    read = Dataset::wrap(view, std::static_pointer_cast<const void>(file));
  }
  read.set_source(path);
  return read;
}

void write_vectors(const std::string& path, const DatasetView& data) {
  FileKind kind = kind_of(path);
  if (kind.int32) throw Error(ErrorCode::InvalidArgument, path + ": .ivecs/.ibin hold neighbour ids; write vectors as .fvecs, .bvecs, .fbin, .u8bin, .i8bin or .npy");
  if (kind.layout != Layout::Npy && kind.type != data.type) {
    throw Error(ErrorCode::InvalidArgument, path + ": cannot store " + to_string(data.type) + " vectors in a ." + extension_of(path) + " file");
  }
  if (kind.layout == Layout::Texmex && data.type == ElementType::Int8) {
    throw Error(ErrorCode::InvalidArgument, path + ": texmex files have no int8 form; use .i8bin or .npy");
  }
  if (data.rows > std::numeric_limits<uint32_t>::max()) throw Error(ErrorCode::InvalidArgument, path + ": too many rows for this format");
  AtomicFileWriter out(path);
  switch (kind.layout) {
    case Layout::Texmex: {
      int32_t dim = static_cast<int32_t>(data.dim);
      for (int64_t i = 0; i < data.rows; ++i) {
        out.write(&dim, 4);
        out.write(data.row(i), data.row_bytes());
      }
      break;
    }
    case Layout::BigAnn: {
      uint32_t header[2] = {static_cast<uint32_t>(data.rows), static_cast<uint32_t>(data.dim)};
      out.write(header, 8);
      out.write(data.data, data.rows * data.row_bytes());
      break;
    }
    case Layout::Npy: {
      const char* descr = data.type == ElementType::Float32 ? "<f4" : data.type == ElementType::UInt8 ? "|u1" : "|i1";
      std::string dict = "{'descr': '" + std::string(descr) + "', 'fortran_order': False, 'shape': (" +
                         std::to_string(data.rows) + ", " + std::to_string(data.dim) + "), }";
      size_t total = 10 + dict.size() + 1;
      size_t padded = (total + 63) / 64 * 64;  // NumPy aligns the data to 64 bytes
      dict.append(padded - total, ' ');
      dict.push_back('\n');
      uint8_t preamble[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                              static_cast<uint8_t>(dict.size() & 0xFF), static_cast<uint8_t>(dict.size() >> 8)};
      out.write(preamble, 10);
      out.write(dict.data(), dict.size());
      out.write(data.data, data.rows * data.row_bytes());
      break;
    }
  }
  out.commit();
}

Neighbors read_neighbors(const std::string& path) {
  FileKind kind = kind_of(path);
  if (!kind.int32) throw Error(ErrorCode::InvalidArgument, path + ": neighbour ids must be an .ivecs or .ibin file");
  auto file = MappedFile::open(path);
  RawMatrix m = kind.layout == Layout::Texmex ? parse_texmex(*file, 4) : parse_bigann(*file, 4);
  if (m.rows == 0) format_error(path, "holds no rows");
  if (m.dim > std::numeric_limits<int>::max()) format_error(path, "too many neighbours per row");
  Neighbors n;
  n.rows = m.rows;
  n.k = static_cast<int>(m.dim);
  n.ids.resize(m.rows * m.dim);
  n.distances.assign(m.rows * m.dim, 0.0f);  // id files carry no distances
  for (int64_t i = 0; i < m.rows; ++i) {
    for (int64_t j = 0; j < m.dim; ++j) {
      int32_t id;
      std::memcpy(&id, m.first_row + i * m.stride + j * 4, 4);
      n.ids[i * m.dim + j] = id < 0 ? kInvalidId : static_cast<uint32_t>(id);
    }
  }
  return n;
}

void write_neighbors(const std::string& path, const Neighbors& neighbors) {
  FileKind kind = kind_of(path);
  if (!kind.int32) throw Error(ErrorCode::InvalidArgument, path + ": write neighbour ids as .ivecs or .ibin");
  AtomicFileWriter out(path);
  std::vector<int32_t> row(neighbors.k);
  if (kind.layout == Layout::BigAnn) {
    uint32_t header[2] = {static_cast<uint32_t>(neighbors.rows), static_cast<uint32_t>(neighbors.k)};
    out.write(header, 8);
  }
  int32_t k = neighbors.k;
  for (int64_t i = 0; i < neighbors.rows; ++i) {
    for (int j = 0; j < k; ++j) {
      uint32_t id = neighbors.ids[i * k + j];
      row[j] = id == kInvalidId ? -1 : static_cast<int32_t>(id);
    }
    if (kind.layout == Layout::Texmex) out.write(&k, 4);
    out.write(row.data(), 4 * row.size());
  }
  out.commit();
}

}  // namespace annforge
