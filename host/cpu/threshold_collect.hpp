// The positions of the values at or below a cut (and below +infinity), in order: the streaming
// step of top-k selection over a row of distances. The AVX2 version compares eight values at a
// time and compacts the passing positions through a lookup table, with no branch per value
// (a few percent pass, at unpredictable places).
#pragma once

#include <cstdint>

namespace annforge::cpu {

// Writes the positions into `positions`, which must hold count + 8 entries; returns how many.
using CollectKernel = int (*)(const float* values, int count, float cut, uint32_t* positions);
CollectKernel collect_kernel();  // AVX2 where the CPU has it (ANNFORGE_SIMD=scalar: portable)
CollectKernel scalar_collect_kernel();

}  // namespace annforge::cpu
