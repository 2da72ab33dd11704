// float16 conversions (index/half_float.*): the portable and the F16C paths against each other
// and against the IEEE rules, over every half value and across float32's range, so that a read
// of a float16 file gives the same floats on every CPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "index/half_float.hpp"
#include "tests/test_support.hpp"

namespace {

using namespace annforge::detail;
using annforge_test::bits_of;
using annforge_test::from_bits;
using annforge_test::Rng;

// A half by its fields, computed in double: the reference the bit-twiddling must equal.
double half_value(uint16_t h) {
  const int sign = h >> 15, exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF;
  double v = exponent == 0 ? std::ldexp(mantissa, -24) : std::ldexp(1024 + mantissa, exponent - 25);
  return sign ? -v : v;
}

TEST(HalfFloat, EveryHalfConvertsExactly) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = half_to_float(static_cast<uint16_t>(h));
    const int exponent = (h >> 10) & 0x1F;
    if (exponent == 0x1F) {
      EXPECT_TRUE((h & 0x3FF) ? std::isnan(f) : std::isinf(f)) << h;
      // A NaN comes back quieted with its payload; an infinity as itself.
      EXPECT_EQ(float_to_half(f), (h & 0x3FF) ? (h | 0x200) : h) << h;
      continue;
    }
    ASSERT_EQ(static_cast<double>(f), half_value(static_cast<uint16_t>(h))) << "half 0x" << std::hex << h;
    EXPECT_EQ(std::signbit(f), (h >> 15) != 0) << h;
    // And back: every finite half survives the round trip bit for bit.
    ASSERT_EQ(float_to_half(f), h) << "half 0x" << std::hex << h;
  }
}

TEST(HalfFloat, FloatToHalfRoundsToNearestEven) {
  EXPECT_EQ(float_to_half(1.0f), 0x3C00);
  EXPECT_EQ(float_to_half(65504.0f), 0x7BFF);          // the largest half
  EXPECT_EQ(float_to_half(65519.99f), 0x7BFF);         // still rounds down to it
  EXPECT_EQ(float_to_half(65520.0f), 0x7C00);          // the tie rounds to even: infinity
  EXPECT_EQ(float_to_half(1e10f), 0x7C00);
  EXPECT_EQ(float_to_half(-1e10f), 0xFC00);
  EXPECT_EQ(float_to_half(1.0f + std::ldexp(1.0f, -11)), 0x3C00);  // tie: to the even 1.0
  EXPECT_EQ(float_to_half(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);  // tie: to the even 1.0 + 2^-9
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -24)), 0x0001);  // the smallest subnormal
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -25)), 0x0000);  // half of it: ties to even zero
  EXPECT_EQ(float_to_half(std::ldexp(1.5f, -25)), 0x0001);
  EXPECT_EQ(float_to_half(-0.0f), 0x8000);
  EXPECT_EQ(float_to_half(NAN) & 0x7C00, 0x7C00);
  EXPECT_NE(float_to_half(NAN) & 0x3FF, 0);
  // Against the double reference: the nearest half, ties to even, on random floats.
  Rng rng(3);
  for (int i = 0; i < 200000; ++i) {
    const float f = static_cast<float>(std::ldexp(rng.uniform(-1.0, 1.0), static_cast<int>(rng.below(44)) - 28));
    const uint16_t h = float_to_half(f);
    if ((h & 0x7C00) == 0x7C00) continue;  // overflowed: checked above
    const double err = std::fabs(half_value(h) - f);
    const double below = std::fabs(half_value(static_cast<uint16_t>(h - 1)) - f);
    const double above = std::fabs(half_value(static_cast<uint16_t>(h + 1)) - f);
    ASSERT_LE(err, below) << f;
    if ((h & 0x7FFF) != 0x7BFF) ASSERT_LE(err, above) << f;
  }
}

// The F16C kernels give exactly the portable results (where the CPU has F16C; the portable
// path is what a CPU without it runs).
TEST(HalfFloat, F16cPathEqualsPortablePath) {
  if (!cpu_has_f16c()) GTEST_SKIP() << "this CPU has no F16C (the portable path is tested above)";
  std::vector<uint16_t> halves(65536 + 5);
  for (size_t i = 0; i < halves.size(); ++i) halves[i] = static_cast<uint16_t>(i * 7919u);
  std::vector<float> fast(halves.size());
  half_to_float_f16c(halves.data(), fast.data(), halves.size());
  for (size_t i = 0; i < halves.size(); ++i) {
    // Bit for bit, NaNs (quieted, payload kept) included.
    ASSERT_EQ(bits_of(fast[i]), bits_of(half_to_float(halves[i]))) << "half 0x" << std::hex << halves[i];
  }
  Rng rng(5);
  std::vector<float> floats(100003);
  for (float& f : floats) f = from_bits(static_cast<uint32_t>(rng.next()));  // every class of float
  std::vector<uint16_t> fast_h(floats.size());
  float_to_half_f16c(floats.data(), fast_h.data(), floats.size());
  for (size_t i = 0; i < floats.size(); ++i) {
    ASSERT_EQ(fast_h[i], float_to_half(floats[i])) << "float 0x" << std::hex << bits_of(floats[i]);
  }
}

TEST(HalfFloat, DoubleToFloatFlagsValuesOutsideFloatRange) {
  const std::vector<double> ok = {0.0, -1.5, 1e-40, 3.4e38, -3.4e38, INFINITY};
  std::vector<float> out(ok.size());
  EXPECT_EQ(double_to_float(ok.data(), out.data(), ok.size()), ok.size());
  EXPECT_EQ(out[1], -1.5f);
  EXPECT_TRUE(std::isinf(out[5]));  // an infinity stays one (the build's checks refuse it)
  const std::vector<double> bad = {1.0, 2.0, 1e39, 4.0};
  EXPECT_EQ(double_to_float(bad.data(), out.data(), bad.size()), 2u);
}

}  // namespace
