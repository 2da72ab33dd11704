// Reads ann-benchmarks' .hdf5 files through libhdf5's C API. libhdf5 as Debian builds it is not
// thread-safe, so every use holds one lock; its error stack printing is switched off while we
// hold it (each failure becomes one Error naming the file and what is wrong instead).
#include "hdf5_file.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <vector>

#include "half_float.hpp"

#ifdef ANNFORGE_HAVE_HDF5
#include <hdf5.h>

#include <mutex>
#endif

namespace annforge::detail {

#ifndef ANNFORGE_HAVE_HDF5

[[noreturn]] static void no_hdf5(const std::string& path) {
  throw Error(ErrorCode::Unsupported, path + ": this annforge was built without libhdf5, so it cannot read .hdf5 files "
                                             "(install libhdf5-dev and rebuild, or convert the file to .fbin / .npy)");
}
Dataset read_hdf5_vectors(const std::string& path, const std::string&, int64_t) { no_hdf5(path); }
Neighbors read_hdf5_neighbors(const std::string& path, const std::string&) { no_hdf5(path); }
bool read_hdf5_metric(const std::string& path, Metric*) { no_hdf5(path); }

#else

namespace {

std::mutex& hdf5_lock() {
  static std::mutex lock;
  return lock;
}

[[noreturn]] void format_error(const std::string& path, const std::string& what) {
  throw Error(ErrorCode::Format, path + ": " + what);
}

// One libhdf5 handle, closed by the function that matches its kind.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  Handle(Handle&& other) noexcept : id_(other.id_), close_(other.close_) { other.id_ = -1; }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

// Holds the lock and silences libhdf5's own error printing for one read.
class LibraryAccess {
 public:
  LibraryAccess() : guard_(hdf5_lock()) {
    H5Eget_auto2(H5E_DEFAULT, &old_func_, &old_data_);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~LibraryAccess() { H5Eset_auto2(H5E_DEFAULT, old_func_, old_data_); }

 private:
  std::lock_guard<std::mutex> guard_;
  H5E_auto2_t old_func_ = nullptr;
  void* old_data_ = nullptr;
};

Handle open_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw Error(ErrorCode::Io, path + ": cannot open: " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw Error(ErrorCode::Io, path + ": cannot open: not a regular file");
  if (st.st_size == 0) format_error(path, "empty file");
  if (H5Fis_hdf5(path.c_str()) <= 0) format_error(path, "not an HDF5 file (no HDF5 signature)");
  Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!file.ok()) format_error(path, "cannot be opened as HDF5 (truncated or corrupt)");
  return file;
}

herr_t collect_name(hid_t, const char* name, const H5L_info_t*, void* names) {
  auto* list = static_cast<std::string*>(names);
  *list += (list->empty() ? "'" : ", '") + std::string(name) + "'";
  return 0;
}

struct Matrix2d {
  int64_t rows = 0;
  int64_t cols = 0;
};

// Opens `member` and checks that it is a 2-D dataset of at least one row and column.
Handle open_matrix(const std::string& path, hid_t file, const std::string& member, Matrix2d* shape) {
  if (H5Lexists(file, member.c_str(), H5P_DEFAULT) <= 0) {
    std::string names;
    H5Literate(file, H5_INDEX_NAME, H5_ITER_NATIVE, nullptr, collect_name, &names);
    format_error(path, "has no dataset '" + member + "' (it has " + (names.empty() ? std::string("none") : names) + ")");
  }
  Handle set(H5Dopen2(file, member.c_str(), H5P_DEFAULT), H5Dclose);
  if (!set.ok()) format_error(path, "'" + member + "' is not a dataset, or is corrupt");
  Handle space(H5Dget_space(set.get()), H5Sclose);
  const int dims = space.ok() ? H5Sget_simple_extent_ndims(space.get()) : -1;
  if (dims != 2) {
    format_error(path, "dataset '" + member + "' has " + std::to_string(dims) + " dimensions; expected 2 (rows, dim)");
  }
  hsize_t extent[2] = {0, 0};
  H5Sget_simple_extent_dims(space.get(), extent, nullptr);
  if (extent[0] == 0 || extent[1] == 0) {
    format_error(path, "dataset '" + member + "' is " + std::to_string(extent[0]) + " x " + std::to_string(extent[1]) + ": empty");
  }
  constexpr hsize_t kMaxDim = 1 << 20;
  if (extent[1] > kMaxDim) format_error(path, "dataset '" + member + "' has " + std::to_string(extent[1]) + " columns, more than annforge takes");
  if (extent[0] > static_cast<hsize_t>(std::numeric_limits<int64_t>::max() / extent[1] / 8)) {
    format_error(path, "dataset '" + member + "' is too large to address");
  }
  shape->rows = static_cast<int64_t>(extent[0]);
  shape->cols = static_cast<int64_t>(extent[1]);
  return set;
}

// Reads rows [begin, begin + count) of a 2-D dataset as `memory_type` into `out`.
void read_rows(const std::string& path, const std::string& member, hid_t set, const Matrix2d& shape, int64_t begin,
               int64_t count, hid_t memory_type, void* out) {
  Handle file_space(H5Dget_space(set), H5Sclose);
  hsize_t start[2] = {static_cast<hsize_t>(begin), 0};
  hsize_t extent[2] = {static_cast<hsize_t>(count), static_cast<hsize_t>(shape.cols)};
  Handle memory_space(H5Screate_simple(2, extent, nullptr), H5Sclose);
  if (!file_space.ok() || !memory_space.ok() ||
      H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start, nullptr, extent, nullptr) < 0 ||
      H5Dread(set, memory_type, memory_space.get(), file_space.get(), H5P_DEFAULT, out) < 0) {
    format_error(path, "reading rows " + std::to_string(begin) + ".." + std::to_string(begin + count) + " of '" + member +
                           "' failed (truncated or corrupt file, or values that do not convert)");
  }
}

// Rows per read: conversion buffers stay near 16 MiB however large the dataset.
int64_t block_rows(const Matrix2d& shape) { return std::max<int64_t>(1, (int64_t{16} << 20) / (shape.cols * 8)); }

}  // namespace

