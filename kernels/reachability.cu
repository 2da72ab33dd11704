// Kernels and launcher of reachability.hpp.
#include "kernels/reachability.hpp"

#include <algorithm>
#include <vector>

#include <raft/core/resource/cuda_stream.hpp>

#include "kernels/cuda_check.hpp"
#include "kernels/launch.cuh"
#include "kernels/device_buffer.hpp"

namespace annforge::cuda {
namespace {

constexpr int kUnreached = -1;

__global__ void seed_kernel(const uint32_t* entries, int entry_count, int64_t rows, int* level) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < entry_count; i += gridDim.x * blockDim.x) {
    if (entries[i] < rows) level[entries[i]] = 0;
  }
}

// Rows on the frontier (level == depth) mark their unreached neighbours depth + 1.
__global__ void expand_kernel(const uint32_t* graph, int64_t rows, int degree, int depth, int* level,
                              unsigned long long* reached) {
  for (int64_t v = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; v < rows;
       v += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    if (level[v] != depth) continue;
    unsigned long long newly = 0;
    for (int e = 0; e < degree; ++e) {
      const uint32_t u = graph[v * degree + e];
      if (u >= rows) continue;
      if (atomicCAS(&level[u], kUnreached, depth + 1) == kUnreached) ++newly;
    }
    if (newly) atomicAdd(reached, newly);
  }
}

}  // namespace

int64_t count_unreachable(const raft::resources& res, const uint32_t* graph, int64_t rows, int degree,
                          const std::vector<uint32_t>& entries) {
  cudaStream_t stream = stream_of(res);
  const int entry_count = static_cast<int>(entries.size());
  DeviceBuffer<int> level(rows);
  DeviceBuffer<unsigned long long> reached(1);
  DeviceBuffer<uint32_t> device_entries(entries.size());
  ANNFORGE_CUDA_CHECK(cudaMemcpyAsync(device_entries.data(), entries.data(), device_entries.bytes(),
                                      cudaMemcpyHostToDevice, stream));
  ANNFORGE_CUDA_CHECK(cudaMemsetAsync(level.data(), 0xff, level.bytes(), stream));  // -1
  seed_kernel<<<grid_for(entry_count, 256), 256, 0, stream>>>(device_entries.data(), entry_count, rows, level.data());
  ANNFORGE_CUDA_CHECK_LAUNCH("reachability seed");
  // Distinct entries seed the count: the frontier's newcomers are added level by level.
  std::vector<uint32_t> distinct = entries;
  std::sort(distinct.begin(), distinct.end());
  int64_t total = std::unique(distinct.begin(), distinct.end()) - distinct.begin();
  const int blocks = grid_for(rows, 256);
  for (int depth = 0; total < rows; ++depth) {
    ANNFORGE_CUDA_CHECK(cudaMemsetAsync(reached.data(), 0, sizeof(unsigned long long), stream));
    expand_kernel<<<blocks, 256, 0, stream>>>(graph, rows, degree, depth, level.data(), reached.data());
    ANNFORGE_CUDA_CHECK_LAUNCH("reachability level");
    unsigned long long newly = 0;
    ANNFORGE_CUDA_CHECK(cudaMemcpyAsync(&newly, reached.data(), sizeof(newly), cudaMemcpyDeviceToHost, stream));
    ANNFORGE_CUDA_CHECK(cudaStreamSynchronize(stream));
    if (newly == 0) break;
    total += static_cast<int64_t>(newly);
  }
  return rows - total;
}

}  // namespace annforge::cuda
