// HNSW's whole hierarchy over an annforge index, for export to libraries that search by HNSW's
// greedy descent (hnswlib, FAISS's IndexHNSW): every row gets a top level by HNSW's rule, and
// each level's graph is built in bulk over that level's members by the flat pipeline (kNN graph,
// pruning, reverse edges), never by inserting rows one by one.
#pragma once

#include <cstdint>
#include <vector>

#include "annforge.hpp"
#include "host/cpu/graph/upper_levels.hpp"

namespace annforge::cpu {

struct HnswHierarchy {
  int m = 0;                        // the degree upper levels are built with (hnswlib's M): graph_degree / 2
  std::vector<uint8_t> top_level;   // per row: the highest level that holds it (0: the base only)
  // levels[l - 1] is level l; members ascending; graph over positions, `degree` (m + level_extra)
  // slots per member: its built links, then long links, then kInvalidId.
  std::vector<UpperLevel> levels;
  int level_extra = 0;
  uint32_t entry = 0;               // where the descent starts: a member of the highest level
  // Level 0: rows x base_degree, each row's links (the index graph's list in order, or the
  // diverse links, nearest first), then long links, then kInvalidId (base_degree =
  // graph_degree + 1, the last slot always free; a long link that finds a list full takes its
  // last built link's place, and at least graph_degree - graph_degree / 2 built links stay).
  int base_degree = 0;
  std::vector<uint32_t> base_graph;
  int max_level() const { return static_cast<int>(levels.size()); }
  // `row`'s links on `level` (0: the base graph) as row ids, empty slots skipped, at most
  // `most` of them: what an exporter writes. The row must be on that level.
  int links(uint32_t row, int level, int most, uint32_t* out) const;
};

// The index's own level 1 is kept where it has one (its members: HNSW's rule plus the entry
// points); the levels above it draw their members from level 1 by the same rule (seeded by
// `seed`), and the vector nearest the centroid (the index's first entry point) is lifted to the
// top as the descent's start. `threads` as in BuildParams.
// With `diverse_links`, level 0 holds each row's links chosen by HNSW's heuristic from its
// two-hop neighbourhood (diverse_links.hpp) instead of the index's graph as it is.
HnswHierarchy build_hnsw_hierarchy(const Index& index, uint64_t seed, int threads, const FlatBuild& build_flat,
                                   bool diverse_links = false);

}  // namespace annforge::cpu
