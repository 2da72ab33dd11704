// The portable kernel of pair_filter.hpp and the dispatch; AVX2 in pair_filter_avx2.cpp.
#include "host/cpu/all_pairs/pair_filter.hpp"

#include <algorithm>
#include <cmath>

#include "host/cpu/distance/distance.hpp"

namespace annforge::cpu {

PairFilterKernel avx2_pair_filter_kernel();  // pair_filter_avx2.cpp

namespace {

void scalar_pair_filter(const float* dots, int ld, int row0, int rows, int col0, int cols, const PairTerms& terms,
                        const uint32_t* ids, CandidateBuffers& buffers) {
  CandidateBuffers::Slots slots(buffers);
  const float* thresholds = slots.thresholds();
  for (int r = 0; r < rows; ++r) {
    const int row = row0 + r;
    for (int c = std::max(0, row + 1 - col0); c < cols; ++c) {
      const int col = col0 + c;
      // The AVX2 kernel's operations in its order (one process uses one kernel).
      const float factor = (terms.mul[row] * terms.mul[col]) * -terms.scale;
      const float d = std::max(std::fma(factor, dots[static_cast<size_t>(r) * ld + c], terms.add[row] + terms.add[col]),
                               terms.floor);
      if ((d < thresholds[row] || d < thresholds[col]) && slots.owns(row, col)) {
        slots.offer(row, ids[col], d);
        slots.offer(col, ids[row], d);
      }
    }
  }
}

}  // namespace

PairFilterKernel scalar_pair_filter_kernel() { return scalar_pair_filter; }

PairFilterKernel pair_filter_kernel() { return cpu_has_avx2_fma() ? avx2_pair_filter_kernel() : scalar_pair_filter; }

}  // namespace annforge::cpu
