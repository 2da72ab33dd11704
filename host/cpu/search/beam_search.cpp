// Greedy beam search (best-first with a bounded, sorted beam), as in DiskANN and CAGRA: the
// beam holds the `beam_width` nearest vectors seen so far; the nearest one not yet expanded is
// expanded next; the walk ends when every vector in the beam has been expanded.
#include "host/cpu/search/beam_search.hpp"
#include "host/cpu/search/rerank_depth.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <memory>

#include "host/cpu/distance/distance_keys.hpp"
#include "host/env_knob.hpp"
#include "host/cpu/parallel.hpp"
#include "host/cpu/progress.hpp"
#include "host/cpu/trace.hpp"
#include "host/cpu/graph/upper_levels.hpp"
#include "kernels/shared/neighbor_list.hpp"

namespace annforge::cpu {
namespace {

// Visited marks: a bit per row, cleared after each query through the list of words it set. A
// bit per row keeps the set of 1M rows in 125 KiB, inside L2 beside the walk's rows and lists,
// where a 16-bit stamp per row (2 MiB, clear in O(1) by a new stamp) missed L2 on most checks.
class VisitedSet {
 public:
  explicit VisitedSet(int64_t rows) : words_(words_for(rows), 0) {}
  // Room for ids below `rows` (the new bits are clear).
  void cover(int64_t rows) {
    if (words_.size() < words_for(rows)) words_.resize(std::max(words_for(rows), words_.size() * 3 / 2), 0);
  }
  void next_query() {
    if (touched_.size() > words_.size() / 8) {
      std::fill(words_.begin(), words_.end(), 0);
    } else {
      for (uint32_t w : touched_) words_[w] = 0;
    }
    touched_.clear();
  }
  bool contains(uint32_t id) const { return (words_[id >> 6] >> (id & 63)) & 1; }
  void prefetch(uint32_t id) const { __builtin_prefetch(&words_[id >> 6]); }
  // Marks `id` visited; returns false when it already was.
  bool insert(uint32_t id) {
    uint64_t& word = words_[id >> 6];
    const uint64_t bit = uint64_t{1} << (id & 63);
    if (word & bit) return false;
    if (word == 0) touched_.push_back(id >> 6);
    word |= bit;
    return true;
  }

 private:
  static size_t words_for(int64_t rows) { return static_cast<size_t>((rows + 63) / 64); }
  std::vector<uint64_t> words_;
  std::vector<uint32_t> touched_;  // words set since the last next_query
};

// The calling thread's visited sets (base graph, then each upper level), kept from one call to
// the next where a call's queries all run on that thread (a few queries, or threads = 1): made
// fresh, the base graph's set was a zeroed allocation in every call (with 2 bytes per row, 2 MiB
// at 1M rows: ~22% of a one-query search on 1M SIFT, 0.324 ms per call against 0.254 per query
// in a batch; a bit per row is a sixteenth of it). Up to kMaxKeptVisitedRows rows; `in_use`
// keeps a nested call (a progress callback that searches) from sharing them.
constexpr int64_t kMaxKeptVisitedRows = int64_t{1} << 25;
struct KeptVisited {
  std::vector<VisitedSet> sets;
  bool in_use = false;
};
thread_local KeptVisited kept_visited;

// The sets one call's single thread borrows from kept_visited, returned when it ends.
class BorrowedVisited {
 public:
  BorrowedVisited(bool wanted, int64_t rows, const std::vector<UpperLevel>* levels, int upper_count) {
    if (!wanted || kept_visited.in_use || rows > kMaxKeptVisitedRows) return;
    kept_visited.in_use = true;
    active_ = true;
    if (static_cast<int>(kept_visited.sets.size()) < 1 + upper_count) kept_visited.sets.resize(1 + upper_count, VisitedSet(0));
    kept_visited.sets[0].cover(rows);
    for (int l = 0; l < upper_count; ++l) kept_visited.sets[1 + l].cover(static_cast<int64_t>((*levels)[l].members.size()));
  }
  ~BorrowedVisited() {
    if (active_) kept_visited.in_use = false;
  }
  BorrowedVisited(const BorrowedVisited&) = delete;
  BorrowedVisited& operator=(const BorrowedVisited&) = delete;
  bool active() const { return active_; }

