// Graph optimisation on the CPU: detour counting with a small per-vector slot table, then
// reverse edges collected position by position so that each vector keeps its strongest in-edges.
#include "host/cpu/graph/graph_optimize.hpp"

#include <algorithm>
#include <memory>

#include "host/cpu/graph/graph_optimize_kernels.hpp"
#include "host/cpu/parallel.hpp"
#include "host/cpu/progress.hpp"
#include "host/cpu/trace.hpp"
#include "host/huge_pages.hpp"
#include "kernels/shared/prune_core.hpp"

namespace annforge::cpu {
namespace {

// Detour counting for one vector keeps the ranks of its own list where a lookup by id is cheap.
// Up to 64 ranks: a direct-mapped table of 8,192 one-byte slots (8 KiB, in L1), indexed by a
// multiplicative hash of the id and verified against the list, with a hash multiplier chosen
// per vector so that the list's ids land in distinct slots (a few tries at most). Beyond that, or
// when no multiplier separates the ids: a table indexed by id itself (one per thread, rows
// entries: at 1M rows most lookups miss the cache).
constexpr int kSlotBits = 13;
constexpr int kMultiplierTries = 8;

inline uint32_t slot_of(uint32_t id, uint32_t multiplier) { return (id * multiplier) >> (32 - kSlotBits); }

class DetourCounter {
 public:
  explicit DetourCounter(int k, int64_t rows)
      : k_(k), slots_(size_t{1} << kSlotBits, 0), list_(k + 1), counts_(k + 9),
        words_kernel_(rows <= kDetourSlotIdLimit ? detour_words_kernel() : nullptr) {
    if (words_kernel_) wide_slots_.assign(size_t{1} << kDetourSlotBits, kEmptyDetourSlot);
  }

  // The `degree` ranks of v's list that core::select_by_detours keeps by its detour counts
  // (core::is_detour).
  void select(const KnnGraph& knn, int64_t v, int degree, uint16_t* detours, uint16_t* kept) {
    if (count(knn, v, detours, degree, kept)) return;
    core::select_by_detours(detours, k_, degree, kept);
  }

 private:
  // detours[r] for every rank r of v's list; true instead when the kept ranks were chosen on the
  // way (the detour-words path, AVX-512 or AVX2, selects from its bit planes).
  bool count(const KnnGraph& knn, int64_t v, uint16_t* detours, int degree, uint16_t* kept) {
    const uint32_t* list = &knn.ids[v * k_];
    // The neighbours' lists are random reads: start those of the next vector now, so that they
    // arrive while this one is counted (the detour-words path spreads them over its steps).
    const uint32_t* next = v + 1 < knn.rows ? &knn.ids[(v + 1) * k_] : nullptr;
    if (k_ <= 64 && words_kernel_) {
      for (int attempt = 0; attempt < kMultiplierTries; ++attempt) {
        const uint32_t multiplier = 0x9E3779B1u + 0x7F4A7C16u * static_cast<uint32_t>(attempt);
        const bool separated = fill_wide_slots(list, multiplier);
        if (separated) select_with_words(knn, list, multiplier, next, degree, kept);
        clear_wide_slots(list, multiplier);
        if (separated) return true;
      }
    }
    for (int j = 0; next && j + 1 < k_; ++j) prefetch_list(knn, next[j]);
    if (k_ <= 64 && !words_kernel_) {
      for (int attempt = 0; attempt < kMultiplierTries; ++attempt) {
        const uint32_t multiplier = 0x9E3779B1u + 0x7F4A7C16u * static_cast<uint32_t>(attempt);
        if (fill_slots(list, multiplier)) {
          count_with_slots(knn, list, multiplier, detours);
          clear_slots(list, multiplier);
          return false;
        }
        clear_slots(list, multiplier);
      }
    }
    count_with_rank_table(knn, list, detours);
    return false;
  }

  // Slot -> 1 + rank; false when two of the list's ids share a slot.
  bool fill_slots(const uint32_t* list, uint32_t multiplier) {
    list_[0] = kInvalidId;  // what an empty slot (0) verifies against: never a valid id
    for (int r = 0; r < k_; ++r) {
      uint8_t& slot = slots_[slot_of(list[r], multiplier)];
      if (slot != 0) return false;
      slot = static_cast<uint8_t>(r + 1);
      list_[r + 1] = list[r];
    }
    return true;
  }
  void clear_slots(const uint32_t* list, uint32_t multiplier) {
    for (int r = 0; r < k_; ++r) slots_[slot_of(list[r], multiplier)] = 0;
  }

