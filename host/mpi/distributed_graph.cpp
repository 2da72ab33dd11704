// The row-range stages of host/mpi/distributed_graph.hpp.
#include "host/mpi/distributed_graph.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <initializer_list>
#include <numeric>

#include "host/cpu/graph/graph_optimize.hpp"
#include "host/cpu/parallel.hpp"
#include "host/cpu/random.hpp"
#include "host/cpu/repair/candidate_lists.hpp"
#include "host/huge_pages.hpp"
#include "host/mpi/collective.hpp"
#include "host/mpi/row_ranges.hpp"
#include "kernels/shared/neighbor_list.hpp"

namespace annforge::mpi {
namespace {

// Records of 32-bit fields, the first the target row: a candidate offer (target, id,
// priority), an update (target, id, distance bits, pivot, sequence) or an in-edge (target,
// position, source).
struct Triple {
  uint32_t target, a, b;
};
static_assert(sizeof(Triple) == 12, "Triple is sent as 12 bytes");

// Per thread, per destination rank: the records a parallel pass produces.
class TripleBuckets {
 public:
  TripleBuckets(int threads, int ranks, int fields = 3)
      : ranks_(ranks), fields_(fields), buckets_(static_cast<size_t>(threads) * ranks) {}
  void add(int thread, int rank, const Triple& t) { add(thread, rank, {t.target, t.a, t.b}); }
  void add(int thread, int rank, std::initializer_list<uint32_t> fields) {
    std::vector<uint8_t>& bucket = buckets_[static_cast<size_t>(thread) * ranks_ + rank];
    const size_t at = bucket.size();
    bucket.resize(at + 4 * fields_);
    std::memcpy(&bucket[at], fields.begin(), 4 * fields_);
  }
  // Per destination, the threads' triples in thread order.
  std::vector<std::vector<uint8_t>> per_rank() {
    std::vector<std::vector<uint8_t>> to(ranks_);
    const size_t threads = buckets_.size() / ranks_;
    for (int r = 0; r < ranks_; ++r) {
      for (size_t t = 0; t < threads; ++t) {
        std::vector<uint8_t>& bucket = buckets_[t * ranks_ + r];
        to[r].insert(to[r].end(), bucket.begin(), bucket.end());
        std::vector<uint8_t>().swap(bucket);
      }
    }
    return to;
  }

