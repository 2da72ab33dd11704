// Merging kNN lists: a sorted candidate list into a row's list of k, and the ids a list holds,
// to drop candidates it already has whose distances differ (the same pair computed in two
// clusters of bf16 tiles, or in two pieces of a partitioned build).
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "annforge.hpp"
#include "host/cpu/all_pairs/list_positions.hpp"
#include "host/cpu/distance/distance_keys.hpp"
#include "kernels/shared/neighbor_list.hpp"

namespace annforge::cpu {

// Merges a candidate list sorted by distance into a list of length k sorted by distance (in
// place), keeping the k nearest. The same pair computed in two clusters has the same distance,
// so a repeat sits among the emitted entries of equal distance and is dropped there (ties may
// come in any id order).
inline void merge_sorted(uint32_t* ids, float* distances, const uint32_t* more_ids, const float* more_distances,
                         int more, int k, uint32_t* scratch_ids, float* scratch_distances) {
  int a = 0, b = 0, out = 0;
  while (out < k && (a < k || b < more)) {
    bool take_a = b >= more || (a < k && core::nearer(distances[a], ids[a], more_distances[b], more_ids[b]));
    uint32_t id = take_a ? ids[a] : more_ids[b];
    float d = take_a ? distances[a++] : more_distances[b++];
    if (id == kInvalidId) break;  // the rest of the list is empty slots
    bool repeat = false;
    for (int back = out - 1; back >= 0 && scratch_distances[back] == d && !repeat; --back) repeat = scratch_ids[back] == id;
    if (repeat) continue;
    scratch_ids[out] = id;
    scratch_distances[out++] = d;
  }
  for (int i = out; i < k; ++i) scratch_ids[i] = kInvalidId, scratch_distances[i] = std::numeric_limits<float>::infinity();
  std::copy(scratch_ids, scratch_ids + k, ids);
  std::copy(scratch_distances, scratch_distances + k, distances);
}

// merge_sorted where both lists are sorted by (distance, id) (the clustered stage's lists and
// selections: positions within a cluster follow ids): the entries as keys (distance_keys.hpp,
// zeros of either sign as +0), merged with no data-dependent branch (the branchy merge
// mispredicted on every switch between the lists). A repeat has the same key as its twin and
// is taken once. `keys` is scratch, 2k + more + 2 entries.
inline void merge_sorted_by_key(uint32_t* ids, float* distances, const uint32_t* more_ids, const float* more_distances,
                                int more, int k, uint64_t* keys) {
  uint64_t* listed = keys;               // k + 1, the last a sentinel
  uint64_t* offered = keys + k + 1;      // more + 1
  for (int i = 0; i < k; ++i) listed[i] = distance_key(distances[i] + 0.0f, ids[i]);
  for (int i = 0; i < more; ++i) offered[i] = distance_key(more_distances[i] + 0.0f, more_ids[i]);
  listed[k] = offered[more] = ~uint64_t{0};
  uint64_t* merged = offered + more + 1;  // k
  int a = 0, b = 0, out = 0;
  while (out < k) {
    const uint64_t x = listed[a], y = offered[b];
    const uint64_t key = x < y ? x : y;
    a += x <= y;
    b += y <= x;
    if (key_id(key) == kInvalidId) break;  // the rest of both lists is empty slots
    merged[out++] = key;
  }
  for (int i = 0; i < out; ++i) {
    ids[i] = key_id(merged[i]);
    distances[i] = key_distance(merged[i]);
  }
  for (int i = out; i < k; ++i) ids[i] = kInvalidId, distances[i] = std::numeric_limits<float>::infinity();
}

// The ids of one kNN list, to find repeats whose distances differ (open addressing; slots are
// stamped with a generation, so nothing is cleared between lists).
class ListIds {
 public:
  explicit ListIds(int k) {
    size_t slots = 64;
    while (slots < 4 * static_cast<size_t>(k)) slots *= 2;
    slots_.assign(slots, 0);
    positions_.assign(slots, 0);
    mask_ = slots - 1;
  }
  void fill(const uint32_t* ids, int count) {
    if (++generation_ == 0) {  // stamps wrapped: clear once every 2^32 lists
      std::fill(slots_.begin(), slots_.end(), 0);
      generation_ = 1;
    }
    for (int i = 0; i < count && ids[i] != kInvalidId; ++i) {
      size_t at = hash(ids[i]);
      while (stamp(slots_[at]) == generation_) at = (at + 1) & mask_;
      slots_[at] = (uint64_t{generation_} << 32) | ids[i];
      positions_[at] = i;
    }
  }
  bool contains(uint32_t id) const { return position_of(id) >= 0; }
  // The id's position in the filled list, -1 where it is not there.
  int position_of(uint32_t id) const {
    for (size_t at = hash(id);; at = (at + 1) & mask_) {
      if (stamp(slots_[at]) != generation_) return -1;
      if (static_cast<uint32_t>(slots_[at]) == id) return positions_[at];
    }
  }

