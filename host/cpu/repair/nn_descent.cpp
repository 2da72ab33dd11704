// NN-Descent (Dong, Charikar, Li 2011): starting from approximate neighbour lists (here the
// clustered kNN stage's), repeatedly let every vector introduce its neighbours to each other
// ("local join"); a neighbour of a neighbour is likely a neighbour. Sampled new/old candidates
// keep each round's work bounded.
//
// Candidate building is lock-free: each thread scans every edge but only writes the candidate
// lists of the vectors it owns. The local join updates lists of arbitrary vectors, under one
// small spin lock per vector.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>

#include "host/cpu/knn_graph.hpp"
#include "host/cpu/parallel.hpp"
#include "host/cpu/random.hpp"
#include "host/cpu/trace.hpp"
#include "host/cpu/progress.hpp"
#include "host/huge_pages.hpp"
#include "kernels/shared/neighbor_list.hpp"
#include "host/cpu/repair/candidate_lists.hpp"

namespace annforge::cpu {
namespace {


class NNDescent {
 public:
  NNDescent(const Distance& distance, KnnGraph initial, const NNDescentParams& params)
      : distance_(distance),
        params_(params),
        rows_(distance.base().rows),
        k_(params.k),
        threads_(resolve_threads(params.threads)),
        locks_(rows_) {
    // Every edge of the given graph counts as new, so each is joined once. A single round needs
    // no flags (every edge is new, no candidate is old): they are kept for later rounds only.
    graph_ = std::move(initial);
    if (params.max_iterations > 1) assign_huge(is_new_, rows_ * k_, decltype(is_new_)::value_type{1}, threads_);
    worst_.resize(rows_);
    for (int64_t v = 0; v < rows_; ++v) worst_[v] = graph_.distances[v * k_ + k_ - 1];
    // Each vector offers its nearest sixth (at least 8) per round, forward and reverse together:
    // the start is already close, so rounds only repair. (1M SIFT, k = 48: the nearest 8 give the
    // recall that 12 sampled at random gave, in 2.6 s instead of 3.0; the nearest 12 give
    // recall@10 +0.0016 at beam 64 for 1.4 s more.)
    sample_ = params.sample > 0 ? params.sample : default_nn_sample(k_);
  }

  KnnGraph run(const ProgressCallback& progress) {
    StageTimer timer;
    const int64_t total_edges = rows_ * k_;
    ProgressReporter reporter(progress, "nn-descent", params_.max_iterations);
    for (int iteration = 0; iteration < params_.max_iterations; ++iteration) {
      build_candidates(iteration);
      timer.lap("nn-descent round %d candidates (k=%d, sample=%d)", iteration, k_, sample_);
      int64_t updates = local_join();
      timer.lap("nn-descent round %d local join, %lld updates", iteration, static_cast<long long>(updates));
      reporter.add(1, 0);
      if (updates <= static_cast<int64_t>(params_.termination * total_edges)) break;
    }
    reporter.finish();
    return std::move(graph_);
  }

 private:
  uint32_t* ids(int64_t v) { return &graph_.ids[v * k_]; }
  float* dists(int64_t v) { return &graph_.distances[v * k_]; }

  // Samples forward and reverse neighbours of every vector into new/old candidate lists, then
  // marks the sampled new neighbours old, so each pair is joined as "new" only once. Only each
  // vector's nearest `sample_` new and `sample_` old neighbours are offered (both ways): nearer
  // neighbours make better introductions, and the scan stops early (a quarter of the edges at
  // the default sample).
  void build_candidates(int iteration) {
    const bool flagged = !is_new_.empty();
    new_candidates_.reset(rows_, sample_, threads_);
    old_candidates_.reset(rows_, flagged ? sample_ : 0, threads_);
    const uint64_t round_seed = mix64(params_.seed + 0x1000 * (iteration + 1));
    parallel_for(threads_, threads_, 1, [&](int64_t part, int64_t, int) {
      int64_t lo = rows_ * part / threads_, hi = rows_ * (part + 1) / threads_;
      for (int64_t v = 0; v < rows_; ++v) {
        const uint32_t* list = ids(v);
        const uint8_t* fresh = flagged ? &is_new_[v * k_] : nullptr;
        const bool own_v = v >= lo && v < hi;
        int offered_new = 0, offered_old = 0;
        // Without flags every edge is new: the scan stops after the nearest `sample_`.
        const int old_wanted = flagged ? sample_ : 0;
        for (int j = 0; j < k_ && (offered_new < sample_ || offered_old < old_wanted); ++j) {
          const bool is_fresh = !fresh || fresh[j];
          int& offered = is_fresh ? offered_new : offered_old;
          if (offered == sample_) continue;
          ++offered;
          const uint32_t u = list[j];
          const bool own_u = u >= lo && u < hi;
          if (u == kInvalidId || (!own_v && !own_u)) continue;  // another thread's edge: skip the hash
          const uint32_t priority = pair_priority(round_seed, static_cast<uint32_t>(v), u);
          CandidateLists& target = is_fresh ? new_candidates_ : old_candidates_;
          if (own_v) target.offer(v, u, priority);
          if (own_u) target.offer(u, static_cast<uint32_t>(v), priority);
        }
      }
    });
    // The flags only steer later rounds: the last round allowed skips them (a hash per edge).
    const bool last_round = iteration + 1 == params_.max_iterations;
    parallel_for(rows_, threads_, 4096, [&](int64_t begin, int64_t end, int) {
      for (int64_t v = begin; v < end; ++v) {
        // A new neighbour whose edge priority made it into v's sample is joined this round:
        // from now on it is old.
        const uint32_t admission = new_candidates_.admission(v);
        for (int j = 0; j < k_ && !last_round && flagged; ++j) {
          uint8_t& fresh = is_new_[v * k_ + j];
          if (fresh && pair_priority(round_seed, static_cast<uint32_t>(v), ids(v)[j]) <= admission) fresh = 0;
        }
        new_candidates_.finish(v);
        old_candidates_.finish(v);
      }
    });
  }

