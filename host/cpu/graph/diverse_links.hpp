// Level 0 for the libraries an index is exported to. hnswlib's and FAISS's searches compute a
// distance for every link of every row they expand, so their cost per step grows with the
// lists' length; annforge's own lists are full (degree links per row, chosen for annforge's
// search, which reads compact codes). Exported as they are, 1M SIFT searched in hnswlib reached
// recall@10 0.95 at 0.84x the queries/s of hnswlib's own index (M 16, efConstruction 200), whose
// heuristic leaves 21.6 links per row on average. Here each row's links are chosen again as
// HNSW chooses them (its neighbour heuristic), from a wide pool: the row's nearest among its
// two-hop neighbourhood in the index graph. The heuristic over the row's own list alone (no
// pool) left 21 links too, but recall per width fell (0.933 at ef 64 against 0.952 unthinned):
// it can only drop links, never find the diverse ones that HNSW's construction search finds.
#pragma once

#include <cstdint>
#include <utility>

#include "host/cpu/distance/distance.hpp"

namespace annforge::cpu {

// HNSW's neighbour heuristic over `candidates` ((distance to the row, id), nearest first): a
// candidate is kept unless one kept before it blocks it (is nearer to it than the row is),
// compared as hnswlib does, kept by kept in order until one blocks; at most `most` kept,
// written to `kept` (nearest first). `blocks(i, candidate)`: whether the i-th kept one blocks
// the candidate (the caller computes the distance, in its own argument order); `on_keep(i, id)`
// is told of each kept one before any later candidate is compared with it. Returns how many
// were kept. The export's level-0 links (below) and its long links (hnsw_hierarchy.cpp) both
// choose by it.
template <typename Blocks, typename OnKeep>
int keep_diverse(const std::pair<float, uint32_t>* candidates, int count, int most, Blocks blocks, OnKeep on_keep,
                 std::pair<float, uint32_t>* kept) {
  int found = 0;
  for (int j = 0; j < count && found < most; ++j) {
    bool diverse = true;
    for (int i = 0; i < found && diverse; ++i) diverse = !blocks(i, candidates[j]);
    if (!diverse) continue;
    on_keep(found, candidates[j].second);
    kept[found++] = candidates[j];
  }
  return found;
}

// For each of `rows` rows of `graph` (rows x degree ids, kInvalidId or ids >= rows for empty
// slots), the links HNSW's heuristic keeps from the `pool` nearest of the row's neighbours and
// their neighbours (x is kept unless it is nearer to a link already kept than to the row), then
// made symmetric (a row kept by another gets that row as a link), and cut again by the
// heuristic where a list then holds more than `degree`. Written into `out` (rows x out_width,
// out_width >= degree): the links nearest first, then kInvalidId. Float rows are compared by
// int8 codes with a scale per dimension where the CPU has AVX-512 (search/approximate_rows.hpp;
// the same recall in hnswlib as exact distances on 1M wordtext, a quarter of the bytes read),
// others exactly. Deterministic for any `threads`.
// `blocking` (or null): the distance the heuristic compares by, where it is not `distance` (which
// then only ranks the pool): inner product ranks by -<x, y> and blocks by angle.
void select_diverse_links(const Distance& distance, const uint32_t* graph, int64_t rows, int degree, int pool,
                          int threads, uint32_t* out, int out_width, const Distance* blocking = nullptr);

}  // namespace annforge::cpu
