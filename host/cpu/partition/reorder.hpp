// Renumbering rows so that near vectors get near ids. Every later stage (all pairs, NN-Descent,
// pruning, search) reads neighbour lists and vectors by id; with ids grouped by cluster those
// reads stay within a small window of memory instead of the whole data set.
#pragma once

#include <vector>

#include "annforge.hpp"
#include "host/cpu/knn_graph.hpp"
#include "host/cpu/partition/partition.hpp"

namespace annforge::cpu {

struct Renumbering {
  std::vector<uint32_t> new_of_old;
  std::vector<uint32_t> old_of_new;
};

// Rows ordered by primary cluster (ties by id).
Renumbering renumber_by_cluster(const Partition& partition);

// The rows of `data` in the new order (a copy).
Dataset reorder_rows(const DatasetView& data, const Renumbering& order, int threads);

// Rows rows[0], ..., rows[count - 1] of `data`, in that order (a copy): a piece's rows, a level's
// members, or rows searched for as queries.
Dataset gather_rows(const DatasetView& data, const uint32_t* rows, int64_t count, int threads);

// The partition with its member ids renumbered (and re-sorted within each cluster).
void renumber_partition(Partition& partition, const Renumbering& order, int threads = 1);

// A rows x degree graph over new ids turned into the same graph over old ids.
std::vector<uint32_t> graph_in_old_ids(const std::vector<uint32_t>& graph, int degree, const Renumbering& order,
                                       int threads);

// kNN lists (rows x k, in the new order, ids new) in the caller's row order and ids.
KnnGraph knn_in_old_ids(const KnnGraph& knn, const Renumbering& order, int threads);

}  // namespace annforge::cpu
