// bfloat16: the top 16 bits of a float (8 exponent bits, 7 mantissa bits). Reduced-precision
// copies of float rows for the all-pairs tiles and the search's walk use it; every value they
// rank by is re-ranked in fp32.
#pragma once

#include <cstdint>
#include <cstring>

namespace annforge::cpu {

// Round to nearest, ties to even (NaN is refused before any build or search sees it).
inline uint16_t to_bf16(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof(bits));
  bits += 0x7FFFu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

inline float from_bf16(uint16_t x) {
  const uint32_t bits = static_cast<uint32_t>(x) << 16;
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

}  // namespace annforge::cpu
