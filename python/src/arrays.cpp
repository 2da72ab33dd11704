#include "arrays.hpp"

#include <memory>
#include <string>

#include "host/backend.hpp"
#include "index/half_float.hpp"

namespace annforge::python {
namespace {

bool is(const nb::dlpack::dtype& t, nb::dlpack::dtype_code code, int bits) {
  return t.code == static_cast<uint8_t>(code) && t.bits == bits && t.lanes == 1;
}

std::string dtype_name(const nb::dlpack::dtype& t) {
  const char* kind = t.code == static_cast<uint8_t>(nb::dlpack::dtype_code::Float)   ? "float"
                     : t.code == static_cast<uint8_t>(nb::dlpack::dtype_code::Int)   ? "int"
                     : t.code == static_cast<uint8_t>(nb::dlpack::dtype_code::UInt)  ? "uint"
                     : t.code == static_cast<uint8_t>(nb::dlpack::dtype_code::Bfloat) ? "bfloat"
                     : t.code == static_cast<uint8_t>(nb::dlpack::dtype_code::Bool)  ? "bool"
                                                                                      : "complex";
  return kind + std::to_string(t.bits);
}

}  // namespace

Dataset matrix_from(const AnyArray& array, const char* what) {
  const std::string name = what;
  const bool on_gpu = array.device_type() == nb::device::cuda::value;
  if (array.device_type() != nb::device::cpu::value && !on_gpu) {
    throw nb::type_error((name + " is not in host or CUDA memory (DLPack device " + std::to_string(array.device_type()) +
                          "): pass a NumPy array, a CPU tensor or a CUDA array").c_str());
  }
#if !defined(ANNFORGE_HAVE_CUDA)
  if (on_gpu) {
    throw nb::type_error((name + " is in GPU memory, and this annforge has no CUDA backend (built without nvcc): "
                          "pass a host array (for example tensor.cpu() or cupy.asnumpy(x))").c_str());
  }
#endif
  if (array.ndim() != 2) {
    throw nb::value_error((name + " must be a 2-D (rows, dim) array; got " + std::to_string(array.ndim()) +
                           " dimensions (one vector: x.reshape(1, -1))").c_str());
  }
  const int64_t rows = static_cast<int64_t>(array.shape(0));
  const int64_t dim = static_cast<int64_t>(array.shape(1));
  if (rows == 0 || dim == 0) {
    throw nb::value_error((name + " is empty (" + std::to_string(rows) + " x " + std::to_string(dim) + ")").c_str());
  }
  // Strides are in elements. Rows must be contiguous; they may lie apart (a slice of wider
  // rows, a texmex file read in place), and are then read where they are. A single row's
  // leading stride does not matter.
  const bool row_major = array.stride(1) == 1 && (rows == 1 || array.stride(0) >= dim);
  if (!row_major) {
    throw nb::value_error((name + " must be row-major with contiguous rows (strides (>= dim, 1) in elements); pass "
                           "np.ascontiguousarray(" + name + ") (annforge does not copy behind your back)").c_str());
  }
  int64_t row_step = rows == 1 ? dim : static_cast<int64_t>(array.stride(0));  // elements
  const nb::dlpack::dtype t = array.dtype();
  using Code = nb::dlpack::dtype_code;
  const bool taken_as_is = is(t, Code::Float, 32) || is(t, Code::UInt, 8) || is(t, Code::Int, 8);
  const bool to_float32 = is(t, Code::Float, 16) || is(t, Code::Float, 64);
  if (!taken_as_is && !to_float32) {
    throw nb::type_error((name + " has dtype " + dtype_name(t) +
                          "; annforge takes float32, uint8 or int8 in place, and float16 / float64 converted to float32")
                             .c_str());
  }
  // A CUDA array (CuPy, a CUDA tensor): its rows copied once into host memory, packed, which the
  // index then owns (the documented copy; the build and search read host rows, and the GPU
  // backend uploads them again).
  const void* data = array.data();
  std::shared_ptr<const void> host_copy;
  if (on_gpu) {
    const size_t element_bytes = t.bits / 8;
    const size_t row_bytes = static_cast<size_t>(dim) * element_bytes;
    std::shared_ptr<uint8_t[]> rows_here(new uint8_t[row_bytes * static_cast<size_t>(rows)]);
    {
      nb::gil_scoped_release released;
      detail::copy_device_rows_to_host(rows_here.get(), data, row_bytes, static_cast<size_t>(row_step) * element_bytes,
                                       rows);
    }
    data = rows_here.get();
    host_copy = std::shared_ptr<const void>(rows_here, rows_here.get());
    row_step = dim;
  }
  ElementType type;
  if (is(t, Code::Float, 32)) {
    type = ElementType::Float32;
  } else if (is(t, Code::UInt, 8)) {
    type = ElementType::UInt8;
  } else if (is(t, Code::Int, 8)) {
    type = ElementType::Int8;
  } else {
    // The documented conversion: one float32 copy, owned by the index.
    Dataset converted = Dataset::allocate(rows, dim, ElementType::Float32);
    auto* out = static_cast<float*>(converted.mutable_data());
    for (int64_t r = 0; r < rows; ++r) {
      if (t.bits == 16) {
        detail::half_to_float(static_cast<const uint16_t*>(data) + r * row_step, out + r * dim, dim);
      } else {
        const size_t bad = detail::double_to_float(static_cast<const double*>(data) + r * row_step, out + r * dim,
                                                   dim);
        if (bad < static_cast<size_t>(dim)) {
          throw nb::value_error(
              (name + "[" + std::to_string(r) + ", " + std::to_string(bad) + "] is outside float32's range").c_str());
        }
      }
    }
    converted.set_converted_from(t.bits == 16 ? "float16" : "float64");
    return converted;
  }
  if (host_copy) return Dataset::wrap(DatasetView{data, rows, dim, type, 0}, std::move(host_copy));
  // In place: the Dataset holds a reference to the array, released under the GIL when the last
  // Dataset sharing it goes (the index may outlive the caller's variable).
  auto* held = new AnyArray(array);
  std::shared_ptr<const void> keep_alive(array.data(), [held](const void*) {
    if (!Py_IsInitialized()) return;  // interpreter gone: nothing left to release into
    nb::gil_scoped_acquire gil;
    delete held;
  });
  const size_t stride = row_step == dim ? 0 : static_cast<size_t>(row_step) * element_size(type);
  return Dataset::wrap(DatasetView{array.data(), rows, dim, type, stride}, std::move(keep_alive));
}

}  // namespace annforge::python
