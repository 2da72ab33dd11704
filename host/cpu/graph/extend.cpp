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

bool contains(const uint32_t* list, int length, uint32_t id) {
  for (int i = 0; i < length; ++i) {
    if (list[i] == id) return true;
  }
  return false;
}

// Candidates for rows [begin, end): graph search over rows < begin, merged with exact search
// among the chunk itself. Returns (end-begin) x k lists, nearest first.
KnnGraph chunk_candidates(const Index& index, int64_t begin, int64_t end, int k, int threads) {
  const DatasetView& vectors = index.vectors.view();
  const DatasetView existing = vectors.slice(0, begin);
  const DatasetView chunk = vectors.slice(begin, end - begin);
  const int64_t rows = end - begin;
  KnnGraph out;
  out.rows = rows;
  out.k = k;
  out.ids.assign(rows * k, kInvalidId);
  out.distances.assign(rows * k, std::numeric_limits<float>::infinity());

  Distance over_existing(index.metric, existing);
  BeamSearchParams beam;
  beam.k = static_cast<int>(std::min<int64_t>(k, begin));
  beam.beam_width = std::max(2 * k, 64);
  beam.threads = threads;
  std::vector<uint32_t> found_ids(rows * beam.k);
  std::vector<float> found_distances(rows * beam.k);
  beam_search(graph_of(index), over_existing, chunk, beam, {}, found_ids.data(), found_distances.data());

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

}  // namespace

void extend_graph(Index& index, int64_t first_new_row, const BuildParams& params) {
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
    detail::cpu_backend().build(index, rebuild);
    return;
  }
  const int k =
      std::max(degree, static_cast<int>(std::min<int64_t>(cpu_intermediate_degree(params, degree), first_new_row - 1)));
  const int protected_edges = (degree + 1) / 2;
  Distance distance(index.metric, index.vectors.view());
  index.graph.resize(total * degree);

  for (int64_t begin = first_new_row; begin < total;) {
    int64_t end = std::min(total, begin + std::max<int64_t>(1, begin / 8));
    KnnGraph candidates = chunk_candidates(index, begin, end, k, threads);
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
    // Reverse edges, one row at a time (each may touch any existing row's list).
    for (int64_t v = begin; v < end; ++v) {
      for (int e = 0; e < protected_edges; ++e) {
        uint32_t u = index.graph[v * degree + e];
        uint32_t* list = &index.graph[static_cast<int64_t>(u) * degree];
        if (contains(list, degree, static_cast<uint32_t>(v))) continue;
        float to_new = distance.between(u, v);
        int farthest = -1;
        float farthest_distance = to_new;
        for (int slot = protected_edges; slot < degree; ++slot) {
          float d = distance.between(u, list[slot]);
          if (d > farthest_distance) farthest_distance = d, farthest = slot;
        }
        if (farthest >= 0) list[farthest] = static_cast<uint32_t>(v);
      }
    }
    begin = end;
  }
}

}  // namespace annforge::cpu
