// The lists of diverse_knn.hpp: per row a two-hop pool from the kNN lists, the nearest of it
// measured exactly, HNSW's heuristic over them, then the kept links made symmetric.
#include "host/cpu/graph/diverse_knn.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

#include "host/cpu/distance/distance_keys.hpp"
#include "host/cpu/graph/link_sets.hpp"
#include "host/cpu/parallel.hpp"

namespace annforge::cpu {

namespace {

using Candidate = LinkCandidate;

struct Scratch {
  explicit Scratch(int64_t rows) : seen(rows) {}
  RowBits seen;
  std::vector<const void*> pointers;
  std::vector<float> norms, distances, nearest_kept;
  std::vector<int> open;  // positions of the candidates not yet blocked, after the one kept last
  std::vector<Candidate> candidates;
  std::vector<uint64_t> keys;
  std::vector<uint8_t> block;  // the candidates' rows, gathered once
  std::vector<const void*> block_rows;
  std::vector<float> block_norms;
};

// Distances from row `from` to rows ids[0..count) (the renumbered copy: the pool's rows lie in
// the row's and neighbouring clusters, mostly in cache), the rows requested a block ahead.
void measure(const Distance& distance, uint32_t from, const uint32_t* ids, int count, Scratch& s, float* out) {
  s.pointers.resize(count);
  s.norms.resize(count);
  distance.row_to_rows(from, ids, count, s.pointers.data(), s.norms.data(), out);
}

// HNSW's heuristic over `candidates` (nearest first): a candidate is kept unless a kept one is
// nearer to it than the row is. The candidates' rows are gathered into one block first; each
// kept row's distances to the later candidates not yet blocked are computed in one call from
// it (a candidate blocked already needs no more), so the count of distances stays near
// hnswlib's lazy pair-by-pair comparison while each costs a batched kernel's share. Returns how
// many were kept (at most `most`, written to `kept`).
int keep_diverse_batched(const Distance& distance, const Candidate* candidates, int count, int most, Scratch& s,
                         Candidate* kept) {
  const DatasetView& base = distance.base();
  const size_t row_bytes = base.row_bytes();
  s.block.resize(static_cast<size_t>(count) * row_bytes);
  s.block_rows.resize(count);
  s.block_norms.resize(count);
  s.nearest_kept.assign(count, std::numeric_limits<float>::infinity());
  s.open.resize(count);
  s.pointers.resize(count);
  s.norms.resize(count);
  s.distances.resize(count);
  for (int i = 0; i < count; ++i) {
    uint8_t* to = &s.block[i * row_bytes];
    std::memcpy(to, base.row(candidates[i].second), row_bytes);
    s.block_rows[i] = to;
    s.block_norms[i] = distance.inverse_norm_of(candidates[i].second);
  }
  int found = 0;
  for (int j = 0; j < count && found < most; ++j) {
    if (s.nearest_kept[j] < candidates[j].first) continue;
    kept[found++] = candidates[j];
    if (found == most) break;
    int open = 0;
    for (int later = j + 1; later < count; ++later) {
      s.open[open] = later;
      open += s.nearest_kept[later] >= candidates[later].first;
    }
    for (int i = 0; i < open; ++i) {
      s.pointers[i] = s.block_rows[s.open[i]];
      s.norms[i] = s.block_norms[s.open[i]];
    }
    distance.raw_many(s.block_rows[j], s.block_norms[j], s.pointers.data(), s.norms.data(), open,
                      s.distances.data());
    for (int i = 0; i < open; ++i) {
      float& nearest = s.nearest_kept[s.open[i]];
      nearest = std::min(nearest, s.distances[i]);
    }
  }
  return found;
}

}  // namespace

std::vector<uint32_t> diverse_knn_graph(const Distance& distance, const KnnGraph& knn, int degree,
                                        const DiverseKnnParams& params, int threads) {
  threads = resolve_threads(threads);
  const int64_t rows = knn.rows;
  const int k = knn.k;
  const int hops = std::min(params.hops, k);
  const int width = std::min(params.width, k);
  const int pool = std::max(params.pool, degree);
  std::vector<Candidate> kept(static_cast<size_t>(rows) * degree);
  std::vector<int> kept_count(rows, 0);
  std::vector<Scratch> scratch;
  scratch.reserve(threads);
  for (int t = 0; t < threads; ++t) scratch.emplace_back(rows);
  parallel_for(rows, threads, 256, [&](int64_t begin, int64_t end, int thread) {
    Scratch& s = scratch[thread];
    std::vector<uint32_t> pool_ids;
    std::vector<float> pool_distances;
    // The second hop's lists are scattered over 4 x k bytes per row: the next row's are
    // requested while this row is worked on (they waited on memory a third of the time).
    auto request_lists = [&](int64_t row) {
      const uint32_t* next = &knn.ids[row * k];
      for (int a = 0; a < hops; ++a) {
        if (next[a] >= rows) continue;
        const char* second = reinterpret_cast<const char*>(&knn.ids[static_cast<int64_t>(next[a]) * k]);
        for (int line = 0; line < width * 4; line += 64) __builtin_prefetch(second + line);
      }
    };
    if (begin < end) request_lists(begin);
    for (int64_t r = begin; r < end; ++r) {
      if (r + 1 < end) request_lists(r + 1);
      // The pool: the row's list, then its nearest rows' lists, each row once (branch-free:
      // about a third of the second hop's ids repeat).
      const uint32_t* list = &knn.ids[r * k];
      pool_ids.resize(static_cast<size_t>(k) + static_cast<size_t>(hops) * width);
      s.seen.insert(static_cast<uint32_t>(r));
      int count = 0;
      for (int j = 0; j < k; ++j) {
        const uint32_t v = list[j];
        pool_ids[count] = v;
        count += v < rows && s.seen.insert(v);
      }
      const int own = count;
      for (int a = 0; a < hops; ++a) {
        if (list[a] >= rows) continue;
        const uint32_t* second = &knn.ids[static_cast<int64_t>(list[a]) * k];
        for (int j = 0; j < width; ++j) {
          const uint32_t v = second[j];
          pool_ids[count] = v;
          count += v < rows && s.seen.insert(v);
        }
      }
      s.seen.erase(static_cast<uint32_t>(r));
      for (int i = 0; i < count; ++i) s.seen.erase(pool_ids[i]);
      // The row's own list comes with its distances (the kNN stage's, nearest first); the
      // second hop's rows are measured, and the nearest of them merged in.
      pool_distances.resize(count);
      measure(distance, static_cast<uint32_t>(r), pool_ids.data() + own, count - own, s, pool_distances.data() + own);
      const int nearest = std::min(count, pool);
      const int hopped = count - own;
      s.keys.resize(hopped);
      for (int i = 0; i < hopped; ++i) s.keys[i] = distance_key(pool_distances[own + i], pool_ids[own + i]);
      const int take = std::min(hopped, nearest);
      if (take < hopped) std::nth_element(s.keys.begin(), s.keys.begin() + take, s.keys.end());
      std::sort(s.keys.begin(), s.keys.begin() + take);
      s.candidates.resize(nearest);
      {
        int from_list = 0, from_hops = 0, at = 0;
        const float* list_distances = &knn.distances[r * k];
        int j = 0;  // position in `list` of the next own candidate
        auto next_own = [&]() {
          while (j < k && list[j] >= rows) ++j;
          return j;
        };
        while (at < nearest) {
          const bool have_own = from_list < own && next_own() < k;
          const bool have_hop = from_hops < take;
          if (have_own && (!have_hop || distance_key(list_distances[j], list[j]) < s.keys[from_hops])) {
            s.candidates[at++] = {list_distances[j], list[j]};
            ++from_list, ++j;
          } else if (have_hop) {
            const uint64_t key = s.keys[from_hops++];
            s.candidates[at++] = {key_distance(key), key_id(key)};
          } else {
            break;
          }
        }
      }
      kept_count[r] = keep_diverse_batched(distance, s.candidates.data(), nearest, degree, s, &kept[r * degree]);
    }
  });
  const ReverseLinks reverse(kept, kept_count, rows, degree);
  std::vector<uint32_t> graph(static_cast<size_t>(rows) * degree, kInvalidId);
  parallel_for(rows, threads, 512, [&](int64_t begin, int64_t end, int thread) {
    Scratch& s = scratch[thread];
    std::vector<Candidate> chosen(degree);
    std::vector<Candidate> both;
    for (int64_t r = begin; r < end; ++r) {
      reverse.both_ways(r, &kept[r * degree], kept_count[r], s.seen, both);
      const int count = static_cast<int>(both.size());
      const int links =
          count <= degree ? count : keep_diverse_batched(distance, both.data(), count, degree, s, chosen.data());
      const Candidate* from = count <= degree ? both.data() : chosen.data();
      uint32_t* row = &graph[r * degree];
      for (int j = 0; j < links; ++j) row[j] = from[j].second;
    }
  });
  return graph;
}

void fill_empty_slots(std::vector<uint32_t>& graph, const std::vector<uint32_t>& fill, int64_t rows, int degree,
                      int threads) {
  parallel_for(rows, threads, 4096, [&](int64_t begin, int64_t end, int) {
    for (int64_t r = begin; r < end; ++r) {
      uint32_t* row = &graph[r * degree];
      int used = static_cast<int>(std::find(row, row + degree, kInvalidId) - row);
      const uint32_t* from = &fill[r * degree];
      for (int j = 0; j < degree && used < degree; ++j) {
        if (from[j] == kInvalidId || std::find(row, row + used, from[j]) != row + used) continue;
        row[used++] = from[j];
      }
    }
  });
}

}  // namespace annforge::cpu
