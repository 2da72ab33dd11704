/* annforge: the plain C API, for HPC pipelines and other languages' foreign-function
 * interfaces. A thin layer over the C++ API in annforge.hpp: the same batch build, search,
 * extend, save and load, with status codes instead of exceptions.
 *
 * Conventions:
 *  - Every function that can fail returns an annforge_status. On failure it records a message
 *    (naming the argument, file or shape at fault) that annforge_last_error() returns on the
 *    same thread. No C++ exception ever crosses this boundary.
 *  - Vectors are dense row-major matrices of `rows` x `dim` elements of one annforge_dtype.
 *  - Distances follow the C++ convention: L2 is the squared Euclidean distance, inner product
 *    is -<a,b>, cosine is 1 - cos(a,b); in all three, smaller is nearer.
 *  - Parameter structs must be initialised with their *_default function before fields are
 *    changed, so code keeps working when fields are added.
 *
 * Thread safety: different handles may be used from different threads at once. One handle
 * may be searched, saved and read from several threads at once, but not while another thread
 * extends or frees it.
 */
#ifndef ANNFORGE_C_H
#define ANNFORGE_C_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* In C++ the enums get int as a fixed underlying type, so that any int a C caller passes is a
 * valid value there (and is rejected as out of range, not undefined behaviour). */
#ifdef __cplusplus
#define ANNFORGE_ENUM_BASE : int
#else
#define ANNFORGE_ENUM_BASE
#endif

/* A built or loaded index. Opaque: create it with annforge_build or annforge_load, release it
 * with annforge_free. */
typedef struct annforge_index annforge_index;

typedef enum annforge_metric ANNFORGE_ENUM_BASE {
  ANNFORGE_METRIC_L2 = 0,            /* squared Euclidean distance */
  ANNFORGE_METRIC_INNER_PRODUCT = 1, /* -<a,b> */
  ANNFORGE_METRIC_COSINE = 2         /* 1 - cos(a,b) */
} annforge_metric;

typedef enum annforge_dtype ANNFORGE_ENUM_BASE {
  ANNFORGE_DTYPE_FLOAT32 = 0,
  ANNFORGE_DTYPE_UINT8 = 1,
  ANNFORGE_DTYPE_INT8 = 2
} annforge_dtype;

typedef enum annforge_device ANNFORGE_ENUM_BASE {
  ANNFORGE_DEVICE_AUTO = 0, /* the GPU where this build and machine have one, else the CPU */
  ANNFORGE_DEVICE_CPU = 1,
  ANNFORGE_DEVICE_GPU = 2 /* fails with ANNFORGE_STATUS_NO_DEVICE when there is none */
} annforge_device;

/* The codes after ANNFORGE_OK have the values of annforge::ErrorCode. */
typedef enum annforge_status ANNFORGE_ENUM_BASE {
  ANNFORGE_OK = 0,
  ANNFORGE_STATUS_INVALID_ARGUMENT = 1, /* a NULL pointer, a bad shape, value or enum */
  ANNFORGE_STATUS_IO = 2,               /* a file could not be opened, read or written */
  ANNFORGE_STATUS_FORMAT = 3,           /* a file is not a valid annforge index */
  ANNFORGE_STATUS_UNSUPPORTED = 4,      /* valid, but not offered by this build or backend */
  ANNFORGE_STATUS_NO_DEVICE = 5,        /* the GPU was asked for and there is none */
  ANNFORGE_STATUS_INTERNAL = 6          /* out of memory, or a bug in annforge */
} annforge_status;

/* Values of annforge_build_params.algorithm. */
enum {
  ANNFORGE_ALGORITHM_AUTO = 0, /* brute force for small data, NN-Descent otherwise */
  ANNFORGE_ALGORITHM_BRUTE_FORCE = 1,
  ANNFORGE_ALGORITHM_NN_DESCENT = 2
};

