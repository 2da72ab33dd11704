// Python arrays in and out of annforge without copies: a row-major 2-D float32 / uint8 / int8
// array on the host (rows contiguous, packed or apart) is used in place (the Dataset keeps the array alive); float16 and
// float64 are converted once to float32 (the documented rule); anything else is refused with a
// TypeError or ValueError that says what to pass instead.
#pragma once

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <cstdint>

#include "annforge.hpp"

namespace annforge::python {

namespace nb = nanobind;

// Any dtype, any device, any strides: checked by matrix_from, so that the messages are ours.
using AnyArray = nb::ndarray<nb::ro>;

// `what` names the argument in errors ("vectors", "queries").
Dataset matrix_from(const AnyArray& array, const char* what);

// A NumPy array over memory that `owner` keeps alive.
template <typename T>
nb::ndarray<nb::numpy, T, nb::ndim<2>> numpy_matrix(T* data, int64_t rows, int64_t cols, nb::handle owner) {
  const size_t shape[2] = {static_cast<size_t>(rows), static_cast<size_t>(cols)};
  return nb::ndarray<nb::numpy, T, nb::ndim<2>>(data, 2, shape, owner);
}

// A fresh rows x cols array, owned by a capsule: the library writes into it directly.
template <typename T>
nb::ndarray<nb::numpy, T, nb::ndim<2>> new_matrix(int64_t rows, int64_t cols, T** data) {
  *data = new T[static_cast<size_t>(rows) * static_cast<size_t>(cols > 0 ? cols : 1)];
  nb::capsule owner(*data, [](void* p) noexcept { delete[] static_cast<T*>(p); });
  return numpy_matrix(*data, rows, cols, owner);
}

}  // namespace annforge::python