  // The wide table of graph_optimize_kernels.hpp for the detour-words kernel; false on a slot collision.
  bool fill_wide_slots(const uint32_t* list, uint32_t multiplier) {
    for (int r = 0; r < k_; ++r) {
      uint32_t& slot = wide_slots_[detour_slot_of(list[r], multiplier)];
      if (slot != kEmptyDetourSlot) return false;
      slot = list[r] << 6 | static_cast<uint32_t>(r);
    }
    return true;
  }
  void clear_wide_slots(const uint32_t* list, uint32_t multiplier) {
    for (int r = 0; r < k_; ++r) wide_slots_[detour_slot_of(list[r], multiplier)] = kEmptyDetourSlot;
  }

  // Per neighbour w at rank j, the ranks it makes detourable as bits of one word (rank r at bit
  // r, r >= 1); the words are summed into per-rank counts by bit-sliced counters, so the inner
  // loop has no branch and no read-modify-write through memory.
  struct DetourPlanes {
    uint64_t planes[7] = {};  // bit b of rank r's count in planes[b] (counts stay below 64)
    void add(uint64_t word) {
      uint64_t carry = word;
      for (int b = 0; b < 7 && carry != 0; ++b) {
        const uint64_t next = planes[b] & carry;
        planes[b] ^= carry;
        carry = next;
      }
    }
    // The first `degree` ranks by (count, rank), as core::select_by_detours orders them, read
    // off the planes: the ranks of each count in turn as one word, lowest rank first.
    int select(int k, int degree, uint16_t* kept) const {
      const uint64_t ranks = k >= 64 ? ~uint64_t{0} : (uint64_t{1} << k) - 1;
      int filled = 0;
      for (int count = 0; filled < degree && count < 128; ++count) {
        uint64_t word = ranks;
        for (int b = 0; b < 7; ++b) word &= (count >> b) & 1 ? planes[b] : ~planes[b];
        for (; word != 0 && filled < degree; word &= word - 1) {
          kept[filled++] = static_cast<uint16_t>(__builtin_ctzll(word));
        }
      }
      return filled;
    }
    void write(int k, uint16_t* detours) const {
      for (int r = 0; r < k; ++r) {
        uint16_t total = 0;
        for (int b = 0; b < 7; ++b) total |= static_cast<uint16_t>(((planes[b] >> r) & 1u) << b);
        detours[r] = total;
      }
    }
  };

  void count_with_slots(const KnnGraph& knn, const uint32_t* list, uint32_t multiplier, uint16_t* detours) {
    DetourPlanes planes;
    for (int j = 0; j + 1 < k_; ++j) {
      const uint32_t* via = &knn.ids[static_cast<int64_t>(list[j]) * k_];
      uint64_t word = 0;
      for (int p = 0; p + 1 < k_; ++p) {
        const uint32_t id = via[p];
        const int rank_plus_one = slots_[slot_of(id, multiplier)];
        // Bitwise, not &&: whether the id is in the list is unpredictable.
        const uint64_t detour = static_cast<uint64_t>(list_[rank_plus_one] == id) &
                                static_cast<uint64_t>(rank_plus_one > std::max(j, p) + 1);
        word |= detour << ((rank_plus_one - 1) & 63);
      }
      planes.add(word);
    }
    planes.write(k_, detours);
  }

  void select_with_words(const KnnGraph& knn, const uint32_t* list, uint32_t multiplier, const uint32_t* next,
                         int degree, uint16_t* kept) {
    DetourPlanes planes;
    for (int j = 0; j + 1 < k_; ++j) {
      if (next) prefetch_list(knn, next[j]);
      planes.add(words_kernel_(&knn.ids[static_cast<int64_t>(list[j]) * k_], k_, j, wide_slots_.data(), multiplier));
    }
    planes.select(k_, degree, kept);
  }

  void prefetch_list(const KnnGraph& knn, uint32_t u) const {
    const char* row = reinterpret_cast<const char*>(&knn.ids[static_cast<int64_t>(u) * k_]);
    for (int line = 0; line < k_ * 4; line += 64) __builtin_prefetch(row + line);
  }

