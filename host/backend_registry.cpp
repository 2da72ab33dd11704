// Resolves a requested device to a backend, and reports what this build and machine offer.
#include "host/backend.hpp"
#include "host/cpu/cpu_pieces.hpp"

#include "host/cpu/all_pairs/pair_tiles.hpp"
#include "host/cpu/distance/distance.hpp"

#if defined(ANNFORGE_HAVE_CUDA)
namespace annforge::cuda {
const std::string& gpu_unavailable_reason();  // host/cuda/gpu_context.cu
std::string gpu_description();
void copy_device_rows_to_host(void* host, const void* device, size_t row_bytes, size_t stride, int64_t rows);
}
#endif

namespace annforge {
namespace detail {

#if defined(ANNFORGE_HAVE_CUDA)
void copy_device_rows_to_host(void* host, const void* device, size_t row_bytes, size_t stride, int64_t rows) {
  cuda::copy_device_rows_to_host(host, device, row_bytes, stride, rows);
}
#else
void copy_device_rows_to_host(void*, const void*, size_t, size_t, int64_t) {
  throw Error(ErrorCode::Unsupported, "an array in GPU memory: this build has no CUDA backend");
}
#endif

#if !defined(ANNFORGE_HAVE_CUDA)
Backend* cuda_backend() { return nullptr; }
cpu::PieceKnnBuild cuda_piece_builder(Metric, const BuildParams&) { return {}; }
#endif

Backend& backend_for(Device device) {
  switch (device) {
    case Device::Cpu: return cpu_backend();
    case Device::Auto: {
      Backend* gpu = cuda_backend();
      return gpu ? *gpu : cpu_backend();
    }
    case Device::Gpu: {
      Backend* gpu = cuda_backend();
      if (!gpu) {
#if defined(ANNFORGE_HAVE_CUDA)
        throw Error(ErrorCode::NoDevice, "device=gpu: " + cuda::gpu_unavailable_reason());
#else
        throw Error(ErrorCode::NoDevice, "device=gpu: this build of annforge has no CUDA backend (built with ANNFORGE_CUDA=OFF or without nvcc)");
#endif
      }
      return *gpu;
    }
  }
  throw Error(ErrorCode::InvalidArgument, "unknown device");
}

}  // namespace detail

bool gpu_available() { return detail::cuda_backend() != nullptr; }

std::string resolve_backend(Device device) { return detail::backend_for(device).name(); }

const char* version() { return ANNFORGE_VERSION_STRING; }

SystemInfo system_info() {
  SystemInfo info;
  info.version = version();
  info.backends = {"cpu"};
  if (cpu::cpu_has_avx512()) {
    info.cpu_simd = "avx512";
    if (cpu::cpu_has_avx512_vnni()) info.cpu_simd += " +vnni";
    if (cpu::cpu_has_avx512_bf16()) info.cpu_simd += " +bf16";
    if (cpu::amx_bf16_distances_kernel()) info.cpu_simd += " +amx-bf16";
  } else if (cpu::cpu_has_avx2_fma()) {
    info.cpu_simd = "avx2 +fma";
  } else {
    info.cpu_simd = "scalar (no avx2)";
  }
#if defined(ANNFORGE_HAVE_CUDA)
  info.backends.push_back("cuda");
  info.gpu_available = gpu_available();
  info.gpu = cuda::gpu_description();
#else
  info.gpu = "none: this build has no CUDA backend (built with ANNFORGE_CUDA=OFF or without nvcc)";
#endif
#if defined(ANNFORGE_HAVE_HDF5)
  info.hdf5 = true;
#endif
  return info;
}

}  // namespace annforge
