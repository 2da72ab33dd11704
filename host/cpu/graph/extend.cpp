// Extend: new rows are linked in chunks. Each chunk's rows find candidates by beam search over
// the graph built so far plus exact search within the chunk, are pruned by detours against the
// existing edges, and then offered as reverse edges to the neighbours they chose, replacing
// each neighbour's farthest unprotected edge when nearer. Chunks stay small relative to the
// graph, so new rows mostly see a graph that already holds their neighbours.
#include "host/cpu/graph/extend.hpp"

#include <algorithm>
#include <limits>

#include "host/backend.hpp"
#include "host/cpu/search/beam_search.hpp"
#include "host/cpu/knn_graph.hpp"
#include "host/cpu/parallel.hpp"
#include "kernels/shared/neighbor_list.hpp"
#include "kernels/shared/prune_core.hpp"

namespace annforge::cpu {
namespace {

// New rows linked per chunk (see link_new_rows).
constexpr int64_t kMaxChunkRows = 2048;

bool contains(const uint32_t* list, int length, uint32_t id) {
  for (int i = 0; i < length; ++i) {
    if (list[i] == id) return true;
  }
  return false;
}

// Candidates for rows [begin, end): graph search over rows < begin, merged with exact search
// among the chunk itself. Returns (end-begin) x k lists, nearest first.
KnnGraph chunk_candidates(const Index& index, const Distance& distance, int64_t begin, int64_t end, int k,
                          int threads, const ApproximateRows* compact) {
  const DatasetView& vectors = index.vectors.view();
  const DatasetView chunk = vectors.slice(begin, end - begin);
  const int64_t rows = end - begin;
  KnnGraph out;
  out.rows = rows;
  out.k = k;
  out.ids.assign(rows * k, kInvalidId);
  out.distances.assign(rows * k, std::numeric_limits<float>::infinity());

  BeamSearchParams beam;
  beam.k = static_cast<int>(std::min<int64_t>(k, begin));
  beam.beam_width = std::max(2 * k, 64);
  beam.threads = threads;
  std::vector<uint32_t> found_ids(rows * beam.k);
  std::vector<float> found_distances(rows * beam.k);
  // Through the upper levels where the index has them (built over old rows only: their members
  // lie below `begin`), else from every entry point.
  // A quarter at most: the eighth that a caller's searches may take (upper_width.hpp) was measured
  // for answering queries, not for linking rows.
  beam.upper_width_divisor = std::min(index.upper_width_divisor, 4);
  // `distance` covers every row; the walk meets only rows below `begin`, the rows linked so far.
  beam_search(graph_of(index), distance, chunk, beam, {}, found_ids.data(), found_distances.data(),
              index.levels.empty() ? nullptr : &index.levels, compact);

  const int inner_k = static_cast<int>(std::min<int64_t>(k, rows - 1));
  std::vector<uint32_t> inner_ids(rows * std::max(inner_k, 1));
  std::vector<float> inner_distances(rows * std::max(inner_k, 1));
  if (inner_k > 0) {
    Distance over_chunk(index.metric, chunk);
    brute_force_neighbors(over_chunk, chunk, inner_k, true, threads, {}, inner_ids.data(), inner_distances.data());
  }
  parallel_for(rows, threads, 256, [&](int64_t lo, int64_t hi, int) {
    for (int64_t r = lo; r < hi; ++r) {
      uint32_t* ids = &out.ids[r * k];
      float* distances = &out.distances[r * k];
      for (int j = 0; j < beam.k; ++j) {
        if (found_ids[r * beam.k + j] != kInvalidId) {
          core::insert_sorted(ids, distances, nullptr, k, found_ids[r * beam.k + j], found_distances[r * beam.k + j], 0);
        }
      }
      for (int j = 0; j < inner_k; ++j) {
        uint32_t local = inner_ids[r * inner_k + j];
        if (local != kInvalidId) {
          core::insert_sorted(ids, distances, nullptr, k, static_cast<uint32_t>(begin + local),
                              inner_distances[r * inner_k + j], 0);
        }
      }
    }
  });
  return out;
}

void link_new_rows(Index& index, const Distance& distance, const ApproximateRows* compact, int64_t first_new_row,
                   int k, int protected_edges, int threads, const ProgressCallback& progress, ReplacedSlots& replaced);

}  // namespace

void undo_reverse_edges(std::vector<uint32_t>& graph, const ReplacedSlots& replaced) {
  for (auto it = replaced.rbegin(); it != replaced.rend(); ++it) graph[it->first] = it->second;
}

bool extend_graph(Index& index, int64_t first_new_row, const BuildParams& params, ReplacedSlots& replaced,
                  const ExtendAids& aids) {
  const int64_t total = index.rows();
  const int degree = index.graph_degree;
  const int threads = resolve_threads(params.threads);
  // The degree stays the index's own, unless the old graph was too small to have it (a graph
  // over r rows has at most r - 1 edges per row): then it grows towards params.graph_degree.
  const bool degree_was_capped = degree == first_new_row - 1 && degree < params.graph_degree;
  // When the new batch outweighs the graph, or the degree grows, linking into the old graph
  // would mostly link new rows to each other through a weak graph: a full build over all rows
  // is both better and not much slower.
  if (first_new_row <= total - first_new_row || degree_was_capped) {
    BuildParams rebuild = params;
    if (!degree_was_capped) {
      rebuild.graph_degree = degree;
      if (rebuild.intermediate_degree != 0) rebuild.intermediate_degree = std::max(rebuild.intermediate_degree, degree);
    }
    // Built apart and moved in, so that a failure leaves the index as it was.
    Index rebuilt;
    rebuilt.metric = index.metric;
    rebuilt.vectors = index.vectors;
    detail::cpu_backend().build(rebuilt, rebuild);
    index = std::move(rebuilt);
    return true;
  }
  const int k =
      std::max(degree, static_cast<int>(std::min<int64_t>(cpu_intermediate_degree(params, degree), first_new_row - 1)));
  const int protected_edges = (degree + 1) / 2;
  const bool aids_cover = aids.rows == nullptr || aids.rows->rows == total;
  const bool norms_cover = aids.inverse_norms != nullptr && static_cast<int64_t>(aids.inverse_norms->size()) == total;
  Distance distance(index.metric, index.vectors.view(), norms_cover ? aids.inverse_norms : nullptr);
  replaced.clear();
  try {
    index.graph.resize(total * degree);
    link_new_rows(index, distance, aids_cover ? aids.rows : nullptr, first_new_row, k, protected_edges, threads,
                  params.progress, replaced);
  } catch (...) {
    undo_reverse_edges(index.graph, replaced);
    index.graph.resize(first_new_row * degree);
    throw;
  }
  return false;
}

namespace {

void link_new_rows(Index& index, const Distance& distance, const ApproximateRows* compact, int64_t first_new_row,
                   int k, int protected_edges, int threads, const ProgressCallback& progress, ReplacedSlots& replaced) {
  const int64_t total = index.rows();
  const int degree = index.graph_degree;
  std::vector<std::pair<uint32_t, uint32_t>> offers;  // (target, new row)
  std::vector<size_t> group_starts;
  std::vector<ReplacedSlots> replaced_by_thread(threads);
  for (int64_t begin = first_new_row; begin < total;) {
    // Chunks of at most kMaxChunkRows: each chunk's rows are compared with each other (the
    // chunk's square), and later chunks find them through the graph.
    const int64_t end = std::min(total, begin + std::clamp<int64_t>(begin / 8, 1, kMaxChunkRows));
    KnnGraph candidates = chunk_candidates(index, distance, begin, end, k, threads, compact);
    // Forward edges: detour pruning of the candidates against the existing graph.
    parallel_for(end - begin, threads, 256, [&](int64_t lo, int64_t hi, int) {
      std::vector<uint16_t> detours(k), kept(degree);
      for (int64_t r = lo; r < hi; ++r) {
        const uint32_t* list = &candidates.ids[r * k];
        int available = 0;
        while (available < k && list[available] != kInvalidId) ++available;
        std::fill(detours.begin(), detours.end(), 0);
        for (int i = 0; i < available; ++i) {
          for (int j = 0; j < i; ++j) {
            if (list[j] < begin && contains(index.neighbors(list[j]), degree, list[i])) ++detours[i];
          }
        }
        // Ranks past `available` hold no candidate: give them the largest count so they go last.
        for (int i = available; i < k; ++i) detours[i] = static_cast<uint16_t>(k - 1);
        core::select_by_detours(detours.data(), k, degree, kept.data());
        uint32_t* out = &index.graph[(begin + r) * degree];
        int filled = 0;
        for (int e = 0; e < degree; ++e) {
          if (list[kept[e]] != kInvalidId) out[filled++] = list[kept[e]];
        }
        // A search that found fewer candidates than the degree (a graph with islands): fill up
        // with neighbours of the nearest candidate, which are near too.
        for (int64_t hop = 0; filled < degree && hop < begin; ++hop) {
          uint32_t via = available > 0 ? list[0] : static_cast<uint32_t>(hop);
          uint32_t extra = hop < degree ? index.neighbors(via)[hop] : static_cast<uint32_t>(hop);
          if (extra != begin + r && !contains(out, filled, extra)) out[filled++] = extra;
        }
      }
    });
    // Reverse edges: each new row offers itself to the rows its protected edges point at, and
    // replaces such a row's farthest unprotected edge where it is nearer. A row's offers are
    // taken in the order of the new rows (the forward lists' protected part never changes), so
    // grouping them by target gives the serial loop's result with each target on one thread
    // and its unprotected edges' distances computed once.
    offers.clear();
    for (int64_t v = begin; v < end; ++v) {
      for (int e = 0; e < protected_edges; ++e) offers.emplace_back(index.graph[v * degree + e], static_cast<uint32_t>(v));
    }
    std::sort(offers.begin(), offers.end());
    group_starts.clear();
    for (size_t i = 0; i < offers.size(); ++i) {
      if (i == 0 || offers[i].first != offers[i - 1].first) group_starts.push_back(i);
    }
    group_starts.push_back(offers.size());
    for (ReplacedSlots& mine : replaced_by_thread) mine.clear();
    parallel_for(static_cast<int64_t>(group_starts.size()) - 1, threads, 64, [&](int64_t lo, int64_t hi, int thread) {
      std::vector<float> slot_distances(degree);
      ReplacedSlots& mine = replaced_by_thread[thread];
      for (int64_t g = lo; g < hi; ++g) {
        const uint32_t u = offers[group_starts[g]].first;
        uint32_t* list = &index.graph[static_cast<int64_t>(u) * degree];
        bool measured = false;
        for (size_t i = group_starts[g]; i < group_starts[g + 1]; ++i) {
          const uint32_t v = offers[i].second;
          if (contains(list, degree, v)) continue;
          if (!measured) {
            for (int slot = protected_edges; slot < degree; ++slot) slot_distances[slot] = distance.between(u, list[slot]);
            measured = true;
          }
          const float to_new = distance.between(u, v);
          int farthest = -1;
          float farthest_distance = to_new;
          for (int slot = protected_edges; slot < degree; ++slot) {
            if (slot_distances[slot] > farthest_distance) farthest_distance = slot_distances[slot], farthest = slot;
          }
          if (farthest >= 0) {
            if (u < first_new_row) mine.emplace_back(static_cast<int64_t>(u) * degree + farthest, list[farthest]);
            list[farthest] = v;
            slot_distances[farthest] = to_new;
          }
        }
      }
    });
    // Each slot's replacements sit in one thread's list, in order: undoing the concatenation
    // backwards restores every slot's first value.
    for (const ReplacedSlots& mine : replaced_by_thread) replaced.insert(replaced.end(), mine.begin(), mine.end());
    begin = end;
    if (progress) progress(Progress{"extend", begin - first_new_row, total - first_new_row});
  }
}

}  // namespace

}  // namespace annforge::cpu
