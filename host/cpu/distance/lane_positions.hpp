// Branch-free compaction of the passing lanes of an 8-lane compare (AVX2 kernels): for each
// 8-bit mask, the positions of its set bits packed one per byte, lowest first. Widened to eight
// int32 lanes (_mm256_cvtepu8_epi32), they store the passing positions, or permute the passing
// values, to the front of a vector; the caller advances by the mask's popcount.
#pragma once

#include <array>
#include <cstdint>

namespace annforge::cpu {

inline const std::array<uint64_t, 256>& packed_lane_positions() {
  static const std::array<uint64_t, 256> table = [] {
    std::array<uint64_t, 256> positions{};
    for (int mask = 0; mask < 256; ++mask) {
      uint64_t packed = 0;
      int slot = 0;
      for (int bit = 0; bit < 8; ++bit) {
        if (mask & (1 << bit)) packed |= static_cast<uint64_t>(bit) << (8 * slot++);
      }
      positions[mask] = packed;
    }
    return positions;
  }();
  return table;
}

}  // namespace annforge::cpu
