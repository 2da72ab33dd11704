// Long links between clusters: cross_links.hpp.
#include "host/cpu/graph/cross_links.hpp"

#include <algorithm>
#include <atomic>
#include <optional>

#include "host/cpu/distance/distance.hpp"
#include "host/cpu/graph/connectivity.hpp"
#include "host/cpu/graph/diverse_links.hpp"
#include "host/cpu/graph/link_offers.hpp"
#include "host/cpu/graph/link_sets.hpp"
#include "host/cpu/graph/upper_levels.hpp"
#include "host/cpu/knn_graph.hpp"
#include "host/cpu/parallel.hpp"
#include "host/cpu/partition/partition.hpp"
#include "host/cpu/partition/reorder.hpp"
#include "host/cpu/search/beam_search.hpp"
#include "host/cpu/trace.hpp"
#include "host/env_knob.hpp"

namespace annforge::cpu {

namespace {

// How many of its nearest level-1 members each member offers the rows near it. A cluster whose
// rows outnumber this many times m (the level's sampling rate) offers only its own members.
// 60,000 x 24 in 200 clusters (19 level-1 members each), exact offers per row, hnswlib's
// recall@10 at ef 64: 32 offers 0.736, 50 0.804, 64 0.830, 100 0.865 (2026-12-07). Shared by
// the rows near a member, as here (ef 64 / 256): 100 offers 0.781 / 0.958, 150 0.833 / 0.976,
// 200 0.851 / 0.984 (hnswlib's own index 0.855 / 0.989), for 0.41, 0.65 and 0.86 s of choice.
int offers_per_member() { return detail::env_knob("ANNFORGE_EXPORT_CROSS_OFFERS", 200); }

// Every member's nearest `offers` members of the level (rows, nearest first; kInvalidId where
// fewer), found as the build finds kNN lists: exactly below kExactMembers members, else all pairs
// inside an overlapping partition of the members (overlap 3). Over the level's own graph instead
// (the nearest of a member's three-hop neighbourhood) hnswlib found 0.658 / 0.851 at ef 64 / 256
// on the clusters above, where exact lists gave 0.768 / 0.955: a level whose clusters hold more
// members than its degree is an island per cluster, and its few long links do not reach far.
constexpr int64_t kExactMembers = 3000;

// An offer lies across a gap from a row when its distance is over kRowGap times the row's
// farthest link's (distances as the metric gives them: squared for L2, 1 - cos for cosine, so
// 4 is twice as far); members pass on offers over kMemberGap times theirs (half the rows' gap:
// a row near the member has about its scale). Inside a cluster, or on data without clusters,
// a row's list reaches most of the way to its member's offers, so few pass (see kLeastShare);
// between separated clusters they lie several times farther.
constexpr float kRowGap = 4.0f;
constexpr float kMemberGap = 2.0f;
// Offers a row keeps at most in the build (each written both ways).
constexpr int kMostPerRow = 4;

std::vector<uint32_t> nearest_members(const UpperLevel& level, const Index& index, int offers, int threads,
                                      uint64_t seed) {
  const int64_t members = static_cast<int64_t>(level.members.size());
  Dataset rows = gather_rows(index.vectors.view(), level.members.data(), members, threads);
  const Distance distance(index.metric, rows.view());
  KnnGraph knn;
  if (members <= kExactMembers) {
    knn = brute_force_knn_graph(distance, offers, threads, nullptr);
  } else {
    PartitionParams partitioning;
    partitioning.overlap = partitioning.max_overlap = 3;
    partitioning.cluster_size = cpu_cluster_size(rows.view().dim, rows.view().type);
    partitioning.threads = threads;
    partitioning.seed = seed;
    const Partition partition = partition_into_clusters(rows.view(), index.metric, partitioning);
    knn = cluster_knn_graph(distance, partition, offers, threads, seed, FirstPass{}, nullptr);
  }
  std::vector<uint32_t> out(static_cast<size_t>(members) * offers);
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = knn.ids[i] < static_cast<uint64_t>(members) ? level.members[knn.ids[i]] : kInvalidId;
  }
  return out;
}

// A row's valid links into `own`, their distances into `distances`; returns the farthest's.
float own_links(const BaseLists& lists, const Distance& distance, int64_t row, std::vector<uint32_t>& own,
                std::vector<const void*>& pointers, std::vector<float>& norms, std::vector<float>& distances) {
  const uint32_t* list = lists.graph + static_cast<size_t>(row) * lists.width;
  own.clear();
  for (int j = 0; j < lists.width; ++j) {
    if (list[j] < static_cast<uint64_t>(lists.rows)) own.push_back(list[j]);
  }
  pointers.resize(std::max(pointers.size(), own.size()));
  norms.resize(std::max(norms.size(), own.size()));
  distances.resize(std::max(distances.size(), own.size()));
  distance.row_to_rows(row, own.data(), static_cast<int>(own.size()), pointers.data(), norms.data(), distances.data());
  float far = 0.0f;
  for (size_t i = 0; i < own.size(); ++i) far = std::max(far, distances[i]);
  return far;
}

// A row's nearest level-1 member: itself, the first among its links (in order of rank), else the
// first among its links' links; kInvalidId where none is that near. (The first two members'
// offers measured +0.004-0.010 recall for 30% more time: 60,000 x 24 in 200 clusters, 20,000 x
// 24 in 100.)
uint32_t nearest_member_of(const BaseLists& lists, int64_t r) {
  if (lists.member[r] != 0) return static_cast<uint32_t>(r);
  const uint32_t* list = lists.graph + static_cast<size_t>(r) * lists.width;
  for (int j = 0; j < lists.width; ++j) {
    if (list[j] < static_cast<uint64_t>(lists.rows) && lists.member[list[j]] != 0) return list[j];
  }
  for (int j = 0; j < lists.width; ++j) {
    if (list[j] >= static_cast<uint64_t>(lists.rows)) continue;
    const uint32_t* next = lists.graph + static_cast<size_t>(list[j]) * lists.width;
    for (int i = 0; i < lists.width; ++i) {
      if (next[i] < static_cast<uint64_t>(lists.rows) && lists.member[next[i]] != 0) return next[i];
    }
  }
  return kInvalidId;
}

// Whether HNSW's rule leaves offer `c` (distance c.first from the row) out for the row's own links
// `own` (distances `own_distances`): one of those nearer to the row lies nearer to c. The link
// that blocked the last offer (`blocker`, updated) is tried first: offers come by cluster, and
// the one link on the row's side towards a cluster blocks most of its rows (the same result in
// fewer distances).
bool blocked_by_own(const Distance& distance, const std::vector<uint32_t>& own, const float* own_distances,
                    const LinkCandidate& c, size_t& blocker) {
  const auto blocks = [&](size_t o) {
    return own_distances[o] < c.first && distance.between(own[o], c.second) < c.first;
  };
  if (blocker < own.size() && blocks(blocker)) return true;
  for (size_t o = 0; o < own.size(); ++o) {
    if (o != blocker && blocks(o)) {
      blocker = o;
      return true;
    }
  }
  return false;
}

// One thread's buffers for a row's own links and the distances to its offers.
struct RowScratch {
  std::vector<uint32_t> own;
  std::vector<const void*> pointers;
  std::vector<float> norms, distances, own_distances;
};

// The offers (`count` ids from `offered`) that row `r` keeps against its own links, in their
// order with their distances, into `out`: those over kRowGap times its farthest link's distance
// that HNSW's rule lets pass. Its own links and the row itself lie within that distance, so no
// offer needs checking against them first.
void unblocked_offers(const BaseLists& lists, const Distance& distance, int64_t r, const uint32_t* offered, int count,
                      RowScratch& s, std::vector<LinkCandidate>& out) {
  out.clear();
  if (count == 0) return;
  const float far = own_links(lists, distance, r, s.own, s.pointers, s.norms, s.distances);
  s.own_distances.assign(s.distances.begin(), s.distances.begin() + s.own.size());
  s.pointers.resize(std::max<size_t>(s.pointers.size(), count));
  s.norms.resize(std::max<size_t>(s.norms.size(), count));
  s.distances.resize(std::max<size_t>(s.distances.size(), count));
  distance.row_to_rows(r, offered, count, s.pointers.data(), s.norms.data(), s.distances.data());
  size_t blocker = 0;
  for (int j = 0; j < count; ++j) {
    const LinkCandidate c{s.distances[j], offered[j]};
    if (c.first > kRowGap * far && !blocked_by_own(distance, s.own, s.own_distances.data(), c, blocker)) {
      out.push_back(c);
    }
  }
}

// Whether the data has separated clusters to link, estimated cheaply before the members' kNN
// lists are made (1.2-1.5 s of 1M x 64 in 5,000 clusters), in two steps. Every kSubsample-th
// member stands for all members in both: its nearest offers / kSubsample for the nearest
// `offers` of all.
constexpr int kSubsample = 8;

// First, which share of the members would pass on any offer: kSampledMembers members spread over
// the level. Below kLeastAcross the data has no separated clusters (sampled shares, 2026-12-07:
// 1M SIFT 0.021 (its few outliers), 1M wordtext 0.004, 1M x 64 in 50,000 clusters of 20 0,
// MNIST 0.091, 1M x 64 in 5,000 clusters 0.61, 60,000 x 24 in 200 clusters 1.0), and nothing
// more is done (0.05-0.15 s at 1M rows).
constexpr int kSampledMembers = 512;
constexpr double kLeastAcross = 0.05;

double members_across_gaps(const BaseLists& lists, const UpperLevel& level, const Distance& distance,
                           const std::vector<uint32_t>& subsample, int nearest, int threads) {
  const int64_t members = static_cast<int64_t>(level.members.size());
  const int64_t step = std::max<int64_t>(1, members / kSampledMembers);
  const int64_t sampled = (members - step / 2 + step - 1) / step;
  if (sampled <= 0) return 0.0;
  std::vector<uint8_t> across(sampled, 0);
  parallel_for(sampled, threads, 16, [&](int64_t begin, int64_t end, int) {
    std::vector<uint32_t> own;
    std::vector<const void*> pointers(subsample.size());
    std::vector<float> norms(subsample.size()), distances(subsample.size());
    for (int64_t i = begin; i < end; ++i) {
      const uint32_t y = level.members[step / 2 + i * step];
      const float far = own_links(lists, distance, y, own, pointers, norms, distances);
      distance.row_to_rows(y, subsample.data(), static_cast<int>(subsample.size()), pointers.data(), norms.data(),
                           distances.data());
      // The nearest `nearest` and one more (y itself may be among them, at 0).
      std::nth_element(distances.begin(), distances.begin() + nearest, distances.begin() + subsample.size());
      across[i] = std::any_of(distances.begin(), distances.begin() + nearest + 1,
                              [&](float d) { return d > kMemberGap * far; });
    }
  });
  return static_cast<double>(std::count(across.begin(), across.end(), uint8_t{1})) / static_cast<double>(sampled);
}

// Then, which share of the rows would keep a link: kSampledRows rows spread over the data go
// through the steps of cross_cluster_links (their nearest member's offers across its gap, the
// row's gap, HNSW's rule against the row's own links). Rows and the rule, not members and gaps
// alone: where the lists hold links across already (an index built with them, then exported),
// offers still lie across gaps from most members, but the links the rows have block them. 1M x
// 64 in 5,000 clusters (2026-12-07): 0.26 of sampled members had offers across a gap in the
// export of its index, and 2.8 s of the export kept one link. Below kLeastKept nothing is done.
// Sampled shares (2026-12-07; the full step's share of rows keeping a link in brackets: the
// sparser offers find about a quarter of them): 1M x 64 in 5,000 clusters 0.0088 (0.034), its
// index with the build's links exported 0 (0.000001), 200,000 x 64 in 1,000 clusters 0.024
// (0.067), 20,000 x 48 in 50 clusters 0.049 (0.148), MNIST 0 (one link).
constexpr int kSampledRows = 2048;
constexpr double kLeastKept = 0.004;

double rows_keeping_links(const BaseLists& lists, const Distance& distance, const std::vector<uint32_t>& subsample,
                          int nearest, int threads) {
  const int64_t step = std::max<int64_t>(1, lists.rows / kSampledRows);
  const int64_t sampled = (lists.rows - step / 2 + step - 1) / step;
  if (sampled <= 0) return 0.0;
  std::vector<uint8_t> kept(sampled, 0);
  parallel_for(sampled, threads, 16, [&](int64_t begin, int64_t end, int) {
    RowScratch scratch;
    std::vector<uint32_t> offered;
    std::vector<LinkCandidate> ranked, unblocked;
    for (int64_t i = begin; i < end; ++i) {
      const int64_t r = step / 2 + i * step;
      const uint32_t y = nearest_member_of(lists, r);
      if (y == kInvalidId) continue;
      const float member_far =
          own_links(lists, distance, y, scratch.own, scratch.pointers, scratch.norms, scratch.distances);
      scratch.pointers.resize(std::max(scratch.pointers.size(), subsample.size()));
      scratch.norms.resize(std::max(scratch.norms.size(), subsample.size()));
      scratch.distances.resize(std::max(scratch.distances.size(), subsample.size()));
      distance.row_to_rows(y, subsample.data(), static_cast<int>(subsample.size()), scratch.pointers.data(),
                           scratch.norms.data(), scratch.distances.data());
      ranked.clear();
      for (size_t j = 0; j < subsample.size(); ++j) ranked.push_back({scratch.distances[j], subsample[j]});
      std::nth_element(ranked.begin(), ranked.begin() + nearest, ranked.end());
      offered.clear();
      for (int j = 0; j <= nearest; ++j) {
        if (ranked[j].first > kMemberGap * member_far) offered.push_back(ranked[j].second);
      }
      unblocked_offers(lists, distance, r, offered.data(), static_cast<int>(offered.size()), scratch, unblocked);
      kept[i] = !unblocked.empty();
    }
  });
  return static_cast<double>(std::count(kept.begin(), kept.end(), uint8_t{1})) / static_cast<double>(sampled);
}

}  // namespace

