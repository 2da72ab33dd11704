// The kernels of list_positions.hpp. The vector functions carry their instruction set as a
// target attribute (the file is compiled for the baseline), as in threshold_collect_avx512.cpp.
#include "host/cpu/all_pairs/list_positions.hpp"

#include <immintrin.h>

#include "host/cpu/distance/distance.hpp"

namespace annforge::cpu {
namespace {

#define ANNFORGE_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,bmi,popcnt")))
#define ANNFORGE_AVX2 __attribute__((target("avx2,bmi,popcnt")))

// Up to 64 list ids in four registers; each candidate broadcast against them, the four 16-bit
// masks joined into one 64-bit mask whose lowest bit is the position.
ANNFORGE_AVX512 void avx512_list_positions(const uint32_t* list, int k, const uint32_t* ids, int count,
                                           int* positions) {
  __m512i chunk[4];
  for (int v = 0; v < 4; ++v) {
    const int left = k - 16 * v;
    const __mmask16 valid = left >= 16 ? 0xFFFF : left > 0 ? static_cast<__mmask16>((1u << left) - 1) : 0;
    // Past the list: ~0 = kInvalidId, which no candidate is.
    chunk[v] = _mm512_mask_loadu_epi32(_mm512_set1_epi32(-1), valid, list + 16 * v);
  }
  for (int c = 0; c < count; ++c) {
    const __m512i id = _mm512_set1_epi32(static_cast<int>(ids[c]));
    const uint64_t found = uint64_t{_mm512_cmpeq_epi32_mask(chunk[0], id)} |
                           uint64_t{_mm512_cmpeq_epi32_mask(chunk[1], id)} << 16 |
                           uint64_t{_mm512_cmpeq_epi32_mask(chunk[2], id)} << 32 |
                           uint64_t{_mm512_cmpeq_epi32_mask(chunk[3], id)} << 48;
    positions[c] = found != 0 ? __builtin_ctzll(found) : -1;
  }
}

// The same in eight registers of eight ids.
ANNFORGE_AVX2 void avx2_list_positions(const uint32_t* list, int k, const uint32_t* ids, int count, int* positions) {
  alignas(32) uint32_t padded[64];
  for (int i = 0; i < 64; ++i) padded[i] = i < k ? list[i] : ~uint32_t{0};
  __m256i chunk[8];
  for (int v = 0; v < 8; ++v) chunk[v] = _mm256_load_si256(reinterpret_cast<const __m256i*>(padded + 8 * v));
  const int chunks = (k + 7) / 8;
  for (int c = 0; c < count; ++c) {
    const __m256i id = _mm256_set1_epi32(static_cast<int>(ids[c]));
    uint64_t found = 0;
    for (int v = 0; v < chunks; ++v) {
      found |= uint64_t{static_cast<uint32_t>(_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(chunk[v], id))))}
               << (8 * v);
    }
    positions[c] = found != 0 ? __builtin_ctzll(found) : -1;
  }
}

}  // namespace

void scalar_list_positions(const uint32_t* list, int k, const uint32_t* ids, int count, int* positions) {
  for (int c = 0; c < count; ++c) {
    positions[c] = -1;
    for (int i = 0; i < k; ++i) {
      if (list[i] == ids[c]) {
        positions[c] = i;
        break;
      }
    }
  }
}

ListPositionsKernel list_positions_kernel() {
  if (cpu_has_avx512()) return avx512_list_positions;
  return cpu_has_avx2_fma() ? avx2_list_positions : nullptr;
}

}  // namespace annforge::cpu
