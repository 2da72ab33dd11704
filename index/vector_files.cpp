// Readers and writers for vector files: texmex (.fvecs .bvecs .ivecs), big-ann-benchmarks
// (.fbin .f16bin .u8bin .i8bin .ibin) and NumPy (.npy); ann-benchmarks' .hdf5 in hdf5_file.cpp.
// Contiguous formats are memory-mapped and shared zero-copy; texmex rows carry a per-row header
// and are copied into one matrix; float16 and float64 are converted to float32 once at read.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "annforge.hpp"
#include "checked_size.hpp"
#include "half_float.hpp"
#include "hdf5_file.hpp"
#include "mapped_file.hpp"
#include "row_runs.hpp"

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

enum class Layout { Texmex, BigAnn, Npy, Hdf5 };
// What a file stores; float16 and float64 are converted to float32 once at read.
enum class Stored { F32, U8, I8, F16, F64, I32 };
size_t stored_bytes(Stored s) {
  switch (s) {
    case Stored::U8: case Stored::I8: return 1;
    case Stored::F16: return 2;
    case Stored::F32: case Stored::I32: return 4;
    case Stored::F64: return 8;
  }
  return 0;
}
ElementType loaded_type(Stored s) {
  return s == Stored::U8 ? ElementType::UInt8 : s == Stored::I8 ? ElementType::Int8 : ElementType::Float32;
}
Stored stored_as(ElementType type) {
  return type == ElementType::UInt8 ? Stored::U8 : type == ElementType::Int8 ? Stored::I8 : Stored::F32;
}

struct FileKind {
  Layout layout;
  Stored stored;  // I32: neighbour ids (.ivecs/.ibin), not vectors; .npy/.hdf5: from the header
};

