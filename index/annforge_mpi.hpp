// annforge over MPI: one build spread over the ranks of a communicator, one index out.
// Available where annforge was built with MPI (ANNFORGE_MPI, cmake/mpi.cmake; the library
// annforge::annforge_mpi); include it from programs that are MPI programs already.
//
// Every rank passes the same data (typically the same file, memory-mapped by each rank: a rank
// reads the rows of its own pieces only) and the same parameters. Rank 0 splits the rows into
// pieces (k-means on a sample, each row in its nearest two) and sends the split to every rank;
// each rank builds the kNN lists of its share of the pieces on its backend; the lists go to the
// rank that owns their rows' range (all-to-all) and are merged there in piece order; the ranks
// repair the pieces' borders (NN-Descent) and prune and add reverse edges by row range,
// exchanging what crosses ranges; rank 0 gathers the graph and adds entry points, connectivity
// and the upper levels. With the same pieces (and the default single NN-Descent round) the
// result is the index build() makes in one process, on any number of ranks.
#pragma once

#include <mpi.h>

#include <functional>
#include <string>
#include <vector>

#include "annforge.hpp"

namespace annforge {

// What one rank did: its pieces, its seconds per stage and the bytes it exchanged.
struct RankReport {
  int rank = 0;
  int pieces = 0;                // pieces whose kNN lists this rank built
  int gpu_pieces = 0;            // 1: built on this rank's GPU, 0: on its CPU
  int64_t piece_rows = 0;        // rows over all of them (each row is in two pieces)
  double read_seconds = 0;       // the caller's (CLI: reading the input), 0 in build_distributed
  double split_seconds = 0;      // rank 0: k-means and the split; all: receiving it
  double pieces_seconds = 0;     // the kNN lists of this rank's pieces (its own work)
  double exchange_seconds = 0;   // lists to the ranks owning their rows (all-to-all)
  double merge_seconds = 0;      // merging the lists received, in piece order (its own work)
  double wait_seconds = 0;       // waiting for slower ranks after the pieces and the merge
  double repair_seconds = 0;     // NN-Descent over the borders, by row range (with its exchanges)
  double optimise_seconds = 0;   // pruning and reverse edges, by row range (with its exchanges)
  double gather_seconds = 0;     // every range's rows of the graph to rank 0
  double finish_seconds = 0;     // rank 0: entry points, connectivity, levels (others: waiting)
  uint64_t bytes_sent = 0;       // to other ranks (the split's broadcast included on rank 0)
  uint64_t bytes_received = 0;
};

struct DistributedReport {
  int ranks = 0;
  int pieces = 0;
  std::vector<RankReport> per_rank;  // on rank 0: every rank's, by rank; elsewhere: its own only
};

// The build of build(data, params) spread over the ranks of `comm` (collective: every rank
// calls it with the same data and parameters). The pieces are params.partitions (0: what the
// plan chooses under params.memory_limit), at least one per rank, each built on the rank's GPU
// where params.device allows and the rank has one (the GPU of its place on its node; device=gpu
// without one is an error), else on its CPU; the stages after the pieces run on the CPUs. Rank 0 returns the index;
// the other ranks an Index without vectors or graph. A failure on any rank (bad input, out of
// memory, an exception) is thrown on every rank as an Error naming the failing rank and its
// message; a failure inside a stage that exchanges between ranks (the borders' repair, the
// optimisation) and a rank that dies end the job through the MPI runtime, with the rank and the
// cause on stderr. Every rank holds every row's k-th distance and, while pruning, every row's
// kNN ids (rows x k x 4 bytes); rank 0 holds the final graph.
Index build_distributed(MPI_Comm comm, const Dataset& data, const BuildParams& params,
                        DistributedReport* report = nullptr);

// save(index, path) on rank 0 (atomically: a temporary name, then a rename), collectively: every
// rank returns once the file is in place, or throws the same Error naming rank 0's failure.
void save_distributed(MPI_Comm comm, const Index& index, const std::string& path);

// Runs `work` on this rank, then agrees with every rank: a failure on any (an exception of any
// kind) is thrown on all as an Error "rank R of N, STAGE: message" of the lowest failing rank.
// Use it around a rank's local work before the next collective call, so that no rank waits in a
// collective for a rank that failed.
void agree_on_failure(MPI_Comm comm, const char* stage, const std::function<void()>& work);

}  // namespace annforge
