/* The C API end to end, from C: build over random vectors, check the graph and the search
 * results against a brute force computed here, extend, save and load, rows apart (the
 * _strided calls), and the error paths.
 * A plain C11 program (no test framework) so it proves the header is usable from C.
 * Prints one line and exits 1 at the first failure; exits 0 when everything holds. */
#define _POSIX_C_SOURCE 200809L /* mkstemp */

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "annforge_c.h"

enum { kRows = 2000, kDim = 16, kExtraRows = 200, kQueries = 100, kNeighbors = 10, kDefaultDegree = 32 };
static const double kMinRecall = 0.9;
/* A vector's distance to itself is 0, up to the rounding of an expanded ||a||^2 - 2ab + ||b||^2. */
static const float kSelfDistanceTolerance = 1e-4f;

static char index_path[4096];

_Noreturn static void fail(const char* format, ...) {
  va_list arguments;
  va_start(arguments, format);
  fputs("c_api_test: FAIL: ", stdout);
  vprintf(format, arguments);
  fputc('\n', stdout);
  va_end(arguments);
  if (index_path[0] != '\0') remove(index_path);
  exit(1);
}

/* Fails with the library's message unless `status` is ANNFORGE_OK. */
static void check_ok(annforge_status status, const char* call) {
  if (status != ANNFORGE_OK) fail("%s returned status %d: %s", call, (int)status, annforge_last_error());
}

static void check_status(annforge_status status, annforge_status expected, const char* call) {
  if (status != expected) fail("%s returned status %d, expected %d", call, (int)status, (int)expected);
  if (annforge_last_error()[0] == '\0') fail("%s failed without a message in annforge_last_error()", call);
}

/* A deterministic LCG (Knuth's MMIX constants), so every run sees the same vectors. */
static uint64_t random_state = 12345;
static float next_uniform(void) {
  random_state = random_state * 6364136223846793005ULL + 1442695040888963407ULL;
  return (float)(random_state >> 40) / (float)(1ULL << 24); /* top 24 bits: [0, 1) */
}

static float squared_l2(const float* a, const float* b) {
  float sum = 0.0f;
  for (int i = 0; i < kDim; ++i) {
    float difference = a[i] - b[i];
    sum += difference * difference;
  }
  return sum;
}

