// AVX2 + FMA distance kernels. Compiled with -mavx2 -mfma and called only where the CPU has
// both (see kernels_for in distance.cpp). Tails fall back to the shared scalar definitions.
#include <immintrin.h>

#include "host/cpu/distance/distance.hpp"
#include "kernels/shared/distance_core.hpp"

namespace annforge::cpu {
namespace {

// The four horizontal sums of four accumulators, in lanes 0..3.
inline __m128 horizontal_sums(__m256 s0, __m256 s1, __m256 s2, __m256 s3) {
  __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(s0, s1), _mm256_hadd_ps(s2, s3));
  return _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
}
inline __m128i horizontal_sums(__m256i s0, __m256i s1, __m256i s2, __m256i s3) {
  __m256i t = _mm256_hadd_epi32(_mm256_hadd_epi32(s0, s1), _mm256_hadd_epi32(s2, s3));
  return _mm_add_epi32(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
}

// Per-type steps: kWide elements at a time into an accumulator; the remainder goes to the
// scalar definitions (tail), summed in the step's own type (exact integers for 8-bit types).
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

// One pair: two accumulators over the wide chunks, for instruction-level parallelism. Integer
// kernels round once, from the exact integer total, as the scalar definitions do.
template <typename Step>
float one(const void* a, const void* b, size_t dim) {
  const size_t wide_end = dim - dim % Step::kWide;
  typename Step::Acc s0 = Step::zero(), s1 = Step::zero();
  size_t c = 0;
  for (; c + 2 * Step::kWide <= wide_end; c += 2 * Step::kWide) {
    s0 = Step::step(s0, a, b, c);
    s1 = Step::step(s1, a, b, c + Step::kWide);
  }
  if (c < wide_end) s0 = Step::step(s0, a, b, c);
  typename Step::Sum lanes[4];
  store_sums(horizontal_sums(s0, s1, Step::zero(), Step::zero()), lanes);
  typename Step::Sum total = lanes[0] + lanes[1];
  if (wide_end < dim) total += Step::tail(a, b, wide_end, dim);
  return static_cast<float>(total);
}

// One vector against many: four rows per pass share each load of `a`.
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

const KernelTable kAvx2F32{one<L2F32>, one<DotF32>, many<L2F32>, many<DotF32>, "avx2"};
const KernelTable kAvx2U8{one<L2U8>, one<Dot8<false>>, many<L2U8>, many<Dot8<false>>, "avx2"};
const KernelTable kAvx2I8{one<L2I8>, one<Dot8<true>>, many<L2I8>, many<Dot8<true>>, "avx2"};

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
