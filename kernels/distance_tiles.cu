// Kernels and launchers of distance_tiles.hpp.
#include "kernels/distance_tiles.hpp"

#include <raft/core/resource/cublas_handle.hpp>
#include <raft/core/resource/cuda_stream.hpp>

#include "kernels/cuda_check.hpp"
#include "kernels/launch.cuh"
#include "kernels/shared/distance_core.hpp"

namespace annforge::cuda {
namespace {




// A warp per row.
template <typename T>
__global__ void row_norms_kernel(const T* data, int64_t rows, int64_t dim, Metric metric, float* norms) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * (blockDim.x / 32);
  for (int64_t r = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32; r < rows; r += warps) {
    const T* row = data + r * dim;
    float s = 0.0f;
    for (int64_t i = lane; i < dim; i += 32) {
      const float x = static_cast<float>(row[i]);
      s += x * x;
    }
    for (int offset = 16; offset > 0; offset >>= 1) s += __shfl_xor_sync(0xffffffffu, s, offset);
    if (lane == 0) {
      float v = 0.0f;
      if (metric == Metric::L2) v = s;
      if (metric == Metric::Cosine) v = s > 0.0f ? rsqrtf(s) : 0.0f;
      norms[r] = v;
    }
  }
}

template <typename T, typename Out>
__global__ void gather_kernel(const T* data, int64_t dim, const uint32_t* ids, int64_t first_row, int64_t count,
                              Out* out) {
  const int64_t total = count * dim;
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t i = e / dim, c = e - i * dim;
    const uint32_t id = ids ? ids[i] : static_cast<uint32_t>(first_row + i);
    const float v = id == kInvalid ? 0.0f : static_cast<float>(data[static_cast<int64_t>(id) * dim + c]);
    out[e] = static_cast<Out>(v);
  }
}

__device__ __forceinline__ float metric_distance(Metric metric, float dot, float norm_a, float norm_b) {
  if (metric == Metric::L2) return fmaxf(norm_a + norm_b - 2.0f * dot, 0.0f);
  if (metric == Metric::InnerProduct) return core::inner_product_distance(dot);
  return core::cosine_distance(dot, norm_a, norm_b);
}

__global__ void tile_epilogue_kernel(Metric metric, float* tile, int64_t query_rows, int64_t base_cols,
                                     int64_t base_valid, const float* query_norms, const float* base_norms) {
  const int64_t total = query_rows * base_cols;
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t i = e / base_cols, j = e - i * base_cols;
    tile[e] = j < base_valid ? metric_distance(metric, tile[e], query_norms[i], base_norms[j])
                             : __int_as_float(0x7f800000);
  }
}

__global__ void leaf_epilogue_kernel(Metric metric, float* tiles, int64_t leaves, int side, const uint32_t* members,
                                     const float* norms) {
  const int64_t per_leaf = static_cast<int64_t>(side) * side;
  const int64_t total = leaves * per_leaf;
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t leaf = e / per_leaf;
    const int64_t within = e - leaf * per_leaf;
    const int i = static_cast<int>(within / side), j = static_cast<int>(within - static_cast<int64_t>(i) * side);
    const uint32_t a = members[leaf * side + i], b = members[leaf * side + j];
    const bool valid = i != j && a != kInvalid && b != kInvalid;
    tiles[e] = valid ? metric_distance(metric, tiles[e], norms[a], norms[b]) : __int_as_float(0x7f800000);
  }
}

}  // namespace

void row_norms(const raft::resources& res, const DeviceMatrix& data, Metric metric, float* norms) {
  if (data.rows == 0) return;
  const int blocks = grid_for(data.rows, 8);
  switch (data.type) {
    case ElementType::Float32:
      row_norms_kernel<<<blocks, 256, 0, stream_of(res)>>>(static_cast<const float*>(data.data), data.rows, data.dim,
                                                           metric, norms);
      break;
    case ElementType::UInt8:
      row_norms_kernel<<<blocks, 256, 0, stream_of(res)>>>(static_cast<const uint8_t*>(data.data), data.rows,
                                                           data.dim, metric, norms);
      break;
    case ElementType::Int8:
      row_norms_kernel<<<blocks, 256, 0, stream_of(res)>>>(static_cast<const int8_t*>(data.data), data.rows,
                                                           data.dim, metric, norms);
      break;
  }
  ANNFORGE_CUDA_CHECK_LAUNCH("row_norms");
}

