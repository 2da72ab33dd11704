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
  int seed_slots;  // beam + at least kSeedBatch seeds and entry points (fewer if fewer), a power of two
};

// Seeds and entry points scored and merged into the beam per sort: at least this many, instead
// of one sort per `buffer - beam` of them (an upper level's beam of 16 took 512 entry points in
// 32 sorts of 32, a third of the sorting that the descent added to a search of 200K SIFT,
// 2026-12-04). Not more: the slots are shared memory beside the visited table, and shared
// memory per block bounds how many queries an SM walks at once.
constexpr int kSeedBatch = 192;

Layout layout_for(int beam_width, int degree, int seed_total) {
  Layout l;
  l.buffer = 32;
  // One expansion's neighbours beside the beam (at least one slot, also on a graph of degree 0).
  while (l.buffer < beam_width + std::max(degree, 1)) l.buffer <<= 1;
  l.seed_slots = 32;
  while (l.seed_slots < beam_width + std::clamp(seed_total, 1, kSeedBatch)) l.seed_slots <<= 1;
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
  float* seed_distances = query + dim;
  uint32_t* seed_ids = reinterpret_cast<uint32_t*>(seed_distances + layout.seed_slots);
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

    // Scores the ids in slots [from, to) of `slot_ids` (kInvalid = empty) into slot_distances.
    auto score = [&](const uint32_t* slot_ids, float* slot_distances, int from, int to) {
      // A team of lanes per candidate; every lane runs the same number of rounds (the shuffles
      // span the warp), idle teams with `active` false.
      const int teams = blockDim.x / Team, team = threadIdx.x / Team, team_lane = threadIdx.x % Team;
      for (int first = from; first < to; first += teams) {
        const int i = first + team;
        const uint32_t id = i < to ? slot_ids[i] : kInvalid;
        const bool active = id != kInvalid;
        const uint32_t row = active && row_of ? row_of[id] : id;
        const float inverse_row = active && metric.inverse_norms ? metric.inverse_norms[row] : 0.0f;
        const float d = team_query_distance<Team>(query, base + (active ? static_cast<int64_t>(row) * dim : 0),
                                                  static_cast<int>(dim), metric.metric, query_inverse_norm,
                                                  inverse_row, team_lane, active);
        if (active && team_lane == 0) slot_distances[i] = d;
      }
    };
    // Scores the ids in slots [beam_width, buffer), then keeps the best beam_width of beam + fresh.
    auto score_and_merge = [&]() {
      score(ids, distances, beam_width, layout.buffer);
      block_bitonic_sort<ByDistance>(distances, ids, layout.buffer);
      for (int i = beam_width + threadIdx.x; i < layout.buffer; i += blockDim.x) {
        ids[i] = kInvalid;
        distances[i] = inf;
      }
      __syncthreads();
    };

    // The beam starts from this query's seeds (the level above's results) and the entry points,
    // up to kSeedBatch of them scored beside the beam and merged by one sort of seed_slots.
    const int seed_total = seeds.count + entry_count;
    const int seed_batch = layout.seed_slots - beam_width;
    for (int first = 0; first < seed_total; first += seed_batch) {
      for (int i = threadIdx.x; i < layout.seed_slots; i += blockDim.x) {
        if (i < beam_width) {
          seed_ids[i] = ids[i];
          seed_distances[i] = distances[i];
          continue;
        }
        const int e = first + i - beam_width;
        uint32_t id = kInvalid;
        if (e < seeds.count) {
          id = seeds.ids[q * seeds.count + e];
          if (id != kInvalid && seeds.map != nullptr) id = seeds.map[id];
        } else if (e < seed_total) {
          id = entries[e - seeds.count];
        }
        if (id != kInvalid && !visit(table, mask, id)) id = kInvalid;
        seed_ids[i] = id;
        seed_distances[i] = inf;
      }
      __syncthreads();
      score(seed_ids, seed_distances, beam_width, layout.seed_slots);
      block_bitonic_sort<ByDistance>(seed_distances, seed_ids, layout.seed_slots);
      for (int i = threadIdx.x; i < beam_width; i += blockDim.x) {
        ids[i] = seed_ids[i];
        distances[i] = seed_distances[i];
      }
      __syncthreads();
    }

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

size_t graph_search_shared_bytes(int64_t dim, int beam_width, int degree, int seed_total) {
  const Layout l = layout_for(beam_width, degree, seed_total);
  return l.table_size * sizeof(uint32_t) + (l.buffer + l.seed_slots) * (sizeof(float) + sizeof(uint32_t)) +
         dim * sizeof(float);
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
  const int seed_total = seeds.count + entry_count;
  const Layout layout = layout_for(beam_width, degree, seed_total);
  const size_t shared = graph_search_shared_bytes(base.dim, beam_width, degree, seed_total);
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
