// Kernel and launcher of beam_search.hpp.
#include "kernels/beam_search.hpp"

#include <algorithm>

#include <raft/core/resource/cuda_stream.hpp>

#include "kernels/block_sort.cuh"
#include "kernels/cuda_check.hpp"
#include "kernels/launch.cuh"

namespace annforge::cuda {
namespace {

constexpr uint32_t kExpanded = 0x80000000u;  // set on a beam entry once its neighbours were read
constexpr int kThreads = 128;
constexpr int kMaxProbes = 64;

struct Layout {
  int buffer;      // beam + one expansion, a power of two
  int table_size;  // visited hash slots, a power of two
};

Layout layout_for(int beam_width, int degree) {
  Layout l;
  l.buffer = 32;
  // One expansion's neighbours beside the beam (at least 16 slots: the seeds and entry points
  // are scored that many at a time, also on a graph of degree 0).
  while (l.buffer < beam_width + std::max(degree, 16)) l.buffer <<= 1;
  // About 1.5 x (steps x degree) visits fit before probes grow long; a larger table costs
  // occupancy (shared memory per block).
  l.table_size = beam_width <= 32 ? 4096 : beam_width <= 128 ? 8192 : 16384;
  return l;
}

__device__ __forceinline__ uint32_t hash_slot(uint32_t id, uint32_t mask) { return (id * 2654435761u) & mask; }

// Inserts id; true when it was not there before. A full neighbourhood of probes counts as
// visited: the walk then skips that vector rather than risk a repeat in the beam.
__device__ bool visit(uint32_t* table, uint32_t mask, uint32_t id) {
  uint32_t slot = hash_slot(id, mask);
  for (int probe = 0; probe < kMaxProbes; ++probe) {
    const uint32_t previous = atomicCAS(&table[slot], kInvalid, id);
    if (previous == kInvalid) return true;
    if (previous == id) return false;
    slot = (slot + 1) & mask;
  }
  return false;
}

template <int Team, typename T>
__global__ void search_kernel(const T* base, int64_t dim, MetricSpec metric, const uint32_t* graph, int degree,
                              const uint32_t* entries, int entry_count, const T* queries, int64_t query_count, int k,
                              int beam_width, Layout layout, uint32_t* out_ids, float* out_distances,
                              const uint32_t* row_of, SearchSeeds seeds) {
  extern __shared__ unsigned char shared[];
  uint32_t* table = reinterpret_cast<uint32_t*>(shared);
  float* distances = reinterpret_cast<float*>(table + layout.table_size);
  uint32_t* ids = reinterpret_cast<uint32_t*>(distances + layout.buffer);
  float* query = reinterpret_cast<float*>(ids + layout.buffer);
  __shared__ int parent_slot;
  __shared__ float query_inverse_norm;
  const float inf = __int_as_float(0x7f800000);
  const int lane = threadIdx.x & 31, warp = threadIdx.x / 32;
  const uint32_t mask = layout.table_size - 1;
  const int fresh = layout.buffer - beam_width;  // slots for one expansion's candidates

  for (int64_t q = blockIdx.x; q < query_count; q += gridDim.x) {
    for (int i = threadIdx.x; i < layout.table_size; i += blockDim.x) table[i] = kInvalid;
    for (int i = threadIdx.x; i < layout.buffer; i += blockDim.x) {
      ids[i] = kInvalid;
      distances[i] = inf;
    }
    for (int64_t c = threadIdx.x; c < dim; c += blockDim.x) query[c] = static_cast<float>(queries[q * dim + c]);
    __syncthreads();
    if (metric.metric == Metric::Cosine && warp == 0) {
      float s = 0.0f;
      for (int64_t c = lane; c < dim; c += 32) s += query[c] * query[c];
      s = warp_sum(s);
      if (lane == 0) query_inverse_norm = s > 0.0f ? rsqrtf(s) : 0.0f;
    }
    __syncthreads();

    // Scores the ids in slots [beam_width, buffer) (kInvalid = empty), then keeps the best
    // beam_width of beam + fresh.
    auto score_and_merge = [&]() {
      // A team of lanes per candidate; every lane runs the same number of rounds (the shuffles
      // span the warp), idle teams with `active` false.
      const int teams = blockDim.x / Team, team = threadIdx.x / Team, team_lane = threadIdx.x % Team;
      for (int first = beam_width; first < layout.buffer; first += teams) {
        const int i = first + team;
        const uint32_t id = i < layout.buffer ? ids[i] : kInvalid;
        const bool active = id != kInvalid;
        const uint32_t row = active && row_of ? row_of[id] : id;
        const float inverse_row = active && metric.inverse_norms ? metric.inverse_norms[row] : 0.0f;
        const float d = team_query_distance<Team>(query, base + (active ? static_cast<int64_t>(row) * dim : 0),
                                                  static_cast<int>(dim), metric.metric, query_inverse_norm,
                                                  inverse_row, team_lane, active);
        if (active && team_lane == 0) distances[i] = d;
      }
      block_bitonic_sort<ByDistance>(distances, ids, layout.buffer);
      for (int i = beam_width + threadIdx.x; i < layout.buffer; i += blockDim.x) {
        ids[i] = kInvalid;
        distances[i] = inf;
      }
      __syncthreads();
    };

    // The beam starts from this query's seeds (the level above's results), then the entry
    // points, `fresh` at a time.
    auto seed_beam = [&](int total, auto id_at) {
      for (int first = 0; first < total; first += fresh) {
        for (int i = threadIdx.x; i < fresh; i += blockDim.x) {
          const int e = first + i;
          uint32_t id = e < total ? id_at(e) : kInvalid;
          if (id != kInvalid && !visit(table, mask, id)) id = kInvalid;
          ids[beam_width + i] = id;
        }
        __syncthreads();
        score_and_merge();
      }
    };
    seed_beam(seeds.count, [&](int e) {
      const uint32_t s = seeds.ids[q * seeds.count + e];
      return s == kInvalid || seeds.map == nullptr ? s : seeds.map[s];
    });
    seed_beam(entry_count, [&](int e) { return entries[e]; });

    const int max_steps = 4 * beam_width + 64;
    for (int step = 0; step < max_steps; ++step) {
      if (threadIdx.x == 0) {
        parent_slot = -1;
        for (int i = 0; i < beam_width; ++i) {
          const uint32_t id = ids[i];
          if (id == kInvalid) break;
          if (!(id & kExpanded)) {
            parent_slot = i;
            ids[i] = id | kExpanded;
            break;
          }
        }
      }
      __syncthreads();
      const int slot = parent_slot;
      if (slot < 0) break;
      const uint32_t parent = ids[slot] & ~kExpanded;
      for (int e = threadIdx.x; e < fresh; e += blockDim.x) {
        uint32_t id = e < degree ? graph[static_cast<int64_t>(parent) * degree + e] : kInvalid;
        if (id != kInvalid && !visit(table, mask, id)) id = kInvalid;
        ids[beam_width + e] = id;
      }
      __syncthreads();
      score_and_merge();
    }

    for (int j = threadIdx.x; j < k; j += blockDim.x) {
      const uint32_t id = j < beam_width ? ids[j] : kInvalid;
      out_ids[q * k + j] = id == kInvalid ? kInvalid : (id & ~kExpanded);
      out_distances[q * k + j] = id == kInvalid ? inf : distances[j];
    }
    __syncthreads();
  }
}

}  // namespace

size_t graph_search_shared_bytes(int64_t dim, int beam_width, int degree) {
  const Layout l = layout_for(beam_width, degree);
  return l.table_size * sizeof(uint32_t) + l.buffer * (sizeof(float) + sizeof(uint32_t)) + dim * sizeof(float);
}

void graph_search(const raft::resources& res, const DeviceMatrix& base, MetricSpec metric, const uint32_t* graph,
                  int degree, const uint32_t* entries, int entry_count, const DeviceMatrix& queries,
                  const GraphSearchParams& params, uint32_t* out_ids, float* out_distances, const uint32_t* row_of,
                  SearchSeeds seeds) {
  if (queries.rows == 0) return;
  if (base.rows >= static_cast<int64_t>(kExpanded)) {
    throw Error(ErrorCode::Unsupported, "GPU search: more than 2^31 rows are not supported");
  }
  const int beam_width = std::max(params.beam_width, params.k);
  const Layout layout = layout_for(beam_width, degree);
  const size_t shared = graph_search_shared_bytes(base.dim, beam_width, degree);
  int device = 0, limit = 0;
  ANNFORGE_CUDA_CHECK(cudaGetDevice(&device));
  ANNFORGE_CUDA_CHECK(cudaDeviceGetAttribute(&limit, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  if (shared > static_cast<size_t>(limit)) {
    throw Error(ErrorCode::Unsupported, "GPU search: beam width " + std::to_string(beam_width) + " with " +
                                            std::to_string(base.dim) + " dimensions needs " +
                                            std::to_string(shared) + " bytes of shared memory; the GPU has " +
                                            std::to_string(limit));
  }
  cudaStream_t stream = stream_of(res);
  const int blocks = grid_for(queries.rows, 1);
  auto launch = [&](auto* typed_base) {
    using T = std::remove_const_t<std::remove_pointer_t<decltype(typed_base)>>;
    // Teams of 8 lanes for short vectors (16 bytes or floats per lane at dim 128), whole
    // warps for long ones.
    auto kernel = base.dim <= 256 ? search_kernel<8, T> : search_kernel<32, T>;
    ANNFORGE_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                             static_cast<int>(shared)));
    kernel<<<blocks, kThreads, shared, stream>>>(typed_base, base.dim, metric, graph, degree, entries, entry_count,
                                                 static_cast<const T*>(queries.data), queries.rows, params.k,
                                                 beam_width, layout, out_ids, out_distances, row_of, seeds);
  };
  switch (base.type) {
    case ElementType::Float32: launch(static_cast<const float*>(base.data)); break;
    case ElementType::UInt8: launch(static_cast<const uint8_t*>(base.data)); break;
    case ElementType::Int8: launch(static_cast<const int8_t*>(base.data)); break;
  }
  ANNFORGE_CUDA_CHECK_LAUNCH("graph_search");
}

}  // namespace annforge::cuda
