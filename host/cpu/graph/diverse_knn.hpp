// Base lists chosen by HNSW's neighbour heuristic from the kNN stage's lists, in the build's
// renumbered order. The detour pruning (graph_optimize.hpp) keeps a row's links from its own
// kNN list only; on data of many small clusters (fewer rows than the list's length) that list
// holds every cluster mate and rows of the one or two nearest clusters, so the graph between
// clusters has few directions and walks need many more steps to cross it than HNSW's. Here each
// row's pool reaches two hops (its nearest neighbours' lists), and the heuristic keeps a
// candidate unless a link kept before it is nearer to it than the row is: few mates, one row
// per neighbouring direction.
#pragma once

#include <cstdint>
#include <vector>

#include "host/cpu/distance/distance.hpp"
#include "host/cpu/knn_graph.hpp"

namespace annforge::cpu {

struct DiverseKnnParams {
  int hops = 8;    // the row's nearest neighbours whose lists join its pool
  int width = 32;  // how much of each of their lists joins
  int pool = 64;   // the pool's nearest that the heuristic chooses from
};

// rows x degree (the kNN graph's rows and ids): per row the links the heuristic keeps (at most
// degree), made symmetric (a row kept by another gets it back; a list over the degree cut by the
// heuristic again), nearest first, the rest of the row kInvalidId. `distance` is over the rows
// of `knn` (the renumbered copy). Deterministic for any `threads`.
std::vector<uint32_t> diverse_knn_graph(const Distance& distance, const KnnGraph& knn, int degree,
                                        const DiverseKnnParams& params, int threads);

// Fills the empty slots of `graph` (rows x degree, kInvalidId for empty) from `fill` (rows x
// degree, in its order), skipping links the row has.
void fill_empty_slots(std::vector<uint32_t>& graph, const std::vector<uint32_t>& fill, int64_t rows, int degree,
                      int threads);

}  // namespace annforge::cpu
