// Makes every vector reachable from the search entry point. Pruned kNN graphs of data with
// well separated clusters can fall apart into islands that no search starting at the entry
// point ever reaches; each island gets one edge in, from its nearest reachable vector.
#pragma once

#include "host/cpu/search/beam_search.hpp"

namespace annforge::cpu {

// Adds in-edges to unreachable islands (graph.ids must point into `edges`); returns how many
// edges it rewired. The reachability search runs on `threads` threads (0: all).
int64_t connect_islands(std::vector<uint32_t>& edges, const GraphView& graph, const Distance& distance,
                        int threads = 0);

}  // namespace annforge::cpu
