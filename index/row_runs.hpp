// The bytes of a view's rows in as few contiguous runs as its layout allows: one for packed
// rows, one per row where rows lie apart (a texmex file read in place). For writers and copies.
#pragma once

#include "annforge.hpp"

namespace annforge::detail {

template <typename Take>  // take(const void* bytes, size_t size)
void for_each_row_run(const DatasetView& v, Take take) {
  if (v.rows <= 0) return;
  if (v.packed()) {
    take(v.data, static_cast<size_t>(v.rows) * v.row_bytes());
    return;
  }
  for (int64_t i = 0; i < v.rows; ++i) take(v.row(i), v.row_bytes());
}

}  // namespace annforge::detail
