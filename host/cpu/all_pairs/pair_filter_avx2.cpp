// The AVX2 + FMA kernel of pair_filter.hpp (this file is compiled with -mavx2 -mfma): eight
// columns per step, both thresholds tested at once, the passing lanes compacted into a queue
// that a scalar loop offers.
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstddef>

#include "host/cpu/distance/lane_positions.hpp"
#include "host/cpu/all_pairs/pair_filter.hpp"

namespace annforge::cpu {
namespace {

// Columns a row scans before its passing pairs are offered: the passes are compacted into a
// queue without a branch per eight columns (a pass is unpredictable: ~half of all 8-column
// steps hold one), then offered in one loop.
constexpr int kQueueColumns = 256;

void avx2_pair_filter(const float* dots, int ld, int row0, int rows, int col0, int cols, const PairTerms& terms,
                      const uint32_t* ids, CandidateBuffers& buffers) {
  CandidateBuffers::Slots slots(buffers);
  const float* thresholds = slots.thresholds();
  const std::array<uint64_t, 256>& packed_positions = packed_lane_positions();
  const __m256 negative_scale = _mm256_set1_ps(-terms.scale);
  const __m256 floor = _mm256_set1_ps(terms.floor);
  alignas(32) int32_t queued_columns[kQueueColumns + 8];
  alignas(32) float queued_distances[kQueueColumns + 8];
  for (int r = 0; r < rows; ++r) {
    const int row = row0 + r;
    const float* row_dots = dots + static_cast<size_t>(r) * ld;
    const __m256 row_add = _mm256_set1_ps(terms.add[row]);
    const __m256 row_mul = _mm256_set1_ps(terms.mul[row]);
    for (int c = std::max(0, row + 1 - col0); c < cols;) {
      const int stop = std::min(cols, c + kQueueColumns);
      const __m256 row_threshold = _mm256_set1_ps(thresholds[row]);
      int queued = 0;
      for (; c < stop; c += 8) {
        const int col = col0 + c;
        const __m256 factor = _mm256_mul_ps(_mm256_mul_ps(row_mul, _mm256_loadu_ps(terms.mul + col)), negative_scale);
        const __m256 sum = _mm256_add_ps(row_add, _mm256_loadu_ps(terms.add + col));
        const __m256 d = _mm256_max_ps(_mm256_fmadd_ps(factor, _mm256_loadu_ps(row_dots + c), sum), floor);
        const __m256 pass = _mm256_or_ps(_mm256_cmp_ps(d, row_threshold, _CMP_LT_OQ),
                                         _mm256_cmp_ps(d, _mm256_loadu_ps(thresholds + col), _CMP_LT_OQ));
        unsigned mask = static_cast<unsigned>(_mm256_movemask_ps(pass));
        if (stop - c < 8) mask &= (1u << (stop - c)) - 1;  // lanes past the last column
        const __m256i lanes =
            _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<long long>(packed_positions[mask])));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(queued_columns + queued),
                            _mm256_add_epi32(lanes, _mm256_set1_epi32(col)));
        _mm256_storeu_ps(queued_distances + queued, _mm256_permutevar8x32_ps(d, lanes));
        queued += __builtin_popcount(mask);
      }
      for (int q = 0; q < queued; ++q) {
        const int col = queued_columns[q];
        if (!slots.owns(row, col)) continue;
        slots.offer(row, ids[col], queued_distances[q]);
        slots.offer(col, ids[row], queued_distances[q]);
      }
    }
  }
}

}  // namespace

PairFilterKernel avx2_pair_filter_kernel() { return avx2_pair_filter; }

}  // namespace annforge::cpu
