// The one translation unit that instantiates raft::matrix::select_k (see select_k.hpp).
#include "kernels/select_k.hpp"

#include <raft/matrix/select_k.cuh>

namespace annforge::cuda {

void select_k_smallest(const raft::resources& res, raft::device_matrix_view<const float, int64_t> values,
                       std::optional<raft::device_matrix_view<const uint32_t, int64_t>> ids,
                       raft::device_matrix_view<float, int64_t> out_values,
                       raft::device_matrix_view<uint32_t, int64_t> out_ids) {
  raft::matrix::select_k<float, uint32_t>(res, values, ids, out_values, out_ids, /*select_min=*/true,
                                          /*sorted=*/true);
}

}  // namespace annforge::cuda
