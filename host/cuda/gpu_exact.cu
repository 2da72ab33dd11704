// Tiled exact kNN on the GPU (gpu_exact.hpp).
#include "host/cuda/gpu_exact.hpp"

#include <algorithm>

#include "kernels/candidate_merge.hpp"
#include "kernels/select_k.hpp"

namespace annforge::cuda {
namespace {

// One distance tile holds at most this many floats (1 GiB): large enough to keep the GEMMs and
// the selection busy, small beside an H100's memory.
constexpr int64_t kTileFloats = int64_t{1} << 28;
constexpr int64_t kBaseTileRows = int64_t{1} << 17;

struct Tiling {
  int64_t base_tile;
  int64_t query_tile;
  int64_t tiles;
  int kk;
  int64_t width;  // candidate columns across tiles (0 with one tile)
};

Tiling tiling_for(int64_t base_rows, int64_t query_rows, int k) {
  Tiling t;
  t.base_tile = std::min(base_rows, kBaseTileRows);
  t.query_tile = std::clamp<int64_t>(kTileFloats / t.base_tile, 1, std::max<int64_t>(query_rows, 1));
  t.query_tile = std::min<int64_t>(t.query_tile, 65535);
  t.tiles = (base_rows + t.base_tile - 1) / t.base_tile;
  t.kk = static_cast<int>(std::min<int64_t>(k, base_rows));
  t.width = 0;
  if (t.tiles > 1) {
    for (int64_t j = 0; j < t.tiles; ++j) {
      const int64_t rows = std::min(t.base_tile, base_rows - j * t.base_tile);
      t.width += std::min<int64_t>(t.kk, rows);
    }
  }
  return t;
}

size_t gemm_element_bytes(const DeviceMatrix& m) { return m.type == ElementType::Float32 ? 4 : 2; }

}  // namespace

size_t exact_knn_scratch_bytes(const DeviceMatrix& base, int64_t query_rows, int k) {
  const Tiling t = tiling_for(base.rows, query_rows, k);
  const size_t e = gemm_element_bytes(base);
  return base.rows * base.dim * e + t.query_tile * base.dim * e + t.query_tile * t.base_tile * 4 +
         t.query_tile * t.kk * 8 + t.query_tile * t.width * 8;
}

int exact_knn_device(GpuContext& gpu, const DeviceMatrix& base, const float* base_norms, const DeviceMatrix& queries,
                     const float* query_norms, Metric metric, int k, uint32_t* out_ids, float* out_distances,
                     const ProgressCallback& progress) {
  const raft::resources& res = gpu.res;
  const Tiling t = tiling_for(base.rows, queries.rows, k);
  const bool half = base.type != ElementType::Float32;
  const size_t e = gemm_element_bytes(base);
  DeviceBuffer<uint8_t> base_gemm(base.rows * base.dim * e);
  gather_rows(res, base, nullptr, 0, base.rows, half, base_gemm.data());
  DeviceBuffer<uint8_t> query_gemm(t.query_tile * queries.dim * e);
  DeviceBuffer<float> tile(t.query_tile * t.base_tile);
  DeviceBuffer<float> selected_distances(t.query_tile * t.kk);
  DeviceBuffer<uint32_t> selected_ids(t.query_tile * t.kk);
  DeviceBuffer<float> candidate_distances(t.query_tile * t.width);
  DeviceBuffer<uint32_t> candidate_ids(t.query_tile * t.width);

  for (int64_t q0 = 0; q0 < queries.rows; q0 += t.query_tile) {
    const int64_t qn = std::min(t.query_tile, queries.rows - q0);
    gather_rows(res, queries, nullptr, q0, qn, half, query_gemm.data());
    int64_t column = 0;
    for (int64_t j = 0; j < t.tiles; ++j) {
      const int64_t b0 = j * t.base_tile;
      const int64_t bn = std::min(t.base_tile, base.rows - b0);
      gemm_dots(res, half, /*exact_float=*/true, query_gemm.data(), base_gemm.data() + b0 * base.dim * e, qn, bn,
                base.dim, tile.data());
      dots_to_distances(res, metric, tile.data(), qn, bn, bn, query_norms + q0, base_norms + b0);
      auto tile_view = raft::make_device_matrix_view<const float, int64_t>(tile.data(), qn, bn);
      if (t.tiles == 1) {
        select_k_smallest(res, tile_view, std::nullopt,
                          raft::make_device_matrix_view<float, int64_t>(out_distances + q0 * t.kk, qn, t.kk),
                          raft::make_device_matrix_view<uint32_t, int64_t>(out_ids + q0 * t.kk, qn, t.kk));
      } else {
        const int kj = static_cast<int>(std::min<int64_t>(t.kk, bn));
        select_k_smallest(res, tile_view, std::nullopt,
                          raft::make_device_matrix_view<float, int64_t>(selected_distances.data(), qn, kj),
                          raft::make_device_matrix_view<uint32_t, int64_t>(selected_ids.data(), qn, kj));
        place_tile_selection(res, qn, kj, selected_ids.data(), selected_distances.data(), static_cast<uint32_t>(b0),
                             t.width, column, candidate_ids.data(), candidate_distances.data());
        column += kj;
      }
    }
    if (t.tiles > 1) {
      select_k_smallest(
          res, raft::make_device_matrix_view<const float, int64_t>(candidate_distances.data(), qn, t.width),
          raft::make_device_matrix_view<const uint32_t, int64_t>(candidate_ids.data(), qn, t.width),
          raft::make_device_matrix_view<float, int64_t>(out_distances + q0 * t.kk, qn, t.kk),
          raft::make_device_matrix_view<uint32_t, int64_t>(out_ids + q0 * t.kk, qn, t.kk));
    }
    if (progress) {
      gpu.synchronize();
      progress(Progress{"exact-knn", q0 + qn, queries.rows});
    }
  }
  gpu.synchronize();  // the scratch buffers are freed on return
  return t.kk;
}

}  // namespace annforge::cuda