Dataset read_hdf5_vectors(const std::string& path, const std::string& member, int64_t max_rows) {
  LibraryAccess access;
  Handle file = open_file(path);
  Matrix2d shape;
  Handle set = open_matrix(path, file.get(), member, &shape);
  const int64_t rows = (max_rows >= 0 && max_rows < shape.rows) ? max_rows : shape.rows;
  Handle type(H5Dget_type(set.get()), H5Tclose);
  const H5T_class_t type_class = type.ok() ? H5Tget_class(type.get()) : H5T_NO_CLASS;
  const size_t bytes = type.ok() ? H5Tget_size(type.get()) : 0;
  Dataset out;
  if (type_class == H5T_FLOAT && (bytes == 2 || bytes == 4)) {
    // libhdf5 converts float16 to float32 exactly on the way.
    out = Dataset::allocate(rows, shape.cols, ElementType::Float32);
    read_rows(path, member, set.get(), shape, 0, rows, H5T_NATIVE_FLOAT, out.mutable_data());
    if (bytes == 2) out.set_converted_from("float16");
  } else if (type_class == H5T_FLOAT && bytes == 8) {
    // Read as doubles a block at a time, so that a value past float32's range is an error, not
    // a silent infinity.
    out = Dataset::allocate(rows, shape.cols, ElementType::Float32);
    auto* dst = static_cast<float*>(out.mutable_data());
    std::vector<double> block;
    for (int64_t begin = 0; begin < rows; begin += block_rows(shape)) {
      const int64_t count = std::min(block_rows(shape), rows - begin);
      block.resize(count * shape.cols);
      read_rows(path, member, set.get(), shape, begin, count, H5T_NATIVE_DOUBLE, block.data());
      const size_t bad = double_to_float(block.data(), dst + begin * shape.cols, block.size());
      if (bad < block.size()) {
        format_error(path, "dataset '" + member + "' row " + std::to_string(begin + bad / shape.cols) + " column " +
                               std::to_string(bad % shape.cols) + ": " + std::to_string(block[bad]) +
                               " is outside float32's range");
      }
    }
    out.set_converted_from("float64");
  } else if (type_class == H5T_INTEGER && bytes == 1) {
    const bool is_signed = H5Tget_sign(type.get()) == H5T_SGN_2;
    out = Dataset::allocate(rows, shape.cols, is_signed ? ElementType::Int8 : ElementType::UInt8);
    read_rows(path, member, set.get(), shape, 0, rows, is_signed ? H5T_NATIVE_SCHAR : H5T_NATIVE_UCHAR, out.mutable_data());
  } else {
    format_error(path, "dataset '" + member + "' holds " +
                           (type_class == H5T_INTEGER ? std::to_string(bytes * 8) + "-bit integers"
                            : type_class == H5T_FLOAT ? std::to_string(bytes * 8) + "-bit floats"
                                                      : std::string("values that are not numbers")) +
                           "; vectors must be float16, float32, float64, uint8 or int8");
  }
  out.set_source(path);
  return out;
}

