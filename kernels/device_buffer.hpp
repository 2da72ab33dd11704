// Device and pinned host memory owned by RAII objects: plain cudaMalloc / cudaMallocHost
// allocations (never managed memory), freed on every path, including errors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

#include "kernels/cuda_check.hpp"

namespace annforge::cuda {

template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t count) { resize(count); }
  ~DeviceBuffer() { release(); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& other) noexcept : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
    if (this != &other) {
      release();
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }

  // Discards the contents when the size changes.
  void resize(size_t count) {
    if (count == size_) return;
    release();
    if (count > 0) {
      void* p = nullptr;
      cudaError_t status = cudaMalloc(&p, count * sizeof(T));
      if (status != cudaSuccess) {
        (void)cudaGetLastError();  // clear the sticky-free allocation error
        throw Error(ErrorCode::Internal, "GPU out of memory: could not allocate " +
                                             std::to_string(count * sizeof(T) >> 20) + " MiB (" +
                                             cudaGetErrorString(status) + ")");
      }
      data_ = static_cast<T*>(p);
      size_ = count;
    }
  }
  void release() noexcept {
    if (data_) cudaFree(data_);
    data_ = nullptr;
    size_ = 0;
  }

  T* data() { return data_; }
  const T* data() const { return data_; }
  size_t size() const { return size_; }
  size_t bytes() const { return size_ * sizeof(T); }

 private:
  T* data_ = nullptr;
  size_t size_ = 0;
};

// Page-locked host memory: the staging area for copies that overlap with compute.
template <typename T>
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(size_t count) {
    if (count > 0) {
      void* p = nullptr;
      ANNFORGE_CUDA_CHECK(cudaMallocHost(&p, count * sizeof(T)));
      data_ = static_cast<T*>(p);
      size_ = count;
    }
  }
  ~PinnedBuffer() {
    if (data_) cudaFreeHost(data_);
  }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  PinnedBuffer(PinnedBuffer&& other) noexcept : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  PinnedBuffer& operator=(PinnedBuffer&& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    return *this;
  }
  T* data() { return data_; }
  size_t size() const { return size_; }

 private:
  T* data_ = nullptr;
  size_t size_ = 0;
};

// An owned CUDA stream and event, destroyed on every path.
class Stream {
 public:
  Stream() { ANNFORGE_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)); }
  ~Stream() { cudaStreamDestroy(stream_); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  cudaStream_t get() const { return stream_; }
  void synchronize() const { ANNFORGE_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

 private:
  cudaStream_t stream_ = nullptr;
};

class Event {
 public:
  Event() { ANNFORGE_CUDA_CHECK(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming)); }
  ~Event() { cudaEventDestroy(event_); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  cudaEvent_t get() const { return event_; }

 private:
  cudaEvent_t event_ = nullptr;
};

}  // namespace annforge::cuda