/* The exact k nearest rows of `base` to `query`, nearest first (insertion into a short list). */
static void exact_neighbors(const float* base, int64_t rows, const float* query, uint32_t* ids) {
  float distances[kNeighbors];
  int count = 0;
  for (int64_t row = 0; row < rows; ++row) {
    float distance = squared_l2(base + row * kDim, query);
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

/* Degree min(32, rows - 1); every id a valid row, no self loops, no repeats within a row. */
static void check_graph(const annforge_index* index, int64_t expected_rows, const char* label) {
  int64_t rows = annforge_index_rows(index);
  int degree = annforge_index_graph_degree(index);
  const uint32_t* graph = annforge_index_graph(index);
  int64_t expected_degree = expected_rows - 1 < kDefaultDegree ? expected_rows - 1 : kDefaultDegree;
  if (rows != expected_rows)
    fail("%s: index has %lld rows, expected %lld", label, (long long)rows, (long long)expected_rows);
  if (annforge_index_dim(index) != kDim)
    fail("%s: index has dim %lld, expected %d", label, (long long)annforge_index_dim(index), kDim);
  if (degree != expected_degree) fail("%s: graph degree %d, expected %lld", label, degree, (long long)expected_degree);
  if (graph == NULL) fail("%s: annforge_index_graph returned NULL", label);
  for (int64_t row = 0; row < rows; ++row) {
    const uint32_t* neighbors = graph + row * degree;
    for (int i = 0; i < degree; ++i) {
      if (neighbors[i] >= (uint64_t)rows)
        fail("%s: row %lld has neighbour id %u >= rows", label, (long long)row, neighbors[i]);
      if (neighbors[i] == (uint64_t)row) fail("%s: row %lld links to itself", label, (long long)row);
      for (int j = 0; j < i; ++j) {
        if (neighbors[j] == neighbors[i])
          fail("%s: row %lld lists neighbour %u twice", label, (long long)row, neighbors[i]);
      }
    }
  }
}

/* Searches rows [first, first + kQueries) of `base` and checks each finds itself first at
 * distance 0, and that recall@k against the exact neighbours reaches kMinRecall. */
static void check_search(const annforge_index* index, const float* base, int64_t rows, int64_t first, uint32_t* ids,
                         float* distances, const char* label) {
  annforge_search_params params;
  annforge_search_params_default(&params);
  params.device = ANNFORGE_DEVICE_CPU;
  const float* queries = base + first * kDim;
  check_ok(annforge_search(index, queries, kQueries, kDim, ANNFORGE_DTYPE_FLOAT32, kNeighbors, &params, ids, distances),
           "annforge_search");
  int64_t found = 0;
  for (int query = 0; query < kQueries; ++query) {
    const uint32_t* result = ids + (size_t)query * kNeighbors;
    uint32_t self = (uint32_t)(first + query);
    if (result[0] != self) fail("%s: query %u found %u first, not itself", label, self, result[0]);
    float self_distance = distances[(size_t)query * kNeighbors];
    if (fabsf(self_distance) > kSelfDistanceTolerance)
      fail("%s: query %u is at distance %g from itself", label, self, self_distance);
    uint32_t truth[kNeighbors];
    exact_neighbors(base, rows, queries + (size_t)query * kDim, truth);
    for (int i = 0; i < kNeighbors; ++i) {
      for (int j = 0; j < kNeighbors; ++j) {
        if (result[i] == truth[j]) {
          ++found;
          break;
        }
      }
    }
  }
  double recall = (double)found / (double)(kQueries * kNeighbors);
  if (recall < kMinRecall) fail("%s: recall@%d is %.3f, below %.2f", label, kNeighbors, recall, kMinRecall);
  printf("c_api_test: %s: recall@%d = %.3f\n", label, kNeighbors, recall);
}

/* Rows apart (the _strided calls): the same rows as `base`, each in a record of kDim + 3 floats,
 * built, searched and extended in place, give on one thread the same graph and answers as the
 * packed rows; strides that cannot hold a row, that misalign a float, or are negative are
 * refused naming row_stride or the stride. */
static void check_strided(const float* base) {
  enum { kRecord = kDim + 3, kBuilt = 600, kAdded = 50 };
  const int64_t stride = (int64_t)(sizeof(float) * kRecord);
  float* records = malloc(sizeof(float) * (size_t)(kBuilt + kAdded) * kRecord);
  uint32_t* packed_ids = malloc(sizeof(uint32_t) * (size_t)kQueries * kNeighbors);
  uint32_t* strided_ids = malloc(sizeof(uint32_t) * (size_t)kQueries * kNeighbors);
  float* packed_distances = malloc(sizeof(float) * (size_t)kQueries * kNeighbors);
  float* strided_distances = malloc(sizeof(float) * (size_t)kQueries * kNeighbors);
  if (!records || !packed_ids || !strided_ids || !packed_distances || !strided_distances) fail("out of memory");
  for (int64_t r = 0; r < kBuilt + kAdded; ++r) {
    for (int d = 0; d < kRecord; ++d) records[r * kRecord + d] = d < kDim ? base[r * kDim + d] : -1e30f;
  }
  annforge_build_params build_params;
  annforge_build_params_default(&build_params);
  build_params.device = ANNFORGE_DEVICE_CPU;
  build_params.threads = 1; /* one thread: the same graph, bit for bit */
  annforge_search_params search_params;
  annforge_search_params_default(&search_params);
  search_params.device = ANNFORGE_DEVICE_CPU;
  search_params.threads = 1;
  annforge_index* packed = NULL;
  annforge_index* strided = NULL;
  check_ok(annforge_build(base, kBuilt, kDim, ANNFORGE_DTYPE_FLOAT32, &build_params, &packed), "annforge_build");
  check_ok(annforge_build_strided(records, kBuilt, kDim, stride, ANNFORGE_DTYPE_FLOAT32, &build_params, &strided),
           "annforge_build_strided");
  check_graph(strided, kBuilt, "strided");
  const size_t graph_bytes = sizeof(uint32_t) * (size_t)kBuilt * (size_t)annforge_index_graph_degree(packed);
  if (annforge_index_graph_degree(strided) != annforge_index_graph_degree(packed) ||
      memcmp(annforge_index_graph(packed), annforge_index_graph(strided), graph_bytes) != 0) {
    fail("the graph built from rows %lld bytes apart differs from the packed rows' graph", (long long)stride);
  }
  /* Queries rows apart too: rows 100.. of the records. */
  check_ok(annforge_search(packed, base + 100 * kDim, kQueries, kDim, ANNFORGE_DTYPE_FLOAT32, kNeighbors,
                           &search_params, packed_ids, packed_distances),
           "annforge_search");
  check_ok(annforge_search_strided(strided, records + 100 * kRecord, kQueries, kDim, stride, ANNFORGE_DTYPE_FLOAT32,
                                   kNeighbors, &search_params, strided_ids, strided_distances),
           "annforge_search_strided");
  if (memcmp(packed_ids, strided_ids, sizeof(uint32_t) * (size_t)kQueries * kNeighbors) != 0 ||
      memcmp(packed_distances, strided_distances, sizeof(float) * (size_t)kQueries * kNeighbors) != 0) {
    fail("queries rows apart are answered differently from packed queries");
  }
  for (int q = 0; q < kQueries; ++q) {
    if (strided_ids[(size_t)q * kNeighbors] != (uint32_t)(100 + q)) fail("strided query %d does not find itself", q);
  }
  check_ok(annforge_extend(packed, base + kBuilt * kDim, kAdded, kDim, ANNFORGE_DTYPE_FLOAT32, &build_params),
           "annforge_extend");
  check_ok(annforge_extend_strided(strided, records + kBuilt * kRecord, kAdded, kDim, stride, ANNFORGE_DTYPE_FLOAT32,
                                   &build_params),
           "annforge_extend_strided");
  check_graph(strided, kBuilt + kAdded, "strided, extended");
  if (memcmp(annforge_index_graph(packed), annforge_index_graph(strided),
             sizeof(uint32_t) * (size_t)(kBuilt + kAdded) * (size_t)annforge_index_graph_degree(packed)) != 0) {
    fail("extending with rows apart gives a different graph from extending with packed rows");
  }
  annforge_free(packed);
  annforge_free(strided);

  /* Strides refused: too short for a row, a float at an odd byte, negative. */
  const int64_t refused[] = {(int64_t)(sizeof(float) * kDim) - 4, stride + 2, -stride};
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; ++i) {
    annforge_index* index = (annforge_index*)1;
    check_status(annforge_build_strided(records, kBuilt, kDim, refused[i], ANNFORGE_DTYPE_FLOAT32, &build_params, &index),
                 ANNFORGE_STATUS_INVALID_ARGUMENT, "annforge_build_strided with a bad stride");
    if (index != NULL) fail("annforge_build_strided left *out set after a refused stride");
    if (strstr(annforge_last_error(), "stride") == NULL) {
      fail("the error for row_stride %lld does not say 'stride': %s", (long long)refused[i], annforge_last_error());
    }
  }
  free(records);
  free(packed_ids);
  free(strided_ids);
  free(packed_distances);
  free(strided_distances);
  printf("c_api_test: rows %lld bytes apart: the same graph, answers and extension as packed rows\n", (long long)stride);
}

static void check_error_paths(const annforge_index* index, const float* base) {
  annforge_build_params build_params;
  annforge_build_params_default(&build_params);
  build_params.device = ANNFORGE_DEVICE_CPU;
  annforge_search_params search_params;
  annforge_search_params_default(&search_params);
  search_params.device = ANNFORGE_DEVICE_CPU;
  uint32_t ids[kNeighbors];
  float distances[kNeighbors];

  char missing_path[sizeof index_path + 16];
  snprintf(missing_path, sizeof missing_path, "%s.missing", index_path);
  annforge_index* loaded = (annforge_index*)1; /* must be reset to NULL on failure */
  annforge_status status = annforge_load(missing_path, &loaded);
  if (status != ANNFORGE_STATUS_IO && status != ANNFORGE_STATUS_FORMAT) {
    fail("annforge_load of a missing file returned status %d, expected IO or FORMAT", (int)status);
  }
  if (loaded != NULL) fail("annforge_load failed but left *out non-NULL");
  if (strstr(annforge_last_error(), missing_path) == NULL) {
    fail("the error for a missing file does not name it: \"%s\"", annforge_last_error());
  }

  annforge_index* built = (annforge_index*)1;
  check_status(annforge_build(base, kRows, 0, ANNFORGE_DTYPE_FLOAT32, &build_params, &built),
               ANNFORGE_STATUS_INVALID_ARGUMENT, "annforge_build with dim 0");
  if (built != NULL) fail("annforge_build failed but left *out non-NULL");
  check_status(annforge_build(base, kRows, kDim, ANNFORGE_DTYPE_FLOAT32, &build_params, NULL),
               ANNFORGE_STATUS_INVALID_ARGUMENT, "annforge_build with out NULL");
  check_status(annforge_build(NULL, kRows, kDim, ANNFORGE_DTYPE_FLOAT32, &build_params, &built),
               ANNFORGE_STATUS_INVALID_ARGUMENT, "annforge_build with data NULL");
  check_status(annforge_build(base, kRows, kDim, (annforge_dtype)42, &build_params, &built),
               ANNFORGE_STATUS_INVALID_ARGUMENT, "annforge_build with an unknown dtype");
  {
    /* A memory limit no plan fits: refused before any work, saying why. */
    annforge_build_params limited = build_params;
    limited.memory_limit = 1024;
    check_status(annforge_build(base, kRows, kDim, ANNFORGE_DTYPE_FLOAT32, &limited, &built),
                 ANNFORGE_STATUS_UNSUPPORTED, "annforge_build under a 1 KiB memory limit");
    if (built != NULL) fail("annforge_build failed but left *out non-NULL");
    if (strstr(annforge_last_error(), "host memory") == NULL) {
      fail("the memory-limit error does not say what: \"%s\"", annforge_last_error());
    }
    limited.memory_limit = 0;
    limited.partitions = -1;
    check_status(annforge_build(base, kRows, kDim, ANNFORGE_DTYPE_FLOAT32, &limited, &built),
                 ANNFORGE_STATUS_INVALID_ARGUMENT, "annforge_build with partitions -1");
  }
  check_status(annforge_load(index_path, NULL), ANNFORGE_STATUS_INVALID_ARGUMENT, "annforge_load with out NULL");
  check_status(annforge_load(NULL, &loaded), ANNFORGE_STATUS_INVALID_ARGUMENT, "annforge_load with path NULL");

  check_status(annforge_search(index, base, 1, kDim, ANNFORGE_DTYPE_FLOAT32, 0, &search_params, ids, distances),
               ANNFORGE_STATUS_INVALID_ARGUMENT, "annforge_search with k 0");
  check_status(annforge_search(NULL, base, 1, kDim, ANNFORGE_DTYPE_FLOAT32, kNeighbors, &search_params, ids, distances),
               ANNFORGE_STATUS_INVALID_ARGUMENT, "annforge_search with index NULL");
  check_status(
      annforge_search(index, base, 1, kDim, ANNFORGE_DTYPE_FLOAT32, kNeighbors, &search_params, NULL, distances),
      ANNFORGE_STATUS_INVALID_ARGUMENT, "annforge_search with ids_out NULL");
  check_status(
      annforge_search(index, base, 1, kDim - 1, ANNFORGE_DTYPE_FLOAT32, kNeighbors, &search_params, ids, distances),
      ANNFORGE_STATUS_INVALID_ARGUMENT, "annforge_search with the wrong dim");
  check_status(annforge_save(index, NULL), ANNFORGE_STATUS_INVALID_ARGUMENT, "annforge_save with path NULL");
  annforge_free(NULL); /* documented as a no-op */
}

/* annforge_plan: the plan of a build before it runs (one piece with no limit, pieces under a
 * limit the one-piece plan exceeds, a refusal under a limit nothing fits), and its errors. */
static void check_plan(void) {
  annforge_build_params params;
  annforge_build_params_default(&params);
  params.device = ANNFORGE_DEVICE_CPU;
  params.threads = 2;
  annforge_plan_info plan;
  check_ok(annforge_plan(1000000, 128, ANNFORGE_DTYPE_UINT8, &params, 0, &plan), "annforge_plan");
  if (strcmp(plan.backend, "cpu") != 0) fail("annforge_plan: backend '%s', expected cpu", plan.backend);
  if (plan.fits != 1 || plan.partitions != 1) fail("annforge_plan without a limit: fits %d, %d pieces", plan.fits, plan.partitions);
  if (plan.graph_degree != 32 || plan.intermediate_degree < 32) {
    fail("annforge_plan: degrees %d / %d", plan.graph_degree, plan.intermediate_degree);
  }
  /* 1M x 128 uint8: at least its vectors' worth of index, and a peak of more than that. */
  if (plan.index_bytes < 128000000ull || plan.peak_host_bytes < 128000000ull || plan.seconds <= 0.0) {
    fail("annforge_plan: index %llu bytes, peak %llu bytes, %.3f s", (unsigned long long)plan.index_bytes,
         (unsigned long long)plan.peak_host_bytes, plan.seconds);
  }
  if (plan.partitions_why[0] == '\0') fail("annforge_plan: no reason for its pieces");
  const uint64_t one_piece = plan.peak_host_bytes;
  check_ok(annforge_plan(1000000, 128, ANNFORGE_DTYPE_UINT8, &params, one_piece - one_piece / 16, &plan),
           "annforge_plan, limit");
  if (plan.fits != 1 || plan.partitions < 2 || plan.peak_host_bytes > one_piece - one_piece / 16) {
    fail("annforge_plan under 15/16 of the one-piece peak: fits %d, %d pieces, peak %llu", plan.fits, plan.partitions,
         (unsigned long long)plan.peak_host_bytes);
  }
  check_ok(annforge_plan(1000000, 128, ANNFORGE_DTYPE_UINT8, &params, 1 << 20, &plan), "annforge_plan, 1 MiB");
  if (plan.fits != 0 || plan.refusal[0] == '\0') fail("annforge_plan under 1 MiB: fits %d, refusal '%s'", plan.fits, plan.refusal);
  check_status(annforge_plan(0, 128, ANNFORGE_DTYPE_UINT8, &params, 0, &plan), ANNFORGE_STATUS_INVALID_ARGUMENT,
               "annforge_plan with 0 rows");
  check_status(annforge_plan(1000, 128, ANNFORGE_DTYPE_UINT8, &params, 0, NULL), ANNFORGE_STATUS_INVALID_ARGUMENT,
               "annforge_plan with out NULL");
  check_status(annforge_plan(1000, 128, ANNFORGE_DTYPE_UINT8, NULL, 0, &plan), ANNFORGE_STATUS_INVALID_ARGUMENT,
               "annforge_plan with params NULL");
  check_status(annforge_plan(1000, 128, (annforge_dtype)42, &params, 0, &plan), ANNFORGE_STATUS_INVALID_ARGUMENT,
               "annforge_plan with an unknown dtype");
}

int main(void) {
  if (annforge_last_error()[0] != '\0') fail("annforge_last_error() is not empty before any call");
  /* "MAJOR.MINOR.PATCH" */
  {
    int major = -1, minor = -1, patch = -1;
    if (sscanf(annforge_version(), "%d.%d.%d", &major, &minor, &patch) != 3 || major < 0 || minor < 0 || patch < 0) {
      fail("annforge_version() gave '%s', not MAJOR.MINOR.PATCH", annforge_version());
    }
  }

  float* base = malloc(sizeof(float) * (size_t)(kRows + kExtraRows) * kDim);
  uint32_t* ids = malloc(sizeof(uint32_t) * (size_t)kQueries * kNeighbors);
  uint32_t* loaded_ids = malloc(sizeof(uint32_t) * (size_t)kQueries * kNeighbors);
  float* distances = malloc(sizeof(float) * (size_t)kQueries * kNeighbors);
  if (!base || !ids || !loaded_ids || !distances) fail("out of memory");
  for (size_t i = 0; i < (size_t)(kRows + kExtraRows) * kDim; ++i) base[i] = next_uniform();

  const char* temporary_directory = getenv("TMPDIR");
  snprintf(index_path, sizeof index_path, "%s/annforge_c_api_test_XXXXXX",
           temporary_directory && *temporary_directory ? temporary_directory : "/tmp");
  int descriptor = mkstemp(index_path);
  if (descriptor < 0) {
    index_path[0] = '\0';
    fail("cannot create a temporary file");
  }
  close(descriptor);

  /* Build over the first kRows rows; the rest are kept back for extend. */
  annforge_build_params build_params;
  annforge_build_params_default(&build_params);
  build_params.device = ANNFORGE_DEVICE_CPU;
  annforge_index* index = NULL;
  check_ok(annforge_build(base, kRows, kDim, ANNFORGE_DTYPE_FLOAT32, &build_params, &index), "annforge_build");
  if (strcmp(annforge_index_backend(index), "cpu") != 0)
    fail("backend is \"%s\", expected \"cpu\"", annforge_index_backend(index));
  if (annforge_index_metric(index) != ANNFORGE_METRIC_L2)
    fail("metric is %d, expected L2", (int)annforge_index_metric(index));
  if (annforge_index_dtype(index) != ANNFORGE_DTYPE_FLOAT32)
    fail("dtype is %d, expected float32", (int)annforge_index_dtype(index));
  check_graph(index, kRows, "built");
  check_search(index, base, kRows, 0, ids, distances, "built");

  /* A saved and reloaded index has the same graph and answers the same. */
  check_ok(annforge_save(index, index_path), "annforge_save");
  annforge_index* loaded = NULL;
  check_ok(annforge_load(index_path, &loaded), "annforge_load");
  check_graph(loaded, kRows, "loaded");
  int degree = annforge_index_graph_degree(index);
  if (memcmp(annforge_index_graph(index), annforge_index_graph(loaded),
             sizeof(uint32_t) * (size_t)kRows * (size_t)degree) != 0) {
    fail("the loaded graph differs from the saved one");
  }
  check_search(loaded, base, kRows, 0, loaded_ids, distances, "loaded");
  if (memcmp(ids, loaded_ids, sizeof(uint32_t) * (size_t)kQueries * kNeighbors) != 0) {
    fail("the loaded index answers differently from the saved one");
  }
  annforge_free(loaded);

  /* Export: an hnswlib file whose header counts the rows (tests/export/ loads it in hnswlib). */
  {
    char export_path[4200];
    snprintf(export_path, sizeof export_path, "%s.hnsw", index_path);
    check_ok(annforge_export(index, export_path, "hnswlib", 42, 0), "annforge_export");
    FILE* exported = fopen(export_path, "rb");
    if (exported == NULL) fail("annforge_export wrote no %s", export_path);
    uint64_t header[3];
    const size_t got = fread(header, sizeof header[0], 3, exported);
    fclose(exported);
    remove(export_path);
    if (got != 3 || header[2] != (uint64_t)kRows) fail("the hnswlib export's header does not count %d rows", kRows);
    check_status(annforge_export(index, export_path, "nmslib", 42, 0), ANNFORGE_STATUS_INVALID_ARGUMENT,
                 "annforge_export with an unknown format");
    check_status(annforge_export(index, NULL, "hnswlib", 42, 0), ANNFORGE_STATUS_INVALID_ARGUMENT,
                 "annforge_export with path NULL");
    /* Diverse links: the same layout and size (the lists are shorter, the slots the same). */
    check_ok(annforge_export_links(index, export_path, "hnswlib", "diverse", 42, 0), "annforge_export_links");
    exported = fopen(export_path, "rb");
    if (exported == NULL) fail("annforge_export_links wrote no %s", export_path);
    const size_t got_diverse = fread(header, sizeof header[0], 3, exported);
    fclose(exported);
    remove(export_path);
    if (got_diverse != 3 || header[2] != (uint64_t)kRows) fail("the diverse export's header does not count %d rows", kRows);
    check_status(annforge_export_links(index, export_path, "hnswlib", "thin", 42, 0), ANNFORGE_STATUS_INVALID_ARGUMENT,
                 "annforge_export_links with unknown links");
    if (strstr(annforge_last_error(), "thin") == NULL) fail("the error does not name 'thin': %s", annforge_last_error());
    check_status(annforge_export_links(index, export_path, "hnswlib", NULL, 42, 0), ANNFORGE_STATUS_INVALID_ARGUMENT,
                 "annforge_export_links with links NULL");
  }

  check_error_paths(index, base);
  check_plan();
  check_strided(base);

  /* Extend with the held-back rows: the new rows are linked in and findable. */
  check_ok(annforge_extend(index, base + (size_t)kRows * kDim, kExtraRows, kDim, ANNFORGE_DTYPE_FLOAT32, &build_params),
           "annforge_extend");
  check_graph(index, kRows + kExtraRows, "extended");
  check_search(index, base, kRows + kExtraRows, kRows, ids, distances, "extended");

  annforge_free(index);
  remove(index_path);
  free(base);
  free(ids);
  free(loaded_ids);
  free(distances);
  puts("c_api_test: OK");
  return 0;
}
