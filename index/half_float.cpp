#include "half_float.hpp"

#include <cfloat>
#include <cmath>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace annforge::detail {

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1Fu;
  uint32_t mantissa = h & 0x3FFu;
  uint32_t bits;
  if (exponent == 0x1F) {
    // Infinity, or NaN: quieted with its payload kept, as F16C's vcvtph2ps does, so that both
    // paths give the same bits.
    bits = sign | 0x7F800000u | (mantissa << 13) | (mantissa ? 0x400000u : 0u);
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);  // 112 = 127 - 15
  } else if (mantissa == 0) {
    bits = sign;  // signed zero
  } else {
    // Subnormal half: normalise (every one is a normal float).
    int shift = 0;
    while (!(mantissa & 0x400u)) {
      mantissa <<= 1;
      ++shift;
    }
    bits = sign | (static_cast<uint32_t>(113 - shift) << 23) | ((mantissa & 0x3FFu) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t float_to_half(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t abs = bits & 0x7FFFFFFFu;
  // NaN: quieted, the payload's top bits kept (as vcvtps2ph does); infinity stays one.
  if (abs > 0x7F800000u) return sign | 0x7E00u | static_cast<uint16_t>((abs >> 13) & 0x3FFu);
  if (abs == 0x7F800000u) return sign | 0x7C00u;
  if (abs >= 0x477FF000u) return sign | 0x7C00u;  // rounds past 65504: infinity
  if (abs < 0x38800000u) {
    // Subnormal half (or zero): value / 2^-24, rounded to nearest even.
    if (abs < 0x33000000u) return sign;  // below half the smallest subnormal
    const uint32_t mantissa = (abs & 0x7FFFFFu) | 0x800000u;
    const int shift = 126 - static_cast<int>(abs >> 23);  // 14..24
    const uint32_t half_bits = mantissa >> shift;
    const uint32_t rest = mantissa & ((1u << shift) - 1);
    const uint32_t halfway = 1u << (shift - 1);
    const uint32_t rounded = half_bits + (rest > halfway || (rest == halfway && (half_bits & 1u)));
    return sign | static_cast<uint16_t>(rounded);
  }
  // Normal: rebias the exponent, round the 13 dropped mantissa bits to nearest even (a carry
  // into the exponent is the right answer).
  const uint32_t rebased = abs - 0x38000000u;  // (127 - 15) << 23
  const uint32_t rest = rebased & 0x1FFFu;
  uint32_t half_bits = rebased >> 13;
  if (rest > 0x1000u || (rest == 0x1000u && (half_bits & 1u))) ++half_bits;
  return sign | static_cast<uint16_t>(half_bits);
}

void half_to_float(const uint16_t* in, float* out, size_t n) {
  if (cpu_has_f16c()) return half_to_float_f16c(in, out, n);
  for (size_t i = 0; i < n; ++i) out[i] = half_to_float(in[i]);
}

void float_to_half(const float* in, uint16_t* out, size_t n) {
  if (cpu_has_f16c()) return float_to_half_f16c(in, out, n);
  for (size_t i = 0; i < n; ++i) out[i] = float_to_half(in[i]);
}

size_t double_to_float(const double* in, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const double v = in[i];
    if (std::isfinite(v) && std::fabs(v) > static_cast<double>(FLT_MAX)) return i;
    out[i] = static_cast<float>(v);
  }
  return n;
}

bool cpu_has_f16c() {
#if defined(__x86_64__) || defined(__i386__)
  // CPUID leaf 1 (clang's __builtin_cpu_supports knows no "f16c"): F16C and AVX, and the OS
  // saving the YMM registers (XGETBV), which the 256-bit conversions need.
  static const bool has = [] {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
    if (!(ecx & bit_F16C) || !(ecx & bit_AVX) || !(ecx & bit_OSXSAVE)) return false;
    unsigned xcr0_low = 0, xcr0_high = 0;
    __asm__("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
    return (xcr0_low & 6u) == 6u;
  }();
  return has;
#else
  return false;
#endif
}

}  // namespace annforge::detail
