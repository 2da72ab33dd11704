// AVX2 + FMA distance kernels. Compiled with -mavx2 -mfma and called only where the CPU has
// both (see kernels_for in distance.cpp). Tails fall back to the shared scalar definitions.
#include <immintrin.h>

#include "host/cpu/distance.hpp"
#include "kernels/shared/distance_core.hpp"

namespace annforge::cpu {
namespace {

inline float horizontal_sum(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
  __m128 s = _mm_add_ps(lo, hi);
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline int32_t horizontal_sum(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

float l2_f32(const void* av, const void* bv, size_t dim) {
  auto a = static_cast<const float*>(av);
  auto b = static_cast<const float*>(bv);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= dim; i += 16) {
    __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
    acc0 = _mm256_fmadd_ps(d0, d0, acc0);
    acc1 = _mm256_fmadd_ps(d1, d1, acc1);
  }
  for (; i + 8 <= dim; i += 8) {
    __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    acc0 = _mm256_fmadd_ps(d0, d0, acc0);
  }
  return horizontal_sum(_mm256_add_ps(acc0, acc1)) + core::squared_l2(a + i, b + i, dim - i);
}

float dot_f32(const void* av, const void* bv, size_t dim) {
  auto a = static_cast<const float*>(av);
  auto b = static_cast<const float*>(bv);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= dim; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  for (; i + 8 <= dim; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  return horizontal_sum(_mm256_add_ps(acc0, acc1)) + core::dot(a + i, b + i, dim - i);
}

// |a-b| in unsigned bytes (saturating subtractions both ways), widened to 16 bits and squared
// pairwise with madd: 32 elements per step, exact in 32-bit sums.
float l2_u8(const void* av, const void* bv, size_t dim) {
  auto a = static_cast<const uint8_t*>(av);
  auto b = static_cast<const uint8_t*>(bv);
  const __m256i zero = _mm256_setzero_si256();
  __m256i acc = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i));
    __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i));
    __m256i diff = _mm256_or_si256(_mm256_subs_epu8(x, y), _mm256_subs_epu8(y, x));
    __m256i lo = _mm256_unpacklo_epi8(diff, zero), hi = _mm256_unpackhi_epi8(diff, zero);
    acc = _mm256_add_epi32(acc, _mm256_add_epi32(_mm256_madd_epi16(lo, lo), _mm256_madd_epi16(hi, hi)));
  }
  for (; i + 16 <= dim; i += 16) {
    __m256i x = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i)));
    __m256i y = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i)));
    __m256i d = _mm256_sub_epi16(x, y);
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(d, d));
  }
  return static_cast<float>(horizontal_sum(acc)) + core::squared_l2(a + i, b + i, dim - i);
}

template <bool kSigned>
float dot_8bit(const void* av, const void* bv, size_t dim) {
  auto a = static_cast<const uint8_t*>(av);
  auto b = static_cast<const uint8_t*>(bv);
  __m256i acc = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 16 <= dim; i += 16) {
    __m128i x8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i));
    __m128i y8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i));
    __m256i x = kSigned ? _mm256_cvtepi8_epi16(x8) : _mm256_cvtepu8_epi16(x8);
    __m256i y = kSigned ? _mm256_cvtepi8_epi16(y8) : _mm256_cvtepu8_epi16(y8);
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(x, y));
  }
  float tail = kSigned ? core::dot(reinterpret_cast<const int8_t*>(a) + i, reinterpret_cast<const int8_t*>(b) + i, dim - i)
                       : core::dot(a + i, b + i, dim - i);
  return static_cast<float>(horizontal_sum(acc)) + tail;
}

float l2_i8(const void* av, const void* bv, size_t dim) {
  auto a = static_cast<const int8_t*>(av);
  auto b = static_cast<const int8_t*>(bv);
  __m256i acc = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 16 <= dim; i += 16) {
    __m256i x = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i)));
    __m256i y = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i)));
    __m256i d = _mm256_sub_epi16(x, y);
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(d, d));
  }
  return static_cast<float>(horizontal_sum(acc)) + core::squared_l2(a + i, b + i, dim - i);
}

const KernelTable kAvx2F32{l2_f32, dot_f32, "avx2"};
const KernelTable kAvx2U8{l2_u8, dot_8bit<false>, "avx2"};
const KernelTable kAvx2I8{l2_i8, dot_8bit<true>, "avx2"};

}  // namespace

const KernelTable* avx2_kernels_for(ElementType type) {
  switch (type) {
    case ElementType::Float32: return &kAvx2F32;
    case ElementType::UInt8: return &kAvx2U8;
    case ElementType::Int8: return &kAvx2I8;
  }
  return &kAvx2F32;
}

}  // namespace annforge::cpu
