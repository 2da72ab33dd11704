// Links that send a narrow upper-level walk to where it should have landed.
//
// Why: each upper level's graph is built from kNN lists, so on data of many separate clusters
// its links stay inside clusters, and a narrow beam that enters a level in the wrong cluster
// stays there (1M x 64 in 5,000 clusters: a level-1 beam of 4 ended in the wrong cluster for
// 17.7% of rows searched as queries, against 2.0% with 16, so the build chose the full base
// beam for the upper levels and they cost as much as the base search). HNSW's levels do not
// have this problem because each row was inserted by a search from the top: the place where a
// search for the row lands got a link to it. Here the same is done after the levels are built,
// in bulk: every member of a level is searched for as a query with a narrow upper beam, and
// where the walk on its own level does not find it, the member the walk landed on gets a link
// to it. A query near that member lands where the member's search did and follows the link.
// The base graph gets the same from a sample of its rows (add_base_landing_links): a walk that
// leaves the levels in a neighbouring cluster then finds the way across in the base graph, so
// the upper levels need not be searched as widely.
#pragma once

#include <vector>

#include "annforge.hpp"
#include "host/cpu/search/upper_width.hpp"

namespace annforge::cpu {

class Distance;

struct LandingLinkStats {
  int64_t searched = 0;  // members searched for, over all levels
  int64_t missed = 0;    // of them, not found on their own level
  int64_t linked = 0;    // links written
};

// For each upper level of `index`, from the top down, every member searched for with the
// upper levels' beam at `upper_beam` (entry points, the levels above, then this level); each
// member the walk on its level misses is offered to the member the walk landed on (nearest
// found), and each landing member takes up to a quarter of its list's slots (the last ones) from
// the offers, nearest first, by HNSW's diversity rule (an offer is left out when one taken
// before it is nearer to it than the landing member is). Lists keep their degree and hold no
// duplicates. Deterministic for any `threads`.
LandingLinkStats add_landing_links(Index& index, int upper_beam, int threads);

// The same for the base graph, where a narrow walk leaves the levels in the wrong cluster and
// the base graph (kNN lists, no links between clusters) cannot bring it back: `rows` searched
// for with an upper beam of `upper_beam` and a base beam of `base_beam`; each row the search
// misses is offered to the base row the walk came nearest to it on, which takes up to a quarter
// of its slots (the last ones) from its offers by the same rule. HNSW's insertion gives every
// row such a link; here a sample of the rows gets them in bulk. `distance`: over the index's
// vectors, in its metric.
LandingLinkStats add_base_landing_links(Index& index, const Distance& distance, const std::vector<uint32_t>& rows,
                                        int upper_beam, int base_beam, int threads);

// Every how many rows the build searches for base landing links. Measured on 1M x 64 in 5,000
// clusters (2 threads, 2026-12-05), recall@10 at beam 16 (upper beam 16) and the build time
// the searches add: none 0.9796; every 16th row (level 1's members) 0.9821; every 4th 0.9888,
// +0.8-2.0 s; every 2nd 0.9907, +4.5 s. Base beams of 4, 8 and 16 in those searches: the same.
constexpr int kBaseLandingStride = 4;

// The last step of building upper levels, for either backend: first the base graph's links
// across separated clusters (cross_links.hpp: add_cross_links; ANNFORGE_CPU_CROSS=2 leaves them
// out), then the upper beam's divisor measured
// (search/upper_width.hpp) and stored in the index; where it comes out below 4 (a narrow upper
// beam misses), landing links first (upper beam 4), on the levels and then for every
// kBaseLandingStride-th row on the base graph (islands joined again after), and the
// measurement again. ANNFORGE_CPU_LANDING=2 leaves all of them out, ANNFORGE_CPU_BASE_LANDING=2
// the base graph's, for measurement. Traced with ANNFORGE_TRACE. Returns the last measurement
// (none, samples 0, without levels).
UpperWidthMeasurement settle_upper_levels(Index& index, int threads, uint64_t seed);

}  // namespace annforge::cpu
