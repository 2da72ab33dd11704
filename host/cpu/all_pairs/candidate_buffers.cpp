#include "host/cpu/all_pairs/candidate_buffers.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

#include "host/cpu/distance/distance_keys.hpp"

namespace annforge::cpu {

CandidateBuffers::CandidateBuffers(int k, int capacity)
    : k_(k), capacity_(capacity), sorted_(k), sort_kernel_(stable_rank_select_kernel()) {}

void CandidateBuffers::reset(int members, const float* thresholds) {
  counts_.assign(members, 0);
  // Eight more, never passed: the pair filter reads thresholds eight columns at a time.
  thresholds_.assign(members + 8, -std::numeric_limits<float>::infinity());
  std::copy(thresholds, thresholds + members, thresholds_.begin());
  const size_t slots = static_cast<size_t>(members) * capacity_;
  if (ids_.size() < slots) {
    ids_.resize(slots);
    distances_.resize(slots);
  }
  keys_.resize(capacity_);
  earlier_masks_.assign(members, 0);
  earlier_.assign(static_cast<size_t>(members) * kMaxEarlier, -1);
}

void CandidateBuffers::set_earlier_clusters(int member, const int* earlier, int count) {
  uint64_t mask = 0;
  int* list = &earlier_[static_cast<size_t>(member) * kMaxEarlier];
  for (int i = 0; i < count && i < kMaxEarlier; ++i) {
    list[i] = earlier[i];
    mask |= uint64_t{1} << (earlier[i] & 63);
  }
  earlier_masks_[member] = mask;
}

void CandidateBuffers::cut(int member) {
  const size_t base = static_cast<size_t>(member) * capacity_;
  int& count = counts_[member];
  for (int i = 0; i < count; ++i) keys_[i] = distance_key(distances_[base + i], ids_[base + i]);
  std::nth_element(keys_.begin(), keys_.begin() + (k_ - 1), keys_.begin() + count);
  for (int i = 0; i < k_; ++i) {
    ids_[base + i] = static_cast<uint32_t>(keys_[i]);
    distances_[base + i] = key_distance(keys_[i]);
  }
  count = k_;
  thresholds_[member] = key_distance(keys_[k_ - 1]);
}

int CandidateBuffers::take_sorted(int member, uint32_t* ids, float* distances) {
  const size_t base = static_cast<size_t>(member) * capacity_;
  const int count = counts_[member];
  for (int i = 0; i < count; ++i) keys_[i] = distance_key(distances_[base + i], ids_[base + i]);
  const int kept = std::min(count, k_);
  if (count > kept) std::nth_element(keys_.begin(), keys_.begin() + (kept - 1), keys_.begin() + count);
  // Ranked by vector compares (std::sort of ~48 keys was ~8% of a 1M SIFT build on AVX2, where
  // this pass runs: CPUs without the AVX-512 tiles). Equal keys rank by position (a member meets
  // each mate once per cluster, but offers are not checked for repeats).
  const uint64_t* sorted = keys_.data();
  if (sort_kernel_ != nullptr && kept <= 128) {
    sort_kernel_(keys_.data(), kept, kept, sorted_.data());
    sorted = sorted_.data();
  } else {
    std::sort(keys_.begin(), keys_.begin() + kept);
  }
  for (int i = 0; i < kept; ++i) {
    ids[i] = static_cast<uint32_t>(sorted[i]);
    distances[i] = key_distance(sorted[i]);
  }
  return kept;
}

}  // namespace annforge::cpu
