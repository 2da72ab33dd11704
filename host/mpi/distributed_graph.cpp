// The row-range stages of host/mpi/distributed_graph.hpp.
#include "host/mpi/distributed_graph.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "host/cpu/graph/graph_optimize.hpp"
#include "host/cpu/parallel.hpp"
#include "host/cpu/random.hpp"
#include "host/cpu/repair/candidate_lists.hpp"
#include "host/huge_pages.hpp"
#include "host/mpi/collective.hpp"
#include "host/mpi/records.hpp"
#include "host/mpi/row_ranges.hpp"
#include "kernels/shared/neighbor_list.hpp"

namespace annforge::mpi {
namespace {

// The records of these stages (host/mpi/records.hpp), by their fields after the target row:
// a candidate offer (id, priority), an improvement (id, distance bits, pivot, sequence), an
// in-edge (position, source).
constexpr int kOfferWidth = 3;
constexpr int kImprovementWidth = 5;
constexpr int kEdgeWidth = 3;

// Sorts a target's records (j in [begin, end) of `grouped`) by two of their fields.
void sort_by_fields(ByTarget& grouped, int64_t begin, int64_t end, int major, int minor) {
  const uint32_t* records = grouped.records;
  const int width = grouped.width;
  std::sort(grouped.order.begin() + begin, grouped.order.begin() + end, [&](uint32_t x, uint32_t y) {
    const uint32_t* fx = records + static_cast<size_t>(x) * width;
    const uint32_t* fy = records + static_cast<size_t>(y) * width;
    return fx[major] != fy[major] ? fx[major] < fy[major] : fx[minor] < fy[minor];
  });
}

float float_of(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
uint32_t bits_of(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  return bits;
}

}  // namespace

void repair_borders(MPI_Comm comm, const cpu::Distance& distance, cpu::KnnGraph& lists, int64_t first,
                    const cpu::NNDescentParams& params, RankReport& report) {
  const int ranks = size_of(comm);
  const int rank = rank_of(comm);
  const int64_t rows = distance.base().rows;
  const int64_t count = lists.rows;
  const int k = lists.k;
  const int threads = cpu::resolve_threads(params.threads);
  const int sample = std::min(k, params.sample > 0 ? params.sample : cpu::default_nn_sample(k));
  const DatasetView& base = distance.base();
  const bool cosine = distance.metric() == Metric::Cosine;
  for (int iteration = 0; iteration < std::max(1, params.max_iterations); ++iteration) {
    const uint64_t round_seed = cpu::mix64(params.seed + 0x1000 * (iteration + 1));
    // Every row's k-th distance: an update for another rank's row is sent only when it beats it.
    std::vector<float> worst(count);
    for (int64_t i = 0; i < count; ++i) worst[i] = lists.distances[i * k + k - 1];
    std::vector<float> all_worst(rows);
    all_gather(comm, worst.data(), count, sizeof(float), all_worst.data(), rows, report.bytes_sent,
               report.bytes_received);

    // Candidates: each row's nearest `sample` offered to it and it to them (reverse), each pair
    // with one priority; a row keeps the `sample` offers of smallest priority.
    RecordBuckets offers(threads, ranks, kOfferWidth);
    cpu::parallel_for(count, threads, 4096, [&](int64_t begin, int64_t end, int thread) {
      for (int64_t i = begin; i < end; ++i) {
        const uint32_t v = static_cast<uint32_t>(first + i);
        for (int j = 0; j < sample; ++j) {
          const uint32_t u = lists.ids[i * k + j];
          if (u == kInvalidId) continue;
          const uint32_t priority = cpu::pair_priority(round_seed, v, u);
          offers.add(thread, rank, {v, u, priority});
          offers.add(thread, owner_of(rows, ranks, u), {u, v, priority});
        }
      }
    });
    std::vector<std::vector<uint8_t>> to = offers.per_rank();
    const std::vector<uint8_t> offers_in =
        all_to_all(comm, to, offers.record_bytes(), report.bytes_sent, report.bytes_received);
    const ByTarget offered = group_by_target(offers_in, kOfferWidth, first, count);
    cpu::CandidateLists candidates;
    candidates.reset(count, sample, threads);
    cpu::parallel_for(count, threads, 4096, [&](int64_t begin, int64_t end, int) {
      for (int64_t i = begin; i < end; ++i) {
        for (int64_t o = offered.start[i]; o < offered.start[i + 1]; ++o) {
          candidates.offer(i, offered.record(o)[1], offered.record(o)[2]);
        }
        candidates.finish(i);
      }
    });

    // The local join: each of this rank's rows (the pivot) introduces its candidates to each
    // other. Every improvement it finds, for any row, goes to that row's rank tagged with the
    // pivot and its place in the pivot's sequence, and is applied there in that order: the order
    // in which one process applies them, so each list ends as one process leaves it even where
    // a pair's distance differs in its last bit from the one already listed (cosine).
    std::atomic<int64_t> updates{0};
    RecordBuckets found_by(threads, ranks, kImprovementWidth);
    cpu::parallel_for(count, threads, 256, [&](int64_t begin, int64_t end, int thread) {
      std::vector<const void*> partner_rows(sample);
      std::vector<float> partner_norms(sample, 1.0f), partner_distances(sample);
      for (int64_t i = begin; i < end; ++i) {
        const uint32_t pivot = static_cast<uint32_t>(first + i);
        uint32_t sequence = 0;
        const uint32_t* fresh = candidates.of(i);
        const int fresh_count = candidates.counts[i];
        for (int a = 0; a < fresh_count; ++a) cpu::prefetch_row(base, fresh[a]);
        for (int a = 0; a < fresh_count; ++a) {
          const uint32_t p = fresh[a];
          const int partners = fresh_count - a - 1;
          for (int b = 0; b < partners; ++b) {
            partner_rows[b] = base.row(fresh[a + 1 + b]);
            if (cosine) partner_norms[b] = distance.inverse_norm_of(fresh[a + 1 + b]);
          }
          distance.raw_many(base.row(p), distance.inverse_norm_of(p), partner_rows.data(), partner_norms.data(),
                            partners, partner_distances.data());
          for (int b = 0; b < partners; ++b) {
            const uint32_t q = fresh[a + 1 + b];
            const float d = partner_distances[b];
            // A row's k-th distance only falls: what misses the start's misses for good. A tie
            // with it may still enter (ties order by id), as in the one-process round.
            if (d <= all_worst[p]) found_by.add(thread, owner_of(rows, ranks, p), {p, q, bits_of(d), pivot, sequence});
            ++sequence;
            if (d <= all_worst[q]) found_by.add(thread, owner_of(rows, ranks, q), {q, p, bits_of(d), pivot, sequence});
            ++sequence;
          }
        }
      }
    });
    to = found_by.per_rank();
    const std::vector<uint8_t> found_in =
        all_to_all(comm, to, found_by.record_bytes(), report.bytes_sent, report.bytes_received);
    ByTarget found = group_by_target(found_in, kImprovementWidth, first, count);
    cpu::parallel_for(count, threads, 4096, [&](int64_t begin, int64_t end, int) {
      int64_t local = 0;
      for (int64_t i = begin; i < end; ++i) {
        sort_by_fields(found, found.start[i], found.start[i + 1], 3, 4);  // by pivot, then sequence
        uint32_t* ids = &lists.ids[i * k];
        float* distances = &lists.distances[i * k];
        for (int64_t o = found.start[i]; o < found.start[i + 1]; ++o) {
          const uint32_t* f = found.record(o);
          const float d = float_of(f[2]);
          if (d > distances[k - 1]) continue;
          local += core::insert_sorted(ids, distances, nullptr, k, f[1], d, 1);
        }
      }
      updates.fetch_add(local, std::memory_order_relaxed);
    });
    int64_t mine = updates.load(), all = 0;
    MPI_Request request;
    MPI_Iallreduce(&mine, &all, 1, MPI_INT64_T, MPI_SUM, comm, &request);
    wait_for(request);
    if (all <= static_cast<int64_t>(params.termination * rows * k)) break;
  }
}

std::vector<uint32_t> optimise_rows(MPI_Comm comm, cpu::KnnGraph lists, int64_t first, int64_t rows, int degree,
                                    int threads, RankReport& report) {
  const int ranks = size_of(comm);
  const int64_t count = lists.rows;
  const int k = lists.k;
  threads = cpu::resolve_threads(threads);
  for (uint32_t id : lists.ids) {
    if (id >= static_cast<uint64_t>(rows)) {
      throw Error(ErrorCode::Internal, "graph optimisation: the kNN graph holds an unfilled or out-of-range neighbour");
    }
  }
  // Pruning counts detours through each neighbour's list: every row's ids, on every rank.
  std::vector<float>().swap(lists.distances);
  cpu::KnnGraph all;
  all.rows = rows;
  all.k = k;
  assign_huge(all.ids, static_cast<size_t>(rows) * k, 0u, threads);
  all_gather(comm, lists.ids.data(), count, static_cast<size_t>(k) * 4, all.ids.data(), rows, report.bytes_sent,
             report.bytes_received);
  lists = cpu::KnnGraph{};
  std::vector<uint32_t> pruned = cpu::prune_rows_by_detours(all, degree, threads, first, count);
  all = cpu::KnnGraph{};
  release_free_heap();

  // Reverse edges: v -> u at position q goes to u's rank as (u, q, v); u keeps its first
  // `degree` in-edges by (q, v), the order in which one process collects them.
  RecordBuckets edges(threads, ranks, kEdgeWidth);
  cpu::parallel_for(count, threads, 4096, [&](int64_t begin, int64_t end, int thread) {
    for (int64_t i = begin; i < end; ++i) {
      for (int q = 0; q < degree; ++q) {
        const uint32_t u = pruned[i * degree + q];
        edges.add(thread, owner_of(rows, ranks, u), {u, static_cast<uint32_t>(q), static_cast<uint32_t>(first + i)});
      }
    }
  });
  std::vector<std::vector<uint8_t>> to = edges.per_rank();
  std::vector<uint8_t> edges_in = all_to_all(comm, to, edges.record_bytes(), report.bytes_sent, report.bytes_received);
  ByTarget in = group_by_target(edges_in, kEdgeWidth, first, count);
  std::vector<uint32_t> reverse;
  assign_huge(reverse, static_cast<size_t>(count) * degree, 0u, threads);
  std::vector<int> reverse_count(count, 0);
  cpu::parallel_for(count, threads, 4096, [&](int64_t begin, int64_t end, int) {
    for (int64_t i = begin; i < end; ++i) {
      sort_by_fields(in, in.start[i], in.start[i + 1], 1, 2);  // by position, then source
      const int n = static_cast<int>(std::min<int64_t>(degree, in.start[i + 1] - in.start[i]));
      for (int j = 0; j < n; ++j) reverse[i * degree + j] = in.record(in.start[i] + j)[2];
      reverse_count[i] = n;
    }
  });
  in = ByTarget{};
  std::vector<uint8_t>().swap(edges_in);
  cpu::merge_forward_and_reverse_rows(pruned.data(), reverse.data(), reverse_count.data(), count, degree, threads);
  return reverse;
}

}  // namespace annforge::mpi
