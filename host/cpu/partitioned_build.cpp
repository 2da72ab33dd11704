// The partitioned kNN stage of partitioned_build.hpp.
#include "host/cpu/partitioned_build.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <numeric>

#include "host/cpu/all_pairs/list_merge.hpp"
#include "host/cpu/distance/distance.hpp"
#include "host/cpu/partition/reorder.hpp"
#include "host/cpu/distance/dot_block.hpp"
#include "host/cpu/parallel.hpp"
#include "host/cpu/partition/kmeans.hpp"
#include "host/cpu/trace.hpp"
#include "host/huge_pages.hpp"

namespace annforge::cpu {
namespace {

// Lloyd iterations of the pieces' k-means: a handful of centroids over a sample converges fast.
constexpr int kIterations = 8;

}  // namespace

int64_t piece_capacity(int64_t rows, int count, int memberships, double slack) {
  const double share = static_cast<double>(rows) * memberships / std::max(1, count);
  return std::min<int64_t>(rows, static_cast<int64_t>(std::ceil(slack * share)));
}

Pieces split_into_pieces(const DatasetView& data, Metric metric, int count, int memberships, int threads,
                         uint64_t seed) {
  const int64_t rows = data.rows;
  const int64_t dim = data.dim;
  count = static_cast<int>(std::clamp<int64_t>(count, 1, rows));
  memberships = std::clamp(memberships, 1, count);
  Pieces pieces;
  pieces.count = count;
  pieces.memberships = memberships;
  // Each row's preferences: its nearest centroids, a few more than it joins, so that a full
  // piece has a next choice behind it.
  const int want = std::min(count, memberships + 2);
  std::vector<int> choices(static_cast<size_t>(rows) * want, 0);
  std::vector<float> gap(rows, 0.0f);
  if (count > 1) {
    const bool normalise = metric != Metric::L2;
    const SampledCentroids sampled = kmeans_on_sample(data, normalise, count, kIterations, threads, seed ^ 0x91ecu);
    const Centroids& centroids = sampled.centroids;
    constexpr int64_t kBlock = 64 * kDotBlockRows;
    parallel_for(rows, threads, kBlock, [&](int64_t begin, int64_t end, int) {
      std::vector<float> block(static_cast<size_t>(kBlock) * dim), scores(static_cast<size_t>(kBlock) * want), dots;
      for (int64_t first = begin; first < end; first += kBlock) {
        const int n = static_cast<int>(std::min<int64_t>(kBlock, end - first));
        for (int i = 0; i < n; ++i) row_as_float(data, first + i, normalise, &block[static_cast<size_t>(i) * dim]);
        centroids.nearest_block(block.data(), n, want, &choices[static_cast<size_t>(first) * want], scores.data(), dots);
        for (int i = 0; i < n; ++i) {
          gap[first + i] = want > 1 ? scores[static_cast<size_t>(i) * want + 1] - scores[static_cast<size_t>(i) * want] : 0.0f;
        }
      }
    });
  }
  // Placement, clearest rows first: each row's first choice with room, then its further
  // memberships in the same order.
  std::vector<uint32_t> order(rows);
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return gap[a] > gap[b]; });
  const int64_t capacity = piece_capacity(rows, count, memberships);
  std::vector<int64_t> sizes(count, 0);
  std::vector<int> joined(static_cast<size_t>(rows) * memberships, -1);
  for (int m = 0; m < memberships; ++m) {
    for (uint32_t row : order) {
      const int* prefer = &choices[static_cast<size_t>(row) * want];
      int* mine = &joined[static_cast<size_t>(row) * memberships];
      auto already = [&](int p) { return std::find(mine, mine + m, p) != mine + m; };
      int chosen = -1;
      for (int w = 0; w < want && chosen < 0; ++w) {
        if (!already(prefer[w]) && sizes[prefer[w]] < capacity) chosen = prefer[w];
      }
      // Every preferred piece full: the least full piece not joined yet.
      if (chosen < 0) {
        for (int p = 0; p < count; ++p) {
          if (!already(p) && (chosen < 0 || sizes[p] < sizes[chosen])) chosen = p;
        }
      }
      mine[m] = chosen;
      ++sizes[chosen];
    }
  }
  pieces.offsets.assign(count + 1, 0);
  for (int p = 0; p < count; ++p) pieces.offsets[p + 1] = pieces.offsets[p] + sizes[p];
  pieces.members.resize(pieces.offsets[count]);
  std::vector<int64_t> fill(pieces.offsets.begin(), pieces.offsets.end() - 1);
  for (int64_t row = 0; row < rows; ++row) {  // ascending rows within each piece
    for (int m = 0; m < memberships; ++m) {
      const int p = joined[static_cast<size_t>(row) * memberships + m];
      pieces.members[fill[p]++] = static_cast<uint32_t>(row);
    }
  }
  return pieces;
}

