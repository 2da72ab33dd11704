// The landing links of landing_links.hpp.
#include "host/cpu/graph/landing_links.hpp"

#include <algorithm>
#include <cmath>
#include <tuple>
#include <vector>

#include "host/cpu/distance/distance.hpp"
#include "host/cpu/graph/connectivity.hpp"
#include "host/cpu/graph/cross_links.hpp"
#include "host/cpu/graph/diverse_links.hpp"
#include "host/cpu/graph/link_offers.hpp"
#include "host/cpu/parallel.hpp"
#include "host/cpu/partition/reorder.hpp"
#include "host/cpu/search/beam_search.hpp"
#include "host/cpu/search/upper_width.hpp"
#include "host/cpu/trace.hpp"
#include "host/env_knob.hpp"

namespace annforge::cpu {

namespace {

// Every member of `level` (index.levels[level]) searched for with an upper beam of `upper_beam`;
// the offers of those the walk on their own level did not find.
std::vector<LinkOffer> offers_on_level(const Index& index, const Distance& distance, int level, int upper_beam,
                                   int threads, LandingLinkStats& stats) {
  const UpperLevel& on = index.levels[level];
  const int64_t count = static_cast<int64_t>(on.members.size());
  const Dataset queries = gather_rows(index.vectors.view(), on.members.data(), count, threads);
  BeamSearchParams params;
  params.k = 1;
  params.beam_width = upper_beam;
  params.upper_width_divisor = 1;
  params.threads = threads;
  params.landing_level = level;
  params.landing_width = upper_beam;
  std::vector<uint32_t> landed(static_cast<size_t>(count) * upper_beam);
  params.landings = landed.data();
  beam_search(graph_of(index), distance, queries.view(), params, {}, nullptr, nullptr, &index.levels);
  std::vector<LinkOffer> offers;
  for (int64_t i = 0; i < count; ++i) {
    const uint32_t* beam = landed.data() + i * upper_beam;
    if (beam[0] == kInvalidId || std::find(beam, beam + upper_beam, static_cast<uint32_t>(i)) != beam + upper_beam) {
      continue;
    }
    offers.push_back({beam[0], distance.between(on.members[beam[0]], on.members[i]), static_cast<uint32_t>(i)});
  }
  stats.searched += count;
  stats.missed += static_cast<int64_t>(offers.size());
  return offers;
}

}  // namespace

LandingLinkStats add_base_landing_links(Index& index, const Distance& distance, const std::vector<uint32_t>& rows,
                                        int upper_beam, int base_beam, int threads) {
  LandingLinkStats stats;
  const int degree = index.graph_degree;
  const int slots = degree / 4;
  if (index.levels.empty() || rows.empty() || slots == 0) return stats;
  const int64_t count = static_cast<int64_t>(rows.size());
  const Dataset queries = gather_rows(index.vectors.view(), rows.data(), count, threads);
  BeamSearchParams params;
  params.k = base_beam;
  params.beam_width = base_beam;
  params.upper_width_divisor = std::max(1, base_beam / upper_beam);  // the upper beam is 4 at least
  params.threads = threads;
  std::vector<uint32_t> ids(static_cast<size_t>(count) * base_beam);
  std::vector<float> distances(ids.size());
  beam_search(graph_of(index), distance, queries.view(), params, {}, ids.data(), distances.data(), &index.levels);
  // A row is found when it comes back, or something as near to it as it is to itself (a copy;
  // for inner product, a row of larger norm in its direction).
  std::vector<LinkOffer> offers;
  for (int64_t i = 0; i < count; ++i) {
    const uint32_t* found = ids.data() + i * base_beam;
    const float* near = distances.data() + i * base_beam;
    if (found[0] == kInvalidId) continue;
    const float self = distance.between(rows[i], rows[i]);
    const float bound = self + 1e-5f * std::abs(self);
    bool hit = false;
    for (int e = 0; e < base_beam && !hit; ++e) hit = found[e] == rows[i] || (found[e] != kInvalidId && near[e] <= bound);
    if (!hit) offers.push_back({found[0], distance.between(found[0], rows[i]), rows[i]});
  }
  stats.searched = count;
  stats.missed = static_cast<int64_t>(offers.size());
  stats.linked = link_offers(std::move(offers), index.graph.data(), degree, slots, 0,
                             index.metric != Metric::InnerProduct, threads,
                             [&](uint32_t a, uint32_t b) { return distance.between(a, b); });
  return stats;
}

LandingLinkStats add_landing_links(Index& index, int upper_beam, int threads) {
  LandingLinkStats stats;
  if (index.levels.empty() || index.entry_points.empty()) return stats;
  const Distance distance(index.metric, index.vectors.view());
  // Inner product's diversity rule compares -<x, y>: a long row blocks everything (see the
  // export's level-0 links); there the nearest offers are taken as they come.
  const bool diverse = index.metric != Metric::InnerProduct;
  for (int level = static_cast<int>(index.levels.size()) - 1; level >= 0; --level) {
    UpperLevel& on = index.levels[level];
    const int degree = on.degree;
    // A quarter of the slots: half measured no better (1M x 64 in 5,000 clusters, rows missed
    // at an upper beam of 4: 0.177 -> 0.132 with a quarter, 0.121 with half), and three rounds
    // of search and linking no better than one (0.130).
    const int slots = degree / 4;
    if (slots == 0 || on.members.size() < 3) continue;
    std::vector<LinkOffer> offers = offers_on_level(index, distance, level, upper_beam, threads, stats);
    stats.linked += link_offers(std::move(offers), on.graph.data(), degree, slots, 0, diverse, threads,
                                [&](uint32_t a, uint32_t b) { return distance.between(on.members[a], on.members[b]); });
  }
  return stats;
}

UpperWidthMeasurement settle_upper_levels(Index& index, int threads, uint64_t seed) {
  if (index.levels.empty()) return {};
  StageTimer timer;
  // Links across clusters in the index's own graph (cross_links.hpp; ANNFORGE_CPU_CROSS=2 leaves
  // them out): a query from elsewhere than the data, between well separated clusters, needs
  // them as hnswlib's export does. Measured (2026-12-07, Zen 4, 2 threads; `build-cpu/bench/
  // between_clusters ROWS 24 CLUSTERS`), annforge's own recall@10 at beam 16 / 64 / 256 for
  // queries from other centres than the data's: 20,000 x 24 in 100 clusters 0.694 / 0.839 /
  // 0.981 -> 0.791 / 0.927 / 0.992 (hnswlib's own index 0.714 / 0.922 / 0.992); 60,000 x 24 in
  // 200 clusters 0.622 / 0.867 / 0.987 -> 0.720 / 0.886 / 0.993 (0.622 / 0.855 / 0.989); the
  // same under cosine 0.540 / 0.687 / 0.945 -> 0.630 / 0.828 / 0.983 (0.547 / 0.772 / 0.955).
  // Where a sample finds no gaps (1M SIFT, 1M wordtext) it costs the sample (0.05-0.15 s at
  // 1M; MNIST passes it and keeps one link in 0.19 s); on many-cluster data the build time: 1M x
  // 64 in 5,000 clusters 10.95 -> 14.19 s for the same recall with the data's own queries
  // (0.9530 -> 0.9535 at beam 10), 60,000 x 24 in 200 clusters 0.73 -> 1.50 s.
  if (detail::env_knob("ANNFORGE_CPU_CROSS", 1) == 1) {
    const CrossLinkStats cross = add_cross_links(index, threads, seed);
    timer.lap("links across clusters: sampled shares %.3f (members with offers across a gap), %.4f (rows keeping "
              "one); %lld rows offered, %lld kept %lld, %lld links",
              cross.share_across, cross.share_kept, static_cast<long long>(cross.sources),
              static_cast<long long>(cross.rows_kept), static_cast<long long>(cross.kept),
              static_cast<long long>(cross.linked));
  }
  UpperWidthMeasurement width = measure_upper_width(index, threads, seed);
  if (width.divisor < 4 && detail::env_knob("ANNFORGE_CPU_LANDING", 1) == 1) {
    timer.lap("upper levels' beam before landing links: base beam / %d (missed with upper beams 4, 8, 16: %.3f, "
              "%.3f, %.3f; at base beam 32, upper 8: %.3f)",
              width.divisor, width.missed[0], width.missed[1], width.missed[2], width.missed_wider_base);
    const LandingLinkStats links = add_landing_links(index, 4, threads);
    timer.lap("landing links: %lld of %lld members missed by an upper beam of 4, %lld links",
              static_cast<long long>(links.missed), static_cast<long long>(links.searched),
              static_cast<long long>(links.linked));
    if (detail::env_knob("ANNFORGE_CPU_BASE_LANDING", 1) == 1) {
      std::vector<uint32_t> rows;
      for (int64_t r = 0; r < index.rows(); r += kBaseLandingStride) rows.push_back(static_cast<uint32_t>(r));
      // One Distance for both (for cosine it computes every row's norm).
      const Distance distance(index.metric, index.vectors.view());
      const LandingLinkStats base_links = add_base_landing_links(index, distance, rows, 4, 4, threads);
      // A list's last slots were some row's only way in, rarely: every row reachable again.
      const int64_t rewired = base_links.linked > 0 ? connect_islands(index.graph, graph_of(index), distance, threads) : 0;
      timer.lap("base landing links: %lld of %lld rows missed by beams of 4, %lld links (%lld islands joined again)",
                static_cast<long long>(base_links.missed), static_cast<long long>(base_links.searched),
                static_cast<long long>(base_links.linked), static_cast<long long>(rewired));
    }
    width = measure_upper_width(index, threads, seed);
  }
  index.upper_width_divisor = width.divisor;
  timer.lap("upper levels' beam: base beam / %d (of %d rows searched at base beam 16, missed with upper beams 4, "
            "8, 16: %.3f, %.3f, %.3f; at base beam 32, upper 8: %.3f, upper 4: %.3f)",
            width.divisor, width.samples, width.missed[0], width.missed[1], width.missed[2], width.missed_wider_base,
            width.missed_narrower);
  return width;
}

}  // namespace annforge::cpu
