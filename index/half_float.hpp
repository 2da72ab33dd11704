// Element conversions done once at read: IEEE half (float16) and double to float32, and float32
// to half for writing .f16bin files. Half to float is exact; float to half rounds to nearest
// even. F16C is used where the CPU has it (chosen at run time), a portable loop elsewhere.
#pragma once

#include <cstddef>
#include <cstdint>

namespace annforge::detail {

float half_to_float(uint16_t h);
uint16_t float_to_half(float f);

void half_to_float(const uint16_t* in, float* out, size_t n);
void float_to_half(const float* in, uint16_t* out, size_t n);

// Converts n doubles; returns n, or the index of the first finite value outside float32's range
// (which would otherwise turn into an infinity without a word).
size_t double_to_float(const double* in, float* out, size_t n);

// The F16C kernels (half_float_f16c.cpp, compiled with -mf16c); call only where cpu_has_f16c().
bool cpu_has_f16c();
void half_to_float_f16c(const uint16_t* in, float* out, size_t n);
void float_to_half_f16c(const float* in, uint16_t* out, size_t n);

}  // namespace annforge::detail
