// The CPU backend's partitioned build at its seams, for a driver that builds the pieces
// somewhere else (host/mpi: on other ranks) and hands back their merged lists. Built this way,
// the index is the one build() makes with the same pieces: the same functions run in the same
// order on the same lists.
#pragma once

#include "annforge.hpp"
#include "host/cpu/knn_graph.hpp"
#include "host/cpu/partitioned_build.hpp"

namespace annforge::detail {

struct CpuPieceStages {
  int k = 0;        // kNN list length before pruning
  int degree = 0;   // the graph's degree
  int threads = 0;  // resolved thread count
  cpu::PieceKnnBuild build_piece;
};

// What the CPU's partitioned build of `rows` rows uses: the kNN degree, the threads, and each
// piece's kNN lists (cluster all-pairs, or exact on small pieces).
CpuPieceStages cpu_piece_stages(Metric metric, int64_t rows, const BuildParams& params);

// The CPU's flat build (graph, entry points; no levels) with a partitioned build's pieces
// (params.partitions > 1) built by `build_piece`: the CUDA backend's partitioned build, whose
// pieces are built on the GPU and whose merge, borders and optimisation run here.
void cpu_build_flat_in_pieces(Index& index, const BuildParams& params, const cpu::PieceKnnBuild& build_piece);

// Each piece's kNN lists built on this process's GPU (host/cuda: the GPU build's lists before
// pruning, downloaded; one piece at a time on the device), or an empty function where this
// build has no CUDA backend or the machine no usable GPU.
cpu::PieceKnnBuild cuda_piece_builder(Metric metric, const BuildParams& params);

// The end of a build whose graph was optimised elsewhere (host/mpi; rows x the build's degree,
// caller's ids): entry points, islands joined, the upper levels.
void cpu_finish_graph(Index& index, std::vector<uint32_t> graph, const BuildParams& params);

}  // namespace annforge::detail
