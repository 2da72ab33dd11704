/* annforge over MPI from C: annforge_build spread over the ranks of a communicator, one index
 * out (the C form of annforge_mpi.hpp; link annforge_mpi, where annforge was built with MPI). */
#ifndef ANNFORGE_C_MPI_H
#define ANNFORGE_C_MPI_H

#include <mpi.h>

#include "annforge_c.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Collective over `comm`: every rank passes the same `rows` x `dim` vectors (for example the same
 * file, memory-mapped by each) and the same parameters. The rows are split into pieces
 * (params->partitions, 0: the plan's choice, at least one per rank), each rank builds the kNN
 * lists of its share, and the graph is repaired and pruned by row range across the ranks (see
 * annforge_mpi.hpp). On rank 0 *out is the index, which borrows `data` as annforge_build's does;
 * on the other ranks *out is NULL and the status ANNFORGE_OK. A failure on any rank returns the
 * same status on every rank, annforge_last_error naming the failing rank and its message; a
 * failure inside a stage that exchanges between ranks ends the job (MPI_Abort). */
annforge_status annforge_build_distributed(MPI_Comm comm, const void* data, int64_t rows, int64_t dim,
                                           annforge_dtype dtype, const annforge_build_params* params,
                                           annforge_index** out);

/* Collective: rank 0 saves its `index` to `path` (atomically, as annforge_save); the other ranks
 * pass NULL. Every rank returns rank 0's status. */
annforge_status annforge_save_distributed(MPI_Comm comm, const annforge_index* index, const char* path);

#ifdef __cplusplus
}
#endif

#endif /* ANNFORGE_C_MPI_H */
