// Balanced binary partition of n positions, level by level: at `level` the positions [0, n) fall
// into 2^level segments whose boundaries are floor(s * n / 2^level). Each level's segments are
// the halves of the one above (the boundaries nest), their sizes differ by at most one, and a
// segment's index follows from a position by arithmetic alone: no per-node bookkeeping, which is
// what the GPU's random-projection forest sorts rely on. __host__ __device__, tested on the CPU.
#pragma once

#include <cstdint>

#include "distance_core.hpp"

namespace annforge::core {

ANNFORGE_HD int64_t segment_start(int64_t segment, int level, int64_t n) { return (segment * n) >> level; }

// The segment holding `position`: the largest s with segment_start(s) <= position.
ANNFORGE_HD int64_t segment_of(int64_t position, int level, int64_t n) {
  return (((position + 1) << level) + n - 1) / n - 1;
}

// The largest segment size at `level`: ceil(n / 2^level).
ANNFORGE_HD int64_t max_segment_size(int level, int64_t n) { return (n + (int64_t{1} << level) - 1) >> level; }

// A float's bits as an unsigned integer with the same order (negative values below positive),
// for radix sorts keyed on floats.
ANNFORGE_HD uint32_t orderable_bits(uint32_t float_bits) {
  return (float_bits & 0x80000000u) ? ~float_bits : (float_bits | 0x80000000u);
}

// A 64-bit mix (SplitMix64's step and finaliser): random choices that depend only on their
// inputs, on the CPU (host/cpu/random.hpp) and on the GPU alike.
ANNFORGE_HD uint64_t mix_bits(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace annforge::core