typedef struct annforge_build_params {
  annforge_metric metric;       /* default L2 */
  int graph_degree;             /* out-degree of the final graph; default 32 */
  int intermediate_degree;      /* degree of the kNN graph that pruning starts from; default 0:
                                   the backend's choice (CPU 3/2, GPU 2 x graph_degree) */
  int algorithm;                /* an ANNFORGE_ALGORITHM_* value; default AUTO */
  int nn_descent_iterations;    /* local-join rounds after the clustered start; default -1: the backend's choice */
  float nn_descent_termination; /* stop when a round updates fewer than this share of edges */
  int threads;                  /* 0: all hardware threads */
  uint64_t seed;                /* default 42 */
  annforge_device device;       /* default AUTO */
  int partitions;               /* pieces the kNN stage is built in (CPU); 0: the build chooses,
                                   one unless memory_limit needs more (BuildParams::partitions) */
  uint64_t memory_limit;        /* host bytes the build may hold; 0: no limit. A build whose plan
                                   does not fit even in pieces fails with UNSUPPORTED */
} annforge_build_params;

typedef struct annforge_search_params {
  int beam_width;         /* candidates kept during the walk (>= k); higher: better recall */
  int threads;            /* 0: all hardware threads */
  annforge_device device; /* default AUTO */
} annforge_search_params;

/* Fill with the defaults of the C++ API. NULL is ignored. */
void annforge_build_params_default(annforge_build_params* params);
void annforge_search_params_default(annforge_search_params* params);

/* Builds an index over `rows` x `dim` vectors at `data`.
 *
 * Zero copy: the index BORROWS `data` rather than copying it. The caller must keep that memory
 * alive and unchanged for as long as the index lives, or until annforge_extend (which moves the
 * vectors into storage the index owns). To keep the index beyond the data, annforge_save it and
 * annforge_load it later. On failure *out is set to NULL. */
annforge_status annforge_build(const void* data, int64_t rows, int64_t dim, annforge_dtype dtype,
                               const annforge_build_params* params, annforge_index** out);

/* The same over rows `row_stride` bytes apart (0: packed, dim x the element's size): rows of a
 * larger record, every other row of an array, a texmex file's rows past their 4-byte headers;
 * used in place and borrowed as annforge_build borrows. The stride must hold a row and keep
 * every element at its type's alignment, else INVALID_ARGUMENT naming it. The _strided forms
 * of annforge_search and annforge_extend take queries and added rows the same way. */
annforge_status annforge_build_strided(const void* data, int64_t rows, int64_t dim, int64_t row_stride,
                                       annforge_dtype dtype, const annforge_build_params* params,
                                       annforge_index** out);

/* What a build will take, planned before any work (annforge_plan; the CLI's `annforge plan`). */
typedef struct annforge_plan_info {
  char backend[8];              /* "cpu" or "cuda": where the build would run */
  int graph_degree;
  int intermediate_degree;      /* the kNN lists' length the plan took (shorter lists in pieces
                                   where memory asks for them) */
  int threads;                  /* resolved */
  int partitions;               /* pieces the kNN stage is built in (1: one) */
  int fits;                     /* 1: within memory_limit and the device's memory; 0: refused */
  uint64_t peak_host_bytes;     /* the largest stage's host memory */
  uint64_t peak_device_bytes;   /* the largest stage's GPU memory (0 on the CPU) */
  uint64_t index_bytes;         /* the saved index file */
  double seconds;               /* estimated, from the backend's measured rates */
  char partitions_why[256];     /* why that many pieces (cut to fit) */
  char refusal[512];            /* why not, when fits is 0 (cut to fit) */
} annforge_plan_info;

/* Plans a build of `rows` x `dim` vectors of `dtype` with `params` against `memory_limit` host
 * bytes (0: params->memory_limit). With params->partitions 0 the plan takes the fewest pieces
 * that fit. A plan that does not fit is still written (fits 0, refusal set) with status OK;
 * bad arguments fail with INVALID_ARGUMENT. */
annforge_status annforge_plan(int64_t rows, int64_t dim, annforge_dtype dtype, const annforge_build_params* params,
                              uint64_t memory_limit, annforge_plan_info* out);

