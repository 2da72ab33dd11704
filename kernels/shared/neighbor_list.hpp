// Fixed-length neighbour lists sorted by distance, as kept per vector by NN-Descent and by the
// search beam. Shared by the CPU backend and the CUDA kernels (__host__ __device__).
#pragma once

#include <cstdint>

#include "distance_core.hpp"

namespace annforge::core {

// True when (da, ia) orders before (db, ib): nearer first, ties by smaller id, so results do not
// depend on the order in which candidates arrive.
ANNFORGE_HD bool nearer(float da, uint32_t ia, float db, uint32_t ib) { return da < db || (da == db && ia < ib); }

// Inserts `id` at `distance` into a full list of `length` entries sorted nearest first, pushing
// out the farthest. Does nothing (returns false) when the candidate is no nearer than the last
// entry, or is already present at a distance no larger; an id already present farther away moves
// up to the new distance. The list is then the nearest `length` of everything offered, each id at
// the smallest distance it came with, whatever the order of arrival (a pair's distance can differ
// in the last bits between kernels). `flags` (may be null) moves with the ids; the new entry gets
// `flag`.
ANNFORGE_HD bool insert_sorted(uint32_t* ids, float* distances, uint8_t* flags, int length, uint32_t id,
                               float distance, uint8_t flag) {
  if (length <= 0 || !nearer(distance, id, distances[length - 1], ids[length - 1])) return false;
  // A full scan for a repeat: position alone cannot tell, the distances may differ.
  int last = length - 1;  // the entry that leaves: the farthest, or the repeat itself
  for (int j = 0; j < length; ++j) {
    if (ids[j] == id) {
      if (!(distance < distances[j])) return false;
      last = j;
      break;
    }
  }
  int pos = last;
  while (pos > 0 && nearer(distance, id, distances[pos - 1], ids[pos - 1])) --pos;
  for (int j = last; j > pos; --j) {
    ids[j] = ids[j - 1];
    distances[j] = distances[j - 1];
    if (flags) flags[j] = flags[j - 1];
  }
  ids[pos] = id;
  distances[pos] = distance;
  if (flags) flags[pos] = flag;
  return true;
}

}  // namespace annforge::core
