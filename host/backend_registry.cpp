// Resolves a requested device to a backend.
#include "host/backend.hpp"

#if defined(ANNFORGE_HAVE_CUDA)
namespace annforge::cuda {
const std::string& gpu_unavailable_reason();  // host/cuda/gpu_context.cu
}
#endif

namespace annforge {
namespace detail {

#if !defined(ANNFORGE_HAVE_CUDA)
Backend* cuda_backend() { return nullptr; }
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

}  // namespace annforge
