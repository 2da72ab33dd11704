// The hierarchy of hnsw_hierarchy.hpp.
#include "host/cpu/graph/hnsw_hierarchy.hpp"

#include <algorithm>
#include <optional>
#include <cstring>
#include <utility>

#include "host/cpu/distance/distance.hpp"
#include "host/cpu/graph/cross_links.hpp"
#include "host/cpu/graph/diverse_links.hpp"
#include "host/env_knob.hpp"
#include "host/cpu/parallel.hpp"
#include "host/cpu/trace.hpp"
#include "host/huge_pages.hpp"

namespace annforge::cpu {

namespace {

// Links across clusters a row keeps at most (cross_links.hpp), each written both ways.
constexpr int kCrossLinksPerRow = 4;

// The diverse links' pool: a row's nearest 5 x degree (160 at degree 32) of its two-hop
// neighbourhood (HNSW's construction searches with efConstruction 100-200). hnswlib's recall@10
// at ef 64 on the exports (hnswlib's own index: 1M SIFT 0.949, 1M wordtext 0.930): pool of the
// whole two-hop neighbourhood's nearest 100: SIFT 0.953, wordtext 0.919 (17.6 links per row,
// q/s at recall 0.95 0.86x hnswlib's own); nearest 160: 0.956, 0.925 (20.6 links, 0.91x), for
// 10% more time; only the nearest 12 links' neighbours (pool 100): SIFT 0.945; no pool (the
// row's own list): 0.933 (2026-12-05).
int diverse_pool(int degree) { return detail::env_knob("ANNFORGE_EXPORT_POOL", 5 * degree); }

// Where HNSW's greedy descent (one step at a time to a nearer neighbour, level by level, as
// hnswlib and FAISS search) ends on level `stop` for a query at row `row`.
// A step's list is measured in one call of the distance kernel (the export's descents took most
// of its own time one distance call at a time); `scratch` holds its rows and distances.
struct DescentScratch {
  std::vector<uint32_t> next;
  std::vector<const void*> rows;
  std::vector<float> norms, distances;
};

uint32_t descend(const HnswHierarchy& h, const Distance& distance, int64_t row, int stop, DescentScratch& scratch) {
  const void* query = distance.base().row(row);
  const float norm = distance.inverse_norm_of(row);
  uint32_t at = h.entry;
  float best = distance.to_query(query, norm, at);
  for (int level = h.max_level(); level >= stop; --level) {
    const UpperLevel& upper = h.levels[level - 1];
    if (upper.degree <= 0) continue;
    scratch.next.resize(upper.degree);
    scratch.rows.resize(upper.degree);
    scratch.norms.resize(upper.degree);
    scratch.distances.resize(upper.degree);
    // Positions within the level from here on: its lists hold positions, and looking a row up
    // (a binary search over the members) once per step cost as much as the step's distances.
    uint32_t position = position_in(upper, at);
    for (bool moved = true; moved;) {
      moved = false;
      const uint32_t* list = upper.graph.data() + static_cast<size_t>(position) * upper.degree;
      int count = 0;
      for (int j = 0; j < upper.degree; ++j) {
        if (list[j] >= upper.members.size()) continue;
        const uint32_t next = upper.members[list[j]];
        scratch.next[count] = list[j];
        scratch.rows[count] = distance.base().row(next);
        scratch.norms[count++] = distance.inverse_norm_of(next);
      }
      distance.raw_many(query, norm, scratch.rows.data(), scratch.norms.data(), count, scratch.distances.data());
      for (int j = 0; j < count; ++j) {
        if (scratch.distances[j] < best) best = scratch.distances[j], position = scratch.next[j], moved = true;
      }
    }
    at = upper.members[position];
  }
  return at;
}

// Long links for the descent. A level's graph, built from kNN lists over its members, falls
// apart into one island per tight cluster once a cluster holds more members than the degree,
// and so does the base graph; a greedy step cannot leave an island, and hnswlib's and FAISS's
// searches start from the one point their descent lands on (annforge's own search starts from
// every entry point instead). On data of 50 separated clusters, hnswlib found recall@10 0.85 at
// ef 64 in the export where annforge's own search found 0.997 (0.984 with these links: 20,000 x
// 48, `annforge gen --clusters 50`, 2026-12-03). So each member y that descents end on takes,
// from the rows that landed on it, a diverse few (HNSW's neighbour heuristic: x is kept unless
// it is nearer to an x already kept than to y) into its list's free slots (on the upper levels
// every built link stays; on level 0, see `built` below), so that the search steps from y
// towards every cluster whose queries arrive there.
//
// `landed` holds (landing member y, row x) pairs; `list_of(y)` is y's list of `width` ids, of
// which up to `extra` are free for long links, `id_of(x)` x's id in such lists (ids >=
// `id_limit` mark free slots).
// With `built` (per y: how many of its list's first slots hold built links; the long links
// follow them), a long link that finds the list full takes the place of its last built link
// while more than `keep_built` remain: the base lists are written with as few slots as the
// graph's degree (see build_hnsw_hierarchy), so a full list has no free slot.
// Each y's list is written by y's own group of pairs only, so the groups run on `threads`
// threads with the same result as one (1M SIFT: the base graph's landings and upper edges took
// 0.42-0.61 s on one thread, most of an export's own work).
template <typename ListOf, typename IdOf>
void link_landings(std::vector<std::pair<uint32_t, uint32_t>>& landed, const Distance& distance, int width,
                   int extra, uint32_t id_limit, int threads, ListOf list_of, IdOf id_of,
                   uint16_t* built = nullptr, int keep_built = 0) {
  // Grouped by y with a counting sort (std::sort of the 2M upper-level edges of 1M rows took a
  // tenth of a second on one thread). Within a group the order does not matter: the group's rows
  // are ranked by (distance, id) below.
  uint32_t largest = 0;
  for (const auto& pair : landed) largest = std::max(largest, pair.first);
  std::vector<size_t> start(landed.empty() ? 1 : size_t{largest} + 2, 0);
  for (const auto& pair : landed) ++start[pair.first + 1];
  std::vector<size_t> group_begin;
  for (size_t y = 0; y + 1 < start.size(); ++y) {
    if (start[y + 1] > 0) group_begin.push_back(start[y]);
    start[y + 1] += start[y];
  }
  group_begin.push_back(landed.size());
  {
    std::vector<std::pair<uint32_t, uint32_t>> grouped(landed.size());
    for (const auto& pair : landed) grouped[start[pair.first]++] = pair;
    landed.swap(grouped);
  }
  const int most = std::max(1, extra);
  const int64_t groups = static_cast<int64_t>(group_begin.size()) - 1;
  parallel_for(groups, threads, 256, [&](int64_t first_group, int64_t end_group, int) {
    std::vector<std::pair<float, uint32_t>> cell, kept(most);
    for (int64_t group = first_group; group < end_group; ++group) {
      const size_t begin = group_begin[group], end = group_begin[group + 1];
      const uint32_t y = landed[begin].first;
      cell.clear();
      for (size_t i = begin; i < end; ++i) {
        if (landed[i].second != y) cell.emplace_back(distance.between(y, landed[i].second), landed[i].second);
      }
      std::sort(cell.begin(), cell.end());
      const int found = keep_diverse(
          cell.data(), static_cast<int>(cell.size()), most,
          [&](int i, const std::pair<float, uint32_t>& c) {
            return !(distance.between(c.second, kept[i].second) >= c.first);
          },
          [](int, uint32_t) {}, kept.data());
      uint32_t* list = list_of(y);
      for (int k = 0; k < found; ++k) {
        const uint32_t x = kept[k].second;
        const uint32_t id = id_of(x);
        uint32_t* slot = std::find(list, list + width, id);
        if (slot != list + width) continue;  // already linked
        // The last slot stays free: hnswlib's search prefetches the row of the link after the
        // last one it reads, and a full list would have it read past the list (UBSan reports
        // the pointer overflow in hnswalg.h).
        slot = std::find_if(list, list + width - 1, [&](uint32_t v) { return v >= id_limit; });
        if (slot == list + width - 1) {
          if (built == nullptr || built[y] <= keep_built) break;  // the long links' room is full
          slot = list + --built[y];  // the weakest built link (the lists are in order of rank) gives way
        }
        *slot = id;
      }
    }
  });
}

// Level `level`'s members descend to the level above; where they land gets links back.
void add_level_links(HnswHierarchy& h, const Distance& distance, int level, int threads) {
  UpperLevel& current = h.levels[level - 1];
  if (current.degree <= 0) return;
  const int64_t count = static_cast<int64_t>(current.members.size());
  std::vector<std::pair<uint32_t, uint32_t>> landed(count);
  parallel_for(count, threads, 256, [&](int64_t begin, int64_t end, int) {
    DescentScratch scratch;
    for (int64_t i = begin; i < end; ++i) {
      const uint32_t row = current.members[i];
      landed[i] = {h.top_level[row] > level ? row : descend(h, distance, row, level + 1, scratch), row};
    }
  });
  link_landings(
      landed, distance, current.degree, h.level_extra, static_cast<uint32_t>(current.members.size()), threads,
      [&](uint32_t y) { return current.graph.data() + static_cast<size_t>(position_in(current, y)) * current.degree; },
      [&](uint32_t x) { return position_in(current, x); });
}

// Long links into the base lists: up to half the degree per row, over free slots first and then
// over the tail of a full list (at least the other half of its built links stays).
void link_base_landings(HnswHierarchy& h, std::vector<std::pair<uint32_t, uint32_t>>& landed, const Distance& distance,
                        int degree, uint16_t* built, int threads) {
  const int long_links = std::max(1, degree / 2);
  link_landings(
      landed, distance, h.base_degree, long_links, static_cast<uint32_t>(h.top_level.size()), threads,
      [&](uint32_t y) { return h.base_graph.data() + static_cast<size_t>(y) * h.base_degree; },
      [](uint32_t x) { return x; }, built, std::max(1, h.base_degree - 1 - long_links));
}

// The base graph's turn: level 1's members (a 1-in-m sample of the rows) descend through level
// 1 as a query at them would; where one lands elsewhere than on itself gets a link to it. (Every
// row descending instead measured no better on 50 separated clusters, at 2.1 s instead of 0.13 s
// for 1M SIFT rows.)
void add_base_links(HnswHierarchy& h, const Distance& distance, int degree, uint16_t* built, int threads) {
  if (h.levels.empty() || degree <= 0) return;
  const UpperLevel& first = h.levels[0];
  const int64_t count = static_cast<int64_t>(first.members.size());
  std::vector<std::pair<uint32_t, uint32_t>> landed(count);
  parallel_for(count, threads, 256, [&](int64_t begin, int64_t end, int) {
    DescentScratch scratch;
    for (int64_t i = begin; i < end; ++i) {
      landed[i] = {descend(h, distance, first.members[i], 1, scratch), first.members[i]};
    }
  });
  link_base_landings(h, landed, distance, degree, built, threads);
}

// Every upper level's edges offered to the base lists of their ends (as the landings' long
// links are, HNSW's diversity rule picking): on data of well separated clusters the base
// graph holds no edge between clusters, and a descent that ends in the wrong cluster searches
// it to the end; the upper levels' graphs, sparser than a cluster, link neighbouring clusters.
// 20,000 x 48 in 50 clusters: hnswlib's recall@10 at ef 64 / 256 on the export 0.963 / 0.967 ->
// 0.977 / 0.990, a row searched for itself found 0.970 -> 0.984 (2026-12-04).
void add_upper_edges_to_base(HnswHierarchy& h, const Distance& distance, int degree, uint16_t* built, int threads) {
  if (h.levels.empty() || degree <= 0) return;
  std::vector<std::pair<uint32_t, uint32_t>> edges;  // (member, its upper neighbour) as rows
  for (const UpperLevel& level : h.levels) {
    for (size_t i = 0; i < level.members.size(); ++i) {
      for (int j = 0; j < level.degree; ++j) {
        const uint32_t p = level.graph[i * level.degree + j];
        if (p < level.members.size()) edges.push_back({level.members[i], level.members[p]});
      }
    }
  }
  link_base_landings(h, edges, distance, degree, built, threads);
}

}  // namespace

int HnswHierarchy::links(uint32_t row, int level, int most, uint32_t* out) const {
  int count = 0;
  if (level == 0) {
    const uint32_t* list = base_graph.data() + static_cast<size_t>(row) * base_degree;
    for (int j = 0; j < base_degree && count < most; ++j) {
      if (list[j] < top_level.size()) out[count++] = list[j];
    }
    return count;
  }
  const UpperLevel& upper = levels[level - 1];
  if (upper.degree <= 0) return 0;
  const uint32_t* list = upper.graph.data() + static_cast<size_t>(position_in(upper, row)) * upper.degree;
  for (int j = 0; j < upper.degree && count < most; ++j) {
    if (list[j] < upper.members.size()) out[count++] = upper.members[list[j]];
  }
  return count;
}

HnswHierarchy build_hnsw_hierarchy(const Index& index, uint64_t seed, int threads, const FlatBuild& build_flat,
                                   bool diverse_links) {
  HnswHierarchy out;
  StageTimer timer;
  const int64_t rows = index.rows();
  out.m = std::max(1, index.graph_degree / 2);
  const int rule_m = std::max(2, out.m);  // HNSW's level rule needs m >= 2
  out.top_level.assign(rows, 0);
  const bool own_level_one = !index.levels.empty() && index.levels[0].degree <= out.m;
  if (own_level_one) {
    // Level 1 as the index has it; above it, each member climbs on with probability 1/m per level.
    for (uint32_t r : index.levels[0].members) {
      out.top_level[r] = static_cast<uint8_t>(std::min(1 + level_of_row(r, seed ^ 0xA11u, rule_m), 32));
    }
  } else {
    for (int64_t r = 0; r < rows; ++r) {
      out.top_level[r] = static_cast<uint8_t>(std::min(level_of_row(static_cast<uint32_t>(r), seed, rule_m), 32));
    }
  }
  // The descent starts at the vector nearest the centroid, lifted to the top.
  out.entry = index.entry_points.empty() ? 0 : index.entry_points[0];
  const int top = *std::max_element(out.top_level.begin(), out.top_level.end());
  out.top_level[out.entry] = static_cast<uint8_t>(top);
  for (int level = 1; level <= top; ++level) {
    if (level == 1 && own_level_one && out.top_level[out.entry] >= 1 &&
        std::binary_search(index.levels[0].members.begin(), index.levels[0].members.end(), out.entry)) {
      out.levels.push_back(index.levels[0]);
      continue;
    }
    std::vector<uint32_t> members;
    for (int64_t r = 0; r < rows; ++r) {
      if (out.top_level[r] >= level) members.push_back(static_cast<uint32_t>(r));
    }
    BuildParams params;
    params.graph_degree = out.m;
    params.threads = threads;
    params.seed = seed + static_cast<uint64_t>(level);
    out.levels.push_back(build_level(index, std::move(members), params, build_flat));
  }
  timer.lap("export: %d upper levels", top);
  // Room for the long links on the upper levels: every list gets extra slots, so that no link
  // annforge built is displaced (level 0 has none: see base_degree below).
  out.level_extra = out.m;
  for (UpperLevel& level : out.levels) {
    const int built = level.degree;
    const size_t count = level.members.size();
    std::vector<uint32_t> wide(count * (built + out.level_extra), kInvalidId);
    for (size_t i = 0; i < count; ++i) {
      std::copy_n(level.graph.data() + i * built, built, wide.data() + i * (built + out.level_extra));
    }
    level.graph = std::move(wide);
    level.degree = built + out.level_extra;
  }
  // Level 0 in as many slots as the graph's degree, and one more that stays free (hnswlib reads
  // the slot after a list's last link). Extra slots for the long links, as the upper levels
  // have, made level 0 half as large again (48 slots at degree 32: 716-byte elements at 128-d
  // against native hnswlib's 652), and hnswlib's queries/s followed the bytes: written with 33
  // slots, 1M SIFT's default export searched 5-19% faster per ef and the diverse one went from
  // 0.94x to 1.02x native hnswlib's queries/s at recall 0.95 (2026-12-07, Zen 4). So the long
  // links take the place of a full list's last links (see link_base_landings).
  out.base_degree = index.graph_degree + 1;
  assign_huge(out.base_graph, static_cast<size_t>(rows) * out.base_degree, kInvalidId, resolve_threads(threads));
  const Distance distance(index.metric, index.vectors.view());
  // Inner product: the pool ranked by -<x, y>, the heuristic comparing by angle. By -<x, y>
  // itself a few long rows beat the row in every comparison, and lists fell to 1.6 links per
  // row (recall@10 at ef 64 0.95 where annforge's search found 0.997; 20,000 x 48 generated);
  // by angle for both, 12.1 links and 0.856 (the long rows the walk needs ranked out).
  if (diverse_links && index.graph_degree > 0) {
    std::optional<Distance> angles;
    if (index.metric == Metric::InnerProduct) angles.emplace(Metric::Cosine, index.vectors.view());
    select_diverse_links(distance, index.graph.data(), rows, index.graph_degree, diverse_pool(index.graph_degree),
                         threads, out.base_graph.data(), out.base_degree, angles ? &*angles : nullptr);
    timer.lap("export: diverse links on the base graph");
  } else {
    parallel_for(rows, threads, 16384, [&](int64_t begin, int64_t end, int) {
      for (int64_t r = begin; r < end; ++r) {
        std::copy_n(index.neighbors(r), index.graph_degree, out.base_graph.data() + r * out.base_degree);
      }
    });
  }
  timer.lap("export: level 0's lists");
  std::vector<uint16_t> built(rows);  // per row: its built links, at the front of its list
  parallel_for(rows, threads, 16384, [&](int64_t begin, int64_t end, int) {
    for (int64_t r = begin; r < end; ++r) {
      const uint32_t* list = out.base_graph.data() + r * out.base_degree;
      int count = 0;
      while (count < out.base_degree - 1 && list[count] < static_cast<uint64_t>(rows)) ++count;
      built[r] = static_cast<uint16_t>(count);
    }
  });
  // Top down, so that each level's descent already runs over the long links of those above.
  for (int level = top - 1; level >= 1; --level) add_level_links(out, distance, level, threads);
  timer.lap("export: descent links on levels 1..%d", top - 1);
  // Links between clusters, chosen over the lists as built (cross_links.hpp) and written after
  // the descent's own long links.
  std::vector<std::pair<uint32_t, uint32_t>> across;
  if (detail::env_knob("ANNFORGE_EXPORT_CROSS", 1) == 1) {
    std::optional<Distance> angles;
    if (index.metric == Metric::InnerProduct) angles.emplace(Metric::Cosine, index.vectors.view());
    CrossLinkStats stats;
    if (!out.levels.empty()) {
      std::vector<uint8_t> member(rows);
      for (int64_t r = 0; r < rows; ++r) member[r] = out.top_level[r] >= 1;
      const BaseLists lists{out.base_graph.data(), out.base_degree, rows, member.data()};
      across = cross_cluster_links(lists, out.levels[0], index, angles ? *angles : distance, kCrossLinksPerRow,
                                   threads, seed, &stats);
    }
    timer.lap("export: links across clusters chosen (sampled shares %.3f, %.4f; %lld members, %lld rows without "
              "one, %lld rows kept %lld)",
              stats.share_across, stats.share_kept, static_cast<long long>(stats.members),
              static_cast<long long>(stats.without), static_cast<long long>(stats.rows_kept),
              static_cast<long long>(stats.kept));
  }
  add_base_links(out, distance, index.graph_degree, built.data(), threads);
  timer.lap("export: descent links on the base graph");
  add_upper_edges_to_base(out, distance, index.graph_degree, built.data(), threads);
  timer.lap("export: upper levels' edges on the base graph");
  if (!across.empty()) {
    link_base_landings(out, across, distance, index.graph_degree, built.data(), threads);
    timer.lap("export: links across clusters on the base graph");
  }
  return out;
}

}  // namespace annforge::cpu
