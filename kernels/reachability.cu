// Kernels and launcher of reachability.hpp.
#include "kernels/reachability.hpp"

#include <algorithm>
#include <vector>

#include <raft/core/resource/cuda_stream.hpp>

#include "kernels/cuda_check.hpp"
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
                          const uint32_t* entries, int entry_count) {
  cudaStream_t stream = raft::resource::get_cuda_stream(res).get();
  DeviceBuffer<int> level(rows);
  DeviceBuffer<unsigned long long> reached(1);
  ANNFORGE_CUDA_CHECK(cudaMemsetAsync(level.data(), 0xff, level.bytes(), stream));  // -1
  seed_kernel<<<std::max(1, (entry_count + 255) / 256), 256, 0, stream>>>(entries, entry_count, rows, level.data());
  ANNFORGE_CUDA_CHECK_LAUNCH("reachability seed");
  // Distinct entries seed the count: the frontier's newcomers are added level by level.
  std::vector<uint32_t> host_entries(entry_count);
  ANNFORGE_CUDA_CHECK(cudaMemcpyAsync(host_entries.data(), entries, entry_count * sizeof(uint32_t),
                                      cudaMemcpyDeviceToHost, stream));
  ANNFORGE_CUDA_CHECK(cudaStreamSynchronize(stream));
  std::sort(host_entries.begin(), host_entries.end());
  int64_t total = std::unique(host_entries.begin(), host_entries.end()) - host_entries.begin();
  const int blocks = static_cast<int>(std::min<int64_t>((rows + 255) / 256, int64_t{1} << 20));
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
