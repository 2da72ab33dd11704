// Per-member candidate buffers of one cluster in the clustered kNN stage. The all-pairs pass
// offers a pair to a member only when it beats the member's threshold; the buffer keeps every
// offer until it is full, then cuts itself to the best k and raises the threshold to the k-th
// distance. Offers are rare once thresholds are tight, so the cut's cost is paid a few times per
// member, never per pair.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "host/cpu/all_pairs/threshold_collect.hpp"

namespace annforge::cpu {

class CandidateBuffers {
 public:
  // `capacity` must exceed k; a larger one cuts less often and takes more memory.
  CandidateBuffers(int k, int capacity);

  // Empties `members` buffers; member i starts from thresholds[i] (offers at or above it are
  // refused).
  void reset(int members, const float* thresholds);

  // The current threshold of each member, read by the pair filter (a stale read only lets an
  // offer through to offer()'s own test).
  const float* thresholds() const { return thresholds_.data(); }

  // With overlapping clusters a pair of members may meet in several clusters; it is offered in
  // one only, the first they share (by cluster number), so that each pair is sorted and merged
  // once. `earlier` lists the member's other clusters numbered below this one (at most
  // kMaxEarlier); without a call, a member has none. reset() clears them.
  static constexpr int kMaxEarlier = 4;
  void set_earlier_clusters(int member, const int* earlier, int count);

  void offer(int member, uint32_t id, float distance) { Slots(*this).offer(member, id, distance); }

  // The buffers as raw arrays, for the pair filter's inner loop: a local copy of the pointers
  // stays in registers (the vectors' own pointers would be reloaded after every store).
  class Slots {
   public:
    explicit Slots(CandidateBuffers& buffers)
        : buffers_(&buffers),
          counts_(buffers.counts_.data()),
          thresholds_(buffers.thresholds_.data()),
          ids_(buffers.ids_.data()),
          distances_(buffers.distances_.data()),
          earlier_masks_(buffers.earlier_masks_.data()),
          earlier_(buffers.earlier_.data()),
          capacity_(buffers.capacity_) {}
    const float* thresholds() const { return thresholds_; }
    // Whether this cluster is the first both members share (set_earlier_clusters).
    bool owns(int a, int b) const {
      if ((earlier_masks_[a] & earlier_masks_[b]) == 0) return true;
      const int* x = &earlier_[static_cast<size_t>(a) * kMaxEarlier];
      const int* y = &earlier_[static_cast<size_t>(b) * kMaxEarlier];
      for (int i = 0; i < kMaxEarlier && x[i] >= 0; ++i) {
        for (int j = 0; j < kMaxEarlier && y[j] >= 0; ++j) {
          if (x[i] == y[j]) return false;
        }
      }
      return true;
    }
    void offer(int member, uint32_t id, float distance) {
      if (!(distance < thresholds_[member])) return;
      const int count = counts_[member];
      const size_t at = static_cast<size_t>(member) * capacity_ + count;
      ids_[at] = id;
      distances_[at] = distance;
      counts_[member] = count + 1;
      if (count + 1 == capacity_) buffers_->cut(member);
    }

   private:
    CandidateBuffers* buffers_;
    int* counts_;
    float* thresholds_;
    uint32_t* ids_;
    float* distances_;
    const uint64_t* earlier_masks_;
    const int* earlier_;
    int capacity_;
  };

  // The best (up to k) candidates of a member, nearest first (ties by id); returns how many.
  int take_sorted(int member, uint32_t* ids, float* distances);

 private:
  void cut(int member);  // keep the best k, threshold = their largest distance

  int k_;
  int capacity_;
  std::vector<int> counts_;
  std::vector<float> thresholds_;
  std::vector<uint32_t> ids_;
  std::vector<float> distances_;
  std::vector<uint64_t> earlier_masks_;  // per member: bit (c mod 64) of each earlier cluster c
  std::vector<int> earlier_;             // per member: kMaxEarlier cluster numbers, -1 padded
  std::vector<uint64_t> keys_, sorted_;
  RankSelectKernel sort_kernel_;  // take_sorted's final order (threshold_collect.hpp); null: std::sort
};

}  // namespace annforge::cpu