FileKind kind_of(const std::string& path) {
  std::string ext = extension_of(path);
  if (ext == "fvecs") return {Layout::Texmex, Stored::F32};
  if (ext == "bvecs") return {Layout::Texmex, Stored::U8};
  if (ext == "ivecs") return {Layout::Texmex, Stored::I32};
  if (ext == "fbin") return {Layout::BigAnn, Stored::F32};
  if (ext == "f16bin") return {Layout::BigAnn, Stored::F16};
  if (ext == "u8bin") return {Layout::BigAnn, Stored::U8};
  if (ext == "i8bin") return {Layout::BigAnn, Stored::I8};
  if (ext == "ibin") return {Layout::BigAnn, Stored::I32};
  if (ext == "npy") return {Layout::Npy, Stored::F32};
  if (ext == "hdf5" || ext == "h5") return {Layout::Hdf5, Stored::F32};
  throw Error(ErrorCode::InvalidArgument,
              path + (ext.empty() ? std::string(": no file extension to tell its type by")
                                  : ": unknown file type '." + ext + "'") +
                  " (expected .fvecs .bvecs .ivecs .fbin .f16bin .u8bin .i8bin .ibin .npy or .hdf5)");
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
RawMatrix parse_npy(const MappedFile& file, Stored* stored) {
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
  auto is = [&](const char* a, const char* b = nullptr) {
    return descr.rfind(a, 0) == 0 || (b && descr.rfind(b, 0) == 0);
  };
  if (is("'<f4'")) {
    *stored = Stored::F32;
  } else if (is("'<f2'")) {
    *stored = Stored::F16;
  } else if (is("'<f8'")) {
    *stored = Stored::F64;
  } else if (is("'|u1'", "'u1'")) {
    *stored = Stored::U8;
  } else if (is("'|i1'", "'i1'")) {
    *stored = Stored::I8;
  } else {
    format_error(path, "unsupported .npy dtype " + descr.substr(0, descr.find(',')) +
                           " (expected little-endian float32, float16, float64, uint8 or int8)");
  }
  const size_t elem_bytes = stored_bytes(*stored);
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

// Runs body(begin, end) over [0, rows) on up to 8 threads when the work is large: a large copy's
// first touch of fresh memory costs more than the copy itself on a VM.
template <typename Body>
void over_rows(int64_t rows, size_t bytes, Body body) {
  constexpr size_t kParallelBytes = size_t{32} << 20;
  const int threads = static_cast<int>(std::min(8u, std::max(1u, std::thread::hardware_concurrency())));
  if (threads == 1 || bytes < kParallelBytes) {
    body(int64_t{0}, rows);
    return;
  }
  std::vector<std::thread> workers;
  for (int t = 1; t < threads; ++t) workers.emplace_back(body, rows * t / threads, rows * (t + 1) / threads);
  body(int64_t{0}, rows / threads);
  for (std::thread& w : workers) w.join();
}

// Copies (a prefix of) a strided matrix into one contiguous, owned Dataset: misaligned rows
// aligned, and float16 / float64 rows converted to float32 (aligned rows of the loaded types,
// texmex ones too, are read in place instead).
Dataset copy_rows(const std::string& path, const RawMatrix& m, int64_t rows, Stored stored) {
  Dataset out = Dataset::allocate(rows, m.dim, loaded_type(stored));
  auto* dst = static_cast<uint8_t*>(out.mutable_data());
  const size_t out_row_bytes = out.view().row_bytes();
  std::vector<int64_t> out_of_range(8, -1);  // per worker: the first row holding a value float32 cannot
  std::atomic<int> worker{0};
  over_rows(rows, static_cast<size_t>(rows) * out_row_bytes, [&](int64_t begin, int64_t end) {
    const int me = worker++;
    std::vector<uint8_t> aligned(stored == Stored::F32 || stored == Stored::U8 || stored == Stored::I8
                                     ? 0 : m.dim * m.elem_bytes);
    for (int64_t i = begin; i < end; ++i) {
      const uint8_t* src = m.first_row + i * m.stride;
      uint8_t* row = dst + i * out_row_bytes;
      if (stored == Stored::F16) {
        std::memcpy(aligned.data(), src, aligned.size());  // the source may sit at an odd offset
        detail::half_to_float(reinterpret_cast<const uint16_t*>(aligned.data()), reinterpret_cast<float*>(row), m.dim);
      } else if (stored == Stored::F64) {
        std::memcpy(aligned.data(), src, aligned.size());
        const size_t bad = detail::double_to_float(reinterpret_cast<const double*>(aligned.data()),
                                                   reinterpret_cast<float*>(row), m.dim);
        if (bad < static_cast<size_t>(m.dim) && out_of_range[me % 8] < 0) out_of_range[me % 8] = i * m.dim + bad;
      } else {
        std::memcpy(row, src, out_row_bytes);
      }
    }
  });
  for (int64_t at : out_of_range) {
    if (at >= 0) {
      double v;
      std::memcpy(&v, m.first_row + (at / m.dim) * m.stride + (at % m.dim) * 8, 8);
      format_error(path, "row " + std::to_string(at / m.dim) + " column " + std::to_string(at % m.dim) + ": " +
                             std::to_string(v) + " is outside float32's range");
    }
  }
  return out;
}

int64_t clamp_rows(int64_t rows, int64_t max_rows) { return (max_rows >= 0 && max_rows < rows) ? max_rows : rows; }

const char* stored_name(Stored s) { return s == Stored::F16 ? "float16" : s == Stored::F64 ? "float64" : ""; }

}  // namespace

Dataset read_vectors(const std::string& path, int64_t max_rows, const std::string& member) {
  if (max_rows == 0) throw Error(ErrorCode::InvalidArgument, path + ": asked to read 0 rows");
  FileKind kind = kind_of(path);
  if (kind.stored == Stored::I32) {
    throw Error(ErrorCode::InvalidArgument, path + ": holds int32 neighbour ids, not vectors");
  }
  if (kind.layout == Layout::Hdf5) return detail::read_hdf5_vectors(path, member.empty() ? "train" : member, max_rows);
  if (!member.empty()) {
    throw Error(ErrorCode::InvalidArgument, path + ": only .hdf5 files hold named members ('" + member + "' asked for)");
  }
  auto file = MappedFile::open(path);
  Stored stored = kind.stored;
  RawMatrix m{};
  switch (kind.layout) {
    case Layout::Texmex: m = parse_texmex(*file, stored_bytes(stored), max_rows); break;
    case Layout::BigAnn: m = parse_bigann(*file, stored_bytes(stored)); break;
    case Layout::Npy: m = parse_npy(*file, &stored); break;
    case Layout::Hdf5: break;  // handled above
  }
  int64_t rows = clamp_rows(m.rows, max_rows);
  if (rows == 0) format_error(path, "holds no vectors");
  // Rows that start misaligned for their element type (a .npy header whose length is not a
  // multiple of 4; reading floats there is undefined behaviour) and float16 / float64 rows are
  // copied into aligned float32 storage.
  const bool aligned = reinterpret_cast<uintptr_t>(m.first_row) % m.elem_bytes == 0 && m.stride % m.elem_bytes == 0;
  const bool converted = stored == Stored::F16 || stored == Stored::F64;
  Dataset read;
  if (!aligned || converted) {
    read = copy_rows(path, m, rows, stored);
    if (converted) read.set_converted_from(stored_name(stored));
  } else {
    // Share the mapping, rows where they lie (a texmex file's with its header between them):
    // the file's page cache is the storage; nothing is copied, nothing anonymous allocated.
    const size_t packed = static_cast<size_t>(m.dim) * m.elem_bytes;
    DatasetView view{m.first_row, rows, m.dim, loaded_type(stored), m.stride == packed ? 0 : m.stride};
    read = Dataset::wrap(view, std::static_pointer_cast<const void>(file));
  }
  read.set_source(path);
  return read;
}

void write_vectors(const std::string& path, const DatasetView& data) {
  FileKind kind = kind_of(path);
  if (kind.stored == Stored::I32) throw Error(ErrorCode::InvalidArgument, path + ": .ivecs/.ibin hold neighbour ids; write vectors as .fvecs, .bvecs, .fbin, .f16bin, .u8bin, .i8bin or .npy");
  if (kind.layout == Layout::Hdf5) throw Error(ErrorCode::Unsupported, path + ": annforge reads .hdf5 files but does not write them");
  // .f16bin takes float32 rows and stores them rounded to float16 (nearest even).
  const bool to_half = kind.stored == Stored::F16;
  if (kind.layout != Layout::Npy && (to_half ? data.type != ElementType::Float32 : stored_as(data.type) != kind.stored)) {
    throw Error(ErrorCode::InvalidArgument, path + ": cannot store " + to_string(data.type) + " vectors in a ." + extension_of(path) + " file");
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
      if (to_half) {
        std::vector<uint16_t> row(data.dim);
        for (int64_t i = 0; i < data.rows; ++i) {
          detail::float_to_half(reinterpret_cast<const float*>(data.row(i)), row.data(), row.size());
          out.write(row.data(), 2 * row.size());
        }
      } else {
        detail::for_each_row_run(data, [&](const void* bytes, size_t size) { out.write(bytes, size); });
      }
      break;
    }
    case Layout::Hdf5: break;  // refused above
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
      detail::for_each_row_run(data, [&](const void* bytes, size_t size) { out.write(bytes, size); });
      break;
    }
  }
  out.commit();
}

Neighbors read_neighbors(const std::string& path, const std::string& member) {
  FileKind kind = kind_of(path);
  if (kind.layout == Layout::Hdf5) return detail::read_hdf5_neighbors(path, member.empty() ? "neighbors" : member);
  if (kind.stored != Stored::I32) throw Error(ErrorCode::InvalidArgument, path + ": neighbour ids must be an .ivecs, .ibin or .hdf5 file");
  if (!member.empty()) {
    throw Error(ErrorCode::InvalidArgument, path + ": only .hdf5 files hold named members ('" + member + "' asked for)");
  }
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
  if (kind.stored != Stored::I32) throw Error(ErrorCode::InvalidArgument, path + ": write neighbour ids as .ivecs or .ibin");
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

bool declared_metric(const std::string& path, Metric* metric) {
  if (kind_of(path).layout != Layout::Hdf5) return false;
  return detail::read_hdf5_metric(path, metric);
}

}  // namespace annforge
