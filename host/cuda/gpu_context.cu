// GPU context creation and streamed transfers (gpu_context.hpp).
#include <cstdio>
#include "host/cuda/gpu_context.hpp"
#include "host/gpu_ordinal.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include <raft/core/resource/cuda_stream.hpp>

namespace annforge::cuda {
namespace {

// 32 MiB per staging buffer: large enough that each copy runs at full PCIe speed, small enough
// that the first chunk's CPU copy (which nothing overlaps) stays short.
constexpr size_t kStagingBytes = size_t{32} << 20;

// Host copies between pageable and pinned memory run on several threads: one core copies
// ~5-10 GB/s, less than the PCIe link moves, so a single-threaded copy would be the bottleneck
// of every transfer.
void parallel_copy(void* target, const void* source, size_t bytes) {
  constexpr size_t kPerThread = size_t{4} << 20;
  const unsigned hardware = std::max(1u, std::thread::hardware_concurrency());
  const size_t threads = std::min<size_t>({8, hardware, (bytes + kPerThread - 1) / kPerThread});
  if (threads <= 1) {
    std::memcpy(target, source, bytes);
    return;
  }
  const size_t share = (bytes + threads - 1) / threads;
  std::vector<std::thread> workers;
  for (size_t t = 1; t < threads; ++t) {
    const size_t begin = t * share;
    if (begin >= bytes) break;
    workers.emplace_back([=] {
      std::memcpy(static_cast<uint8_t*>(target) + begin, static_cast<const uint8_t*>(source) + begin,
                  std::min(share, bytes - begin));
    });
  }
  std::memcpy(target, source, std::min(share, bytes));
  for (std::thread& w : workers) w.join();
}

std::string& unavailable_reason() {
  static std::string reason;
  return reason;
}

}  // namespace

GpuContext::GpuContext(int device_id) : device(device_id) {
  cudaDeviceProp props{};
  ANNFORGE_CUDA_CHECK(cudaGetDeviceProperties(&props, device));
  name = props.name;
  total_memory = props.totalGlobalMem;
  staging[0] = PinnedBuffer<uint8_t>(kStagingBytes);
  staging[1] = PinnedBuffer<uint8_t>(kStagingBytes);
  raft::resource::set_cuda_stream(res, ::cuda::stream_ref(compute.get()));
}

size_t GpuContext::free_memory() const {
  size_t free_bytes = 0, total_bytes = 0;
  ANNFORGE_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  // ANNFORGE_GPU_MEMORY_LIMIT_MB caps what annforge may plan to use: a GPU shared with other
  // work, and the tests of the too-large-for-the-GPU path.
  if (const char* limit = std::getenv("ANNFORGE_GPU_MEMORY_LIMIT_MB"); limit != nullptr && *limit != '\0') {
    char* end = nullptr;
    const unsigned long long mib = std::strtoull(limit, &end, 10);
    if (*end != '\0') {
      throw Error(ErrorCode::InvalidArgument,
                  std::string("ANNFORGE_GPU_MEMORY_LIMIT_MB=") + limit + ": expected a whole number of MiB");
    }
    free_bytes = std::min<size_t>(free_bytes, static_cast<size_t>(mib) << 20);
  }
  return free_bytes;
}

GpuContext* gpu_context() {
  static std::unique_ptr<GpuContext> context = []() -> std::unique_ptr<GpuContext> {
    int count = 0;
    const cudaError_t status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess) {
      (void)cudaGetLastError();
      unavailable_reason() = std::string("no usable CUDA device (") + cudaGetErrorString(status) + ")";
      return nullptr;
    }
    if (count == 0) {
      unavailable_reason() = "no CUDA device is present on this machine";
      return nullptr;
    }
    try {
      const int ordinal = detail::choose_gpu_ordinal(count);
      ANNFORGE_CUDA_CHECK(cudaSetDevice(ordinal));
      return std::make_unique<GpuContext>(ordinal);
    } catch (const Error& e) {
      unavailable_reason() = std::string("the CUDA device could not be initialised: ") + e.what();
      return nullptr;
    }
  }();
  if (context) ANNFORGE_CUDA_CHECK(cudaSetDevice(context->device));
  return context.get();
}

const std::string& gpu_unavailable_reason() {
  gpu_context();
  return unavailable_reason();
}

void copy_device_rows_to_host(void* host, const void* device, size_t row_bytes, size_t stride, int64_t rows) {
  if (gpu_context() == nullptr) {
    throw Error(ErrorCode::NoDevice, "an array in GPU memory, but " + gpu_unavailable_reason());
  }
  // The array's producer may still be writing it on its own stream: wait for the device first.
  cudaError_t status = cudaDeviceSynchronize();
  if (status == cudaSuccess) {
    status = cudaMemcpy2D(host, row_bytes, device, stride, row_bytes, static_cast<size_t>(rows), cudaMemcpyDeviceToHost);
  }
  if (status != cudaSuccess) {
    throw Error(ErrorCode::Internal, std::string("copying an array from GPU memory failed: ") + cudaGetErrorString(status));
  }
}