 private:
  bool active_ = false;
};

// Every cache line of a neighbour list (a list of 32 ids is two lines).
inline void prefetch_list(const uint32_t* list, int degree) {
  const char* bytes = reinterpret_cast<const char*>(list);
  const char* last = reinterpret_cast<const char*>(list + degree) - 1;
  for (const char* line = bytes; line <= last; line += 64) __builtin_prefetch(line);
  if ((reinterpret_cast<uintptr_t>(bytes) & 63) > (reinterpret_cast<uintptr_t>(last) & 63)) __builtin_prefetch(last);
}

// Distances are squared L2 or 1 - cosine (both grow as the square of a small angle or gap): 4
// is twice as far.
constexpr float kFarFromData = 4.0f;

struct Beam {
  explicit Beam(int width) : width(width), ids(width), distances(width), expanded(width) {}
  void clear() { size = 0; }
  // Inserts keeping the beam sorted; returns the position, or width when it did not fit.
  // The place by binary search, the entries after it moved by memmove: moved one at a time, a
  // wide beam's inserts were ~16% of a search at beam 512 (1M wordtext, AMD EPYC Zen 4).
  int insert(uint32_t id, float d) {
    if (size == width && (width == 0 || !core::nearer(d, id, distances[width - 1], ids[width - 1]))) return width;
    const int end = size < width ? size++ : width - 1;  // a full beam drops its last entry
    int pos = 0, count = end;                         // the first entry farther than (d, id)
    while (count > 0) {
      const int half = count / 2;
      if (core::nearer(d, id, distances[pos + half], ids[pos + half])) {
        count = half;
      } else {
        pos += half + 1;
        count -= half + 1;
      }
    }
    const size_t moved = static_cast<size_t>(end - pos);
    if (moved > 0) {
      std::memmove(&ids[pos + 1], &ids[pos], moved * sizeof(uint32_t));
      std::memmove(&distances[pos + 1], &distances[pos], moved * sizeof(float));
      std::memmove(&expanded[pos + 1], &expanded[pos], moved);
    }
    ids[pos] = id;
    distances[pos] = d;
    expanded[pos] = 0;
    return pos;
  }
  int width;
  int size = 0;
  std::vector<uint32_t> ids;
  std::vector<float> distances;
  std::vector<uint8_t> expanded;
};


}  // namespace

std::vector<uint32_t> region_order(const GraphView& graph, const Distance& distance, const DatasetView& queries,
                                   int threads) {
  const int64_t regions = std::clamp<int64_t>(std::min(distance.base().rows / kRowsPerOrderRegion,
                                                       queries.rows / kQueriesPerOrderRegion),
                                              kOrderKeyEntries, kMaxOrderKeyEntries);
  const int entries =
      std::min<int>(graph.entry_count - 1, detail::env_knob("ANNFORGE_CPU_ORDER_ENTRIES", static_cast<int>(regions)));
  if (queries.rows < kOrderedBatch || entries < 2 || queries.rows > int64_t{UINT32_MAX} ||
      detail::env_knob("ANNFORGE_CPU_QUERY_ORDER", 1) == 2) {
    return {};
  }
  const DatasetView& base = distance.base();
  std::vector<const void*> rows(entries);
  std::vector<float> norms(entries);
  for (int e = 0; e < entries; ++e) {
    rows[e] = base.row(graph.entry_points[1 + e]);
    norms[e] = distance.inverse_norm_of(graph.entry_points[1 + e]);
  }
  std::vector<uint16_t> region(queries.rows);
  parallel_for(queries.rows, threads, 256, [&](int64_t begin, int64_t end, int) {
    std::vector<float> scores(entries);
    for (int64_t q = begin; q < end; ++q) {
      const void* query = queries.row(q);
      distance.raw_many(query, distance.query_inverse_norm(query), rows.data(), norms.data(), entries, scores.data());
      region[q] = static_cast<uint16_t>(std::min_element(scores.begin(), scores.end()) - scores.begin());
    }
  });
  std::vector<int64_t> starts(entries + 1, 0);
  for (uint16_t r : region) ++starts[r + 1];
  for (int e = 0; e < entries; ++e) starts[e + 1] += starts[e];
  std::vector<uint32_t> order(queries.rows);
  for (int64_t q = 0; q < queries.rows; ++q) order[starts[region[q]]++] = static_cast<uint32_t>(q);
  return order;
}

void beam_search(const GraphView& graph_in, const Distance& distance, const DatasetView& queries,
                 const BeamSearchParams& params, const ProgressCallback& progress, uint32_t* ids, float* distances,
                 const std::vector<UpperLevel>* levels, const ApproximateRows* approximate) {
  const bool descend = levels != nullptr && !levels->empty() && graph_in.entry_count > 0;
  // With levels, only the first entry points are scanned (see kEntryScanWithLevels); the graph's
  // every entry point is on the top level, where the walk reaches the rest.
  GraphView graph = graph_in;
  if (descend) {
    graph.entry_count =
        std::min(graph.entry_count, detail::env_knob("ANNFORGE_CPU_ENTRY_SCAN", kEntryScanWithLevels));
  }
  const int upper_count = descend ? static_cast<int>(levels->size()) : 0;
  int upper_degree = 0;
  for (int l = 0; l < upper_count; ++l) upper_degree = std::max(upper_degree, (*levels)[l].degree);
  const int k = params.k;
  const int width = std::max(params.beam_width, k);
  const int degree = graph.degree;
  const DatasetView& base = distance.base();
  const int64_t rows = base.rows;
  ProgressReporter reporter(progress, "search", queries.rows);
  const bool cosine = distance.metric() == Metric::Cosine;
  // The rows the walk reads: the base's, or their bf16 copy.
  const char* base_bytes = approximate ? approximate->bytes() : static_cast<const char*>(base.data);
  const size_t row_bytes = approximate ? approximate->row_bytes() : base.row_bytes();
  const size_t row_stride = approximate ? approximate->row_bytes() : base.row_stride();
  const int rerank = rerank_depth(k, approximate);
  const size_t prefetched_bytes = std::min<size_t>(row_bytes, 4096);
  const int batch_capacity = std::max({degree, graph.entry_count, upper_degree});
  // The entry points' rows and norms, gathered once for every query.
  std::vector<const void*> entry_rows(graph.entry_count);
  std::vector<float> entry_norms(graph.entry_count, 1.0f);
  for (int e = 0; e < graph.entry_count; ++e) {
    entry_rows[e] = base_bytes + graph.entry_points[e] * row_stride;
    if (cosine) entry_norms[e] = distance.inverse_norm_of(graph.entry_points[e]);
  }
  // The upper levels are searched with a beam of their own (a greedy descent ends in the wrong
  // region of data with many separate clusters), the base beam's width / upper_width_divisor,
  // 4 to 64. The build measures the divisor (upper_width.hpp): 4 where a narrow upper beam
  // lands as well as a wide one (1M SIFT: a beam of 16 on level 1 instead of 4 cost a fifth of
  // the queries/s at base beam 16 for 0.002 recall), down to 1 on data of many separate
  // clusters, whose level-1 beam fills with one cluster's members (1M x 64 in 5,000 clusters:
  // recall@10 at base beam 32 0.930 with a level-1 beam of 8, 0.995 with 32). Its results seed
  // the base beam, and the base graph has no edges between separate clusters: queries unlike the
  // data (100K x 24 in 200 clusters, queries from other centres, true 10-NN spread over 2-6
  // clusters) saturated at recall 0.84 with at most 16 on level 1 and reach 0.958 at base beam
  // 256 with 64 (hnswlib: 0.952 at ef 256) (2026-12-04).
  // Inner product has no "far" to widen by (its distances may be negative): its beam is never capped.
  const bool capped = params.cap_upper_width && distance.metric() != Metric::InnerProduct;
  const int upper_width =
      descend ? std::min(width, detail::env_knob("ANNFORGE_CPU_UPPER_BEAM",
                                                 upper_beam_width(width, params.upper_width_divisor, capped)))
              : 0;
  // The wider upper beam of the uncapped rule, for queries that land far from the data.
  const int far_upper_width =
      descend ? std::max(upper_width, upper_beam_width(width, params.upper_width_divisor, false)) : 0;
  const bool may_widen = far_upper_width > upper_width;
  std::atomic<int64_t> widened{0};
  // Each entry point seeds the highest upper level that holds it (all of them, in an index built
  // here: level 2 holds every entry point, level 1 every member of level 2).
  const std::vector<std::vector<std::pair<int, uint32_t>>> level_seeds =
      descend ? entry_seeds(*levels, graph.entry_points, graph.entry_count)
              : std::vector<std::vector<std::pair<int, uint32_t>>>();
  // One thread's state, made on its first chunk and kept for the rest: the visited set is a
  // stamp per row (2 MiB at 1M rows), and made per chunk of 32 queries it was allocated and
  // zeroed again each time (the build's landing-link pass, 67,607 narrow searches on 1M rows:
  // 0.76 -> 0.65 s; a 10,000-query search on 1M SIFT: no change beyond this VM's noise).
  // Where every query runs on this thread, its visited sets are the ones kept from earlier calls.
  const int64_t per_worker = 32;
  const bool on_this_thread =
      std::min<int64_t>(resolve_threads(params.threads), (queries.rows + per_worker - 1) / per_worker) <= 1;
  const BorrowedVisited borrowed(on_this_thread, rows, levels, upper_count);
  struct Scratch {
    Scratch(int64_t rows, int width, int batch_capacity, int rerank, size_t prepared_size, bool kept)
        : own_visited(kept ? 0 : rows),
          visited(kept ? &kept_visited.sets[0] : &own_visited),
          beam(width),
          batch(batch_capacity),
          batch_rows(std::max(batch_capacity, rerank)),
          batch_norms(std::max(batch_capacity, rerank), 1.0f),
          batch_distances(std::max(batch_capacity, rerank)),
          prepared(prepared_size) {}
    VisitedSet own_visited;
    VisitedSet* visited;
    std::vector<VisitedSet> own_visited_upper;
    std::vector<VisitedSet*> visited_upper;
    std::vector<Beam> beams_upper;
    Beam beam;
    std::vector<uint32_t> batch;
    std::vector<const void*> batch_rows;
    std::vector<float> batch_norms, batch_distances, prepared;
    std::vector<uint64_t> reranked;
    std::vector<float> entry_distances;
    int64_t upper_distances = 0, base_distances = 0;  // computed, for the trace
  };
  std::vector<std::unique_ptr<Scratch>> scratches(resolve_threads(params.threads));
  const std::vector<uint32_t> order = region_order(graph_in, distance, queries, params.threads);
  parallel_for(queries.rows, params.threads, per_worker, [&](int64_t begin, int64_t end, int thread) {
    std::unique_ptr<Scratch>& mine = scratches[thread];
    if (!mine) {
      mine = std::make_unique<Scratch>(rows, width, batch_capacity, rerank,
                                       approximate ? approximate->prepared_size() : 0, borrowed.active());
      if (!borrowed.active()) mine->own_visited_upper.reserve(upper_count);
      for (int l = 0; l < upper_count; ++l) {
        if (borrowed.active()) {
          mine->visited_upper.push_back(&kept_visited.sets[1 + l]);
        } else {
          mine->own_visited_upper.emplace_back(static_cast<int64_t>((*levels)[l].members.size()));
          mine->visited_upper.push_back(&mine->own_visited_upper.back());
        }
        mine->beams_upper.emplace_back(far_upper_width);
      }
    }
    VisitedSet& visited = *mine->visited;
    std::vector<VisitedSet*>& visited_upper = mine->visited_upper;
    std::vector<Beam>& beams_upper = mine->beams_upper;
    Beam& beam = mine->beam;
    std::vector<uint32_t>& batch = mine->batch;
    std::vector<const void*>& batch_rows = mine->batch_rows;
    std::vector<float>& batch_norms = mine->batch_norms;
    std::vector<float>& batch_distances = mine->batch_distances;
    std::vector<float>& prepared = mine->prepared;
    std::vector<uint64_t>& reranked = mine->reranked;
    std::vector<float>& entry_distances = mine->entry_distances;
    int64_t* counted = &mine->upper_distances;  // where the walk counts its distances
    // Distances from the query to `count` rows of the walk (base rows or their compact copy).
    auto score = [&](const void* query, float query_norm, const void* const* rows, const float* norms, int count,
                     float* out) {
      if (approximate) {
        approximate_distances(*approximate, prepared.data(), rows, count, out);
      } else {
        distance.raw_many(query, query_norm, rows, norms, count, out);
      }
    };
    for (int64_t position = begin; position < end; ++position) {
      const int64_t q = order.empty() ? position : order[position];
      const void* query = queries.row(q);
      const float query_norm = distance.query_inverse_norm(query);
      if (approximate) prepare_query(*approximate, static_cast<const float*>(query), query_norm, prepared.data());
      visited.next_query();
      beam.clear();
      // Best-first walk until every beam entry is expanded: each expansion of the nearest
      // unexpanded entry computes, in one batched call, the distances to its unvisited
      // neighbours, which enter the beam if near enough. The beam's ids index a graph whose
      // entry v has `walk_degree` neighbours at neighbors_of(v) and stands for row_of(v) of the
      // base (level 1: positions in its member list; the base graph: rows themselves).
      auto walk = [&](Beam& walk_beam, VisitedSet& walk_visited, int walk_degree, auto neighbors_of, auto row_of) {
        int cursor = 0;  // every beam entry before it has been expanded
        while (walk_degree > 0 && cursor < walk_beam.size) {
          if (walk_beam.expanded[cursor]) {
            ++cursor;
            continue;
          }
          walk_beam.expanded[cursor] = 1;
          const uint32_t* next = neighbors_of(walk_beam.ids[cursor]);
          // The entry likely expanded after this one: start its list now, while this one's
          // distances are computed.
          for (int after = cursor + 1; after < walk_beam.size; ++after) {
            if (walk_beam.expanded[after]) continue;
            prefetch_list(neighbors_of(walk_beam.ids[after]), walk_degree);
            break;
          }
          // Start every neighbour's first line before computing any distance: the loads
          // overlap instead of stalling one after another. The rest of a row is requested only
          // once it is known unvisited (a float row of 256 dimensions is 16 lines).
          for (int e = 0; e < walk_degree; ++e) {
            walk_visited.prefetch(next[e]);
            __builtin_prefetch(base_bytes + row_of(next[e]) * row_stride);
          }
          int fresh = 0;
          for (int e = 0; e < walk_degree; ++e) {
            if (!walk_visited.insert(next[e])) continue;
            const uint32_t row = row_of(next[e]);
            const char* bytes = base_bytes + row * row_stride;
            for (size_t line = 64; line < prefetched_bytes; line += 64) __builtin_prefetch(bytes + line);
            batch[fresh] = next[e];
            batch_rows[fresh] = bytes;
            if (cosine && !approximate) batch_norms[fresh] = distance.inverse_norm_of(row);
            ++fresh;
          }
          score(query, query_norm, batch_rows.data(), batch_norms.data(), fresh, batch_distances.data());
          *counted += fresh;
          int lowest = walk_beam.size;
          for (int e = 0; e < fresh; ++e) {
            const int at = walk_beam.insert(batch[e], batch_distances[e]);
            // A vector that enters the beam is likely expanded soon: start its neighbour list.
            if (at < walk_beam.width) prefetch_list(neighbors_of(batch[e]), walk_degree);
            lowest = std::min(lowest, at);
          }
          if (lowest < cursor) cursor = lowest;
        }
      };
      // Every entry point's distance; only those that enter a beam are marked visited. Marking
      // all of them would touch a random cache line of the visited set per entry point (a miss
      // each, 1,024 of them on large data); one left unmarked and reached again later is only
      // evaluated again, and it was not in the beam.
      score(query, query_norm, entry_rows.data(), entry_norms.data(), graph.entry_count, batch_distances.data());
      counted = &mine->upper_distances;
      *counted += graph.entry_count;
      if (descend) {
        // The entry points seed beam searches down the upper levels (each level's result seeds
        // the level below, positions looked up by row); level 1's result seeds the base graph.
        entry_distances.assign(batch_distances.begin(), batch_distances.begin() + graph.entry_count);
        auto descend_levels = [&](int level_width) {
          for (int l = upper_count - 1; l >= 0; --l) {
            const UpperLevel& level = (*levels)[l];
            VisitedSet& level_visited = *visited_upper[l];
            Beam& level_beam = beams_upper[l];
            level_visited.next_query();
            level_beam.clear();
            level_beam.width = level_width;
            if (l + 1 < upper_count) {
              const UpperLevel& above = (*levels)[l + 1];
              const Beam& above_beam = beams_upper[l + 1];
              for (int e = 0; e < above_beam.size; ++e) {
                const uint32_t position = position_in(level, above.members[above_beam.ids[e]]);
                if (level_beam.insert(position, above_beam.distances[e]) < level_width) level_visited.insert(position);
              }
            }
            for (const auto& [e, position] : level_seeds[l]) {
              if (level_visited.contains(position)) continue;
              if (level_beam.insert(position, entry_distances[e]) < level_width) level_visited.insert(position);
            }
            walk(
                level_beam, level_visited, level.degree,
                [&](uint32_t position) { return level.graph.data() + static_cast<int64_t>(position) * level.degree; },
                [&](uint32_t position) { return level.members[position]; });
            if (l == params.landing_level && params.landings != nullptr) break;
          }
        };
        descend_levels(upper_width);
        if (may_widen && params.landings == nullptr && beams_upper[0].size > 0) {
          // A query far from the data (its distance to the nearest level-1 member found over
          // kFarFromData times that member's distance to its own nearest level-1 neighbour) may
          // have its true neighbours spread over regions the base graph does not join: it
          // descends again with the uncapped beam, whose seeds reach each region. 30,000 rows
          // in 60 separate clusters, queries from 60 other centres (QueriesUnlikeTheData):
          // recall@10 at beam 256 0.902 with the capped beam alone, 0.9887 with this (as
          // uncapped); 1.9% of 1M SIFT's queries and 1.2% of 1M wordtext's take it (2026-12-07).
          const UpperLevel& level1 = (*levels)[0];
          const uint32_t landed = beams_upper[0].ids[0];
          const uint32_t member = level1.members[landed];
          const uint32_t* links = level1.graph.data() + static_cast<int64_t>(landed) * level1.degree;
          float spacing = std::numeric_limits<float>::infinity();
          for (int e = 0; e < level1.degree; ++e) {
            if (links[e] >= level1.members.size()) continue;
            spacing = std::min(spacing, distance.between(member, level1.members[links[e]]));
          }
          const void* landed_row = base.row(member);
          const float landed_norm = distance.inverse_norm_of(member);
          float away = 0;
          distance.raw_many(query, query_norm, &landed_row, &landed_norm, 1, &away);
          if (spacing < std::numeric_limits<float>::infinity() && away > kFarFromData * spacing) {
            ++widened;
            descend_levels(far_upper_width);
          }
        }
        if (params.landings != nullptr) {
          const Beam& landed = beams_upper[std::clamp(params.landing_level, 0, upper_count - 1)];
          uint32_t* out = params.landings + q * params.landing_width;
          for (int e = 0; e < params.landing_width; ++e) out[e] = e < landed.size ? landed.ids[e] : kInvalidId;
          continue;
        }
        const UpperLevel& level1 = (*levels)[0];
        const Beam& beam1 = beams_upper[0];
        for (int e = 0; e < beam1.size; ++e) {
          const uint32_t row = level1.members[beam1.ids[e]];
          visited.insert(row);
          beam.insert(row, beam1.distances[e]);
        }
      } else {
        for (int e = 0; e < graph.entry_count; ++e) {
          if (beam.insert(graph.entry_points[e], batch_distances[e]) < width) visited.insert(graph.entry_points[e]);
        }
      }
      counted = &mine->base_distances;
      walk(
          beam, visited, degree, [&](uint32_t row) { return graph.neighbors(row); },
          [](uint32_t row) { return row; });
      if (approximate) {
        // The beam's nearest by bf16 distances, re-ranked by exact ones: the answer's order and
        // distances are the fp32 ones.
        const int count = std::min(beam.size, rerank);
        for (int e = 0; e < count; ++e) {
          batch_rows[e] = base.row(beam.ids[e]);
          if (cosine) batch_norms[e] = distance.inverse_norm_of(beam.ids[e]);
        }
        distance.raw_many(query, query_norm, batch_rows.data(), batch_norms.data(), count, batch_distances.data());
        reranked.clear();
        for (int e = 0; e < count; ++e) reranked.push_back(distance_key(batch_distances[e], beam.ids[e]));
        std::sort(reranked.begin(), reranked.end());
        for (int e = 0; e < count; ++e) {
          beam.ids[e] = key_id(reranked[e]);
          beam.distances[e] = key_distance(reranked[e]);
        }
      }
      for (int j = 0; j < k; ++j) {
        bool have = j < beam.size;
        ids[q * k + j] = have ? beam.ids[j] : kInvalidId;
        distances[q * k + j] = have ? beam.distances[j] : std::numeric_limits<float>::infinity();
      }
    }
    reporter.add(end - begin, thread);
  });
  reporter.finish();
  if (tracing() && params.trace_distances && queries.rows > 0) {
    int64_t upper = 0, lower = 0;
    for (const auto& s : scratches) {
      if (s) upper += s->upper_distances, lower += s->base_distances;
    }
    std::fprintf(stderr,
                 "[annforge] search at beam %d (upper %d): distances per query %.1f entry points and upper levels, "
                 "%.1f base graph; %.4f of queries far from the data (upper beam %d)\n",
                 width, upper_width, static_cast<double>(upper) / queries.rows,
                 static_cast<double>(lower) / queries.rows, static_cast<double>(widened.load()) / queries.rows,
                 far_upper_width);
  }
}

}  // namespace annforge::cpu
