// Batched distance tiles: rows gathered and converted to a GEMM input type (fp16 for 8-bit data,
// which holds 0..255 and -128..127 exactly; float32 for float data), their norms, a cuBLAS GEMM of
// dot products (tensor cores), and an epilogue that turns dots into the metric's distances.
#pragma once

#include <cuda_fp16.h>

#include <cstdint>

#include <raft/core/device_mdspan.hpp>
#include <raft/core/resources.hpp>

#include "annforge.hpp"

namespace annforge::cuda {

// A data set in device memory, in its own element type.
struct DeviceMatrix {
  const void* data = nullptr;
  int64_t rows = 0;
  int64_t dim = 0;
  ElementType type = ElementType::Float32;
  const uint8_t* row(int64_t i) const { return static_cast<const uint8_t*>(data) + i * dim * element_size(type); }
};

// Per-row norms for the metric: squared norms (L2), inverse norms (cosine; 0 for a zero row),
// nothing for inner product (the buffer is still filled with 0).
void row_norms(const raft::resources& res, const DeviceMatrix& data, Metric metric, float* norms);

// out[i, :] = data[ids[i], :] converted to the GEMM type (half when `half_output`, else float);
// ids == nullptr means rows first_row + i; id kInvalidId gives a zero row.
void gather_rows(const raft::resources& res, const DeviceMatrix& data, const uint32_t* ids, int64_t first_row,
                 int64_t count, bool half_output, void* out);

// dots[batch][i][j] = <a[batch][i], b[batch][j]> for row-major a (m x dim) and b (n x dim),
// fp32 results; `exact_float` keeps float inputs at full fp32 precision (else TF32 tensor cores).
void gemm_dots(const raft::resources& res, bool half_inputs, bool exact_float, const void* a, const void* b,
               int64_t m, int64_t n, int64_t dim, float* dots, int batch = 1);

// Tile epilogue for a query block against a base block: distances[i][j] from dots[i][j] and the
// norms; base rows j >= base_valid get +inf. Query norms are row norms of the queries.
void dots_to_distances(const raft::resources& res, Metric metric, float* tile, int64_t query_rows, int64_t base_cols,
                       int64_t base_valid, const float* query_norms, const float* base_norms);

// Leaf epilogue for `leaves` square blocks of side `side` (all pairs within each leaf): member ids
// per leaf position in `members` (kInvalidId = padding); self pairs and padding get +inf.
void leaf_dots_to_distances(const raft::resources& res, Metric metric, float* tiles, int64_t leaves, int side,
                            const uint32_t* members, const float* norms);

}  // namespace annforge::cuda
