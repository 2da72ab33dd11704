// How deep a search re-ranks by exact distances after walking the compact rows
// (approximate_rows.hpp). The walk ranks by int8 codes (or bf16) and the beam's nearest few are
// re-ranked exactly; a true neighbour that the compact distances put below that depth is lost at
// every beam width. On most data the codes' rounding is small beside the gaps between a row's
// nearest (200K x 96 clustered cosine rows: the exact 10 nearest within the codes' 16 nearest
// for 99% of queries), but where every row lies near one direction the gaps shrink with the
// angles (the same rows with a common part 3x their norm, mean cosine 0.98: within 48 for 99%,
// 65 at worst, and recall@10 stuck at 0.987 from beam 32 up with a depth of 26). So the depth is
// measured once per set of compact rows, on rows of the index searched for among their two-hop
// neighbourhoods.
#pragma once

#include <algorithm>

#include "host/cpu/distance/distance.hpp"
#include "host/cpu/search/approximate_rows.hpp"
#include "host/cpu/search/beam_search.hpp"

namespace annforge::cpu {

// The compact distances' rank within which the sampled rows find their exact 10 nearest (of
// their two-hop neighbourhood in `graph`): `at_10` for 99% of them, at least 26 (the depth for
// k = 10 before it was measured), the re-ranking's depth; `typical` for 90% (10 where the codes
// rank as exact distances do; ~11 on SIFT-like, text and clustered data, 17 on rows near one
// direction whose narrow walks then lost 1.5 points of recall@10 at beam 16 to the codes).
// `distance` is over the rows that `rows` was made from. Deterministic.
struct RerankDepth {
  int at_10 = 26;
  int typical = 10;
};
RerankDepth measure_rerank_depth(const GraphView& graph, const Distance& distance, const ApproximateRows& rows,
                                 int threads);

// The exact re-ranking's depth for `k` neighbours: max(2k, k + 16) (26 at k = 10) scaled by the
// measured depth over 26.
inline int rerank_depth(int k, const ApproximateRows* rows) {
  const int base = std::max(2 * k, k + 16);
  if (rows == nullptr) return base;
  return std::max(k, (rows->rerank_at_10 * base + 25) / 26);
}

}  // namespace annforge::cpu
