// The public entry points: check every precondition once, here, with a message that names
// what is wrong, then hand the work to the backend chosen for the requested device.
#include <cmath>
#include <cstdio>
#include <cstring>

#include "annforge.hpp"
#include "host/backend.hpp"
#include "row_runs.hpp"
#include "squared_norm.hpp"

namespace annforge {
namespace {

#define ANNFORGE_EXPECTS(condition, message)                                   \
  do {                                                                         \
    if (!(condition)) throw Error(ErrorCode::InvalidArgument, (message));      \
  } while (0)

// More pieces than this only multiply the borders to repair.
constexpr int kMaxPartitions = 256;

// Per-query working sets grow with k and the beam; past this they stop being a search and
// become an allocation failure (k = 2^31 asked for 16 GiB per thread).
constexpr int kMaxNeighbors = 1 << 16;

std::string shape(const DatasetView& v) { return std::to_string(v.rows) + " x " + std::to_string(v.dim); }

}  // namespace

void check_vectors(const DatasetView& data, const std::string& what, int64_t first_row) {
  ANNFORGE_EXPECTS(data.rows > 0 && data.dim > 0, std::string(what) + ": empty (" + shape(data) + ")");
  ANNFORGE_EXPECTS(data.data != nullptr, std::string(what) + ": null data pointer");
  ANNFORGE_EXPECTS(data.rows < int64_t{kInvalidId}, std::string(what) + ": more rows than 32-bit ids can address");
  // The kernels read whole elements; a float matrix that starts between two floats is undefined
  // behaviour on every read (and a fault on some CPUs). Callers with such memory copy it first.
  ANNFORGE_EXPECTS(reinterpret_cast<uintptr_t>(data.data) % element_size(data.type) == 0,
                   std::string(what) + ": data is not aligned to its " + std::to_string(element_size(data.type)) +
                       "-byte elements");
  ANNFORGE_EXPECTS(data.row_stride() >= data.row_bytes() && data.row_stride() % element_size(data.type) == 0,
                   std::string(what) + ": a row stride of " + std::to_string(data.row_stride()) + " bytes cannot hold " +
                       std::to_string(data.row_bytes()) + "-byte rows of aligned elements");
  if (data.type == ElementType::Float32) {
    for (int64_t r = 0; r < data.rows; ++r) {
      const float* values = reinterpret_cast<const float*>(data.row(r));
      // One vectorisable pass per row: a NaN or an infinity makes the sum NaN or infinite, so
      // the common row costs one multiply-add per value and only a refused row is looked at
      // again to say why.
      if (detail::squared_norm(values, data.dim) <= detail::kLargestSquaredNorm) continue;
      // NaN or infinity would silently poison every distance it touches: refuse it up front.
      const int64_t i = detail::first_non_finite(values, data.dim);
      if (i >= 0) {
        throw Error(ErrorCode::InvalidArgument, std::string(what) + ": row " + std::to_string(first_row + r) +
                                                    ", column " + std::to_string(i) + " is " +
                                                    (std::isnan(values[i]) ? "NaN" : "infinite"));
      }
      // Finite values whose squares overflow float32's distances (squared_norm.hpp).
      char message[160];
      std::snprintf(message, sizeof message,
                    ": row %lld has a squared norm of %.3g, more than float32 distances hold without overflow "
                    "(%.3g at most): scale the data down",
                    static_cast<long long>(first_row + r), detail::squared_norm_exact(values, data.dim),
                    static_cast<double>(detail::kLargestSquaredNorm));
      throw Error(ErrorCode::InvalidArgument, std::string(what) + message);
    }
  }
}

namespace {

void check_build_params(const BuildParams& p) {
  ANNFORGE_EXPECTS(p.graph_degree >= 1, "graph_degree must be at least 1 (got " + std::to_string(p.graph_degree) + ")");
  ANNFORGE_EXPECTS(p.graph_degree <= 1024, "graph_degree must be at most 1024 (got " + std::to_string(p.graph_degree) + ")");
  ANNFORGE_EXPECTS(p.intermediate_degree == 0 || p.intermediate_degree >= p.graph_degree,
                   "intermediate_degree (" + std::to_string(p.intermediate_degree) +
                       ") must be at least graph_degree (" + std::to_string(p.graph_degree) + "), or 0 for the backend's choice");
  ANNFORGE_EXPECTS(p.intermediate_degree <= 4096, "intermediate_degree must be at most 4096");
  ANNFORGE_EXPECTS(p.nn_descent_iterations >= -1, "nn_descent_iterations must be at least -1 (the backend's choice)");
  ANNFORGE_EXPECTS(p.nn_descent_termination >= 0.0f, "nn_descent_termination must not be negative");
  ANNFORGE_EXPECTS(p.threads >= 0, "threads must not be negative (0 means all)");
  ANNFORGE_EXPECTS(p.partitions >= 0 && p.partitions <= kMaxPartitions,
                   "partitions must be in [0, " + std::to_string(kMaxPartitions) + "] (got " +
                       std::to_string(p.partitions) + "; 0: the build chooses)");
}

// The fewest pieces whose plan fits `limit` (1, 2, 4, ... kMaxPartitions), or the most pieces'
// plan when none does (with fits false).
BuildPlan plan_pieces(detail::Backend& backend, int64_t rows, int64_t dim, ElementType type, BuildParams params,
                      uint64_t limit) {
  params.partitions = 1;
  BuildPlan plan = backend.plan(rows, dim, type, params);
  plan.partitions = 1;
  // A backend's own refusal (the GPU's memory) asks for pieces as a host limit does.
  const bool device_fits = plan.fits;
  if (limit == 0 && device_fits) {
    plan.partitions_why = "one piece: no memory limit";
    return plan;
  }
  if (device_fits && plan.peak_host_bytes <= limit) {
    plan.partitions_why = "one piece: its peak fits the memory limit";
    return plan;
  }
  const uint64_t one_piece = plan.peak_host_bytes;
  const uint64_t one_piece_device = plan.peak_device_bytes;
  // The fewest pieces (2, 4, ... kMaxPartitions) whose peak fits, at the backend's kNN degree;
  // the kNN lists of all rows are held whole, so where they are what does not fit, then at a
  // shorter list per row (5/4 of the graph degree; pruning has fewer candidates).
  const int default_k = plan.intermediate_degree;
  const int shorter = std::max(params.graph_degree + 1, params.graph_degree * 5 / 4);
  const int asked_k = params.intermediate_degree;
  for (const bool shortened : {false, true}) {
    if (shortened && (asked_k != 0 || plan.partitions <= 1 || shorter >= default_k)) break;
    params.intermediate_degree = shortened ? shorter : asked_k;
    for (int pieces = 2; pieces <= kMaxPartitions; pieces *= 2) {
      params.partitions = pieces;
      BuildPlan split = backend.plan(rows, dim, type, params);
      if (split.partitions <= 1) break;  // the backend builds in one piece only
      if (!shortened) plan = split;      // the default degree's last plan is the one a refusal reports
      if (!split.fits || (limit != 0 && split.peak_host_bytes > limit)) continue;
      const std::string lists = shortened ? " with kNN lists of " + std::to_string(shorter) + " instead of " +
                                                std::to_string(default_k)
                                          : std::string();
      split.partitions_why =
          device_fits ? std::to_string(pieces) + " pieces" + lists + ": the fewest whose peak (" +
                            std::to_string(split.peak_host_bytes >> 20) + " MiB) fits the memory limit; one piece would take " +
                            std::to_string(one_piece >> 20) + " MiB"
                      : std::to_string(pieces) + " pieces" + lists + ": the fewest whose largest piece (" +
                            std::to_string(split.peak_device_bytes >> 20) + " MiB) fits the device; one piece would take " +
                            std::to_string(one_piece_device >> 20) + " MiB of its memory";
      return split;
    }
  }
  plan.partitions_why = !plan.fits ? "no number of pieces fits the device: " + std::to_string(plan.partitions) +
                                         " pieces still take " + std::to_string(plan.peak_device_bytes >> 20) +
                                         " MiB of its memory"
                                   : "no number of pieces fits: " + std::to_string(plan.partitions) + " pieces still take " +
                                         std::to_string(plan.peak_host_bytes >> 20) +
                                         " MiB (the kNN lists of all rows are held whole)";
  return plan;
}

void check_queries(const Index& index, const DatasetView& queries, int k) {
  ANNFORGE_EXPECTS(index.rows() > 0, "search: the index is empty");
  check_vectors(queries, "queries");
  ANNFORGE_EXPECTS(queries.dim == index.dim(), "queries have dimension " + std::to_string(queries.dim) +
                                                   ", the index has " + std::to_string(index.dim()));
  ANNFORGE_EXPECTS(queries.type == index.vectors.type(), std::string("queries are ") + to_string(queries.type) +
                                                             ", the index holds " + to_string(index.vectors.type()));
  ANNFORGE_EXPECTS(k >= 1 && k <= kMaxNeighbors, "k must be in [1, " + std::to_string(kMaxNeighbors) + "] (got " + std::to_string(k) + ")");
}

}  // namespace

Index build(const Dataset& data, const BuildParams& params) {
  check_vectors(data.view(), data.source().empty() ? "build data" : data.source());
  check_build_params(params);
  detail::Backend& backend = detail::backend_for(params.device);
  BuildParams resolved = params;
  // The plan decides the pieces where a limit or pieces are asked for, and on the GPU, whose
  // memory may ask for pieces by itself.
  const bool on_gpu = &backend != &detail::cpu_backend();
  if (params.memory_limit > 0 || params.partitions > 1 || (on_gpu && params.partitions == 0)) {
    const BuildPlan plan = plan_build(data.rows(), data.dim(), data.view().type, params, params.memory_limit);
    if (!plan.fits) throw Error(ErrorCode::Unsupported, "build of " + shape(data.view()) + ": " + plan.refusal);
    resolved.partitions = plan.partitions;
    // The plan may have shortened the kNN lists to fit the limit (plan_pieces).
    if (plan.partitions > 1 && params.intermediate_degree == 0) resolved.intermediate_degree = plan.intermediate_degree;
  } else if (resolved.partitions == 0) {
    resolved.partitions = 1;
  }
  Index index;
  index.metric = params.metric;
  index.vectors = data;
  index.backend = backend.name();
  backend.build(index, resolved);
  return index;
}

BuildPlan plan_build(int64_t rows, int64_t dim, ElementType type, const BuildParams& params, uint64_t host_memory_limit) {
  ANNFORGE_EXPECTS(rows >= 1, "plan: rows must be at least 1 (got " + std::to_string(rows) + ")");
  ANNFORGE_EXPECTS(dim >= 1, "plan: dim must be at least 1 (got " + std::to_string(dim) + ")");
  check_build_params(params);
  detail::Backend& backend = detail::backend_for(params.device);
  const uint64_t limit = host_memory_limit != 0 ? host_memory_limit : params.memory_limit;
  BuildPlan plan;
  if (params.partitions == 0) {
    plan = plan_pieces(backend, rows, dim, type, params, limit);
  } else {
    plan = backend.plan(rows, dim, type, params);
    plan.partitions_why = plan.partitions > 1 ? std::to_string(plan.partitions) + " pieces: asked for"
                          : params.partitions > 1 ? "one piece: " + std::string(backend.name()) +
                                                        " builds in one piece (pieces: CPU backend)"
                                                  : "one piece: asked for";
  }
  host_memory_limit = limit;
  plan.backend = backend.name();
  plan.rows = rows;
  plan.dim = dim;
  plan.type = type;
  plan.host_memory_limit = host_memory_limit;
  plan.input_bytes = static_cast<uint64_t>(rows) * static_cast<uint64_t>(dim) * element_size(type);
  if (host_memory_limit > 0 && plan.peak_host_bytes > host_memory_limit) {
    std::string stage;
    for (const PlanStage& s : plan.stages) {
      if (s.host_bytes == plan.peak_host_bytes) stage = s.name;
    }
    plan.fits = false;
    const std::string why = "the build needs about " + std::to_string(plan.peak_host_bytes >> 20) +
                            " MiB of host memory (at its largest stage, " + stage + ") over the limit of " +
                            std::to_string(host_memory_limit >> 20) + " MiB; " + plan.partitions_why;
    plan.refusal = plan.refusal.empty() ? why : plan.refusal + "; " + why;
  }
  return plan;
}

void search(const Index& index, const DatasetView& queries, int k, const SearchParams& params, uint32_t* ids,
            float* distances) {
  check_queries(index, queries, k);
  ANNFORGE_EXPECTS(ids != nullptr && distances != nullptr, "search: null output pointer");
  ANNFORGE_EXPECTS(params.beam_width >= 1 && params.beam_width <= kMaxNeighbors,
                   "beam_width must be in [1, " + std::to_string(kMaxNeighbors) + "] (got " + std::to_string(params.beam_width) + ")");
  ANNFORGE_EXPECTS(params.threads >= 0, "threads must not be negative (0 means all; got " + std::to_string(params.threads) + ")");
  detail::backend_for(params.device).search(index, queries, k, params, ids, distances);
}

Neighbors search(const Index& index, const DatasetView& queries, int k, const SearchParams& params) {
  Neighbors result;
  result.rows = queries.rows;
  result.k = k;
  result.ids.resize(std::max<int64_t>(0, queries.rows) * std::max(k, 0));
  result.distances.resize(result.ids.size());
  search(index, queries, k, params, result.ids.data(), result.distances.data());
  return result;
}

void extend(Index& index, const DatasetView& more, const BuildParams& params) {
  check_vectors(more, "extend data");
  check_build_params(params);
  ANNFORGE_EXPECTS(index.rows() > 0, "extend: the index is empty; build it first");
  ANNFORGE_EXPECTS(more.dim == index.dim() && more.type == index.vectors.type(),
                   "extend: new vectors are " + shape(more) + " " + to_string(more.type) + ", the index holds " +
                       std::to_string(index.dim()) + "-dimensional " + to_string(index.vectors.type()));
  ANNFORGE_EXPECTS(index.rows() + more.rows < int64_t{kInvalidId}, "extend: more rows than 32-bit ids can address");
  detail::Backend& backend = detail::backend_for(params.device);
  const int64_t old_rows = index.rows();
  // The rows in storage with room to grow (Dataset::appended: a run of extends copies each row a
  // few times, not once per call). The graph and levels move into the work and back: a backend
  // that fails leaves the old rows' links and the levels as they were, so a failure here leaves
  // the caller's index as it was, and a success costs what the new rows cost, not a copy of it.
  Index updated;
  updated.metric = index.metric;
  updated.vectors = index.vectors.appended(more);
  updated.graph_degree = index.graph_degree;
  updated.entry_points = index.entry_points;
  updated.upper_width_divisor = index.upper_width_divisor;
  updated.graph = std::move(index.graph);
  updated.levels = std::move(index.levels);
  try {
    backend.extend(updated, old_rows, params);
  } catch (...) {
    index.graph = std::move(updated.graph);
    index.graph.resize(old_rows * index.graph_degree);
    index.levels = std::move(updated.levels);
    throw;
  }
  updated.backend = backend.name();
  index = std::move(updated);
}

Neighbors exact_knn(const DatasetView& base, const DatasetView& queries, int k, Metric metric, int threads,
                    const ProgressCallback& progress, Device device) {
  check_vectors(base, "base");
  check_vectors(queries, "queries");
  ANNFORGE_EXPECTS(queries.dim == base.dim && queries.type == base.type,
                   "queries (" + shape(queries) + " " + to_string(queries.type) + ") do not match the base (" +
                       shape(base) + " " + to_string(base.type) + ")");
  ANNFORGE_EXPECTS(k >= 1 && k <= kMaxNeighbors, "k must be in [1, " + std::to_string(kMaxNeighbors) + "] (got " + std::to_string(k) + ")");
  ANNFORGE_EXPECTS(threads >= 0, "threads must not be negative (0 means all; got " + std::to_string(threads) + ")");
  Neighbors result;
  result.rows = queries.rows;
  result.k = k;
  result.ids.resize(queries.rows * k);
  result.distances.resize(queries.rows * k);
  detail::backend_for(device).exact_knn(base, queries, k, metric, threads, progress, result.ids.data(),
                                        result.distances.data());
  return result;
}

}  // namespace annforge
