// (distance, id) as one 64-bit integer that sorts nearest first, ties by smaller id: the keys
// of the clustered kNN stage's selections (candidate buffers, row selection).
#pragma once

#include <cstdint>
#include <cstring>

#include "kernels/shared/partition_core.hpp"

namespace annforge::cpu {

inline uint64_t distance_key(float distance, uint32_t id) {
  uint32_t bits;
  std::memcpy(&bits, &distance, sizeof(bits));
  return static_cast<uint64_t>(core::orderable_bits(bits)) << 32 | id;
}

inline float key_distance(uint64_t key) {
  uint32_t bits = static_cast<uint32_t>(key >> 32);
  bits = (bits & 0x80000000u) ? (bits & 0x7FFFFFFFu) : ~bits;  // core::orderable_bits undone
  float distance;
  std::memcpy(&distance, &bits, sizeof(distance));
  return distance;
}

inline uint32_t key_id(uint64_t key) { return static_cast<uint32_t>(key); }

}  // namespace annforge::cpu
