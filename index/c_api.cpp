// The plain C API (annforge_c.h) over the C++ API: checks what only C callers can get wrong
// (NULL pointers, out-of-range enums, negative or overflowing sizes), converts, and turns every
// exception into an annforge_status plus a thread-local message, so none crosses into C.
#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <string>

#include "annforge.hpp"
#include "annforge_c.h"
#include "c_api_support.hpp"

namespace annforge::c_api {

thread_local std::string last_error_message;
// Set when recording a message itself ran out of memory, so annforge_last_error still says why.
thread_local bool last_error_lost = false;

void record_error(const char* function, const char* message) noexcept {
  try {
    last_error_message = std::string(function) + ": " + message;
    last_error_lost = false;
  } catch (...) {
    last_error_lost = true;
  }
}

annforge_status fail(annforge_status status, const char* function, const char* message) noexcept {
  record_error(function, message);
  return status;
}

[[noreturn]] void invalid(const std::string& message) {
  throw annforge::Error(annforge::ErrorCode::InvalidArgument, message);
}

void require(bool condition, const char* message) {
  if (!condition) invalid(message);
}

annforge_status status_of(annforge::ErrorCode code) {
  const int value = static_cast<int>(code);
  // The status values mirror ErrorCode; a code added later without a status reads as internal.
  if (value >= ANNFORGE_STATUS_INVALID_ARGUMENT && value <= ANNFORGE_STATUS_INTERNAL) {
    return static_cast<annforge_status>(value);
  }
  return ANNFORGE_STATUS_INTERNAL;
}

// C enums can hold any int, so each one is range-checked before it becomes a C++ enum.
annforge::ElementType to_element_type(annforge_dtype dtype) {
  switch (dtype) {
    case ANNFORGE_DTYPE_FLOAT32:
      return annforge::ElementType::Float32;
    case ANNFORGE_DTYPE_UINT8:
      return annforge::ElementType::UInt8;
    case ANNFORGE_DTYPE_INT8:
      return annforge::ElementType::Int8;
  }
  invalid("unknown dtype " + std::to_string(static_cast<int>(dtype)) + " (expected ANNFORGE_DTYPE_*)");
}

annforge::Metric to_metric(annforge_metric metric) {
  switch (metric) {
    case ANNFORGE_METRIC_L2:
      return annforge::Metric::L2;
    case ANNFORGE_METRIC_INNER_PRODUCT:
      return annforge::Metric::InnerProduct;
    case ANNFORGE_METRIC_COSINE:
      return annforge::Metric::Cosine;
  }
  invalid("unknown metric " + std::to_string(static_cast<int>(metric)) + " (expected ANNFORGE_METRIC_*)");
}

annforge::Device to_device(annforge_device device) {
  switch (device) {
    case ANNFORGE_DEVICE_AUTO:
      return annforge::Device::Auto;
    case ANNFORGE_DEVICE_CPU:
      return annforge::Device::Cpu;
    case ANNFORGE_DEVICE_GPU:
      return annforge::Device::Gpu;
  }
  invalid("unknown device " + std::to_string(static_cast<int>(device)) + " (expected ANNFORGE_DEVICE_*)");
}

annforge::BuildAlgorithm to_algorithm(int algorithm) {
  switch (algorithm) {
    case ANNFORGE_ALGORITHM_AUTO:
      return annforge::BuildAlgorithm::Auto;
    case ANNFORGE_ALGORITHM_BRUTE_FORCE:
      return annforge::BuildAlgorithm::BruteForce;
    case ANNFORGE_ALGORITHM_NN_DESCENT:
      return annforge::BuildAlgorithm::NNDescent;
  }
  invalid("unknown algorithm " + std::to_string(algorithm) + " (expected 0 auto, 1 brute force, 2 nn-descent)");
}

annforge::BuildParams to_build_params(const annforge_build_params* params) {
  require(params != nullptr, "params is NULL (fill one with annforge_build_params_default)");
  annforge::BuildParams converted;
  converted.metric = to_metric(params->metric);
  converted.graph_degree = params->graph_degree;
  converted.intermediate_degree = params->intermediate_degree;
  converted.algorithm = to_algorithm(params->algorithm);
  converted.nn_descent_iterations = params->nn_descent_iterations;
  converted.nn_descent_termination = params->nn_descent_termination;
  converted.threads = params->threads;
  converted.seed = params->seed;
  converted.device = to_device(params->device);
  converted.partitions = params->partitions;
  converted.memory_limit = params->memory_limit;
  return converted;
}

annforge::SearchParams to_search_params(const annforge_search_params* params) {
  require(params != nullptr, "params is NULL (fill one with annforge_search_params_default)");
  annforge::SearchParams converted;
  converted.beam_width = params->beam_width;
  converted.threads = params->threads;
  converted.device = to_device(params->device);
  return converted;
}

// A view of caller memory, rows `row_stride` bytes apart (0: packed). The library checks shapes
// against the index and the stride against the row (check_vectors); these checks come first
// because the overflow tests below need sizes of the right sign.
annforge::DatasetView to_view(const char* name, const void* data, int64_t rows, int64_t dim, annforge_dtype dtype,
                              int64_t row_stride) {
  const annforge::ElementType type = to_element_type(dtype);
  if (rows < 0) invalid(std::string(name) + ": rows is negative (" + std::to_string(rows) + ")");
  if (dim <= 0) invalid(std::string(name) + ": dim must be positive, got " + std::to_string(dim));
  if (row_stride < 0) invalid(std::string(name) + ": row_stride is negative (" + std::to_string(row_stride) + ")");
  if (rows > 0 && data == nullptr) invalid(std::string(name) + " is NULL");
  const auto max_elements = static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / annforge::element_size(type);
  if (rows > 0 && static_cast<uint64_t>(dim) > max_elements / static_cast<uint64_t>(rows)) {
    invalid(std::string(name) + ": " + std::to_string(rows) + " x " + std::to_string(dim) +
            " overflows the address space");
  }
  if (rows > 0 && row_stride > 0 &&
      static_cast<uint64_t>(row_stride) > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) /
                                              static_cast<uint64_t>(rows)) {
    invalid(std::string(name) + ": " + std::to_string(rows) + " rows " + std::to_string(row_stride) +
            " bytes apart overflow the address space");
  }
  return annforge::DatasetView{data, rows, dim, type, static_cast<size_t>(row_stride)};
}

