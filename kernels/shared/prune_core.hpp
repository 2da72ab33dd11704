// Rank-based pruning as in CAGRA, the part shared by the CPU backend and the CUDA kernels.
// An edge v -> u (rank r in v's kNN list) is "detourable" through an earlier neighbour w
// (rank j < r) when u is also among w's first r neighbours: v -> w -> u then reaches u in two
// hops, each shorter in rank than the direct edge. Edges with few detours carry routes no other
// edge offers, so they are the ones kept.
#pragma once

#include <cstdint>

#include "distance_core.hpp"

namespace annforge::core {

// A detour through a neighbour at rank `via_rank`, which has the target at position
// `position_in_via`, counts against the direct edge at rank `target_rank` when both hops are
// shorter in rank than the direct edge.
ANNFORGE_HD bool is_detour(int via_rank, int position_in_via, int target_rank) {
  return via_rank < target_rank && position_in_via < target_rank;
}

// Orders edge ranks by (detour count, rank) and writes the first `degree` of them into `kept`.
// A stable selection by counting: detour counts are small integers below `k`.
ANNFORGE_HD void select_by_detours(const uint16_t* detours, int k, int degree, uint16_t* kept) {
  int filled = 0;
  for (int count = 0; filled < degree && count < k; ++count) {
    for (int r = 0; r < k && filled < degree; ++r) {
      if (detours[r] == count) kept[filled++] = static_cast<uint16_t>(r);
    }
  }
}

// One vector's final edge list: its first (degree+1)/2 pruned forward edges, then its reverse
// edges in the order given (strongest first), then the remaining forward edges, without repeats,
// up to `degree` entries. Returns how many were written (fewer than `degree` only when the
// inputs hold fewer distinct ids).
ANNFORGE_HD int merge_forward_and_reverse(const uint32_t* forward, const uint32_t* reverse, int reverse_count,
                                          int degree, uint32_t* out) {
  int filled = 0;
  auto add = [&](uint32_t id) {
    for (int e = 0; e < filled; ++e) {
      if (out[e] == id) return;
    }
    out[filled++] = id;
  };
  const int protected_edges = (degree + 1) / 2;
  for (int e = 0; e < protected_edges; ++e) add(forward[e]);
  for (int e = 0; e < reverse_count && filled < degree; ++e) add(reverse[e]);
  for (int e = protected_edges; e < degree && filled < degree; ++e) add(forward[e]);
  return filled;
}

}  // namespace annforge::core
