// Batched greedy beam search over the fixed-degree graph, one query per worker at a time.
#pragma once

#include <vector>

#include "annforge.hpp"
#include "host/cpu/distance/distance.hpp"
#include "host/cpu/search/approximate_rows.hpp"

namespace annforge::cpu {

struct BeamSearchParams {
  int k = 10;
  int beam_width = 64;
  int threads = 0;
  int upper_width_divisor = 4;  // the upper levels' beam: beam_width / this, 4 to 64 (Index::upper_width_divisor)
  // A caller's search: the upper beam also at most 64 / divisor, 16 at least (upper_beam_width),
  // uncapped for queries far from the data (not for inner product). The build's own searches
  // (landing links, the width measurement, extend) choose their upper beam through the divisor
  // alone.
  bool cap_upper_width = false;
  // With ANNFORGE_TRACE, the distances per query on stderr (a caller's search, not the build's
  // own measurements).
  bool trace_distances = false;
  // For the build's landing links (graph/landing_links.hpp): with `landings`, each query stops
  // after the walk on upper level `landing_level` (0: level 1) and writes that walk's beam there
  // (queries x landing_width positions on the level, nearest first, kInvalidId past its end);
  // ids and distances are then left unwritten.
  int landing_level = -1;
  int landing_width = 0;
  uint32_t* landings = nullptr;
};

// The upper levels' beam at base beam `width`: width / divisor, 4 to 64, and with `capped` at
// most 64 / divisor (16 at least). The divisor is measured at base beams 16 and 32
// (upper_width.hpp), where an upper beam of 16 is the widest compared: where a quarter or an
// eighth lands as well, a wider one buys little that the base beam does not. Best of 4
// alternated runs (AMD EPYC Zen 4, 2 threads, 2026-12-07), upper beam 64 -> 16 at base beam 256:
// 1M SIFT at base beam 128 / 256 / 512 1.12x / 1.17x / 1.06x the queries/s, recall@10 -0.0001;
// 1M wordtext 1.05x / 1.15x / 1.11x at -0.0027 / -0.0022 / -0.0006 (about even at equal recall).
// Queries far from the data still need the wide beam (their neighbours lie in regions the base
// graph does not join): beam_search descends again uncapped for those.
inline int upper_beam_width(int width, int divisor, bool capped) {
  divisor = divisor < 1 ? 1 : divisor;
  int upper = width / divisor;
  const int most = capped ? (64 / divisor > 16 ? 64 / divisor : 16) : 64;
  upper = upper < 4 ? 4 : upper > most ? most : upper;
  return upper < width ? upper : width;
}

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

// How many entry points a search over upper levels scans: the first 32 (the row nearest the
// centroid, then k-means regions' representatives in no particular order). The top level holds
// every entry point and its walk reaches the rest. Scanning all of them (up to 512) was most of
// a query's distances where the base walk is short: 1M x 64 in 5,000 clusters at beam 32, 512 of
// 1,432 per query; 1M SIFT at beam 32, 512 of 1,482 (1,041 scanning 32, recall@10 0.8923 ->
// 0.8922); 1M x 64 in 50,000 clusters, 1,634 -> 1,193 (0.9644 -> 0.9627) (2026-12-05).
constexpr int kEntryScanWithLevels = 32;

// The order a batch's queries are searched in: by region, each query's nearest of the entry
// points 1..R (k-means regions' representatives; entry point 0, the row nearest the centroid, is
// the nearest of them for a fifth of 1M SIFT's queries and is left out), ties in the caller's
// order. Consecutive queries then walk the same part of the graph, whose rows and lists stay in
// cache from one query to the next where the caller's order fetches them from memory again.
// 10,000 queries at beam 32 / 64 / 128 against the caller's order (AMD EPYC Zen 4, 2 threads,
// alternated runs, the same answers): 1M SIFT +13-35% queries/s, MNIST +40-80%, 1M x 64 in
// 5,000 clusters +7-18%, 1M wordtext (int8 walk rows, queries spread over topics) +-3%
// (2026-12-06). R is kOrderKeyEntries, more where both the index and the batch are large (about
// kRowsPerOrderRegion rows per region, kQueriesPerOrderRegion queries or more in each, up to
// kMaxOrderKeyEntries): the build's 2.5M landing searches on 10M x 96 rows took 44 s in the
// caller's order and in 32 regions, 33 s in 512; on 1M rows more than 32 gained nothing. Empty
// (the caller's order) under kOrderedBatch queries, where few share a region, without enough
// entry points, and with ANNFORGE_CPU_QUERY_ORDER=2 (ANNFORGE_CPU_ORDER_ENTRIES=R fixes R; both
// for measurement).
constexpr int kOrderKeyEntries = 32;
constexpr int kMaxOrderKeyEntries = 512;
constexpr int64_t kRowsPerOrderRegion = 20000;
constexpr int64_t kQueriesPerOrderRegion = 64;
constexpr int64_t kOrderedBatch = 256;
std::vector<uint32_t> region_order(const GraphView& graph, const Distance& distance, const DatasetView& queries,
                                   int threads);

// With `levels` (non-empty; Index::levels, whose level 1 holds every entry point), each query
// scans the first kEntryScanWithLevels entry points, searches the upper levels from the nearest of them with a beam of
// width / upper_width_divisor (4 to 64), and starts the beam on the base graph from what level 1
// found; without, from every entry point.
// With `approximate` (float data: approximate_rows.hpp) the walk ranks by its int8 / bf16 distances,
// and the beam's nearest max(2k, k + 16) are re-ranked by exact distances for the answer.
void beam_search(const GraphView& graph, const Distance& distance, const DatasetView& queries,
                 const BeamSearchParams& params, const ProgressCallback& progress, uint32_t* ids, float* distances,
                 const std::vector<UpperLevel>* levels = nullptr, const ApproximateRows* approximate = nullptr);

}  // namespace annforge::cpu