const annforge::Index* checked(const annforge_index* handle, const char* function) {
  if (handle == nullptr) {
    record_error(function, "index is NULL");
    return nullptr;
  }
  return &handle->index;
}

}  // namespace annforge::c_api

using namespace annforge::c_api;

extern "C" {

void annforge_build_params_default(annforge_build_params* params) {
  if (params == nullptr) return;
  // Read from the C++ defaults so the two APIs cannot drift apart.
  const annforge::BuildParams defaults;
  params->metric = static_cast<annforge_metric>(defaults.metric);
  params->graph_degree = defaults.graph_degree;
  params->intermediate_degree = defaults.intermediate_degree;
  params->algorithm = static_cast<int>(defaults.algorithm);
  params->nn_descent_iterations = defaults.nn_descent_iterations;
  params->nn_descent_termination = defaults.nn_descent_termination;
  params->threads = defaults.threads;
  params->seed = defaults.seed;
  params->partitions = defaults.partitions;
  params->memory_limit = defaults.memory_limit;
  params->device = static_cast<annforge_device>(defaults.device);
}

void annforge_search_params_default(annforge_search_params* params) {
  if (params == nullptr) return;
  const annforge::SearchParams defaults;
  params->beam_width = defaults.beam_width;
  params->threads = defaults.threads;
  params->device = static_cast<annforge_device>(defaults.device);
}

annforge_status annforge_build(const void* data, int64_t rows, int64_t dim, annforge_dtype dtype,
                               const annforge_build_params* params, annforge_index** out) {
  return annforge_build_strided(data, rows, dim, 0, dtype, params, out);
}

annforge_status annforge_build_strided(const void* data, int64_t rows, int64_t dim, int64_t row_stride,
                                       annforge_dtype dtype, const annforge_build_params* params,
                                       annforge_index** out) {
  if (out != nullptr) *out = nullptr;
  return guarded("annforge_build", [&] {
    require(out != nullptr, "out is NULL");
    const annforge::DatasetView view = to_view("data", data, rows, dim, dtype, row_stride);
    const annforge::BuildParams build_params = to_build_params(params);
    auto handle = std::make_unique<annforge_index>();
    // Borrowed, not copied: the header makes keeping `data` alive the caller's duty.
    handle->index = annforge::build(annforge::Dataset::borrow(view), build_params);
    *out = handle.release();
  });
}

annforge_status annforge_plan(int64_t rows, int64_t dim, annforge_dtype dtype, const annforge_build_params* params,
                              uint64_t memory_limit, annforge_plan_info* out) {
  return guarded("annforge_plan", [&] {
    require(out != nullptr, "out is NULL");
    // plan_build checks the shape (rows and dim at least 1) and the parameters.
    const annforge::BuildPlan plan =
        annforge::plan_build(rows, dim, to_element_type(dtype), to_build_params(params), memory_limit);
    annforge_plan_info info{};
    auto copy = [](char* to, size_t size, const std::string& from) {
      const size_t n = std::min(size - 1, from.size());
      std::memcpy(to, from.data(), n);
      to[n] = '\0';
    };
    copy(info.backend, sizeof info.backend, plan.backend);
    info.graph_degree = plan.graph_degree;
    info.intermediate_degree = plan.intermediate_degree;
    info.threads = plan.threads;
    info.partitions = plan.partitions;
    info.fits = plan.fits ? 1 : 0;
    info.peak_host_bytes = plan.peak_host_bytes;
    info.peak_device_bytes = plan.peak_device_bytes;
    info.index_bytes = plan.index_bytes;
    info.seconds = plan.seconds;
    copy(info.partitions_why, sizeof info.partitions_why, plan.partitions_why);
    copy(info.refusal, sizeof info.refusal, plan.refusal);
    *out = info;
  });
}

annforge_status annforge_search(const annforge_index* index, const void* queries, int64_t n_queries, int64_t dim,
                                annforge_dtype dtype, int k, const annforge_search_params* params, uint32_t* ids_out,
                                float* distances_out) {
  return annforge_search_strided(index, queries, n_queries, dim, 0, dtype, k, params, ids_out, distances_out);
}

annforge_status annforge_search_strided(const annforge_index* index, const void* queries, int64_t n_queries,
                                        int64_t dim, int64_t row_stride, annforge_dtype dtype, int k,
                                        const annforge_search_params* params, uint32_t* ids_out,
                                        float* distances_out) {
  return guarded("annforge_search", [&] {
    require(index != nullptr, "index is NULL");
    const annforge::DatasetView view = to_view("queries", queries, n_queries, dim, dtype, row_stride);
    const annforge::SearchParams search_params = to_search_params(params);
    require(ids_out != nullptr, "ids_out is NULL");
    require(distances_out != nullptr, "distances_out is NULL");
    annforge::search(index->index, view, k, search_params, ids_out, distances_out);
  });
}

annforge_status annforge_extend(annforge_index* index, const void* data, int64_t rows, int64_t dim,
                                annforge_dtype dtype, const annforge_build_params* params) {
  return annforge_extend_strided(index, data, rows, dim, 0, dtype, params);
}

annforge_status annforge_extend_strided(annforge_index* index, const void* data, int64_t rows, int64_t dim,
                                        int64_t row_stride, annforge_dtype dtype,
                                        const annforge_build_params* params) {
  return guarded("annforge_extend", [&] {
    require(index != nullptr, "index is NULL");
    const annforge::DatasetView view = to_view("data", data, rows, dim, dtype, row_stride);
    const annforge::BuildParams build_params = to_build_params(params);
    annforge::extend(index->index, view, build_params);
  });
}

annforge_status annforge_save(const annforge_index* index, const char* path) {
  return guarded("annforge_save", [&] {
    require(index != nullptr, "index is NULL");
    require(path != nullptr, "path is NULL");
    annforge::save(index->index, path);
  });
}

namespace {

void export_checked(const annforge_index* index, const char* path, const char* format, const char* links,
                    uint64_t seed, int threads) {
  require(index != nullptr, "index is NULL");
  require(path != nullptr, "path is NULL");
  require(format != nullptr, "format is NULL");
  require(links != nullptr, "links is NULL");
  require(threads >= 0, "threads is negative");
  annforge::ExportParams params;
  params.format = annforge::parse_export_format(format);
  params.links = annforge::parse_export_links(links);
  params.seed = seed;
  params.threads = threads;
  annforge::export_index(index->index, path, params);
}

}  // namespace

annforge_status annforge_export(const annforge_index* index, const char* path, const char* format, uint64_t seed,
                                int threads) {
  return guarded("annforge_export", [&] { export_checked(index, path, format, "index", seed, threads); });
}

annforge_status annforge_export_links(const annforge_index* index, const char* path, const char* format,
                                      const char* links, uint64_t seed, int threads) {
  return guarded("annforge_export_links", [&] { export_checked(index, path, format, links, seed, threads); });
}

annforge_status annforge_load(const char* path, annforge_index** out) {
  if (out != nullptr) *out = nullptr;
  return guarded("annforge_load", [&] {
    require(path != nullptr, "path is NULL");
    require(out != nullptr, "out is NULL");
    auto handle = std::make_unique<annforge_index>();
    handle->index = annforge::load(path);
    *out = handle.release();
  });
}

int64_t annforge_index_rows(const annforge_index* handle) {
  const annforge::Index* index = checked(handle, "annforge_index_rows");
  return index ? index->rows() : 0;
}

int64_t annforge_index_dim(const annforge_index* handle) {
  const annforge::Index* index = checked(handle, "annforge_index_dim");
  return index ? index->dim() : 0;
}

int annforge_index_graph_degree(const annforge_index* handle) {
  const annforge::Index* index = checked(handle, "annforge_index_graph_degree");
  return index ? index->graph_degree : 0;
}

annforge_metric annforge_index_metric(const annforge_index* handle) {
  const annforge::Index* index = checked(handle, "annforge_index_metric");
  return index ? static_cast<annforge_metric>(index->metric) : ANNFORGE_METRIC_L2;
}

annforge_dtype annforge_index_dtype(const annforge_index* handle) {
  const annforge::Index* index = checked(handle, "annforge_index_dtype");
  return index ? static_cast<annforge_dtype>(index->vectors.type()) : ANNFORGE_DTYPE_FLOAT32;
}

const uint32_t* annforge_index_graph(const annforge_index* handle) {
  const annforge::Index* index = checked(handle, "annforge_index_graph");
  return index ? index->graph.data() : nullptr;
}

const char* annforge_index_backend(const annforge_index* handle) {
  const annforge::Index* index = checked(handle, "annforge_index_backend");
  return index ? index->backend.c_str() : "";
}

void annforge_free(annforge_index* index) { delete index; }

const char* annforge_last_error(void) {
  return last_error_lost ? "out of memory while recording the error message" : last_error_message.c_str();
}

const char* annforge_version(void) { return annforge::version(); }

}  // extern "C"

