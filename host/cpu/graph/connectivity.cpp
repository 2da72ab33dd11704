// Reachability by breadth-first search; islands joined by searching for their nearest
// reachable vector and giving it an edge into the island.
#include "host/cpu/graph/connectivity.hpp"

#include <algorithm>
#include <deque>

#include "host/cpu/parallel.hpp"

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

// Everything reachable from the entry points, level by level on all threads: a vertex is
// claimed by whichever thread first swaps its mark from 0 to 1.
int64_t mark_from_entries(const GraphView& graph, std::vector<uint8_t>& reached, int threads) {
  std::vector<uint32_t> frontier;
  for (int e = 0; e < graph.entry_count; ++e) {
    const uint32_t v = graph.entry_points[e];
    if (!reached[v]) reached[v] = 1, frontier.push_back(v);
  }
  int64_t marked = static_cast<int64_t>(frontier.size());
  std::vector<std::vector<uint32_t>> next(resolve_threads(threads));
  while (!frontier.empty()) {
    parallel_for(static_cast<int64_t>(frontier.size()), threads, 1024, [&](int64_t begin, int64_t end, int thread) {
      std::vector<uint32_t>& found = next[thread];
      for (int64_t i = begin; i < end; ++i) {
        const uint32_t* neighbors = graph.neighbors(frontier[i]);
        for (int e = 0; e < graph.degree; ++e) {
          uint8_t* mark = &reached[neighbors[e]];
          if (!__atomic_load_n(mark, __ATOMIC_RELAXED) && !__atomic_exchange_n(mark, uint8_t{1}, __ATOMIC_RELAXED)) {
            found.push_back(neighbors[e]);
          }
        }
      }
    });
    frontier.clear();
    for (std::vector<uint32_t>& found : next) {
      frontier.insert(frontier.end(), found.begin(), found.end());
      found.clear();
    }
    marked += static_cast<int64_t>(frontier.size());
  }
  return marked;
}

}  // namespace

int64_t connect_islands(std::vector<uint32_t>& graph, const GraphView& view, const Distance& distance, int threads) {
  const DatasetView& base = distance.base();
  const int64_t rows = base.rows;
  const int degree = view.degree;
  if (degree == 0 || rows < 2) return 0;
  // In-degrees tell which edge of the chosen vector can be given up: one whose target has
  // other ways in. When every target has just the one, giving it up may strand that target;
  // a later pass (from a fresh reachability search) then joins it in turn. Counted only once
  // an island is found.
  std::vector<uint32_t> in_degree;
  int64_t rewired = 0;
  BeamSearchParams search;
  search.k = 1;
  search.beam_width = 32;
  search.threads = 1;
  for (int pass = 0; pass < 4; ++pass) {
    std::vector<uint8_t> reached(rows, 0);
    int64_t reached_count = mark_from_entries(view, reached, threads);
    for (int64_t v = 0; v < rows && reached_count < rows; ++v) {
      if (reached[v]) continue;
      if (in_degree.empty()) {
        in_degree.assign(rows, 0);
        for (uint32_t id : graph) ++in_degree[id];
      }
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
