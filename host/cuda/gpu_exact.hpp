// Exact k nearest neighbours on the GPU by tiles: fp16 (8-bit data, exact values) or fp32 GEMMs
// of query blocks against base blocks, distances from the dot products and the norms, top-k per
// tile with raft::matrix::select_k, and a last select_k over the tiles' winners.
#pragma once

#include <cstdint>

#include "annforge.hpp"
#include "host/cuda/gpu_context.hpp"
#include "kernels/distance_tiles.hpp"

namespace annforge::cuda {

// Writes queries.rows x min(k, base.rows) ids and distances (device memory) and returns that
// width. Norms as row_norms() computes them for the metric.
int exact_knn_device(GpuContext& gpu, const DeviceMatrix& base, const float* base_norms, const DeviceMatrix& queries,
                     const float* query_norms, Metric metric, int k, uint32_t* out_ids, float* out_distances,
                     const ProgressCallback& progress);

// Device bytes exact_knn_device needs beyond its inputs and outputs.
size_t exact_knn_scratch_bytes(const DeviceMatrix& base, int64_t query_rows, int k);

}  // namespace annforge::cuda
