// Reachability by breadth-first search; islands joined by searching for their nearest
// reachable vector and giving it an edge into the island.
#include "host/cpu/connectivity.hpp"

#include <algorithm>
#include <deque>

namespace annforge::cpu {
namespace {

// Marks everything reachable from `start` that is not yet marked; returns how many it marked.
int64_t mark_reachable(const GraphView& graph, uint32_t start, std::vector<uint8_t>& reached) {
  if (reached[start]) return 0;
  std::deque<uint32_t> frontier{start};
  reached[start] = 1;
  int64_t marked = 1;
  while (!frontier.empty()) {
    uint32_t v = frontier.front();
    frontier.pop_front();
    const uint32_t* neighbors = graph.neighbors(v);
    for (int e = 0; e < graph.degree; ++e) {
      if (!reached[neighbors[e]]) {
        reached[neighbors[e]] = 1;
        ++marked;
        frontier.push_back(neighbors[e]);
      }
    }
  }
  return marked;
}

int64_t mark_from_entries(const GraphView& graph, std::vector<uint8_t>& reached) {
  int64_t marked = 0;
  for (int e = 0; e < graph.entry_count; ++e) marked += mark_reachable(graph, graph.entry_points[e], reached);
  return marked;
}

}  // namespace

int64_t connect_islands(std::vector<uint32_t>& graph, const GraphView& view, const Distance& distance) {
  const DatasetView& base = distance.base();
  const int64_t rows = base.rows;
  const int degree = view.degree;
  if (degree == 0 || rows < 2) return 0;
  // In-degrees tell which edge of the chosen vector can be given up: one whose target has
  // other ways in. When every target has just the one, giving it up may strand that target;
  // a later pass (from a fresh reachability search) then joins it in turn.
  std::vector<uint32_t> in_degree(rows, 0);
  for (uint32_t id : graph) ++in_degree[id];
  int64_t rewired = 0;
  BeamSearchParams search;
  search.k = 1;
  search.beam_width = 32;
  search.threads = 1;
  for (int pass = 0; pass < 4; ++pass) {
    std::vector<uint8_t> reached(rows, 0);
    int64_t reached_count = mark_from_entries(view, reached);
    for (int64_t v = 0; v < rows && reached_count < rows; ++v) {
      if (reached[v]) continue;
      DatasetView query{base.row(v), 1, base.dim, base.type};
      uint32_t nearest;
      float nearest_distance;
      // Only reachable vectors can be found, which is the point.
      beam_search(view, distance, query, search, {}, &nearest, &nearest_distance);
      uint32_t* edges = &graph[static_cast<int64_t>(nearest) * degree];
      int slot = degree - 1;
      for (int e = degree - 1; e >= 0; --e) {
        if (in_degree[edges[e]] > in_degree[edges[slot]]) slot = e;
      }
      --in_degree[edges[slot]];
      edges[slot] = static_cast<uint32_t>(v);
      ++in_degree[v];
      ++rewired;
      reached_count += mark_reachable(view, static_cast<uint32_t>(v), reached);
    }
    if (reached_count == rows) break;
  }
  return rewired;
}

}  // namespace annforge::cpu
