// The portable kernel of threshold_collect.hpp and the dispatch; AVX2 in threshold_collect_avx2.cpp.
#include "host/cpu/all_pairs/threshold_collect.hpp"

#include "host/cpu/distance/distance.hpp"

#include <limits>

namespace annforge::cpu {

CollectKernel avx2_collect_kernel();       // threshold_collect_avx2.cpp
CollectKernel avx512_collect_kernel();     // threshold_collect_avx512.cpp
KthBoundKernel avx512_kth_bound_kernel();  // threshold_collect_avx512.cpp
FewSmallestKernel avx512_few_smallest_kernel();  // threshold_collect_avx512.cpp
FewSmallestKernel avx2_few_smallest_kernel();    // threshold_collect_avx2.cpp
RankSelectKernel avx2_rank_select_kernel();      // threshold_collect_avx2.cpp
RankSelectKernel avx512_rank_select_kernel();    // threshold_collect_avx512.cpp

namespace {

int scalar_collect(const float* values, int count, float cut, uint32_t* positions) {
  int found = 0;
  for (int i = 0; i < count; ++i) {
    // Branch-free: the slot is written either way and kept when the value passes.
    positions[found] = static_cast<uint32_t>(i);
    found += values[i] <= cut && values[i] < std::numeric_limits<float>::infinity();
  }
  return found;
}

}  // namespace

CollectKernel scalar_collect_kernel() { return scalar_collect; }

CollectKernel collect_kernel() {
  if (cpu_has_avx512()) return avx512_collect_kernel();
  return cpu_has_avx2_fma() ? avx2_collect_kernel() : scalar_collect;
}

KthBoundKernel kth_bound_kernel() { return cpu_has_avx512() ? avx512_kth_bound_kernel() : nullptr; }

FewSmallestKernel few_smallest_kernel() {
  if (cpu_has_avx512()) return avx512_few_smallest_kernel();
  return cpu_has_avx2_fma() ? avx2_few_smallest_kernel() : nullptr;
}

RankSelectKernel rank_select_kernel() { return cpu_has_avx512() ? avx512_rank_select_kernel() : nullptr; }

RankSelectKernel stable_rank_select_kernel() { return cpu_has_avx2_fma() ? avx2_rank_select_kernel() : nullptr; }

}  // namespace annforge::cpu