 private:
  size_t hash(uint32_t id) const { return (uint64_t{id} * 0x9E3779B97F4A7C15ull >> 40) & mask_; }
  static uint32_t stamp(uint64_t slot) { return static_cast<uint32_t>(slot >> 32); }
  std::vector<uint64_t> slots_;
  std::vector<int> positions_;  // beside each filled slot, its id's position in the list
  size_t mask_ = 0;
  uint32_t generation_ = 0;
};

// The position of each of `count` candidate ids in the list of k at `list` (-1: not there), into
// `positions`: by the vector kernel (list_positions.hpp) where the CPU has one and the list is
// short enough, else through `listed`.
inline void listed_positions(ListIds& listed, const uint32_t* list, int k, const uint32_t* ids, int count,
                             int* positions) {
  static const ListPositionsKernel kernel = list_positions_kernel();
  if (kernel != nullptr && k <= kListPositionsMaxK) {
    kernel(list, k, ids, count, positions);
    return;
  }
  listed.fill(list, k);
  for (int c = 0; c < count; ++c) positions[c] = listed.position_of(ids[c]);
}

// Candidates per call of the drops below, their positions found in one batch.
constexpr int kListedBatch = 64;

// Drops from `count` candidates (in place, order kept) those whose ids the list of k at `list`
// holds; returns how many remain.
inline int drop_listed(ListIds& listed, const uint32_t* list, int k, uint32_t* ids, float* distances, int count) {
  int kept = 0;
  int positions[kListedBatch];
  for (int first = 0; first < count; first += kListedBatch) {
    const int batch = std::min(kListedBatch, count - first);
    listed_positions(listed, list, k, ids + first, batch, positions);
    for (int c = first; c < first + batch; ++c) {
      ids[kept] = ids[c];
      distances[kept] = distances[c];
      kept += positions[c - first] < 0;
    }
  }
  return kept;
}

// drop_listed where a listed id's new distance is smaller: the list keeps the smaller (and stays
// sorted by (distance, id)). With approximate distances a pair met in two clusters has two; the
// smaller one kept, the lists do not depend on the order the clusters are taken in (a row's
// threshold only falls), so a build is the same from run to run whatever the threads do. The
// lowered list is sorted in the scratch (k entries each) and written back from the front: other
// threads read the list's last distance as a threshold without the lock, and must never see one
// below its final value.
inline int drop_listed_keeping_nearer(ListIds& listed, uint32_t* list_ids, float* list_distances, int k,
                                      uint32_t* ids, float* distances, int count, uint32_t* scratch_ids,
                                      float* scratch_distances) {
  int kept = 0;
  bool lowered = false;
  int positions[kListedBatch];
  for (int c = 0; c < count; ++c) {
    // The list's ids do not change below (only distances are lowered, in the scratch).
    if (c % kListedBatch == 0) {
      listed_positions(listed, list_ids, k, ids + c, std::min(kListedBatch, count - c), positions);
    }
    const int at = positions[c % kListedBatch];
    if (at < 0) {
      ids[kept] = ids[c];
      distances[kept++] = distances[c];
      continue;
    }
    const float listed_distance = lowered ? scratch_distances[at] : list_distances[at];
    if (distances[c] >= listed_distance) continue;
    if (!lowered) {
      std::copy(list_ids, list_ids + k, scratch_ids);
      std::copy(list_distances, list_distances + k, scratch_distances);
      lowered = true;
    }
    scratch_distances[at] = distances[c];
  }
  if (!lowered) return kept;
  // Lowered entries move up: an insertion sort of a nearly sorted list.
  for (int i = 1; i < k && scratch_ids[i] != kInvalidId; ++i) {
    const uint32_t id = scratch_ids[i];
    const float distance = scratch_distances[i];
    const uint64_t key = distance_key(distance + 0.0f, id);
    int j = i;
    for (; j > 0 && distance_key(scratch_distances[j - 1] + 0.0f, scratch_ids[j - 1]) > key; --j) {
      scratch_ids[j] = scratch_ids[j - 1];
      scratch_distances[j] = scratch_distances[j - 1];
    }
    scratch_ids[j] = id;
    scratch_distances[j] = distance;
  }
  for (int i = 0; i < k; ++i) {
    list_ids[i] = scratch_ids[i];
    list_distances[i] = scratch_distances[i];
  }
  return kept;
}

// Merges `count` candidates sorted by distance into the list of k at (list_ids, list_distances),
// less the ids the list already holds (the same pair's distance may differ where it was computed
// apart: another piece, another rank). The candidates are overwritten; the scratch holds k each.
inline void merge_unlisted(ListIds& listed, uint32_t* list_ids, float* list_distances, int k, uint32_t* ids,
                           float* distances, int count, uint32_t* scratch_ids, float* scratch_distances) {
  count = drop_listed(listed, list_ids, k, ids, distances, count);
  merge_sorted(list_ids, list_distances, ids, distances, count, k, scratch_ids, scratch_distances);
}

}  // namespace annforge::cpu
