// Batched greedy beam search over the fixed-degree graph, one query per worker at a time.
#pragma once

#include "annforge.hpp"
#include "host/cpu/distance/distance.hpp"
#include "host/cpu/search/approximate_rows.hpp"

namespace annforge::cpu {

struct BeamSearchParams {
  int k = 10;
  int beam_width = 64;
  int threads = 0;
  int upper_width_divisor = 4;  // the upper levels' beam: beam_width / this, 4 to 64 (Index::upper_width_divisor)
};

// The graph a search walks: rows x degree ids over distance.base() (which may be a prefix of
// an index's vectors while extend links new rows in).
struct GraphView {
  const uint32_t* ids = nullptr;
  int degree = 0;
  const uint32_t* entry_points = nullptr;
  int entry_count = 0;
  const uint32_t* neighbors(uint32_t v) const { return ids + static_cast<int64_t>(v) * degree; }
};
inline GraphView graph_of(const Index& index) {
  return {index.graph.data(), index.graph_degree, index.entry_points.data(), static_cast<int>(index.entry_points.size())};
}

// With `levels` (non-empty; Index::levels, whose level 1 holds every entry point), each query
// scans the entry points, searches the upper levels from the nearest of them with a beam of
// width / upper_width_divisor (4 to 64), and starts the beam on the base graph from what level 1
// found; without, from every entry point.
// With `approximate` (float data: approximate_rows.hpp) the walk ranks by its int8 / bf16 distances,
// and the beam's nearest max(2k, k + 16) are re-ranked by exact distances for the answer.
void beam_search(const GraphView& graph, const Distance& distance, const DatasetView& queries,
                 const BeamSearchParams& params, const ProgressCallback& progress, uint32_t* ids, float* distances,
                 const std::vector<UpperLevel>* levels = nullptr, const ApproximateRows* approximate = nullptr);

}  // namespace annforge::cpu
