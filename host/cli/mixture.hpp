// Synthetic clustered vectors: the data of `annforge gen` (and of bench/compare_gpu --generate),
// so that demos, tests and benchmarks need no download.
#pragma once

#include <cstdint>

#include "annforge.hpp"

namespace annforge::cli {

// Cluster centres spread in a unit cube; each cluster's points vary mostly along a few random
// directions of its own (a low-rank Gaussian) plus faint isotropic noise, so the data has the
// low intrinsic dimension of real embeddings rather than the unsearchable uniform spread of
// pure noise. For uint8 the values are scaled to [0, 255] and rounded. `stream` tells apart
// draws from the same mixture (base 1, queries 2). Rows are made in blocks of 65,536 on
// `threads` threads (0: all), each block from its own random stream, so the data depends on
// the seed and stream alone, not on the thread count.
Dataset generate_mixture(int64_t rows, int64_t dim, int clusters, ElementType type, uint64_t seed, uint64_t stream,
                         int threads = 0);

// Overwrites round(fraction x rows) rows, picked at random, with exact copies of rows that are
// not overwritten (each copy's source picked at random too): data with ties, as deduplication
// that never happened leaves in real collections. Deterministic in `seed`.
void add_exact_duplicates(Dataset& data, double fraction, uint64_t seed);

}  // namespace annforge::cli
