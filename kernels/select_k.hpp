// Row-wise top-k selection (the k smallest values per row, sorted), with raft::matrix::select_k.
// Its ~90 kernel instantiations are compiled once, in kernels/select_k.cu, behind this wrapper.
#pragma once

#include <cstdint>
#include <optional>

#include <raft/core/device_mdspan.hpp>
#include <raft/core/resources.hpp>

namespace annforge::cuda {

// For each row of `values`, writes the k = out_values.extent(1) smallest values in ascending
// order and, in out_ids, their ids: `ids` of the same shape as `values` when given, else the
// column positions.
void select_k_smallest(const raft::resources& res, raft::device_matrix_view<const float, int64_t> values,
                       std::optional<raft::device_matrix_view<const uint32_t, int64_t>> ids,
                       raft::device_matrix_view<float, int64_t> out_values,
                       raft::device_matrix_view<uint32_t, int64_t> out_ids);

}  // namespace annforge::cuda
