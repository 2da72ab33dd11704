// The stages after the pieces, by row range (host/mpi/row_ranges.hpp): each rank holds the kNN
// lists of its rows only, plus what a stage must see of the others' (the rows' k-th distances
// for NN-Descent, every row's ids for pruning), and sends what it finds for another rank's
// rows to that rank.
#pragma once

#include <mpi.h>

#include <vector>

#include "host/cpu/distance/distance.hpp"
#include "host/cpu/knn_graph.hpp"
#include "index/annforge_mpi.hpp"

namespace annforge::mpi {

// NN-Descent rounds over all rows, as nn_descent_knn_graph runs them (every edge new: each
// round introduces each row's nearest `sample` neighbours, forward and reverse, to each other),
// with each rank joining the candidates of its own rows: improvements to its rows are made in
// place, those to another rank's rows that beat that row's k-th distance are sent to it.
// `lists` holds rows [first, first + lists.rows), full. The lists end as one process ends them
// (each is the k nearest of everything offered to it), for one round; later rounds differ from
// one process's, which marks joined edges old.
void repair_borders(MPI_Comm comm, const cpu::Distance& distance, cpu::KnnGraph& lists, int64_t first,
                    const cpu::NNDescentParams& params, RankReport& report);

// Pruning to `degree` and reverse edges for rows [first, first + lists.rows): every rank gets
// every row's ids (pruning reads each neighbour's list), prunes its rows, and sends each edge
// v -> u to u's rank, which keeps u's in-edges by (position, v) as one process collects them
// and merges them with u's forward edges. Returns this rank's rows of the graph.
std::vector<uint32_t> optimise_rows(MPI_Comm comm, cpu::KnnGraph lists, int64_t first, int64_t rows, int degree,
                                    int threads, RankReport& report);

}  // namespace annforge::mpi
