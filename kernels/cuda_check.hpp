// Every CUDA and cuBLAS call goes through these checks: a failure becomes annforge's own error
// (ErrorCode::Internal, or NoDevice when no usable GPU is present) naming the call, the file and
// line, and CUDA's message. No path aborts the process.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <string>

#include "annforge.hpp"

namespace annforge::cuda {

[[noreturn]] inline void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line) {
  const ErrorCode code = (status == cudaErrorNoDevice || status == cudaErrorInsufficientDriver)
                             ? ErrorCode::NoDevice
                             : ErrorCode::Internal;
  throw Error(code, std::string("CUDA error in ") + call + " (" + file + ":" + std::to_string(line) +
                        "): " + cudaGetErrorName(status) + ": " + cudaGetErrorString(status));
}

[[noreturn]] inline void throw_cublas_error(cublasStatus_t status, const char* call, const char* file, int line) {
  throw Error(ErrorCode::Internal, std::string("cuBLAS error in ") + call + " (" + file + ":" +
                                       std::to_string(line) + "): " + cublasGetStatusName(status) + ": " +
                                       cublasGetStatusString(status));
}

}  // namespace annforge::cuda

#define ANNFORGE_CUDA_CHECK(call)                                                              \
  do {                                                                                         \
    cudaError_t annforge_status_ = (call);                                                     \
    if (annforge_status_ != cudaSuccess) {                                                     \
      ::annforge::cuda::throw_cuda_error(annforge_status_, #call, __FILE__, __LINE__);          \
    }                                                                                          \
  } while (0)

#define ANNFORGE_CUBLAS_CHECK(call)                                                            \
  do {                                                                                         \
    cublasStatus_t annforge_status_ = (call);                                                  \
    if (annforge_status_ != CUBLAS_STATUS_SUCCESS) {                                           \
      ::annforge::cuda::throw_cublas_error(annforge_status_, #call, __FILE__, __LINE__);        \
    }                                                                                          \
  } while (0)

// After a kernel launch: reports a bad launch configuration at once (the kernel's own faults
// surface at the next synchronising call, which is checked too).
#define ANNFORGE_CUDA_CHECK_LAUNCH(name) ANNFORGE_CUDA_CHECK(cudaPeekAtLastError())
