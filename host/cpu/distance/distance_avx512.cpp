// AVX-512 float distance kernels (dot and squared L2), chosen by kernels_for where the CPU has
// AVX-512 F/BW/VL/DQ. The functions carry their instruction set as a target attribute (the file
// is compiled for the baseline), so no AVX-512 code reaches the rest of the program.
// Each row is summed the same way in the pair and the batched kernels (two accumulators over
// alternate 16-lane chunks, a masked tail, one reduction), so a pair's distance never depends
// on the call or on its place in a batch: merges that drop repeats by equal distance rely on it.
#include <immintrin.h>

#include <cstddef>

#include "host/cpu/distance/distance.hpp"

#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#define ANNFORGE_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")))
#define ANNFORGE_AVX512_INLINE ANNFORGE_AVX512 inline __attribute__((always_inline))

namespace annforge::cpu {
namespace {

template <bool kL2>
ANNFORGE_AVX512_INLINE __m512 step(__m512 acc, __m512 x, __m512 y) {
  if constexpr (kL2) {
    const __m512 d = _mm512_sub_ps(x, y);
    return _mm512_fmadd_ps(d, d, acc);
  } else {
    return _mm512_fmadd_ps(x, y, acc);
  }
}

// A row's sums: chunk j (16 lanes) into accumulator j % 2, the last chunk masked. The pair
// kernel and the batched one (four rows interleaved) run the same sequence for each row.
struct RowSums {
  __m512 even, odd;
};

template <bool kL2, int kRows>
ANNFORGE_AVX512_INLINE void sum_rows(const float* a, const void* const* rows, size_t dim, float* out) {
  const float* b[kRows];
  for (int r = 0; r < kRows; ++r) b[r] = static_cast<const float*>(rows[r]);
  RowSums s[kRows];
  for (int r = 0; r < kRows; ++r) s[r].even = s[r].odd = _mm512_setzero_ps();
  size_t c = 0;
  for (; c + 32 <= dim; c += 32) {
    const __m512 x0 = _mm512_loadu_ps(a + c), x1 = _mm512_loadu_ps(a + c + 16);
    for (int r = 0; r < kRows; ++r) {
      s[r].even = step<kL2>(s[r].even, x0, _mm512_loadu_ps(b[r] + c));
      s[r].odd = step<kL2>(s[r].odd, x1, _mm512_loadu_ps(b[r] + c + 16));
    }
  }
  // What is left: up to two chunks, the last of them masked.
  for (int half = 0; c < dim; ++half, c += 16) {
    const __mmask16 mask = dim - c >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (dim - c)) - 1);
    const __m512 x = _mm512_maskz_loadu_ps(mask, a + c);
    for (int r = 0; r < kRows; ++r) {
      __m512& acc = half == 0 ? s[r].even : s[r].odd;
      acc = step<kL2>(acc, x, _mm512_maskz_loadu_ps(mask, b[r] + c));
    }
  }
  for (int r = 0; r < kRows; ++r) out[r] = _mm512_reduce_add_ps(_mm512_add_ps(s[r].even, s[r].odd));
}

template <bool kL2>
ANNFORGE_AVX512 float one(const void* a, const void* b, size_t dim) {
  float out;
  sum_rows<kL2, 1>(static_cast<const float*>(a), &b, dim, &out);
  return out;
}

// The rows usually sit at random places (graph neighbours, cluster candidates): every row's
// first lines are requested before any is summed, so the loads overlap and the hardware's
// stream prefetch has each row under way early. Then four rows at a time, interleaved.
template <bool kL2>
ANNFORGE_AVX512 void many(const void* a, const void* const* rows, int count, size_t dim, float* out) {
  const float* x = static_cast<const float*>(a);
  for (int r = 0; r < count; ++r) {
    const char* row = static_cast<const char*>(rows[r]);
    __builtin_prefetch(row);
    if (dim > 16) __builtin_prefetch(row + 64);
  }
  int i = 0;
  for (; i + 4 <= count; i += 4) sum_rows<kL2, 4>(x, rows + i, dim, out + i);
  for (; i < count; ++i) sum_rows<kL2, 1>(x, rows + i, dim, out + i);
}

const KernelTable kAvx512F32{one<true>, one<false>, many<true>, many<false>, "avx512"};

}  // namespace

const KernelTable* avx512_float_kernels() { return &kAvx512F32; }

}  // namespace annforge::cpu