void build_piece_lists(const DatasetView& data, int k, const Pieces& pieces, const std::vector<int>& which,
                       int threads, const PieceKnnBuild& build_piece, const PieceListsSink& take) {
  for (const int p : which) {
    const int64_t size = pieces.size(p);
    if (size < 2) continue;
    const uint32_t* members = &pieces.members[pieces.offsets[p]];
    PieceKnn local;
    {
      const Dataset piece = gather_rows(data, members, size, threads);
      local = build_piece(piece.view(), static_cast<int>(std::min<int64_t>(k, size - 1)));
    }
    take(p, local, members);
    local = PieceKnn{};
    release_free_heap();
  }
}

KnnGraph unfilled_lists(int64_t rows, int k, int threads) {
  KnnGraph lists;
  lists.rows = rows;
  lists.k = k;
  assign_huge(lists.ids, static_cast<size_t>(rows) * k, kInvalidId, resolve_threads(threads));
  assign_huge(lists.distances, static_cast<size_t>(rows) * k, std::numeric_limits<float>::infinity(),
              resolve_threads(threads));
  return lists;
}

void merge_piece_lists(KnnGraph& merged, int64_t first_row, const PieceKnn& lists, const uint32_t* members,
                       int threads) {
  const KnnGraph& knn = lists.knn;
  const int k = merged.k;
  auto row_of = [&](uint32_t i) { return members[lists.row_of.empty() ? i : lists.row_of[i]]; };
  // Each row's list from this piece, in the caller's ids, merged into the row's list.
  parallel_for(knn.rows, threads, 1024, [&](int64_t begin, int64_t end, int) {
    std::vector<uint32_t> ids(knn.k), scratch_ids(k);
    std::vector<float> distances(knn.k), scratch_distances(k);
    ListIds listed(k);
    for (int64_t i = begin; i < end; ++i) {
      const size_t from = static_cast<size_t>(i) * knn.k;
      int count = 0;
      for (int j = 0; j < knn.k && knn.ids[from + j] != kInvalidId; ++j, ++count) {
        ids[count] = row_of(knn.ids[from + j]);
        distances[count] = knn.distances[from + j];
      }
      const size_t to = static_cast<size_t>(row_of(static_cast<uint32_t>(i)) - first_row) * k;
      merge_unlisted(listed, &merged.ids[to], &merged.distances[to], k, ids.data(), distances.data(), count,
                     scratch_ids.data(), scratch_distances.data());
    }
  });
}

void fill_short_lists(KnnGraph& lists, int64_t first_row, int64_t rows, int threads) {
  const int k = lists.k;
  parallel_for(lists.rows, threads, 4096, [&](int64_t begin, int64_t end, int) {
    for (int64_t i = begin; i < end; ++i) {
      const int64_t r = first_row + i;
      uint32_t* ids = &lists.ids[static_cast<size_t>(i) * k];
      float* distances = &lists.distances[static_cast<size_t>(i) * k];
      uint64_t next = static_cast<uint64_t>(r) * 0x9E3779B97F4A7C15ull + 1;
      for (int j = 0; j < k; ++j) {
        if (ids[j] != kInvalidId) continue;
        uint32_t candidate;
        do {
          next = next * 6364136223846793005ull + 1442695040888963407ull;
          candidate = static_cast<uint32_t>((next >> 33) % static_cast<uint64_t>(rows));
        } while (candidate == r || std::find(ids, ids + j, candidate) != ids + j);
        ids[j] = candidate;
        distances[j] = std::numeric_limits<float>::max();
      }
    }
  });
}

KnnGraph repair_piece_borders(const DatasetView& data, Metric metric, KnnGraph merged, int threads,
                              const BuildParams& params) {
  StageTimer timer;
  const int64_t rows = merged.rows;
  const int k = merged.k;
  fill_short_lists(merged, 0, rows, threads);
  // The borders: NN-Descent over all rows, in the caller's order (the input stays where it is).
  NNDescentParams nn;
  nn.k = k;
  nn.max_iterations = std::max(1, params.nn_descent_iterations);
  nn.termination = params.nn_descent_termination;
  nn.threads = threads;
  nn.seed = params.seed;
  const Distance distance(metric, data);
  merged = nn_descent_knn_graph(distance, std::move(merged), nn, params.progress);
  timer.lap("pieces' borders: %d nn-descent rounds over all rows", nn.max_iterations);
  return merged;
}

KnnGraph partitioned_knn_graph(const DatasetView& data, Metric metric, int k, Pieces pieces, int threads,
                               const BuildParams& params, const PieceKnnBuild& build_piece) {
  StageTimer timer;
  KnnGraph merged = unfilled_lists(data.rows, k, threads);
  std::vector<int> all(pieces.count);
  std::iota(all.begin(), all.end(), 0);
  build_piece_lists(data, k, pieces, all, threads, build_piece, [&](int p, const PieceKnn& lists, const uint32_t* members) {
    merge_piece_lists(merged, 0, lists, members, threads);
    timer.lap("piece %d of %d: %lld rows, kNN lists merged", p + 1, pieces.count,
              static_cast<long long>(pieces.size(p)));
    if (params.progress) params.progress(Progress{"pieces", p + 1, pieces.count});
  });
  pieces = Pieces{};
  release_free_heap();
  return repair_piece_borders(data, metric, std::move(merged), threads, params);
}

}  // namespace annforge::cpu