std::vector<std::pair<uint32_t, uint32_t>> cross_cluster_links(const BaseLists& lists, const UpperLevel& level,
                                                               const Index& index,
                                                               const Distance& distance, int most_per_row, int threads,
                                                               uint64_t seed, CrossLinkStats* stats) {
  std::vector<std::pair<uint32_t, uint32_t>> pairs;
  if (level.degree <= 0 || level.members.size() < 2 || most_per_row <= 0) return pairs;
  const int64_t members = static_cast<int64_t>(level.members.size());
  const int64_t rows = lists.rows;
  int offers = std::max(1, std::min<int>(offers_per_member(), static_cast<int>(members) - 1));
  StageTimer timer;
  std::vector<uint32_t> subsample;
  for (int64_t p = 0; p < members; p += kSubsample) subsample.push_back(level.members[p]);
  if (subsample.size() < 2) return pairs;  // too few members to tell
  const int nearest = std::max(1, std::min<int>(offers / kSubsample, static_cast<int>(subsample.size()) - 1));
  const double across = members_across_gaps(lists, level, distance, subsample, nearest, threads);
  timer.lap("links across clusters: %.4f of sampled level-1 members have offers across a gap", across);
  if (stats != nullptr) stats->share_across = across;
  if (across < kLeastAcross) return pairs;
  const double keeping = rows_keeping_links(lists, distance, subsample, nearest, threads);
  timer.lap("links across clusters: %.4f of sampled rows keep one", keeping);
  if (stats != nullptr) stats->share_kept = keeping;
  if (keeping < kLeastKept) return pairs;
  std::vector<uint32_t> offered = nearest_members(level, index, offers, threads, seed);
  timer.lap("links across clusters: nearest members of %lld level-1 members", static_cast<long long>(members));
  // Each member keeps the offers that lie across a gap from it (kMemberGap times its farthest
  // link's distance); a member without any ends the work for the rows near it.
  std::vector<int> far_count(members, 0);
  parallel_for(members, threads, 256, [&](int64_t begin, int64_t end, int) {
    std::vector<uint32_t> own;
    std::vector<const void*> pointers(offers);
    std::vector<float> norms(offers), distances(offers);
    for (int64_t p = begin; p < end; ++p) {
      const uint32_t y = level.members[p];
      const float far = own_links(lists, distance, y, own, pointers, norms, distances);
      uint32_t* from = &offered[static_cast<size_t>(p) * offers];
      int count = 0;
      while (count < offers && from[count] != kInvalidId) ++count;
      distance.row_to_rows(y, from, count, pointers.data(), norms.data(), distances.data());
      int kept_here = 0;
      for (int i = 0; i < count; ++i) {
        if (distances[i] > kMemberGap * far) from[kept_here++] = from[i];
      }
      std::fill(from + kept_here, from + offers, kInvalidId);
      far_count[p] = kept_here;
    }
  });
  timer.lap("links across clusters: offers across a gap chosen (%lld members with any)",
            static_cast<long long>(std::count_if(far_count.begin(), far_count.end(), [](int c) { return c > 0; })));
  // Each row: the offers of its nearest level-1 member (itself, or the first member among its
  // links, which are in order of rank) that lie across a gap from the row too, kept by HNSW's
  // rule against its own links.
  std::vector<uint32_t> kept(static_cast<size_t>(rows) * most_per_row, kInvalidId);
  std::vector<uint32_t> member_of(rows, kInvalidId);
  std::atomic<int64_t> without{0}, kept_total{0}, sources{0}, rows_kept{0};
  parallel_for(rows, threads, 4096, [&](int64_t begin, int64_t end, int) {
    int64_t local_without = 0;
    for (int64_t r = begin; r < end; ++r) {
      const uint32_t y = nearest_member_of(lists, r);
      if (y == kInvalidId) {
        ++local_without;
        continue;
      }
      const uint32_t position = position_in(level, y);
      if (far_count[position] > 0) member_of[r] = position;
    }
    without += local_without;
  });
  // The rows in order of their member, so that the rows sharing a member's offers run one after
  // another with those offers' rows in cache (200,000 x 64 in 1,000 clusters: the choice
  // 1.20 -> 1.15 s).
  std::vector<int64_t> start(members + 1, 0);
  for (uint32_t p : member_of) {
    if (p != kInvalidId) ++start[p + 1];
  }
  for (int64_t p = 0; p < members; ++p) start[p + 1] += start[p];
  std::vector<uint32_t> order(start[members]);
  {
    std::vector<int64_t> cursor(start.begin(), start.end() - 1);
    for (int64_t r = 0; r < rows; ++r) {
      if (member_of[r] != kInvalidId) order[cursor[member_of[r]]++] = static_cast<uint32_t>(r);
    }
  }
  parallel_for(static_cast<int64_t>(order.size()), threads, 256, [&](int64_t begin, int64_t end, int) {
    RowScratch scratch;
    std::vector<LinkCandidate> unblocked, taken;
    int64_t local_kept = 0, local_sources = 0, local_rows_kept = 0;
    for (int64_t i = begin; i < end; ++i) {
      const int64_t r = order[i];
      const uint32_t position = member_of[r];
      ++local_sources;
      // HNSW's rule in two steps with the same result: the row's own links block an offer
      // whatever else is kept (so in any order, and most rows, inside a cluster, are done
      // there without ranking their offers); the survivors, nearest first, are then blocked by
      // those kept before them.
      unblocked_offers(lists, distance, r, &offered[static_cast<size_t>(position) * offers], far_count[position],
                       scratch, unblocked);
      std::sort(unblocked.begin(), unblocked.end());
      taken.clear();
      for (const LinkCandidate& c : unblocked) {
        const bool blocked = std::any_of(taken.begin(), taken.end(), [&](const LinkCandidate& t) {
          return distance.between(t.second, c.second) < c.first;
        });
        if (blocked) continue;
        kept[static_cast<size_t>(r) * most_per_row + taken.size()] = c.second;
        taken.push_back(c);
        if (static_cast<int>(taken.size()) == most_per_row) break;
      }
      local_kept += static_cast<int64_t>(taken.size());
      local_rows_kept += !taken.empty();
    }
    kept_total += local_kept;
    rows_kept += local_rows_kept;
    sources += local_sources;
  });
  pairs.reserve(static_cast<size_t>(kept_total.load()) * 2);
  for (int64_t r = 0; r < rows; ++r) {
    for (int j = 0; j < most_per_row; ++j) {
      const uint32_t c = kept[static_cast<size_t>(r) * most_per_row + j];
      if (c == kInvalidId) break;
      pairs.push_back({static_cast<uint32_t>(r), c});
      pairs.push_back({c, static_cast<uint32_t>(r)});
    }
  }
  if (stats != nullptr) {
    stats->members = members;
    stats->sources = sources.load();
    stats->without = without.load();
    stats->kept = kept_total.load();
    stats->rows_kept = rows_kept.load();
  }
  return pairs;
}

