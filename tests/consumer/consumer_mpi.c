/* An installed annforge's distributed build from C, on every rank of MPI_COMM_WORLD: 3,000
 * random vectors in 2 pieces, the index on rank 0 with every row's edges in range. Prints
 * "consumer_mpi: ok, RANKS ranks" on rank 0. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "annforge_c_mpi.h"

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, ranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  enum { kRows = 5000, kDim = 8 };
  float* data = malloc(sizeof(float) * kRows * kDim);
  uint64_t state = 99;
  for (int i = 0; i < kRows * kDim; ++i) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    data[i] = (float)(state >> 40) / (float)(1ULL << 24);
  }
  annforge_build_params params;
  annforge_build_params_default(&params);
  params.partitions = 2;
  params.threads = 1;
  annforge_index* index = NULL;
  int failed = annforge_build_distributed(MPI_COMM_WORLD, data, kRows, kDim, ANNFORGE_DTYPE_FLOAT32, &params, &index) !=
               ANNFORGE_OK;
  if (!failed && rank == 0) {
    const uint32_t* graph = annforge_index_graph(index);
    const int degree = annforge_index_graph_degree(index);
    for (int64_t i = 0; i < (int64_t)kRows * degree; ++i) failed |= graph[i] >= kRows;
  }
  if (failed) printf("consumer_mpi: FAIL (rank %d): %s\n", rank, annforge_last_error());
  else if (rank == 0) printf("consumer_mpi: ok, %d ranks\n", ranks);
  annforge_free(index);
  free(data);
  MPI_Finalize();
  return failed;
}
