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

// Integer kernels round once, from the exact integer total, as the scalar definitions do: a
// float tail added to a float of the vector part would round twice past 2^24.
inline float exact_total(int32_t vector_part, float tail) {
  return static_cast<float>(vector_part + static_cast<int32_t>(tail));  // a tail of < 32 elements is exact
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
  return exact_total(horizontal_sum(acc), core::squared_l2(a + i, b + i, dim - i));
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
  return exact_total(horizontal_sum(acc), tail);
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
  return exact_total(horizontal_sum(acc), core::squared_l2(a + i, b + i, dim - i));
}

// ---- one vector against many: four rows per pass share each load of `a` ------------------

inline __m128 horizontal_sums(__m256 s0, __m256 s1, __m256 s2, __m256 s3) {
  __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(s0, s1), _mm256_hadd_ps(s2, s3));
  return _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
}
inline __m128i horizontal_sums(__m256i s0, __m256i s1, __m256i s2, __m256i s3) {
  __m256i t = _mm256_hadd_epi32(_mm256_hadd_epi32(s0, s1), _mm256_hadd_epi32(s2, s3));
  return _mm_add_epi32(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
}

// Per-type steps: `Wide` elements at a time into an accumulator, the rest by the pair kernel.
struct L2F32 {
  using Acc = __m256;
  using Sum = float;
  static constexpr size_t kWide = 8;
  static Acc zero() { return _mm256_setzero_ps(); }
  static Acc step(Acc acc, const void* a, const void* b, size_t c) {
    __m256 d = _mm256_sub_ps(_mm256_loadu_ps(static_cast<const float*>(a) + c), _mm256_loadu_ps(static_cast<const float*>(b) + c));
    return _mm256_fmadd_ps(d, d, acc);
  }
  static float tail(const void* a, const void* b, size_t c, size_t dim) {
    return core::squared_l2(static_cast<const float*>(a) + c, static_cast<const float*>(b) + c, dim - c);
  }
};
struct DotF32 {
  using Acc = __m256;
  using Sum = float;
  static constexpr size_t kWide = 8;
  static Acc zero() { return _mm256_setzero_ps(); }
  static Acc step(Acc acc, const void* a, const void* b, size_t c) {
    return _mm256_fmadd_ps(_mm256_loadu_ps(static_cast<const float*>(a) + c), _mm256_loadu_ps(static_cast<const float*>(b) + c), acc);
  }
  static float tail(const void* a, const void* b, size_t c, size_t dim) {
    return core::dot(static_cast<const float*>(a) + c, static_cast<const float*>(b) + c, dim - c);
  }
};
struct L2U8 {
  using Acc = __m256i;
  using Sum = int32_t;
  static constexpr size_t kWide = 32;
  static Acc zero() { return _mm256_setzero_si256(); }
  static Acc step(Acc acc, const void* a, const void* b, size_t c) {
    __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint8_t*>(a) + c));
    __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint8_t*>(b) + c));
    __m256i diff = _mm256_or_si256(_mm256_subs_epu8(x, y), _mm256_subs_epu8(y, x));
    const __m256i zero = _mm256_setzero_si256();
    __m256i lo = _mm256_unpacklo_epi8(diff, zero), hi = _mm256_unpackhi_epi8(diff, zero);
    return _mm256_add_epi32(acc, _mm256_add_epi32(_mm256_madd_epi16(lo, lo), _mm256_madd_epi16(hi, hi)));
  }
  static Sum tail(const void* a, const void* b, size_t c, size_t dim) {
    return static_cast<Sum>(core::squared_l2(static_cast<const uint8_t*>(a) + c, static_cast<const uint8_t*>(b) + c, dim - c));
  }
};
template <bool kSigned>
struct Dot8 {
  using Acc = __m256i;
  using Sum = int32_t;
  static constexpr size_t kWide = 16;
  static Acc zero() { return _mm256_setzero_si256(); }
  static __m256i widen(const void* p, size_t c) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint8_t*>(p) + c));
    return kSigned ? _mm256_cvtepi8_epi16(v) : _mm256_cvtepu8_epi16(v);
  }
  static Acc step(Acc acc, const void* a, const void* b, size_t c) {
    return _mm256_add_epi32(acc, _mm256_madd_epi16(widen(a, c), widen(b, c)));
  }
  static Sum tail(const void* a, const void* b, size_t c, size_t dim) {
    if (kSigned) return static_cast<Sum>(core::dot(static_cast<const int8_t*>(a) + c, static_cast<const int8_t*>(b) + c, dim - c));
    return static_cast<Sum>(core::dot(static_cast<const uint8_t*>(a) + c, static_cast<const uint8_t*>(b) + c, dim - c));
  }
};
struct L2I8 {
  using Acc = __m256i;
  using Sum = int32_t;
  static constexpr size_t kWide = 16;
  static Acc zero() { return _mm256_setzero_si256(); }
  static Acc step(Acc acc, const void* a, const void* b, size_t c) {
    __m256i d = _mm256_sub_epi16(Dot8<true>::widen(a, c), Dot8<true>::widen(b, c));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(d, d));
  }
  static Sum tail(const void* a, const void* b, size_t c, size_t dim) {
    return static_cast<Sum>(core::squared_l2(static_cast<const int8_t*>(a) + c, static_cast<const int8_t*>(b) + c, dim - c));
  }
};

inline void store_sums(__m128 sums, float* out) { _mm_storeu_ps(out, sums); }
inline void store_sums(__m128i sums, int32_t* out) { _mm_storeu_si128(reinterpret_cast<__m128i*>(out), sums); }

template <typename Step>
void many(const void* a, const void* const* rows, int count, size_t dim, float* out) {
  const size_t wide_end = dim - dim % Step::kWide;
  int i = 0;
  for (; i + 4 <= count; i += 4) {
    typename Step::Acc s0 = Step::zero(), s1 = Step::zero(), s2 = Step::zero(), s3 = Step::zero();
    for (size_t c = 0; c < wide_end; c += Step::kWide) {
      s0 = Step::step(s0, a, rows[i], c);
      s1 = Step::step(s1, a, rows[i + 1], c);
      s2 = Step::step(s2, a, rows[i + 2], c);
      s3 = Step::step(s3, a, rows[i + 3], c);
    }
    typename Step::Sum sums[4];
    store_sums(horizontal_sums(s0, s1, s2, s3), sums);
    for (int r = 0; r < 4; ++r) {
      if (wide_end < dim) sums[r] += Step::tail(a, rows[i + r], wide_end, dim);
      out[i + r] = static_cast<float>(sums[r]);
    }
  }
  for (; i < count; ++i) {
    typename Step::Acc s = Step::zero();
    for (size_t c = 0; c < wide_end; c += Step::kWide) s = Step::step(s, a, rows[i], c);
    typename Step::Sum lanes[4];
    store_sums(horizontal_sums(s, Step::zero(), Step::zero(), Step::zero()), lanes);
    if (wide_end < dim) lanes[0] += Step::tail(a, rows[i], wide_end, dim);
    out[i] = static_cast<float>(lanes[0]);
  }
}

const KernelTable kAvx2F32{l2_f32, dot_f32, many<L2F32>, many<DotF32>, "avx2"};
const KernelTable kAvx2U8{l2_u8, dot_8bit<false>, many<L2U8>, many<Dot8<false>>, "avx2"};
const KernelTable kAvx2I8{l2_i8, dot_8bit<true>, many<L2I8>, many<Dot8<true>>, "avx2"};

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
