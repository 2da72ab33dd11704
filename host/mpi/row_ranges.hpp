// Rows by range: rank r of R owns rows [first_row(rows, R, r), first_row(rows, R, r + 1)): its
// lists are merged, repaired and pruned there, and in-edges to them are sent there.
#pragma once

#include <cstdint>

namespace annforge::mpi {

inline int64_t first_row(int64_t rows, int ranks, int rank) { return rows * rank / ranks; }

inline int owner_of(int64_t rows, int ranks, uint32_t row) {
  int owner = static_cast<int>((static_cast<int64_t>(row) * ranks) / rows);
  while (owner + 1 < ranks && first_row(rows, ranks, owner + 1) <= row) ++owner;
  while (owner > 0 && first_row(rows, ranks, owner) > row) --owner;
  return owner;
}

}  // namespace annforge::mpi
