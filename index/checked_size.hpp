// Byte counts computed from numbers that come from outside (file headers, flags, C callers):
// every product and sum is checked, so a header cannot make a size wrap around and pass a
// bounds check it should fail.
#pragma once

#include <cstdint>
#include <initializer_list>

namespace annforge::detail {

// The product of `factors` in *out; false (and *out untouched) when it does not fit 64 bits.
inline bool checked_product(std::initializer_list<uint64_t> factors, uint64_t* out) {
  uint64_t value = 1;
  for (uint64_t f : factors) {
    if (__builtin_mul_overflow(value, f, &value)) return false;
  }
  *out = value;
  return true;
}

// The sum of `terms` in *out; false when it does not fit 64 bits.
inline bool checked_sum(std::initializer_list<uint64_t> terms, uint64_t* out) {
  uint64_t value = 0;
  for (uint64_t t : terms) {
    if (__builtin_add_overflow(value, t, &value)) return false;
  }
  *out = value;
  return true;
}

}  // namespace annforge::detail