void gather_rows(const raft::resources& res, const DeviceMatrix& data, const uint32_t* ids, int64_t first_row,
                 int64_t count, bool half_output, void* out) {
  if (count == 0) return;
  const int blocks = grid_for(count * data.dim, 256 * 4);
  cudaStream_t stream = stream_of(res);
  auto launch = [&](auto* typed_data) {
    if (half_output) {
      gather_kernel<<<blocks, 256, 0, stream>>>(typed_data, data.dim, ids, first_row, count, static_cast<__half*>(out));
    } else {
      gather_kernel<<<blocks, 256, 0, stream>>>(typed_data, data.dim, ids, first_row, count, static_cast<float*>(out));
    }
  };
  switch (data.type) {
    case ElementType::Float32: launch(static_cast<const float*>(data.data)); break;
    case ElementType::UInt8: launch(static_cast<const uint8_t*>(data.data)); break;
    case ElementType::Int8: launch(static_cast<const int8_t*>(data.data)); break;
  }
  ANNFORGE_CUDA_CHECK_LAUNCH("gather_rows");
}

void gemm_dots(const raft::resources& res, bool half_inputs, bool exact_float, const void* a, const void* b,
               int64_t m, int64_t n, int64_t dim, float* dots, int batch) {
  if (m == 0 || n == 0) return;
  cublasHandle_t handle = raft::resource::get_cublas_handle(res);
  const float alpha = 1.0f, beta = 0.0f;
  const cudaDataType_t input = half_inputs ? CUDA_R_16F : CUDA_R_32F;
  const cublasComputeType_t compute =
      half_inputs ? CUBLAS_COMPUTE_32F : (exact_float ? CUBLAS_COMPUTE_32F : CUBLAS_COMPUTE_32F_FAST_TF32);
  // Row-major a (m x dim), b (n x dim) are column-major dim x m and dim x n. The column-major
  // n x m result b^T a, with leading dimension n, is the row-major m x n tile a b^T.
  if (batch == 1) {
    ANNFORGE_CUBLAS_CHECK(cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(n), static_cast<int>(m),
                                       static_cast<int>(dim), &alpha, b, input, static_cast<int>(dim), a, input,
                                       static_cast<int>(dim), &beta, dots, CUDA_R_32F, static_cast<int>(n), compute,
                                       CUBLAS_GEMM_DEFAULT));
  } else {
    ANNFORGE_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
        handle, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(n), static_cast<int>(m), static_cast<int>(dim), &alpha, b,
        input, static_cast<int>(dim), n * dim, a, input, static_cast<int>(dim), m * dim, &beta, dots, CUDA_R_32F,
        static_cast<int>(n), m * n, batch, compute, CUBLAS_GEMM_DEFAULT));
  }
}

void dots_to_distances(const raft::resources& res, Metric metric, float* tile, int64_t query_rows, int64_t base_cols,
                       int64_t base_valid, const float* query_norms, const float* base_norms) {
  if (query_rows == 0 || base_cols == 0) return;
  tile_epilogue_kernel<<<grid_for(query_rows * base_cols, 256 * 8), 256, 0, stream_of(res)>>>(
      metric, tile, query_rows, base_cols, base_valid, query_norms, base_norms);
  ANNFORGE_CUDA_CHECK_LAUNCH("dots_to_distances");
}

void leaf_dots_to_distances(const raft::resources& res, Metric metric, float* tiles, int64_t leaves, int side,
                            const uint32_t* members, const float* norms) {
  if (leaves == 0) return;
  leaf_epilogue_kernel<<<grid_for(leaves * side * side, 256 * 8), 256, 0, stream_of(res)>>>(metric, tiles, leaves,
                                                                                               side, members, norms);
  ANNFORGE_CUDA_CHECK_LAUNCH("leaf_dots_to_distances");
}

}  // namespace annforge::cuda