  void count_with_rank_table(const KnnGraph& knn, const uint32_t* list, uint16_t* detours) {
    if (rank_of_.empty()) rank_of_.assign(knn.rows, 0);
    for (int r = 0; r < k_; ++r) rank_of_[list[r]] = static_cast<uint16_t>(r + 1);
    // counts[1 + r] counts detours of the edge at rank r; counts[k + 1 .. k + 8] absorb the
    // branch-free increments of lookups that are no detour, spread over eight slots by position
    // so that they do not form one chain of dependent read-modify-writes through memory.
    std::fill(counts_.begin(), counts_.end(), 0);
    for (int j = 0; j + 1 < k_; ++j) {
      const uint32_t* via = &knn.ids[static_cast<int64_t>(list[j]) * k_];
      for (int p = 0; p + 1 < k_; ++p) {
        const int rank_plus_one = rank_of_[via[p]];
        const bool detour = rank_plus_one > std::max(j, p) + 1;
        ++counts_[detour ? rank_plus_one : k_ + 1 + (p & 7)];
      }
    }
    for (int r = 0; r < k_; ++r) detours[r] = counts_[r + 1];
    for (int r = 0; r < k_; ++r) rank_of_[list[r]] = 0;
  }

  int k_;
  std::vector<uint8_t> slots_;
  std::vector<uint32_t> list_;  // list_[1 + r] = the id at rank r; list_[0] = no id
  std::vector<uint16_t> counts_;
  std::vector<uint16_t> rank_of_;
  DetourWordsKernel words_kernel_;
  std::vector<uint32_t> wide_slots_;
};

}  // namespace

std::vector<uint32_t> prune_by_detours(const KnnGraph& knn, int degree, int threads) {
  return prune_rows_by_detours(knn, degree, threads, 0, knn.rows);
}

std::vector<uint32_t> prune_rows_by_detours(const KnnGraph& knn, int degree, int threads, int64_t first, int64_t count) {
  const int k = knn.k;
  std::vector<uint32_t> pruned;
  assign_huge(pruned, count * degree, 0u, resolve_threads(threads));
  // One counter per thread, kept across its chunks (its id-indexed table, when needed, has an
  // entry per row: built once per thread, not once per chunk).
  std::vector<std::unique_ptr<DetourCounter>> counters(resolve_threads(threads));
  parallel_for(count, threads, 512, [&](int64_t begin, int64_t end, int thread) {
    if (!counters[thread]) counters[thread] = std::make_unique<DetourCounter>(k, knn.rows);
    DetourCounter& counter = *counters[thread];
    std::vector<uint16_t> detours(k), kept(degree);
    for (int64_t i = begin; i < end; ++i) {
      const int64_t v = first + i;
      counter.select(knn, v, degree, detours.data(), kept.data());
      const uint32_t* list = &knn.ids[v * k];
      for (int e = 0; e < degree; ++e) pruned[i * degree + e] = list[kept[e]];
    }
  });
  return pruned;
}

void merge_forward_and_reverse_rows(const uint32_t* pruned, uint32_t* reverse, const int* reverse_count, int64_t rows,
                                    int degree, int threads) {
  const MergeEdgesKernel merge = degree <= 64 ? avx512_merge_edges_kernel() : nullptr;
  parallel_for(rows, threads, 4096, [&](int64_t begin, int64_t end, int) {
    std::vector<uint32_t> merged(degree);
    for (int64_t v = begin; v < end; ++v) {
      if (merge) {
        merge(&pruned[v * degree], &reverse[v * degree], reverse_count[v], degree, merged.data());
      } else {
        core::merge_forward_and_reverse(&pruned[v * degree], &reverse[v * degree], reverse_count[v], degree,
                                        merged.data());
      }
      std::copy(merged.begin(), merged.end(), reverse + v * degree);
    }
  });
}

std::vector<uint32_t> merge_reverse_edges(const std::vector<uint32_t>& pruned, int64_t rows, int degree, int threads) {
  // Reverse lists gathered position by position: an in-edge from a vector that ranks this one
  // higher (smaller position) is collected first and survives the cap. Each thread scans every
  // edge but writes only the reverse lists of the targets it owns: the order of collection, and
  // so the result, does not depend on the thread count. (Bucketing all in-edges by target in two
  // passes and sorting each bucket gave the same graph, 0.25-0.7 s slower at 1M rows in
  // alternating runs, with a 256 MiB bucket array.)
  StageTimer timer;
  std::vector<uint32_t> reverse;
  assign_huge(reverse, rows * degree, 0u, resolve_threads(threads));
  std::vector<int> reverse_count(rows, 0);
  const int parts = std::max(1, std::min<int>(resolve_threads(threads), static_cast<int>(rows / 65536) + 1));
  // A pass reads one position of every row: read straight from the row-major graph, each pass
  // would touch every cache line of it (32 passes over 128 MiB at 1M rows, per thread). Instead
  // a few positions at a time are copied out into columns, once, on all threads, and every
  // pass reads its column sequentially.
  constexpr int kPositionsPerCopy = 8;
  std::vector<uint32_t> columns(static_cast<size_t>(std::min(kPositionsPerCopy, degree)) * rows);
  for (int first = 0; first < degree; first += kPositionsPerCopy) {
    const int positions = std::min(kPositionsPerCopy, degree - first);
    parallel_for(rows, threads, 16384, [&](int64_t begin, int64_t end, int) {
      for (int64_t v = begin; v < end; ++v) {
        for (int q = 0; q < positions; ++q) columns[q * rows + v] = pruned[v * degree + first + q];
      }
    });
    parallel_for(parts, parts, 1, [&](int64_t part, int64_t, int) {
      const uint32_t lo = static_cast<uint32_t>(rows * part / parts);
      const uint32_t hi = static_cast<uint32_t>(rows * (part + 1) / parts);
      for (int q = 0; q < positions; ++q) {
        const uint32_t* column = &columns[q * rows];
        for (int64_t v = 0; v < rows; ++v) {
          const uint32_t u = column[v];
          // The targets are random writes: start the one 16 edges ahead now.
          const uint32_t ahead = column[std::min<int64_t>(v + 16, rows - 1)];
          if (ahead >= lo && ahead < hi) {
            __builtin_prefetch(&reverse_count[ahead], 1);
            __builtin_prefetch(&reverse[static_cast<int64_t>(ahead) * degree], 1);
          }
          if (u < lo || u >= hi || reverse_count[u] >= degree) continue;
          reverse[static_cast<int64_t>(u) * degree + reverse_count[u]++] = static_cast<uint32_t>(v);
        }
      }
    });
  }
  timer.lap("optimisation: reverse edges gathered");
  std::vector<uint32_t>().swap(columns);
  // Each vector's merge reads only its own lists: in parallel, and into its own reverse list
  // (through a row of scratch), so that no third graph-sized array is needed.
  merge_forward_and_reverse_rows(pruned.data(), reverse.data(), reverse_count.data(), rows, degree, threads);
  return reverse;
}

std::vector<uint32_t> optimize_graph(KnnGraph knn, int degree, int threads, const ProgressCallback& progress) {
  // Pruning indexes by the ids in the lists: an unfilled slot would index out of bounds. The
  // kNN stages always fill every list; this keeps a broken stage from becoming memory damage.
  for (uint32_t id : knn.ids) {
    if (id >= static_cast<uint64_t>(knn.rows)) {
      throw Error(ErrorCode::Internal, "graph optimisation: the kNN graph holds an unfilled or out-of-range neighbour");
    }
  }
  ProgressReporter reporter(progress, "optimize", 2);
  StageTimer timer;
  // The detours are counted by rank (the lists are nearest first): the distances are not read
  // again, and their pages go back before the pruned lists are allocated.
  std::vector<float>().swap(knn.distances);
  std::vector<uint32_t> pruned = prune_by_detours(knn, degree, threads);
  const int64_t rows = knn.rows;
  const int k = knn.k;
  knn = KnnGraph{};
  timer.lap("optimisation: pruning %d -> %d by detours", k, degree);
  reporter.add(1, 0);
  std::vector<uint32_t> graph = merge_reverse_edges(pruned, rows, degree, threads);
  timer.lap("optimisation: reverse edges merged");
  reporter.finish();
  return graph;
}

}  // namespace annforge::cpu
