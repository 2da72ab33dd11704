/* The C calls of annforge_c_mpi.h from C, on every rank of MPI_COMM_WORLD (ctest runs it under
 * mpirun): a distributed build over random vectors (the index on rank 0 only, its graph's
 * invariants, recall@10 of a search against a brute force computed here), a bad argument on the
 * last rank failing every rank with the same status and a message naming that rank, and
 * annforge_save_distributed + annforge_load. Exits 1 on every rank at the first failure. */
#define _POSIX_C_SOURCE 200809L

#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "annforge_c_mpi.h"

enum { kRows = 12000, kDim = 16, kQueries = 50, kNeighbors = 10 };

static int rank = 0, ranks = 1;

_Noreturn static void fail(const char* format, ...) {
  va_list arguments;
  va_start(arguments, format);
  printf("c_api_mpi_test (rank %d of %d): FAIL: ", rank, ranks);
  vprintf(format, arguments);
  putchar('\n');
  va_end(arguments);
  fflush(stdout);
  MPI_Abort(MPI_COMM_WORLD, 1);
  exit(1);
}

static uint64_t random_state = 777;
static float next_uniform(void) {
  random_state = random_state * 6364136223846793005ULL + 1442695040888963407ULL;
  return (float)(random_state >> 40) / (float)(1ULL << 24);
}

static float squared_l2(const float* a, const float* b) {
  float sum = 0.0f;
  for (int i = 0; i < kDim; ++i) sum += (a[i] - b[i]) * (a[i] - b[i]);
  return sum;
}

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  float* data = malloc(sizeof(float) * kRows * kDim);
  float* queries = malloc(sizeof(float) * kQueries * kDim);
  if (!data || !queries) fail("out of memory");
  for (int i = 0; i < kRows * kDim; ++i) data[i] = next_uniform();
  for (int i = 0; i < kQueries * kDim; ++i) queries[i] = next_uniform();

  annforge_build_params params;
  annforge_build_params_default(&params);
  params.partitions = 4;
  params.threads = 1;
  params.device = ANNFORGE_DEVICE_CPU;
  annforge_index* index = NULL;
  annforge_status status = annforge_build_distributed(MPI_COMM_WORLD, data, kRows, kDim, ANNFORGE_DTYPE_FLOAT32,
                                                      &params, &index);
  if (status != ANNFORGE_OK) fail("annforge_build_distributed: %d: %s", (int)status, annforge_last_error());
  if ((rank == 0) != (index != NULL)) fail("the index must be on rank 0 only (rank %d got %p)", rank, (void*)index);

  if (rank == 0) {
    if (annforge_index_rows(index) != kRows) fail("rows %lld", (long long)annforge_index_rows(index));
    const int degree = annforge_index_graph_degree(index);
    if (degree != 32) fail("degree %d", degree);
    const uint32_t* graph = annforge_index_graph(index);
    for (int64_t v = 0; v < kRows; ++v) {
      for (int e = 0; e < degree; ++e) {
        const uint32_t u = graph[v * degree + e];
        if (u >= kRows) fail("row %lld edge %d is id %u", (long long)v, e, u);
        if (u == v) fail("row %lld has a self loop", (long long)v);
      }
    }
    /* Recall@10 at beam 64 against a brute force. */
    uint32_t ids[kQueries * kNeighbors];
    float distances[kQueries * kNeighbors];
    annforge_search_params search;
    annforge_search_params_default(&search);
    search.beam_width = 64;
    if (annforge_search(index, queries, kQueries, kDim, ANNFORGE_DTYPE_FLOAT32, kNeighbors, &search, ids, distances) !=
        ANNFORGE_OK) {
      fail("annforge_search: %s", annforge_last_error());
    }
    int hits = 0;
    for (int q = 0; q < kQueries; ++q) {
      /* The k-th true distance: a found id at or below it is a true neighbour. */
      float best[kNeighbors];
      for (int j = 0; j < kNeighbors; ++j) best[j] = 1e30f;
      for (int r = 0; r < kRows; ++r) {
        float d = squared_l2(&queries[q * kDim], &data[r * kDim]);
        for (int j = 0; j < kNeighbors; ++j) {
          if (d < best[j]) {
            float t = best[j];
            best[j] = d;
            d = t;
          }
        }
      }
      for (int j = 0; j < kNeighbors; ++j) {
        hits += squared_l2(&queries[q * kDim], &data[ids[q * kNeighbors + j] * kDim]) <= best[kNeighbors - 1] * 1.00001f;
      }
    }
    const double recall = (double)hits / (kQueries * kNeighbors);
    if (recall < 0.9) fail("recall@10 at beam 64 is %.3f, below 0.9", recall);
  }

  /* A bad argument on the last rank only: every rank fails alike, naming it. */
  annforge_index* bad = NULL;
  status = annforge_build_distributed(MPI_COMM_WORLD, rank == ranks - 1 ? NULL : data, kRows, kDim,
                                      ANNFORGE_DTYPE_FLOAT32, &params, &bad);
  if (status != ANNFORGE_STATUS_INVALID_ARGUMENT) fail("NULL data on the last rank: status %d", (int)status);
  char expected[64];
  snprintf(expected, sizeof expected, "rank %d of %d", ranks - 1, ranks);
  if (!strstr(annforge_last_error(), expected) || !strstr(annforge_last_error(), "data is NULL")) {
    fail("message does not name %s and the NULL: %s", expected, annforge_last_error());
  }
  if (bad != NULL) fail("a failed build returned an index");

  /* Saved by rank 0, loaded back. */
  char path[256];
  snprintf(path, sizeof path, "/tmp/annforge-c-mpi-%ld.afi", (long)getppid());
  if (annforge_save_distributed(MPI_COMM_WORLD, index, path) != ANNFORGE_OK) {
    fail("annforge_save_distributed: %s", annforge_last_error());
  }
  if (rank == 0) {
    annforge_index* loaded = NULL;
    if (annforge_load(path, &loaded) != ANNFORGE_OK) fail("annforge_load: %s", annforge_last_error());
    if (annforge_index_rows(loaded) != kRows) fail("the loaded index has %lld rows", (long long)annforge_index_rows(loaded));
    annforge_free(loaded);
    remove(path);
  }
  annforge_free(index);
  free(data);
  free(queries);
  if (rank == 0) printf("c_api_mpi_test: ok on %d ranks\n", ranks);
  MPI_Finalize();
  return 0;
}
