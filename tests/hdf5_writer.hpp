// Writes ann-benchmarks style .hdf5 files for the tests (libhdf5's C API, as h5py lays them
// out: 2-D datasets at the root, the `distance` attribute a variable-length string).
#pragma once

#include <hdf5.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace annforge_test {

class Hdf5Writer {
 public:
  explicit Hdf5Writer(const std::string& path) {
    file_ = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file_ < 0) throw std::runtime_error("test: cannot create " + path);
  }
  ~Hdf5Writer() { H5Fclose(file_); }
  Hdf5Writer(const Hdf5Writer&) = delete;
  Hdf5Writer& operator=(const Hdf5Writer&) = delete;

  // `file_type` is how the values are stored (H5T_IEEE_F32LE, H5T_IEEE_F64LE, H5T_STD_I32LE,
  // ...); `memory_type` what `data` holds.
  template <typename T>
  Hdf5Writer& dataset(const std::string& name, const std::vector<hsize_t>& shape, hid_t file_type, hid_t memory_type,
                      const std::vector<T>& data) {
    hid_t space = H5Screate_simple(static_cast<int>(shape.size()), shape.data(), nullptr);
    hid_t set = H5Dcreate2(file_, name.c_str(), file_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (set < 0 || H5Dwrite(set, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()) < 0) {
      throw std::runtime_error("test: cannot write dataset " + name);
    }
    H5Dclose(set);
    H5Sclose(space);
    return *this;
  }

  Hdf5Writer& attribute(const std::string& name, const std::string& value, bool variable_length = true) {
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, variable_length ? H5T_VARIABLE : value.size() + 1);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr = H5Acreate2(file_, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
    const char* text = value.c_str();
    const herr_t written = variable_length ? H5Awrite(attr, type, &text) : H5Awrite(attr, type, text);
    if (attr < 0 || written < 0) throw std::runtime_error("test: cannot write attribute " + name);
    H5Aclose(attr);
    H5Sclose(space);
    H5Tclose(type);
    return *this;
  }

 private:
  hid_t file_;
};

}  // namespace annforge_test
