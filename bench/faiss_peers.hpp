// faiss_peers: FAISS's CPU graph indexes behind a small interface, so that compare_cpu.cpp does
// not include FAISS's headers. faiss_peers.cpp is compiled with FAISS's own flags (no
// -march=native: the prebuilt FAISS library was not built that way, and its headers select
// SIMD types from compile-time macros). Only built when CMake finds FAISS
// (compile definition ANNFORGE_BENCH_HAVE_FAISS).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace bench {

// A FAISS index over float32 vectors, by L2 or by inner product (FAISS's METRIC_L2 and
// METRIC_INNER_PRODUCT; cosine is the inner product of unit-length vectors, which the caller
// normalises). Every call runs on the OpenMP thread count given at construction
// (omp_set_num_threads before each call).
class FaissGraphIndex {
 public:
  virtual ~FaissGraphIndex() = default;
  // Adds all rows at once (FAISS builds the whole graph in `add`). `data` is rows x dim floats.
  virtual void build(const float* data, int64_t rows) = 0;
  // Searches rows x dim queries at one search width (HNSW efSearch, NSG search_L) and writes
  // rows x k ids, nearest first; a missing neighbour is written as 0xFFFFFFFF.
  virtual void search(const float* queries, int64_t rows, int k, int width, uint32_t* ids) = 0;
  // The index's parameters as FAISS holds them, in words and as a JSON object.
  virtual std::string parameters_text() const = 0;
  virtual std::string parameters_json() const = 0;
  // What the search width sets: "efSearch" or "search_L".
  virtual const char* width_name() const = 0;
};

// IndexHNSWFlat(dim, M, metric) with hnsw.efConstruction = ef_construction; metric
// METRIC_INNER_PRODUCT when `inner_product`, else METRIC_L2.
std::unique_ptr<FaissGraphIndex> make_faiss_hnsw_flat(int dim, int m, int ef_construction, int threads,
                                                      bool inner_product = false);
// IndexNSGFlat(dim, R, metric): FAISS's default build (a kNN graph by NNDescent, then NSG pruning).
std::unique_ptr<FaissGraphIndex> make_faiss_nsg_flat(int dim, int r, int threads, bool inner_product = false);
// An IndexHNSWFlat read from `path` by faiss::read_index (annforge's FAISS export); searched at
// efSearch = width. Throws std::runtime_error when the file holds another kind of index.
std::unique_ptr<FaissGraphIndex> load_faiss_hnsw(const std::string& path, int threads);
// "MAJOR.MINOR.PATCH" of the FAISS headers compiled against.
std::string faiss_version();

}  // namespace bench