/* Searches `n_queries` (at least 1) x `dim` query vectors, of the index's dim and dtype, for
 * their k nearest neighbours each. Writes n_queries x k ids and distances, nearest first, into
 * caller-allocated arrays. Where the index has fewer than k vectors, the missing neighbours are reported as id
 * 0xFFFFFFFF with distance +infinity. */
annforge_status annforge_search(const annforge_index* index, const void* queries, int64_t n_queries, int64_t dim,
                                annforge_dtype dtype, int k, const annforge_search_params* params, uint32_t* ids_out,
                                float* distances_out);
annforge_status annforge_search_strided(const annforge_index* index, const void* queries, int64_t n_queries,
                                        int64_t dim, int64_t row_stride, annforge_dtype dtype, int k,
                                        const annforge_search_params* params, uint32_t* ids_out,
                                        float* distances_out);

/* Adds `rows` x `dim` vectors to the index and links them into the graph, keeping its degree.
 * The index then owns copies of all its vectors: neither `data` nor the memory the index was
 * built from needs to stay alive afterwards. Pointers returned by annforge_index_graph before
 * the call are invalid after it. The cost follows `rows`, not the index (its vectors grow in
 * storage with room, its graph in place); a failed call leaves the index as it was. */
annforge_status annforge_extend(annforge_index* index, const void* data, int64_t rows, int64_t dim,
                                annforge_dtype dtype, const annforge_build_params* params);
annforge_status annforge_extend_strided(annforge_index* index, const void* data, int64_t rows, int64_t dim,
                                        int64_t row_stride, annforge_dtype dtype,
                                        const annforge_build_params* params);

/* Writes the index file atomically (a temporary file beside `path`, then a rename). */
annforge_status annforge_save(const annforge_index* index, const char* path);
/* Reads an index file. The loaded index owns (or maps) its vectors. On failure *out is NULL. */
annforge_status annforge_load(const char* path, annforge_index** out);

/* Writes the index in another library's format, atomically as annforge_save does: `format` is
 * "hnswlib" (HierarchicalNSW::loadIndex) or "faiss" (faiss::read_index, an IndexHNSWFlat). HNSW's
 * upper levels are built above the graph, their membership drawn from `seed` (the C++ default
 * is 42); `threads` 0 uses every hardware thread. Cosine indexes are written as unit-length
 * vectors (search them with the libraries' inner product), 8-bit vectors as float32. */
annforge_status annforge_export(const annforge_index* index, const char* path, const char* format, uint64_t seed,
                                int threads);
/* annforge_export with level 0's links chosen by `links`: "index" (the index graph as it is,
 * what annforge_export writes) or "diverse" (each row's links chosen again by HNSW's neighbour
 * heuristic from its two-hop neighbourhood: shorter lists, which hnswlib and FAISS search at
 * more queries/s for the same recall; a longer export; inner-product indexes keep their links). */
annforge_status annforge_export_links(const annforge_index* index, const char* path, const char* format,
                                      const char* links, uint64_t seed, int threads);

/* Accessors. A NULL index gives 0, NULL or "" and records an error for annforge_last_error. */
int64_t annforge_index_rows(const annforge_index* index);
int64_t annforge_index_dim(const annforge_index* index);
int annforge_index_graph_degree(const annforge_index* index);
annforge_metric annforge_index_metric(const annforge_index* index);
annforge_dtype annforge_index_dtype(const annforge_index* index);
/* rows x graph_degree neighbour ids, row-major; owned by the index. */
const uint32_t* annforge_index_graph(const annforge_index* index);
/* Which backend built the index: "cpu" or "cuda". Owned by the index. */
const char* annforge_index_backend(const annforge_index* index);

/* Releases the index. NULL is ignored. */
void annforge_free(annforge_index* index);

/* The message of the last call that failed on this thread ("" when none has). Successful
 * calls leave it unchanged, as with errno. Valid until the next failing call on this thread. */
const char* annforge_last_error(void);

/* The library's version ("0.1.0"); a static string. */
const char* annforge_version(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#undef ANNFORGE_ENUM_BASE

#endif /* ANNFORGE_C_H */