CrossLinkStats add_cross_links(Index& index, int threads, uint64_t seed) {
  CrossLinkStats stats;
  const int degree = index.graph_degree;
  const int slots = degree / 4;
  const int64_t rows = index.rows();
  if (index.levels.empty() || slots == 0 || rows < 2) return stats;
  std::vector<uint8_t> member(rows, 0);
  for (uint32_t r : index.levels[0].members) member[r] = 1;
  const Distance distance(index.metric, index.vectors.view());
  std::optional<Distance> angles;
  if (index.metric == Metric::InnerProduct) angles.emplace(Metric::Cosine, index.vectors.view());
  const Distance& by = angles ? *angles : distance;
  const BaseLists lists{index.graph.data(), degree, rows, member.data()};
  std::vector<std::pair<uint32_t, uint32_t>> pairs =
      cross_cluster_links(lists, index.levels[0], index, by, kMostPerRow, threads, seed, &stats);
  if (pairs.empty()) return stats;
  // Each row's offers ranked by (distance, id) and kept by HNSW's rule among themselves (the
  // same result for any order and `threads`), just before the last quarter, which the landing
  // links take where the build adds them.
  std::vector<LinkOffer> offers(pairs.size());
  parallel_for(static_cast<int64_t>(pairs.size()), threads, 4096, [&](int64_t begin, int64_t end, int) {
    for (int64_t i = begin; i < end; ++i) {
      offers[i] = {pairs[i].first, by.between(pairs[i].first, pairs[i].second), pairs[i].second};
    }
  });
  stats.linked = link_offers(std::move(offers), index.graph.data(), degree, slots, slots, true, threads,
                             [&](uint32_t a, uint32_t b) { return by.between(a, b); });
  // A replaced link was, rarely, some row's only way in.
  if (stats.linked > 0) connect_islands(index.graph, graph_of(index), distance, threads);
  return stats;
}

}  // namespace annforge::cpu
