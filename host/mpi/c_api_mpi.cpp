// The C calls of annforge_c_mpi.h over annforge_mpi.hpp.
#include <memory>

#include "index/annforge_c_mpi.h"
#include "index/annforge_mpi.hpp"
#include "index/c_api_support.hpp"

using namespace annforge::c_api;

extern "C" {

annforge_status annforge_build_distributed(MPI_Comm comm, const void* data, int64_t rows, int64_t dim,
                                           annforge_dtype dtype, const annforge_build_params* params,
                                           annforge_index** out) {
  if (out != nullptr) *out = nullptr;
  return guarded("annforge_build_distributed", [&] {
    // Checked collectively, so that a NULL on one rank fails every rank instead of leaving the
    // others waiting.
    annforge::DatasetView view;
    annforge::BuildParams build_params;
    annforge::agree_on_failure(comm, "arguments", [&] {
      require(out != nullptr, "out is NULL");
      view = to_view("data", data, rows, dim, dtype);
      build_params = to_build_params(params);
    });
    auto handle = std::make_unique<annforge_index>();
    handle->index = annforge::build_distributed(comm, annforge::Dataset::borrow(view), build_params);
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    if (rank == 0) *out = handle.release();
  });
}

annforge_status annforge_save_distributed(MPI_Comm comm, const annforge_index* index, const char* path) {
  return guarded("annforge_save_distributed", [&] {
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    annforge::agree_on_failure(comm, "saving the index", [&] {
      if (rank != 0) return;
      require(index != nullptr, "index is NULL on rank 0");
      require(path != nullptr, "path is NULL");
      annforge::save(index->index, path);
    });
  });
}

}  // extern "C"
