#include "arrays.hpp"

#include <string>

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
  if (array.device_type() != nb::device::cpu::value) {
    throw nb::type_error((name + " is not in host memory (DLPack device " + std::to_string(array.device_type()) +
                          "): this annforge reads arrays from host memory; pass a NumPy array or a CPU tensor "
                          "(for example tensor.cpu())").c_str());
  }
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
  const int64_t row_step = rows == 1 ? dim : static_cast<int64_t>(array.stride(0));  // elements
  const nb::dlpack::dtype t = array.dtype();
  using Code = nb::dlpack::dtype_code;
  ElementType type;
  if (is(t, Code::Float, 32)) {
    type = ElementType::Float32;
  } else if (is(t, Code::UInt, 8)) {
    type = ElementType::UInt8;
  } else if (is(t, Code::Int, 8)) {
    type = ElementType::Int8;
  } else if (is(t, Code::Float, 16) || is(t, Code::Float, 64)) {
    // The documented conversion: one float32 copy, owned by the index.
    Dataset converted = Dataset::allocate(rows, dim, ElementType::Float32);
    auto* out = static_cast<float*>(converted.mutable_data());
    for (int64_t r = 0; r < rows; ++r) {
      if (t.bits == 16) {
        detail::half_to_float(static_cast<const uint16_t*>(array.data()) + r * row_step, out + r * dim, dim);
      } else {
        const size_t bad = detail::double_to_float(static_cast<const double*>(array.data()) + r * row_step, out + r * dim,
                                                   dim);
        if (bad < static_cast<size_t>(dim)) {
          throw nb::value_error(
              (name + "[" + std::to_string(r) + ", " + std::to_string(bad) + "] is outside float32's range").c_str());
        }
      }
    }
    converted.set_converted_from(t.bits == 16 ? "float16" : "float64");
    return converted;
  } else {
    throw nb::type_error((name + " has dtype " + dtype_name(t) +
                          "; annforge takes float32, uint8 or int8 in place, and float16 / float64 converted to float32")
                             .c_str());
  }
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