std::string gpu_description() {
  const GpuContext* gpu = gpu_context();
  if (!gpu) return unavailable_reason();
  char memory[32];
  std::snprintf(memory, sizeof memory, " (%.0f GiB)", static_cast<double>(gpu->total_memory) / (1u << 30));
  return gpu->name + memory;
}

void upload(GpuContext& gpu, const void* host, void* device, size_t bytes) {
  const auto* source = static_cast<const uint8_t*>(host);
  auto* target = static_cast<uint8_t*>(device);
  int chunk = 0;
  for (size_t offset = 0; offset < bytes; offset += kStagingBytes, ++chunk) {
    const int b = chunk & 1;
    const size_t length = std::min(kStagingBytes, bytes - offset);
    // The staging buffer's previous copy must have left it before the CPU refills it.
    ANNFORGE_CUDA_CHECK(cudaEventSynchronize(gpu.staged[b].get()));
    parallel_copy(gpu.staging[b].data(), source + offset, length);
    ANNFORGE_CUDA_CHECK(cudaMemcpyAsync(target + offset, gpu.staging[b].data(), length, cudaMemcpyHostToDevice,
                                        gpu.copy[b].get()));
    ANNFORGE_CUDA_CHECK(cudaEventRecord(gpu.staged[b].get(), gpu.copy[b].get()));
  }
  for (int b = 0; b < 2; ++b) ANNFORGE_CUDA_CHECK(cudaStreamWaitEvent(gpu.compute.get(), gpu.staged[b].get(), 0));
}

void upload_rows(GpuContext& gpu, const DatasetView& rows, void* device) {
  const size_t row_bytes = rows.row_bytes();
  if (rows.packed() || row_bytes == 0) {
    upload(gpu, rows.data, device, static_cast<size_t>(rows.rows) * row_bytes);
    return;
  }
  auto* target = static_cast<uint8_t*>(device);
  const int64_t per_chunk = std::max<int64_t>(1, static_cast<int64_t>(kStagingBytes / row_bytes));
  int chunk = 0;
  for (int64_t first = 0; first < rows.rows; first += per_chunk, ++chunk) {
    const int b = chunk & 1;
    const int64_t count = std::min<int64_t>(per_chunk, rows.rows - first);
    if (static_cast<size_t>(count) * row_bytes > kStagingBytes) {  // one row larger than a staging buffer
      upload(gpu, rows.row(first), target + first * row_bytes, row_bytes);
      continue;
    }
    ANNFORGE_CUDA_CHECK(cudaEventSynchronize(gpu.staged[b].get()));
    uint8_t* staged = static_cast<uint8_t*>(gpu.staging[b].data());
    for (int64_t i = 0; i < count; ++i) std::memcpy(staged + i * row_bytes, rows.row(first + i), row_bytes);
    ANNFORGE_CUDA_CHECK(cudaMemcpyAsync(target + first * row_bytes, staged, count * row_bytes, cudaMemcpyHostToDevice,
                                        gpu.copy[b].get()));
    ANNFORGE_CUDA_CHECK(cudaEventRecord(gpu.staged[b].get(), gpu.copy[b].get()));
  }
  for (int b = 0; b < 2; ++b) ANNFORGE_CUDA_CHECK(cudaStreamWaitEvent(gpu.compute.get(), gpu.staged[b].get(), 0));
}

void download(GpuContext& gpu, const void* device, void* host, size_t bytes) {
  const auto* source = static_cast<const uint8_t*>(device);
  auto* target = static_cast<uint8_t*>(host);
  // Everything queued on the compute stream (the producer of `device`) comes first.
  Event produced;
  ANNFORGE_CUDA_CHECK(cudaEventRecord(produced.get(), gpu.compute.get()));
  for (int b = 0; b < 2; ++b) ANNFORGE_CUDA_CHECK(cudaStreamWaitEvent(gpu.copy[b].get(), produced.get(), 0));
  const size_t chunks = (bytes + kStagingBytes - 1) / kStagingBytes;
  auto issue = [&](size_t chunk) {
    const int b = static_cast<int>(chunk & 1);
    const size_t offset = chunk * kStagingBytes;
    const size_t length = std::min(kStagingBytes, bytes - offset);
    ANNFORGE_CUDA_CHECK(cudaMemcpyAsync(gpu.staging[b].data(), source + offset, length, cudaMemcpyDeviceToHost,
                                        gpu.copy[b].get()));
    ANNFORGE_CUDA_CHECK(cudaEventRecord(gpu.staged[b].get(), gpu.copy[b].get()));
  };
  if (chunks > 0) issue(0);
  for (size_t chunk = 0; chunk < chunks; ++chunk) {
    // The next chunk's copy runs while the CPU drains this one.
    if (chunk + 1 < chunks) issue(chunk + 1);
    const int b = static_cast<int>(chunk & 1);
    ANNFORGE_CUDA_CHECK(cudaEventSynchronize(gpu.staged[b].get()));
    const size_t offset = chunk * kStagingBytes;
    parallel_copy(target + offset, gpu.staging[b].data(), std::min(kStagingBytes, bytes - offset));
  }
}

}  // namespace annforge::cuda