 private:
  int ranks_;
  int fields_;
  std::vector<std::vector<uint8_t>> buckets_;
};

// The records received, grouped by target row (rows [first, first + count)), each group in
// the order received: records start[i] .. start[i + 1] of `fields` (or of `triples`, for
// three-field records).
struct ByTarget {
  std::vector<int64_t> start;
  std::vector<Triple> triples;
  std::vector<uint32_t> fields;
};
ByTarget group_by_target(const std::vector<uint8_t>& received, int64_t first, int64_t count, int width = 3) {
  const size_t total = received.size() / (4 * width);
  const auto* in = reinterpret_cast<const uint32_t*>(received.data());
  ByTarget out;
  out.start.assign(count + 1, 0);
  for (size_t i = 0; i < total; ++i) ++out.start[in[i * width] - first + 1];
  std::partial_sum(out.start.begin(), out.start.end(), out.start.begin());
  std::vector<int64_t> fill(out.start.begin(), out.start.end() - 1);
  if (width == 3) {
    out.triples.resize(total);
    for (size_t i = 0; i < total; ++i) {
      out.triples[fill[in[i * 3] - first]++] = Triple{in[i * 3], in[i * 3 + 1], in[i * 3 + 2]};
    }
  } else {
    out.fields.resize(total * width);
    for (size_t i = 0; i < total; ++i) {
      std::memcpy(&out.fields[fill[in[i * width] - first]++ * width], &in[i * width], 4 * width);
    }
  }
  return out;
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
    TripleBuckets offers(threads, ranks);
    cpu::parallel_for(count, threads, 4096, [&](int64_t begin, int64_t end, int thread) {
      for (int64_t i = begin; i < end; ++i) {
        const uint32_t v = static_cast<uint32_t>(first + i);
        for (int j = 0; j < sample; ++j) {
          const uint32_t u = lists.ids[i * k + j];
          if (u == kInvalidId) continue;
          const uint32_t priority = cpu::pair_priority(round_seed, v, u);
          offers.add(thread, rank, Triple{v, u, priority});
          offers.add(thread, owner_of(rows, ranks, u), Triple{u, v, priority});
        }
      }
    });
    std::vector<std::vector<uint8_t>> to = offers.per_rank();
    const ByTarget offered = group_by_target(all_to_all(comm, to, sizeof(Triple), report.bytes_sent,
                                                        report.bytes_received),
                                             first, count);
    cpu::CandidateLists candidates;
    candidates.reset(count, sample, threads);
    cpu::parallel_for(count, threads, 4096, [&](int64_t begin, int64_t end, int) {
      for (int64_t i = begin; i < end; ++i) {
        for (int64_t o = offered.start[i]; o < offered.start[i + 1]; ++o) {
          candidates.offer(i, offered.triples[o].a, offered.triples[o].b);
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
    TripleBuckets found_by(threads, ranks, 5);
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
            // A row's k-th distance only falls: what misses the start's misses for good.
            if (d < all_worst[p]) found_by.add(thread, owner_of(rows, ranks, p), {p, q, bits_of(d), pivot, sequence});
            ++sequence;
            if (d < all_worst[q]) found_by.add(thread, owner_of(rows, ranks, q), {q, p, bits_of(d), pivot, sequence});
            ++sequence;
          }
        }
      }
    });
    std::vector<std::vector<uint8_t>> found_to = found_by.per_rank();
    ByTarget found = group_by_target(all_to_all(comm, found_to, 20, report.bytes_sent, report.bytes_received), first,
                                     count, 5);
    cpu::parallel_for(count, threads, 4096, [&](int64_t begin, int64_t end, int) {
      int64_t local = 0;
      for (int64_t i = begin; i < end; ++i) {
        uint32_t* at = &found.fields[found.start[i] * 5];
        const int64_t n = found.start[i + 1] - found.start[i];
        std::vector<int64_t> order(n);
        std::iota(order.begin(), order.end(), 0);
        std::sort(order.begin(), order.end(), [&](int64_t x, int64_t y) {
          const uint32_t* fx = at + x * 5;
          const uint32_t* fy = at + y * 5;
          return fx[3] != fy[3] ? fx[3] < fy[3] : fx[4] < fy[4];
        });
        uint32_t* ids = &lists.ids[i * k];
        float* distances = &lists.distances[i * k];
        for (const int64_t o : order) {
          const uint32_t* f = at + o * 5;
          const float d = float_of(f[2]);
          if (d >= distances[k - 1]) continue;
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
  const int rank = rank_of(comm);
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
  TripleBuckets edges(threads, ranks);
  cpu::parallel_for(count, threads, 4096, [&](int64_t begin, int64_t end, int thread) {
    for (int64_t i = begin; i < end; ++i) {
      for (int q = 0; q < degree; ++q) {
        const uint32_t u = pruned[i * degree + q];
        edges.add(thread, owner_of(rows, ranks, u), Triple{u, static_cast<uint32_t>(q), static_cast<uint32_t>(first + i)});
      }
    }
  });
  std::vector<std::vector<uint8_t>> to = edges.per_rank();
  ByTarget in = group_by_target(all_to_all(comm, to, sizeof(Triple), report.bytes_sent, report.bytes_received), first,
                                count);
  (void)rank;
  std::vector<uint32_t> reverse;
  assign_huge(reverse, static_cast<size_t>(count) * degree, 0u, threads);
  std::vector<int> reverse_count(count, 0);
  cpu::parallel_for(count, threads, 4096, [&](int64_t begin, int64_t end, int) {
    for (int64_t i = begin; i < end; ++i) {
      Triple* from = &in.triples[in.start[i]];
      Triple* to_end = &in.triples[in.start[i + 1]];
      std::sort(from, to_end, [](const Triple& x, const Triple& y) { return x.a != y.a ? x.a < y.a : x.b < y.b; });
      const int n = static_cast<int>(std::min<int64_t>(degree, to_end - from));
      for (int j = 0; j < n; ++j) reverse[i * degree + j] = from[j].b;
      reverse_count[i] = n;
    }
  });
  in = ByTarget{};
  cpu::merge_forward_and_reverse_rows(pruned.data(), reverse.data(), reverse_count.data(), count, degree, threads);
  return reverse;
}

}  // namespace annforge::mpi
