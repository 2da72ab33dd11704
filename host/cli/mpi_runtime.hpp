// The CLI under an MPI launcher (mpirun, mpiexec): with more than one rank, `annforge build` is
// the distributed build (index/annforge_mpi.hpp), and the other commands run on rank 0 alone.
#pragma once

#include "host/cli/args.hpp"

namespace annforge::cli {

// The ranks a launcher says it started (OpenMPI's, PMI's or PMIx's variables), 1 without one.
int launcher_ranks();

// MPI for this process's lifetime: initialised when a launcher started more than one rank and
// annforge was built with MPI, finalised at scope exit. Under a launcher, a build without MPI
// refuses to run: every rank would build the whole index alone.
class MpiRuntime {
 public:
  MpiRuntime(int* argc, char*** argv);
  ~MpiRuntime();
  MpiRuntime(const MpiRuntime&) = delete;
  MpiRuntime& operator=(const MpiRuntime&) = delete;
  static bool active();  // more than one rank, MPI initialised
  static int rank();     // 0 outside MPI
  static int size();     // 1 outside MPI
};

// `annforge build` over MPI_COMM_WORLD's ranks: the same flags and output as run_build, with the
// ranks' stages and bytes exchanged in --json.
int run_build_distributed(const Args& args);

}  // namespace annforge::cli
