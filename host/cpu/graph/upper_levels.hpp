// The search hierarchy above the base graph (Index::levels), built in bulk: each row gets a
// level by HNSW's rule, and each level's graph is built over that level's members with the
// same flat pipeline as the base graph (kNN graph, pruning, reverse edges, connectivity).
#pragma once

#include <algorithm>
#include <functional>
#include <utility>
#include <vector>

#include "annforge.hpp"

namespace annforge::cpu {

// Builds an index's flat graph and entry points over its vectors (the CPU backend's build
// without levels): the upper levels are built with it.
using FlatBuild = std::function<void(Index&, const BuildParams&)>;

// The row's level: floor(-ln(u) / ln(m)) for u uniform in (0, 1] drawn from (seed, row), so a
// row reaches level l with probability m^-l (HNSW's rule with mL = 1 / ln m).
int level_of_row(uint32_t row, uint64_t seed, int m);

// About how many rows the index's levels were built over (0 where it has none): level 1 holds
// the entry points and 1 in m of those rows. extend() keeps the levels while they cover most rows.
int64_t levels_cover(const Index& index);

// Levels above level 2 while the top one holds more rows than this. A level whose rows outnumber
// its degree in every cluster of the data falls apart into per-cluster islands (see below), and
// only a level sparse enough links neighbouring clusters: 10M x 96 in 1,000 clusters (level 2:
// 39,000 rows, 39 per cluster) left a fifth of the queries in the wrong cluster at every beam
// (recall@10 0.67 at beam 128), where 3M (level 2: 12,000 rows) reached 0.9996 (2026-12-04).
constexpr int64_t kMaxTopRows = 16384;
// The index file's bound on levels.
constexpr int kMaxLevels = 32;

// An upper level's degree: half the base graph's, as in HNSW, and at least 8. A search scans a
// few entry points and walks the top level from them (beam_search.hpp: kEntryScanWithLevels),
// and a level graph of degree 4 (a base degree of 8) is too sparse for that walk: 300,000 rows
// in 3,000 tight clusters of 100 at degree 8, recall@10 at beam 64 0.916 with levels of degree
// 4, 0.95 or more with 8 (2026-12-05).
inline int upper_level_degree(int graph_degree) { return std::max({2, graph_degree / 2, 8}); }

// The levels of `index` (its graph and entry points built): level 1, the rows that HNSW's rule
// lifts with m = max(2, graph_degree / 2) (an upper level's degree in HNSW is half the base's)
// plus every entry point; level 2, those lifted twice (1 in m^2) plus every entry point again;
// then level l + 1 (1 in m^(l+1), and the entry points) while level l holds over kMaxTopRows;
// each with a graph of degree min(upper_level_degree, members - 1) built by `build_flat`. A level is left out
// when it would hold under 2 rows or over half of the level below (ANNFORGE_CPU_LEVELS=N keeps
// at most N levels, for measurement).
//
// Why few levels, each searched with a beam, under a scan of the entry points: a graph built
// from kNN lists of data in many tight clusters falls apart into per-cluster islands on every
// level whose members are denser than its degree, and random level membership leaves some
// clusters without a member on the sparser levels (a greedy HNSW descent then ends in the wrong
// cluster: 26% of queries on 8 clusters of 312 rows). The entry points stand for every k-means
// region (up to 512); level 2 is sparse enough to link neighbouring clusters where level 1 is
// not (1M x 96 in 500 clusters of 2,000: level 1 holds ~125 rows per cluster, more than its
// degree, and 7% of queries ended in a cluster without an entry point; with level 2 recall@10
// at beam 16 went from 0.861 to 0.984), and level 1 brings the beam down to the rows.
std::vector<UpperLevel> build_upper_levels(const Index& index, const BuildParams& params, const FlatBuild& build_flat);

// One level: a graph over `members` (ascending rows of `index`), built by `build_flat` with
// `params` (degree min(params.graph_degree, members - 1); metric the index's). One member: no
// graph (degree 0).
UpperLevel build_level(const Index& index, std::vector<uint32_t> members, const BuildParams& params,
                       const FlatBuild& build_flat);

// Where `row` sits in a level's ascending member list; the level must hold it.
inline uint32_t position_in(const UpperLevel& level, uint32_t row) {
  auto it = std::lower_bound(level.members.begin(), level.members.end(), row);
  return static_cast<uint32_t>(it - level.members.begin());
}

// Where `row` sits in a level's member list, kInvalidId where the level does not hold it.
inline uint32_t position_or_invalid(const UpperLevel& level, uint32_t row) {
  auto it = std::lower_bound(level.members.begin(), level.members.end(), row);
  return it != level.members.end() && *it == row ? static_cast<uint32_t>(it - level.members.begin()) : kInvalidId;
}

// The entry points each level seeds its search with: every entry point seeds the highest level
// that holds it (all of them the top level, in an index built here), as (its index among the
// entry points, its position on that level); levels[l]'s in [l].
inline std::vector<std::vector<std::pair<int, uint32_t>>> entry_seeds(const std::vector<UpperLevel>& levels,
                                                                       const uint32_t* entry_points, int count) {
  std::vector<std::vector<std::pair<int, uint32_t>>> seeds(levels.size());
  for (int e = 0; e < count; ++e) {
    for (int l = static_cast<int>(levels.size()) - 1; l >= 0; --l) {
      const uint32_t position = position_or_invalid(levels[l], entry_points[e]);
      if (position != kInvalidId) {
        seeds[l].push_back({e, position});
        break;
      }
    }
  }
  return seeds;
}

}  // namespace annforge::cpu
