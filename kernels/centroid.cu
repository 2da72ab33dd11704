// Kernels and launcher of centroid.hpp.
#include "kernels/centroid.hpp"

#include <raft/core/resource/cuda_stream.hpp>

#include "kernels/cuda_check.hpp"
#include "kernels/launch.cuh"
#include "kernels/device_buffer.hpp"
#include "kernels/shared/partition_core.hpp"

namespace annforge::cuda {
namespace {

constexpr int kRowsPerBlock = 256;

// A block per slab of rows, a thread per column (strided): partial sums, then one atomic per
// column and block.
template <typename T>
__global__ void column_sum_kernel(const T* data, int64_t rows, int64_t dim, double* sums) {
  const int64_t first = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock;
  const int64_t last = min(first + kRowsPerBlock, rows);
  for (int64_t c = threadIdx.x; c < dim; c += blockDim.x) {
    double s = 0.0;
    for (int64_t r = first; r < last; ++r) s += static_cast<double>(data[r * dim + c]);
    atomicAdd(&sums[c], s);
  }
}

// A warp per row; the arg-min packs (orderable distance bits, row) into one 64-bit word, so the
// smallest distance wins and ties go to the smallest row, as on the CPU.
template <typename T>
__global__ void nearest_kernel(const T* data, int64_t rows, int64_t dim, const double* sums,
                               unsigned long long* best) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * (blockDim.x / 32);
  for (int64_t r = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32; r < rows; r += warps) {
    float s = 0.0f;
    for (int64_t c = lane; c < dim; c += 32) {
      const float d = static_cast<float>(data[r * dim + c]) - static_cast<float>(sums[c] / rows);
      s += d * d;
    }
    for (int offset = 16; offset > 0; offset >>= 1) s += __shfl_xor_sync(0xffffffffu, s, offset);
    if (lane == 0) {
      const unsigned long long packed =
          (static_cast<unsigned long long>(core::orderable_bits(__float_as_uint(s))) << 32) | static_cast<uint32_t>(r);
      atomicMin(best, packed);
    }
  }
}

}  // namespace

uint32_t nearest_to_centroid(const raft::resources& res, const DeviceMatrix& data) {
  cudaStream_t stream = stream_of(res);
  DeviceBuffer<double> sums(data.dim);
  DeviceBuffer<unsigned long long> best(1);
  ANNFORGE_CUDA_CHECK(cudaMemsetAsync(sums.data(), 0, sums.bytes(), stream));
  ANNFORGE_CUDA_CHECK(cudaMemsetAsync(best.data(), 0xff, best.bytes(), stream));
  const int slabs = static_cast<int>((data.rows + kRowsPerBlock - 1) / kRowsPerBlock);
  const int row_blocks = grid_for(data.rows, 8);
  auto launch = [&](auto* typed) {
    column_sum_kernel<<<slabs, 128, 0, stream>>>(typed, data.rows, data.dim, sums.data());
    ANNFORGE_CUDA_CHECK_LAUNCH("column sums");
    nearest_kernel<<<row_blocks, 256, 0, stream>>>(typed, data.rows, data.dim, sums.data(), best.data());
    ANNFORGE_CUDA_CHECK_LAUNCH("nearest to centroid");
  };
  switch (data.type) {
    case ElementType::Float32: launch(static_cast<const float*>(data.data)); break;
    case ElementType::UInt8: launch(static_cast<const uint8_t*>(data.data)); break;
    case ElementType::Int8: launch(static_cast<const int8_t*>(data.data)); break;
  }
  unsigned long long packed = 0;
  ANNFORGE_CUDA_CHECK(cudaMemcpyAsync(&packed, best.data(), sizeof(packed), cudaMemcpyDeviceToHost, stream));
  ANNFORGE_CUDA_CHECK(cudaStreamSynchronize(stream));
  return static_cast<uint32_t>(packed & 0xffffffffu);
}

}  // namespace annforge::cuda
