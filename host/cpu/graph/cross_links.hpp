// Long links between clusters for the export's level 0, where queries fall between them.
//
// Why: hnswlib's and FAISS's searches start level 0 from the one row their descent lands on. On
// data of well separated clusters annforge's base graph has no edge between clusters (each
// row's kNN list lies in its own), so a query that lies between clusters (one drawn from
// elsewhere than the data: text against image embeddings, a new topic) is searched in the
// cluster it landed in only. annforge's own search starts from every region's entry point and
// does not need such links; the exported graph does. 60,000 x 24 rows in 200 clusters, 2,000
// queries from other centres, degree 32: hnswlib's recall@10 at ef 64 / 256 on the export
// 0.487 / 0.677, on its own index (M 16, efConstruction 200) 0.855 / 0.989 (2026-12-07). The
// native index has 1.45 links per row between clusters where the export had 0.065: a row
// inserted while its cluster held fewer rows than efConstruction found rows of neighbouring
// clusters among its candidates, and HNSW's heuristic keeps a far candidate that no nearer link
// lies closer to.
//
// Here every row is offered rows farther out than its list, in bulk: the nearest 200 members of
// level 1 (a 1-in-m sample of the rows; their kNN lists made as the build makes its own) to the
// level-1 member nearest the row, those that lie across a gap (over 4x the row's farthest link's
// distance; 2x the member's for the member to pass them on), which happens once a cluster holds
// fewer members than that. A row keeps an offer that none of its own links, and none of the
// offers it kept before, lies nearer to than the row itself does (HNSW's rule): rows on a
// cluster's edge get links across it. Where under 5% of a sample of members have any offer
// across a gap (1M SIFT 1.0%, MNIST 2.6%, 1M wordtext 0.4%: the data has no separated
// clusters), nothing more is done (0.05 s of 1M SIFT's export). Measured (2026-12-07, AMD EPYC
// Zen 4, 2 threads; hnswlib's recall@10 at ef 64 / 256; `build-cpu/bench/between_clusters`):
// 60,000 x 24 in 200 clusters, queries from other centres, 0.487 / 0.677 -> 0.851 / 0.984
// (hnswlib's own index 0.855 / 0.989), export 0.81 s; `annforge gen --n 200000 --dim 64
// --clusters 1000` with its own queries (`build-cpu/bench/hnswlib_distances`), at ef 64 / 96
// 0.9498 / 0.9755 -> 0.9758 / 0.9940 for 4% more distances per query, export 0.36 -> 1.41 s
// (the build: 2.1-2.5 s).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "annforge.hpp"

namespace annforge::cpu {

class Distance;

// The base lists links are chosen over: rows x width ids (ids >= rows are empty slots), and
// which rows are level 1's members (nonzero).
struct BaseLists {
  const uint32_t* graph = nullptr;
  int width = 0;
  int64_t rows = 0;
  const uint8_t* member = nullptr;
};

struct CrossLinkStats {
  int64_t members = 0;     // level-1 members whose nearest members were gathered
  int64_t sources = 0;     // rows offered them
  int64_t without = 0;     // rows with no level-1 member among their links (offered nothing)
  int64_t kept = 0;        // offers kept (each written both ways)
  int64_t rows_kept = 0;   // rows that kept any
  double share_across = 0;  // sampled members with offers across a gap (nothing more below 0.05)
  double share_kept = 0;    // sampled rows keeping one of them (nothing more below 0.004)
  int64_t linked = 0;      // links written (add_cross_links)
};

// The (row, long link) pairs, both ways, that the rows of `lists` keep from the offers above, at
// most `most_per_row` per row; `level`: level 1 over `index`'s rows. `distance` ranks and blocks
// (inner product: pass an angle's Distance, as the diverse links do). Deterministic for any
// `threads` (`seed`: the members' partition).
std::vector<std::pair<uint32_t, uint32_t>> cross_cluster_links(const BaseLists& lists, const UpperLevel& level,
                                                               const Index& index, const Distance& distance,
                                                               int most_per_row, int threads, uint64_t seed,
                                                               CrossLinkStats* stats);

// The build's turn (first in settle_upper_levels, either backend; ANNFORGE_CPU_CROSS=2 leaves
// it out): the index's own graph gets the links its rows keep, each row's nearest first by
// HNSW's rule among them, in up to a quarter of its slots just before the last quarter (the
// landing links' room); islands joined again after.
CrossLinkStats add_cross_links(Index& index, int threads, uint64_t seed);

}  // namespace annforge::cpu
