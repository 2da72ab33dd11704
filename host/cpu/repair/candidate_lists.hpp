// NN-Descent's candidate sampling (host/cpu/repair/nn_descent.cpp), shared with the
// distributed rounds of host/mpi: the per-vector samples of neighbours to introduce, kept by
// smallest pair priority, so that a sample does not depend on the order of the offers.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "host/cpu/random.hpp"
#include "host/huge_pages.hpp"

namespace annforge::cpu {

// Each vector offers its nearest sixth of its list (at least 8) per round, forward and reverse.
inline int default_nn_sample(int k) { return std::max(8, k / 6); }

// Up to `capacity` candidates per vector, kept by smallest random priority: a uniform sample of
// everything offered, without storing everything offered. Each list is a max-heap on priority,
// so the root is the entry to evict. A pair gets the same priority from either side, so a
// repeat offer of an id lands on the same priority; repeats are removed once, in finish().
struct CandidateLists {
  int capacity = 0;
  std::vector<uint32_t> ids;
  std::vector<uint32_t> priorities;
  std::vector<int> counts;

  void reset(int64_t rows, int cap, int threads) {
    capacity = cap;
    assign_huge(ids, rows * cap, 0u, threads);
    assign_huge(priorities, rows * cap, 0u, threads);
    counts.assign(rows, 0);
  }
  // Pointer arithmetic on data(), not &ids[...]: a single round keeps no old lists, and
  // indexing an empty vector is undefined even when nothing is read.
  void offer(int64_t owner, uint32_t id, uint32_t priority) {
    if (capacity == 0) return;
    uint32_t* heap_ids = ids.data() + owner * capacity;
    uint32_t* heap = priorities.data() + owner * capacity;
    int& count = counts[owner];
    if (count < capacity) {
      int i = count++;
      while (i > 0 && heap[(i - 1) / 2] < priority) {  // sift up
        heap[i] = heap[(i - 1) / 2];
        heap_ids[i] = heap_ids[(i - 1) / 2];
        i = (i - 1) / 2;
      }
      heap[i] = priority;
      heap_ids[i] = id;
      return;
    }
    if (priority >= heap[0]) return;
    int i = 0;
    for (;;) {  // sift down from the root
      int child = 2 * i + 1;
      if (child >= count) break;
      if (child + 1 < count && heap[child + 1] > heap[child]) ++child;
      if (heap[child] <= priority) break;
      heap[i] = heap[child];
      heap_ids[i] = heap_ids[child];
      i = child;
    }
    heap[i] = priority;
    heap_ids[i] = id;
  }
  // The largest priority kept: an offer below it is in the list (or the list was never full).
  uint32_t admission(int64_t owner) const {
    if (capacity == 0) return 0;  // a list that keeps nothing admits nothing
    return counts[owner] < capacity ? UINT32_MAX : priorities[owner * capacity];
  }
  // Sorts a list by id and drops repeats.
  void finish(int64_t owner) {
    uint32_t* list = ids.data() + owner * capacity;
    std::sort(list, list + counts[owner]);
    counts[owner] = static_cast<int>(std::unique(list, list + counts[owner]) - list);
  }
  const uint32_t* of(int64_t owner) const { return ids.data() + owner * capacity; }
};

inline uint32_t pair_priority(uint64_t round_seed, uint32_t a, uint32_t b) {
  uint64_t low = std::min(a, b), high = std::max(a, b);
  return static_cast<uint32_t>(mix64(round_seed ^ (high << 32 | low)));
}

}  // namespace annforge::cpu
