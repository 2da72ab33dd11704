// The partitioned kNN stage: the kNN lists of data whose one-piece working set does not fit,
// built piece by piece. k-means over a sample splits the rows into pieces, each row in its
// nearest few (a neighbour across a piece border is then still in a shared piece); each piece's
// rows are copied out and get their kNN lists from the one-piece pipeline; the lists are merged
// per row, and NN-Descent rounds over all rows repair what the borders cut. Only one piece's
// working set and the merged lists are alive at a time: the renumbered copy of all rows, the
// partition's arrays and the all-pairs buffers of the one-piece build scale with a piece.
#pragma once

#include <algorithm>
#include <functional>
#include <vector>

#include "annforge.hpp"
#include "host/cpu/knn_graph.hpp"

namespace annforge::cpu {

// Rows in pieces: piece p holds members[offsets[p] .. offsets[p + 1]), ascending.
struct Pieces {
  int count = 0;
  int memberships = 0;
  std::vector<int64_t> offsets;
  std::vector<uint32_t> members;
  int64_t size(int p) const { return offsets[p + 1] - offsets[p]; }
};

// Pieces each row joins: its nearest two (a neighbour across one border is still in a shared
// piece).
constexpr int kPieceMemberships = 2;
// Rows per piece (before memberships) below which more pieces are not taken: pieces of a few
// thousand rows are all border.
constexpr int64_t kMinPieceRows = 2000;

// The pieces a build of `rows` takes when `asked` for (BuildParams::partitions; 0 or 1: one).
inline int effective_pieces(int64_t rows, int asked) {
  const int64_t most = std::max<int64_t>(1, rows / kMinPieceRows);
  return static_cast<int>(std::clamp<int64_t>(asked, 1, most));
}

// The most rows a piece may hold: `slack` x its even share of the memberships.
int64_t piece_capacity(int64_t rows, int count, int memberships, double slack = 1.25);

inline int64_t largest_piece(const Pieces& pieces) {
  int64_t most = 0;
  for (int p = 0; p < pieces.count; ++p) most = std::max(most, pieces.size(p));
  return most;
}

// k-means (on a sample) into `count` pieces; each row joins its `memberships` nearest pieces
// that have room (piece_capacity), rows placed in order of how clearly they belong (the gap
// between their nearest and next centroid, widest first), so that a full piece turns away the
// rows that sit between pieces.
Pieces split_into_pieces(const DatasetView& data, Metric metric, int count, int memberships, int threads,
                         uint64_t seed);

// One piece's kNN lists: `knn` over the piece's rows (a copy, in the piece's order), its ids
// and rows numbered by `row_of` (row_of[i]: the piece row that list i and id i stand for; empty:
// i itself).
struct PieceKnn {
  KnnGraph knn;
  std::vector<uint32_t> row_of;
};
using PieceKnnBuild = std::function<PieceKnn(const DatasetView& piece, int k)>;

// Each of `which` pieces' kNN lists, built by `build_piece` over a copy of the piece's rows and
// handed to `take` with the piece's members (ascending rows of `data`), one piece at a time:
// only one piece's working set is alive at once.
using PieceListsSink = std::function<void(int piece, const PieceKnn& lists, const uint32_t* members)>;
void build_piece_lists(const DatasetView& data, int k, const Pieces& pieces, const std::vector<int>& which,
                       int threads, const PieceKnnBuild& build_piece, const PieceListsSink& take);

// A piece's lists merged into the rows' lists of `merged` (k per row, in the caller's ids,
// nearest first), less what a row's list already holds from an earlier piece (the same pair's
// distance may differ between pieces). The row range [first_row, first_row + merged.rows) is
// the part of `merged` held; the piece's rows must lie in it.
void merge_piece_lists(KnnGraph& merged, int64_t first_row, const PieceKnn& lists, const uint32_t* members,
                       int threads);

// An empty list per row for merge_piece_lists: rows x k, every slot unfilled.
KnnGraph unfilled_lists(int64_t rows, int k, int threads);

// Lists left short (tiny pieces only) filled from random rows, which NN-Descent requires and
// replaces: rows [first_row, first_row + lists.rows) of `rows`, each row's fill fixed by its id.
void fill_short_lists(KnnGraph& lists, int64_t first_row, int64_t rows, int threads);

// After the pieces: lists left short (tiny pieces only) filled from random rows, then
// `params.nn_descent_iterations` (at least one) NN-Descent rounds over all rows repair what the
// piece borders cut.
KnnGraph repair_piece_borders(const DatasetView& data, Metric metric, KnnGraph merged, int threads,
                              const BuildParams& params);

// The kNN lists of all of `data` (k per row, nearest first, no self, no repeats): each piece's
// lists from `build_piece`, merged per row in piece order, then the borders repaired. The pieces
// are freed before the repair.
KnnGraph partitioned_knn_graph(const DatasetView& data, Metric metric, int k, Pieces pieces, int threads,
                               const BuildParams& params, const PieceKnnBuild& build_piece);

}  // namespace annforge::cpu