// The C enums are cast straight to and from the C++ ones, so their values must stay equal.
static_assert(ANNFORGE_METRIC_L2 == static_cast<int>(annforge::Metric::L2) &&
                  ANNFORGE_METRIC_INNER_PRODUCT == static_cast<int>(annforge::Metric::InnerProduct) &&
                  ANNFORGE_METRIC_COSINE == static_cast<int>(annforge::Metric::Cosine),
              "annforge_metric must mirror annforge::Metric");
static_assert(ANNFORGE_DTYPE_FLOAT32 == static_cast<int>(annforge::ElementType::Float32) &&
                  ANNFORGE_DTYPE_UINT8 == static_cast<int>(annforge::ElementType::UInt8) &&
                  ANNFORGE_DTYPE_INT8 == static_cast<int>(annforge::ElementType::Int8),
              "annforge_dtype must mirror annforge::ElementType");
static_assert(ANNFORGE_DEVICE_AUTO == static_cast<int>(annforge::Device::Auto) &&
                  ANNFORGE_DEVICE_CPU == static_cast<int>(annforge::Device::Cpu) &&
                  ANNFORGE_DEVICE_GPU == static_cast<int>(annforge::Device::Gpu),
              "annforge_device must mirror annforge::Device");
static_assert(ANNFORGE_ALGORITHM_AUTO == static_cast<int>(annforge::BuildAlgorithm::Auto) &&
                  ANNFORGE_ALGORITHM_BRUTE_FORCE == static_cast<int>(annforge::BuildAlgorithm::BruteForce) &&
                  ANNFORGE_ALGORITHM_NN_DESCENT == static_cast<int>(annforge::BuildAlgorithm::NNDescent),
              "the ANNFORGE_ALGORITHM_* values must mirror annforge::BuildAlgorithm");
static_assert(ANNFORGE_STATUS_INVALID_ARGUMENT == static_cast<int>(annforge::ErrorCode::InvalidArgument) &&
                  ANNFORGE_STATUS_IO == static_cast<int>(annforge::ErrorCode::Io) &&
                  ANNFORGE_STATUS_FORMAT == static_cast<int>(annforge::ErrorCode::Format) &&
                  ANNFORGE_STATUS_UNSUPPORTED == static_cast<int>(annforge::ErrorCode::Unsupported) &&
                  ANNFORGE_STATUS_NO_DEVICE == static_cast<int>(annforge::ErrorCode::NoDevice) &&
                  ANNFORGE_STATUS_INTERNAL == static_cast<int>(annforge::ErrorCode::Internal),
              "annforge_status must mirror annforge::ErrorCode");
