// The backend interface: one implementation per device (CPU now, CUDA in its own issue),
// chosen at run time. The public functions in index/api.cpp validate inputs and then call
// exactly one of these; backends may assume valid, non-empty inputs.
#pragma once

#include "annforge.hpp"

namespace annforge::detail {

// BuildParams::nn_descent_iterations as a count where a builder has no rule of its own for -1
// (the backend's choice): one round. The GPU build and a partitioned build's pieces take this;
// the CPU's one-piece build decides by its data (cpu::nn_descent_rounds).
inline int nn_descent_rounds_or_one(int asked) { return asked < 0 ? 1 : asked; }

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;

  // Fills index.graph, index.graph_degree and index.entry_point for index.vectors.
  virtual void build(Index& index, const BuildParams& params) = 0;

  virtual void search(const Index& index, const DatasetView& queries, int k, const SearchParams& params,
                      uint32_t* ids, float* distances) = 0;

  // index.vectors already holds the old rows followed by the new ones from `first_new_row` on;
  // grows index.graph to cover them. When it throws, index.graph's first `first_new_row` rows and
  // index.levels must be as they were (the caller drops the rest).
  virtual void extend(Index& index, int64_t first_new_row, const BuildParams& params) = 0;

  // The memory and time of build() for this shape, stage by stage (BuildPlan's stages, peaks,
  // seconds and index_bytes; plan_build fills the rest).
  virtual BuildPlan plan(int64_t rows, int64_t dim, ElementType type, const BuildParams& params) = 0;

  virtual void exact_knn(const DatasetView& base, const DatasetView& queries, int k, Metric metric, int threads,
                         const ProgressCallback& progress, uint32_t* ids, float* distances) = 0;
};

Backend& cpu_backend();
// The CPU backend's graph and entry points without upper levels: the base of an index, and
// each level of an exported HNSW hierarchy.
void cpu_build_flat(Index& index, const BuildParams& params);
// The CUDA backend, or nullptr when this build has none or no GPU is present.
Backend* cuda_backend();
// `rows` rows of `row_bytes` bytes, `stride` bytes apart in GPU memory, copied packed into
// `host` (a CUDA array handed to the Python binding). Throws Error: NoDevice where no GPU is
// usable, Unsupported in a build without the CUDA backend, Internal when the copy fails.
void copy_device_rows_to_host(void* host, const void* device, size_t row_bytes, size_t stride, int64_t rows);

// Device::Auto picks CUDA where present, else CPU; Device::Gpu without one throws NoDevice.
Backend& backend_for(Device device);

}  // namespace annforge::detail
