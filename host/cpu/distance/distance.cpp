// Kernel selection by CPU features, and the metric binding.
#include "host/cpu/distance/distance.hpp"

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "host/cpu/parallel.hpp"
#include "kernels/shared/distance_core.hpp"

namespace annforge::cpu {

// Defined in distance_avx2.cpp, compiled with -mavx2 -mfma; only called where the CPU has both.
const KernelTable* avx2_kernels_for(ElementType type);
// Defined in distance_avx512.cpp; only called where the CPU has AVX-512 F/BW/VL/DQ.
const KernelTable* avx512_float_kernels();

namespace {

template <typename T>
float scalar_l2(const void* a, const void* b, size_t dim) {
  return core::squared_l2(static_cast<const T*>(a), static_cast<const T*>(b), dim);
}
template <typename T>
float scalar_dot(const void* a, const void* b, size_t dim) {
  return core::dot(static_cast<const T*>(a), static_cast<const T*>(b), dim);
}

template <PairKernel kPair>
void scalar_many(const void* a, const void* const* rows, int count, size_t dim, float* out) {
  for (int i = 0; i < count; ++i) out[i] = kPair(a, rows[i], dim);
}

const KernelTable kScalarF32{scalar_l2<float>, scalar_dot<float>, scalar_many<scalar_l2<float>>,
                             scalar_many<scalar_dot<float>>, "scalar"};
const KernelTable kScalarU8{scalar_l2<uint8_t>, scalar_dot<uint8_t>, scalar_many<scalar_l2<uint8_t>>,
                            scalar_many<scalar_dot<uint8_t>>, "scalar"};
const KernelTable kScalarI8{scalar_l2<int8_t>, scalar_dot<int8_t>, scalar_many<scalar_l2<int8_t>>,
                            scalar_many<scalar_dot<int8_t>>, "scalar"};

}  // namespace

bool cpu_has_avx2_fma() {
  static const bool yes = [] {
    const char* forced = std::getenv("ANNFORGE_SIMD");
    if (forced && std::strcmp(forced, "scalar") == 0) return false;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return yes;
}

bool cpu_has_avx512() {
  static const bool yes = [] {
    // cpu_has_avx2_fma() already answers ANNFORGE_SIMD=scalar.
    const char* forced = std::getenv("ANNFORGE_SIMD");
    if (forced && std::strcmp(forced, "avx2") == 0) return false;
    return cpu_has_avx2_fma() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  }();
  return yes;
}

const KernelTable& scalar_kernels_for(ElementType type) {
  switch (type) {
    case ElementType::Float32: return kScalarF32;
    case ElementType::UInt8: return kScalarU8;
    case ElementType::Int8: return kScalarI8;
  }
  return kScalarF32;
}

const KernelTable& kernels_for(ElementType type) {
  if (type == ElementType::Float32 && cpu_has_avx512()) return *avx512_float_kernels();
  if (cpu_has_avx2_fma()) return *avx2_kernels_for(type);
  return scalar_kernels_for(type);
}


float inverse_norm(const void* vector, size_t dim, ElementType type) {
  float squared = kernels_for(type).dot(vector, vector, dim);
  return squared > 0.0f ? 1.0f / std::sqrt(squared) : 0.0f;
}

std::vector<float> inverse_norms(const DatasetView& data, int threads) {
  std::vector<float> norms(data.rows);
  parallel_for(data.rows, threads, 4096, [&](int64_t begin, int64_t end, int) {
    for (int64_t i = begin; i < end; ++i) norms[i] = inverse_norm(data.row(i), data.dim, data.type);
  });
  return norms;
}

Distance::Distance(Metric metric, const DatasetView& base, const std::vector<float>* base_inverse_norms,
                   BaseNorms base_norms)
    : metric_(metric), base_(base), dim_(static_cast<size_t>(base.dim)), kernels_(kernels_for(base.type)) {
  if (metric == Metric::Cosine) {
    if (base_inverse_norms && static_cast<int64_t>(base_inverse_norms->size()) == base.rows) {
      norms_ = base_inverse_norms;
    } else if (base_norms == BaseNorms::OnDemand) {
      norms_ = nullptr;  // inverse_norm_of computes each
    } else {
      owned_norms_ = inverse_norms(base, 0);
      norms_ = &owned_norms_;
    }
  }
}

}  // namespace annforge::cpu
