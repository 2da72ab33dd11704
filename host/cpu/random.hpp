// SplitMix64: a cheap, well-mixed hash used for deterministic per-item random choices.
#pragma once

#include <cstdint>

namespace annforge::cpu {

inline uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace annforge::cpu
