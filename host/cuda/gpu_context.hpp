// The process's GPU state: the device, a compute stream with its RAFT resources (cuBLAS handle,
// workspace), two copy streams with pinned staging buffers for streamed transfers, and the last
// searched index's device copy. One backend call at a time holds it (the mutex).
#pragma once

#include <cuda_runtime.h>

#include <memory>
#include <mutex>
#include <string>

#include <raft/core/resources.hpp>

#include "annforge.hpp"
#include "kernels/device_buffer.hpp"

namespace annforge::cuda {

struct GpuContext {
  int device = 0;
  std::string name;
  size_t total_memory = 0;
  Stream compute;
  Stream copy[2];
  Event staged[2];
  PinnedBuffer<uint8_t> staging[2];
  raft::resources res;  // its stream is `compute`
  std::mutex lock;

  explicit GpuContext(int device_id);
  // Free device memory now (bytes).
  size_t free_memory() const;
  void synchronize() const { compute.synchronize(); }
};

// The context of device 0, created on first use; nullptr when no CUDA device is usable (the
// reason is kept for error messages).
GpuContext* gpu_context();
const std::string& gpu_unavailable_reason();
// The device in use, "NAME (N GiB)", or why none is usable.
std::string gpu_description();

// Host <-> device copies of large buffers through the pinned staging buffers, on both copy
// streams: the CPU fills one staging buffer while the other is in flight. upload returns once
// the compute stream is ordered after the copies; download returns when the host has the bytes.
void upload(GpuContext& gpu, const void* host, void* device, size_t bytes);
// A view's rows, packed on the device (rows.rows x rows.row_bytes()), also where they lie apart
// on the host (a texmex file read in place): whole rows per staging buffer.
void upload_rows(GpuContext& gpu, const DatasetView& rows, void* device);
void download(GpuContext& gpu, const void* device, void* host, size_t bytes);

}  // namespace annforge::cuda