  // The threshold test reads `worst_`, a compact copy of each list's last distance, so most
  // rejected candidates cost one cached load instead of a miss on the list itself. The read is
  // racy by design (relaxed atomic): a stale threshold only lets a candidate through to the
  // locked, exact check. A tie with the last distance goes through too: the lock's check orders
  // ties by id, so which of them stays does not depend on the order of arrival.
  bool try_insert(uint32_t target, uint32_t id, float d) {
    float worst;
    __atomic_load(&worst_[target], &worst, __ATOMIC_RELAXED);
    if (d > worst) return false;
    locks_[target].lock();
    int64_t base = static_cast<int64_t>(target) * k_;
    bool inserted = core::insert_sorted(ids(target), dists(target), is_new_.empty() ? nullptr : &is_new_[base], k_,
                                        id, d, 1);
    if (inserted) __atomic_store(&worst_[target], &graph_.distances[base + k_ - 1], __ATOMIC_RELAXED);
    locks_[target].unlock();
    return inserted;
  }

  int64_t local_join() {
    std::atomic<int64_t> updates{0};
    const bool cosine = distance_.metric() == Metric::Cosine;
    parallel_for(rows_, threads_, 256, [&](int64_t begin, int64_t end, int) {
      int64_t local = 0;
      std::vector<uint32_t> partners(2 * sample_);
      std::vector<const void*> partner_rows(2 * sample_);
      std::vector<float> partner_norms(2 * sample_, 1.0f), partner_distances(2 * sample_);
      for (int64_t v = begin; v < end; ++v) {
        const uint32_t* fresh = new_candidates_.of(v);
        const uint32_t* old = old_candidates_.of(v);
        int fresh_count = new_candidates_.counts[v], old_count = old_candidates_.counts[v];
        // All candidate vectors are about to be read many times: start their loads together.
        const DatasetView& base = distance_.base();
        // Their thresholds too: every distance is tested against both ends' (try_insert).
        for (int a = 0; a < fresh_count; ++a) prefetch_row(base, fresh[a]), __builtin_prefetch(&worst_[fresh[a]]);
        for (int b = 0; b < old_count; ++b) prefetch_row(base, old[b]), __builtin_prefetch(&worst_[old[b]]);
        for (int a = 0; a < fresh_count; ++a) {
          const uint32_t p = fresh[a];
          // p meets every later new candidate and every old one, in one batched distance call.
          int count = 0;
          for (int b = a + 1; b < fresh_count; ++b) partners[count++] = fresh[b];
          for (int b = 0; b < old_count; ++b) {
            if (old[b] != p) partners[count++] = old[b];
          }
          for (int b = 0; b < count; ++b) {
            partner_rows[b] = base.row(partners[b]);
            if (cosine) partner_norms[b] = distance_.inverse_norm_of(partners[b]);
          }
          distance_.raw_many(base.row(p), distance_.inverse_norm_of(p), partner_rows.data(), partner_norms.data(), count,
                             partner_distances.data());
          for (int b = 0; b < count; ++b) {
            local += try_insert(p, partners[b], partner_distances[b]) + try_insert(partners[b], p, partner_distances[b]);
          }
        }
      }
      updates.fetch_add(local, std::memory_order_relaxed);
    });
    return updates.load();
  }

  const Distance& distance_;
  NNDescentParams params_;
  int64_t rows_;
  int k_;
  int threads_;
  int sample_ = 0;
  KnnGraph graph_;
  std::vector<uint8_t> is_new_;
  std::vector<float> worst_;
  std::vector<SpinLock> locks_;
  CandidateLists new_candidates_, old_candidates_;
};

}  // namespace

KnnGraph nn_descent_knn_graph(const Distance& distance, KnnGraph initial, const NNDescentParams& params,
                              const ProgressCallback& progress) {
  if (initial.rows != distance.base().rows || initial.k != params.k) {
    throw Error(ErrorCode::Internal, "NN-Descent: the initial graph does not match the data or k");
  }
  if (params.k >= distance.base().rows) {
    throw Error(ErrorCode::InvalidArgument, "NN-Descent needs more rows (" + std::to_string(distance.base().rows) +
                                                ") than neighbours per row (" + std::to_string(params.k) + ")");
  }
  NNDescent builder(distance, std::move(initial), params);
  return builder.run(progress);
}

}  // namespace annforge::cpu
