// SplitMix64: a cheap, well-mixed hash used for deterministic per-item random choices.
#pragma once

#include <cstdint>

#include "kernels/shared/partition_core.hpp"

namespace annforge::cpu {

inline uint64_t mix64(uint64_t x) { return core::mix_bits(x); }

}  // namespace annforge::cpu