Neighbors read_hdf5_neighbors(const std::string& path, const std::string& member) {
  LibraryAccess access;
  Handle file = open_file(path);
  Matrix2d shape;
  Handle set = open_matrix(path, file.get(), member, &shape);
  Handle type(H5Dget_type(set.get()), H5Tclose);
  if (!type.ok() || H5Tget_class(type.get()) != H5T_INTEGER) {
    format_error(path, "dataset '" + member + "' does not hold integer neighbour ids");
  }
  if (shape.cols > std::numeric_limits<int>::max()) format_error(path, "dataset '" + member + "': too many neighbours per row");
  Neighbors n;
  n.rows = shape.rows;
  n.k = static_cast<int>(shape.cols);
  n.ids.resize(shape.rows * shape.cols);
  n.distances.assign(shape.rows * shape.cols, 0.0f);  // ids only, as .ivecs / .ibin
  std::vector<long long> block;
  for (int64_t begin = 0; begin < shape.rows; begin += block_rows(shape)) {
    const int64_t count = std::min(block_rows(shape), shape.rows - begin);
    block.resize(count * shape.cols);
    read_rows(path, member, set.get(), shape, begin, count, H5T_NATIVE_LLONG, block.data());
    for (size_t i = 0; i < block.size(); ++i) {
      const long long id = block[i];
      if (id >= static_cast<long long>(kInvalidId)) {
        format_error(path, "dataset '" + member + "' row " + std::to_string(begin + i / shape.cols) + ": id " +
                               std::to_string(id) + " is past 32-bit row ids");
      }
      n.ids[begin * shape.cols + i] = id < 0 ? kInvalidId : static_cast<uint32_t>(id);
    }
  }
  return n;
}

bool read_hdf5_metric(const std::string& path, Metric* metric) {
  std::string value;
  {
    LibraryAccess access;
    Handle file = open_file(path);
    if (H5Aexists(file.get(), "distance") <= 0) return false;
    Handle attribute(H5Aopen(file.get(), "distance", H5P_DEFAULT), H5Aclose);
    Handle type(attribute.ok() ? H5Aget_type(attribute.get()) : -1, H5Tclose);
    if (!type.ok() || H5Tget_class(type.get()) != H5T_STRING) format_error(path, "attribute 'distance' is not a string");
    if (H5Tis_variable_str(type.get()) > 0) {
      Handle memory_type(H5Tget_native_type(type.get(), H5T_DIR_ASCEND), H5Tclose);
      char* text = nullptr;
      if (!memory_type.ok() || H5Aread(attribute.get(), memory_type.get(), &text) < 0 || !text) {
        format_error(path, "attribute 'distance' cannot be read");
      }
      value = text;
      H5free_memory(text);
    } else {
      const size_t bytes = H5Tget_size(type.get());
      if (bytes == 0 || bytes > 4096) format_error(path, "attribute 'distance' has a bad size");
      std::vector<char> text(bytes + 1, '\0');
      if (H5Aread(attribute.get(), type.get(), text.data()) < 0) format_error(path, "attribute 'distance' cannot be read");
      value = text.data();
    }
  }
  if (value == "euclidean" || value == "l2") {
    *metric = Metric::L2;
  } else if (value == "angular" || value == "cosine") {
    *metric = Metric::Cosine;
  } else if (value == "dot" || value == "ip" || value == "inner_product") {
    *metric = Metric::InnerProduct;
  } else {
    throw Error(ErrorCode::Unsupported, path + ": declares distance '" + value +
                                            "', which annforge does not have (it has euclidean, angular and dot)");
  }
  return true;
}

#endif  // ANNFORGE_HAVE_HDF5

}  // namespace annforge::detail
