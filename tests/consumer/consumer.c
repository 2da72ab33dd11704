/* A program of another project that uses an installed annforge through its C API
 * (#include <annforge_c.h>; linked through the CMake package or pkg-config): builds a graph over
 * random vectors in memory, searches it and holds recall@10 against a brute force computed here,
 * exports it for hnswlib, saves and loads it, and frees both indexes. Prints one line and exits 1
 * at the first failure; exits 0 when all of it holds. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */

#include <annforge_c.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { kRows = 2000, kDim = 16, kQueries = 100, kNeighbors = 10, kDegree = 32 };
static const double kMinRecall = 0.9;

static char temp_dir[4096];
static char export_path[4200];
static char index_path[4200];

static void remove_temp_files(void) {
  if (temp_dir[0] == '\0') return;
  remove(export_path);
  remove(index_path);
  rmdir(temp_dir);
  temp_dir[0] = '\0';
}

static void fail(const char* format, ...) {
  va_list arguments;
  va_start(arguments, format);
  fputs("consumer_c: FAIL: ", stdout);
  vprintf(format, arguments);
  fputc('\n', stdout);
  va_end(arguments);
  remove_temp_files();
  exit(1);
}

static void check_ok(annforge_status status, const char* call) {
  if (status != ANNFORGE_OK) fail("%s returned status %d: %s", call, (int)status, annforge_last_error());
}

/* A deterministic LCG, so every run sees the same vectors. */
static uint64_t random_state = 12345;
static float next_uniform(void) {
  random_state = random_state * 6364136223846793005ULL + 1442695040888963407ULL;
  return (float)(random_state >> 40) / (float)(1ULL << 24);
}

static float squared_l2(const float* a, const float* b) {
  float sum = 0.0f;
  for (int i = 0; i < kDim; ++i) sum += (a[i] - b[i]) * (a[i] - b[i]);
  return sum;
}

/* The exact k nearest rows of `base` to `query`, nearest first. */
static void exact_neighbors(const float* base, const float* query, uint32_t* ids) {
  float distances[kNeighbors];
  int count = 0;
  for (int row = 0; row < kRows; ++row) {
    float distance = squared_l2(base + (size_t)row * kDim, query);
    if (count == kNeighbors && distance >= distances[count - 1]) continue;
    int position = count < kNeighbors ? count++ : kNeighbors - 1;
    while (position > 0 && distances[position - 1] > distance) {
      distances[position] = distances[position - 1];
      ids[position] = ids[position - 1];
      --position;
    }
    distances[position] = distance;
    ids[position] = (uint32_t)row;
  }
}

/* Checks every result (ids in range, distances ascending and exact) and returns recall@k. */
static double check_results(const float* base, const float* queries, const uint32_t* ids, const float* distances) {
  int hits = 0;
  for (int q = 0; q < kQueries; ++q) {
    const uint32_t* row_ids = ids + (size_t)q * kNeighbors;
    const float* row_distances = distances + (size_t)q * kNeighbors;
    uint32_t truth[kNeighbors];
    exact_neighbors(base, queries + (size_t)q * kDim, truth);
    for (int j = 0; j < kNeighbors; ++j) {
      if (row_ids[j] >= kRows) fail("query %d, neighbour %d: id %u is out of range", q, j, (unsigned)row_ids[j]);
      if (j > 0 && row_distances[j] < row_distances[j - 1]) fail("query %d: distances are not ascending", q);
      float exact = squared_l2(base + (size_t)row_ids[j] * kDim, queries + (size_t)q * kDim);
      if (row_distances[j] < exact - 1e-3f || row_distances[j] > exact + 1e-3f)
        fail("query %d, neighbour %d: distance %g, exact %g", q, j, row_distances[j], exact);
      for (int t = 0; t < kNeighbors; ++t) {
        if (row_ids[j] == truth[t]) {
          ++hits;
          break;
        }
      }
    }
  }
  return (double)hits / (double)(kQueries * kNeighbors);
}

int main(void) {
  static float base[kRows * kDim];
  static float queries[kQueries * kDim];
  static uint32_t ids[kQueries * kNeighbors];
  static float distances[kQueries * kNeighbors];
  for (int i = 0; i < kRows * kDim; ++i) base[i] = next_uniform();
  for (int i = 0; i < kQueries * kDim; ++i) queries[i] = next_uniform();

  annforge_build_params build_params;
  annforge_build_params_default(&build_params);
  build_params.graph_degree = kDegree;
  build_params.device = ANNFORGE_DEVICE_CPU;
  annforge_index* index = NULL;
  check_ok(annforge_build(base, kRows, kDim, ANNFORGE_DTYPE_FLOAT32, &build_params, &index), "annforge_build");
  if (annforge_index_rows(index) != kRows || annforge_index_dim(index) != kDim ||
      annforge_index_graph_degree(index) != kDegree)
    fail("the built index has the wrong shape");

  annforge_search_params search_params;
  annforge_search_params_default(&search_params);
  search_params.beam_width = 64;
  search_params.device = ANNFORGE_DEVICE_CPU;
  check_ok(annforge_search(index, queries, kQueries, kDim, ANNFORGE_DTYPE_FLOAT32, kNeighbors, &search_params, ids,
                           distances),
           "annforge_search");
  double recall = check_results(base, queries, ids, distances);
  if (recall < kMinRecall) fail("recall@10 %.3f is below %.2f", recall, kMinRecall);

  const char* tmp = getenv("TMPDIR");
  snprintf(temp_dir, sizeof temp_dir, "%s/annforge-consumer-c.XXXXXX", tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
  if (mkdtemp(temp_dir) == NULL) {
    temp_dir[0] = '\0';
    fail("cannot create a temporary folder");
  }
  snprintf(export_path, sizeof export_path, "%s/index.hnsw", temp_dir);
  snprintf(index_path, sizeof index_path, "%s/index.afi", temp_dir);

  check_ok(annforge_export(index, export_path, "hnswlib", 42, 0), "annforge_export");
  struct stat export_stat;
  if (stat(export_path, &export_stat) != 0 || export_stat.st_size == 0)
    fail("the hnswlib export %s is missing or empty", export_path);

  check_ok(annforge_save(index, index_path), "annforge_save");
  annforge_index* loaded = NULL;
  check_ok(annforge_load(index_path, &loaded), "annforge_load");
  if (annforge_index_rows(loaded) != kRows || annforge_index_dim(loaded) != kDim ||
      annforge_index_graph_degree(loaded) != kDegree ||
      memcmp(annforge_index_graph(loaded), annforge_index_graph(index), sizeof(uint32_t) * kRows * kDegree) != 0)
    fail("the loaded index differs from the one saved");
  check_ok(annforge_search(loaded, queries, kQueries, kDim, ANNFORGE_DTYPE_FLOAT32, kNeighbors, &search_params, ids,
                           distances),
           "annforge_search (loaded)");
  double recall_loaded = check_results(base, queries, ids, distances);
  if (recall_loaded < kMinRecall) fail("recall@10 of the loaded index %.3f", recall_loaded);

  annforge_free(loaded);
  annforge_free(index);
  printf("consumer_c: ok: %d x %d, recall@10 %.3f (loaded %.3f), hnswlib export %lld bytes\n", kRows, kDim, recall,
         recall_loaded, (long long)export_stat.st_size);
  remove_temp_files();
  return 0;
}
