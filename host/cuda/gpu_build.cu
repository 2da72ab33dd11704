// The GPU build pipeline (gpu_build.hpp).
#include "host/cuda/gpu_build.hpp"
#include "host/cuda/gpu_memory_model.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "host/backend.hpp"
#include "host/cpu/graph/entry_point.hpp"
#include "host/cpu/trace.hpp"
#include "host/huge_pages.hpp"
#include "host/env_knob.hpp"
#include "host/cuda/gpu_exact.hpp"
#include "kernels/candidate_merge.hpp"
#include "kernels/centroid.hpp"
#include "kernels/forest_partition.hpp"
#include "kernels/graph_prune.hpp"
#include "kernels/neighbor_join.hpp"
#include "kernels/reachability.hpp"
#include "kernels/select_k.hpp"
#include "kernels/shared/partition_core.hpp"

namespace annforge::cuda {
namespace {

// Up to this many rows the exact kNN graph by tiles is cheap on a GPU (a 20K x 20K tile set is
// 400M distances) and exact.
constexpr int64_t kBruteForceMaxRows = 20000;

// Stage times under ANNFORGE_TRACE: the GPU is synchronised first so that each lap is its own.
// Each lap also prints the device memory the build holds (cudaMemGetInfo against its start)
// and the peak so far, sampled every 0.2 ms by a thread of its own: RAFT's and CUB's workspaces
// included, the figure the memory plan (gpu_memory_model.hpp) is checked by.
class GpuTimer {
 public:
  explicit GpuTimer(GpuContext& gpu) : gpu_(gpu) {
    if (!cpu::tracing()) return;
    baseline_ = used_now();
    sampler_ = std::thread([this] {
      (void)cudaSetDevice(gpu_.device);  // a failure shows as no samples, never as an exception here
      while (!stop_.load(std::memory_order_relaxed)) {
        note(used_now());
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    });
  }
  ~GpuTimer() {
    if (sampler_.joinable()) {
      stop_ = true;
      sampler_.join();
    }
  }
  GpuTimer(const GpuTimer&) = delete;
  GpuTimer& operator=(const GpuTimer&) = delete;

  void lap(const char* what) {
    if (!cpu::tracing()) return;
    gpu_.synchronize();
    const size_t used = used_now();
    note(used);
    const double mib = 1.0 / (1 << 20);
    timer_.lap("gpu: %s (device: %.0f MiB held, peak %.0f MiB)", what,
               static_cast<double>(used > baseline_ ? used - baseline_ : 0) * mib,
               static_cast<double>(peak_.load() > baseline_ ? peak_.load() - baseline_ : 0) * mib);
  }

 private:
  static size_t used_now() {
    size_t free_bytes = 0, total_bytes = 0;
    if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) return 0;
    return total_bytes - free_bytes;
  }
  void note(size_t used) {
    size_t seen = peak_.load(std::memory_order_relaxed);
    while (used > seen && !peak_.compare_exchange_weak(seen, used)) {
    }
  }

  GpuContext& gpu_;
  cpu::StageTimer timer_;
  size_t baseline_ = 0;
  std::atomic<size_t> peak_{0};
  std::atomic<bool> stop_{false};
  std::thread sampler_;
};

struct DeviceKnn {
  DeviceBuffer<uint32_t> ids;
  DeviceBuffer<float> distances;
};

// The exact kNN graph (self excluded) by tiles.
DeviceKnn exact_graph(GpuContext& gpu, const DeviceMatrix& data, const float* norms, Metric metric, int k) {
  const int64_t n = data.rows;
  DeviceBuffer<uint32_t> with_self_ids(n * (k + 1));
  DeviceBuffer<float> with_self_distances(n * (k + 1));
  const int width = exact_knn_device(gpu, data, norms, data, norms, metric, k + 1, with_self_ids.data(),
                                     with_self_distances.data(), {});
  if (width != k + 1) throw Error(ErrorCode::Internal, "GPU exact graph: fewer candidates than k + 1");
  DeviceKnn knn{DeviceBuffer<uint32_t>(n * k), DeviceBuffer<float>(n * k)};
  drop_self(gpu.res, n, 0, k, with_self_ids.data(), with_self_distances.data(), knn.ids.data(), knn.distances.data());
  return knn;
}

using cuda_detail::ForestShape;
using cuda_detail::forest_shape;

// The initial kNN graph from a random-projection forest: each tree's leaves get exact all-pairs
// distances; every row's candidates from all trees are merged into its k nearest.
DeviceKnn forest_graph(GpuContext& gpu, const DeviceMatrix& data, const float* norms, Metric metric, int k,
                       const ForestSettings& settings, uint64_t seed, std::vector<uint32_t>& entry_points,
                       GpuTimer& timer) {
  const raft::resources& res = gpu.res;
  const int64_t n = data.rows;
  const ForestShape shape = forest_shape(n, k, std::max(settings.leaf_size, 2 * k + 2));
  const int trees = settings.trees;
  // Per row: the k kept so far, then this tree's kk candidates; merged after every tree, so that
  // memory holds k + kk candidates per row whatever the number of trees.
  const int64_t slots = k + shape.kk;
  const bool half = data.type != ElementType::Float32;
  const size_t e = half ? 2 : 4;
  const float* inverse_norms = metric == Metric::Cosine ? norms : nullptr;

  DeviceKnn knn{DeviceBuffer<uint32_t>(n * k), DeviceBuffer<float>(n * k)};
  DeviceBuffer<uint32_t> candidate_ids(n * slots);
  DeviceBuffer<float> candidate_distances(n * slots);
  DeviceBuffer<uint32_t> order(n);
  const int64_t segments = int64_t{1} << shape.levels;
  DeviceBuffer<float> directions(segments * data.dim);
  DeviceBuffer<float> offsets(segments);
  DeviceBuffer<uint64_t> keys(n), keys_sorted(n);
  DeviceBuffer<uint32_t> order_out(n);
  DeviceBuffer<uint8_t> sort_temp(forest_sort_temp_bytes(n));
  ForestScratch scratch{directions.data(), offsets.data(), keys.data(), keys_sorted.data(),
                        order_out.data(),  sort_temp.data(), sort_temp.size()};

  const int64_t leaves_per_batch = cuda_detail::leaves_per_batch(shape);
  DeviceBuffer<uint32_t> members(leaves_per_batch * shape.side);
  DeviceBuffer<uint8_t> gathered(leaves_per_batch * shape.side * data.dim * e);
  DeviceBuffer<float> tiles(leaves_per_batch * shape.side * shape.side);
  DeviceBuffer<float> local_distances(leaves_per_batch * shape.side * shape.kk);
  DeviceBuffer<uint32_t> local_positions(leaves_per_batch * shape.side * shape.kk);

  for (int tree = 0; tree < trees; ++tree) {
    const uint64_t tree_seed = core::mix_bits(seed ^ (0x5eedull + tree));
    // The kept lists into the first k slots (none yet before the first tree: kInvalidId slots,
    // which the merge reads as +infinity whatever their distance).
    if (tree == 0) {
      ANNFORGE_CUDA_CHECK(cudaMemset2DAsync(candidate_ids.data(), slots * sizeof(uint32_t), 0xff, k * sizeof(uint32_t),
                                            n, gpu.compute.get()));
    } else {
      ANNFORGE_CUDA_CHECK(cudaMemcpy2DAsync(candidate_ids.data(), slots * sizeof(uint32_t), knn.ids.data(),
                                            k * sizeof(uint32_t), k * sizeof(uint32_t), n, cudaMemcpyDeviceToDevice,
                                            gpu.compute.get()));
      ANNFORGE_CUDA_CHECK(cudaMemcpy2DAsync(candidate_distances.data(), slots * sizeof(float), knn.distances.data(),
                                            k * sizeof(float), k * sizeof(float), n, cudaMemcpyDeviceToDevice,
                                            gpu.compute.get()));
    }
    fill_identity(res, order.data(), n);
    for (int level = 0; level < shape.levels; ++level) {
      forest_split_level(res, data, inverse_norms, order.data(), level, tree_seed, scratch);
    }
    if (tree == 0) {
      // Entry points: the middle row of each segment at the level with about entry_point_count
      // segments, so that every region of the data has one.
      // Below the leaf level the segments are slices of a leaf (its rows in no particular
      // order): still one entry point per slice, spread over every leaf.
      int entry_level = 0;
      while ((int64_t{1} << (entry_level + 1)) <= std::min<int64_t>(cpu::entry_point_count(n), n)) ++entry_level;
      std::vector<uint32_t> all(n);
      gpu.synchronize();
      download(gpu, order.data(), all.data(), n * sizeof(uint32_t));
      entry_points.clear();
      for (int64_t s = 0; s < (int64_t{1} << entry_level); ++s) {
        const int64_t start = core::segment_start(s, entry_level, n);
        const int64_t end = core::segment_start(s + 1, entry_level, n);
        if (end > start) entry_points.push_back(all[start + (end - start) / 2]);
      }
    }
    timer.lap("forest tree partition");
    for (int64_t first = 0; first < segments; first += leaves_per_batch) {
      const int64_t leaves = std::min(leaves_per_batch, segments - first);
      const int64_t rows = leaves * shape.side;
      leaf_members(res, order.data(), n, shape.levels, first, leaves, shape.side, members.data());
      gather_rows(res, data, members.data(), 0, rows, half, gathered.data());
      gemm_dots(res, half, /*exact_float=*/false, gathered.data(), gathered.data(), shape.side, shape.side, data.dim,
                tiles.data(), static_cast<int>(leaves));
      leaf_dots_to_distances(res, metric, tiles.data(), leaves, shape.side, members.data(), norms);
      select_k_smallest(res, raft::make_device_matrix_view<const float, int64_t>(tiles.data(), rows, shape.side),
                        std::nullopt,
                        raft::make_device_matrix_view<float, int64_t>(local_distances.data(), rows, shape.kk),
                        raft::make_device_matrix_view<uint32_t, int64_t>(local_positions.data(), rows, shape.kk));
      scatter_leaf_candidates(res, members.data(), leaves, shape.side, shape.kk, local_distances.data(),
                              local_positions.data(), slots, k, candidate_ids.data(), candidate_distances.data());
    }
    merge_candidates(res, n, slots, candidate_ids.data(), candidate_distances.data(), k, knn.ids.data(),
                     knn.distances.data());
    timer.lap("forest tree leaves (GEMM + select_k) and merge");
  }
  return knn;
}

void check_memory(GpuContext& gpu, const DatasetView& view, int k, int degree, const ForestSettings& settings) {
  // The kept lists, one tree's candidates, the sort and a batch of leaf tiles, or the join's two
  // lists, or the pruning's buffers, whichever is largest (gpu_memory_model.hpp).
  const int64_t n = view.rows;
  const size_t need =
      cuda_detail::gpu_build_bytes(n, view.dim, element_size(view.type), k, degree, settings.leaf_size).total();
  const size_t free_bytes = gpu.free_memory();
  if (need > free_bytes - free_bytes / 10) {
    throw Error(ErrorCode::Unsupported,
                "GPU build of " + std::to_string(n) + " rows needs about " + std::to_string(need >> 20) +
                    " MiB of GPU memory and " + gpu.name + " has " + std::to_string(free_bytes >> 20) +
                    " MiB free: build on the CPU (device=cpu), or on a GPU with more memory");
  }
}

}  // namespace

ForestSettings forest_settings(const BuildParams& params) {
  ForestSettings s;
  s.trees = detail::env_knob("ANNFORGE_GPU_TREES", s.trees);
  s.leaf_size = detail::env_knob("ANNFORGE_GPU_LEAF", s.leaf_size);
  s.fanout = detail::env_knob("ANNFORGE_GPU_FANOUT", s.fanout);
  const int rounds = detail::nn_descent_rounds_or_one(params.nn_descent_iterations);
  s.rounds = detail::env_knob("ANNFORGE_GPU_ROUNDS", rounds);
  return s;
}

namespace {

// The vectors on the device with their norms, and the kNN lists built from them: the first half
// of a build, and all of a piece's (knn_lists_on_gpu).
struct DeviceLists {
  DeviceBuffer<uint8_t> vectors;
  DeviceBuffer<float> norms;
  DeviceKnn knn;
  std::vector<uint32_t> entries;  // one row per region of the forest's first tree (empty: exact)
};

DeviceLists device_lists(GpuContext& gpu, const DatasetView& view, Metric metric, int k, const BuildParams& params,
                         const ForestSettings& settings, GpuTimer& timer) {
  const int64_t n = view.rows;
  const raft::resources& res = gpu.res;
  DeviceLists lists;
  lists.vectors.resize(n * view.row_bytes());
  upload_rows(gpu, view, lists.vectors.data());
  const DeviceMatrix data{lists.vectors.data(), n, view.dim, view.type};
  lists.norms.resize(n);
  row_norms(res, data, metric, lists.norms.data());
  timer.lap("upload and norms");

  const bool brute = params.algorithm == BuildAlgorithm::BruteForce ||
                     (params.algorithm == BuildAlgorithm::Auto && n <= kBruteForceMaxRows);
  if (brute) {
    lists.knn = exact_graph(gpu, data, lists.norms.data(), metric, k);
    timer.lap("exact knn graph");
    return lists;
  }
  lists.knn = forest_graph(gpu, data, lists.norms.data(), metric, k, settings, params.seed, lists.entries, timer);
  const MetricSpec spec{metric, metric == Metric::Cosine ? lists.norms.data() : nullptr};
  DeviceKnn next{DeviceBuffer<uint32_t>(n * k), DeviceBuffer<float>(n * k)};
  DeviceBuffer<unsigned long long> changed(1);
  for (int round = 0; round < settings.rounds; ++round) {
    ANNFORGE_CUDA_CHECK(cudaMemsetAsync(changed.data(), 0, sizeof(unsigned long long), gpu.compute.get()));
    join_neighbors_of_neighbors(res, data, spec, lists.knn.ids.data(), lists.knn.distances.data(), k,
                                settings.fanout, next.ids.data(), next.distances.data(), changed.data());
    std::swap(lists.knn, next);
    if (params.progress) {
      gpu.synchronize();
      params.progress(Progress{"knn-graph", round + 1, settings.rounds});
    }
  }
  timer.lap("neighbour-join rounds");
  return lists;
}

}  // namespace

cpu::KnnGraph knn_lists_on_gpu(GpuContext& gpu, const DatasetView& view, Metric metric, int k,
                               const BuildParams& params) {
  const int64_t n = view.rows;
  k = static_cast<int>(std::min<int64_t>(k, n - 1));
  const ForestSettings settings = forest_settings(params);
  // The pruning's buffers are never allocated here; its degree only enters the check's last term.
  check_memory(gpu, view, k, std::min(k, params.graph_degree), settings);
  GpuTimer timer(gpu);
  BuildParams quiet = params;
  quiet.progress = nullptr;  // the caller reports pieces, not their join rounds
  DeviceLists lists = device_lists(gpu, view, metric, k, quiet, settings, timer);
  lists.vectors.release();
  lists.norms.release();
  cpu::KnnGraph out;
  out.rows = n;
  out.k = k;
  reserve_huge(out.ids, static_cast<size_t>(n) * k);
  reserve_huge(out.distances, static_cast<size_t>(n) * k);
  out.ids.resize(static_cast<size_t>(n) * k);
  out.distances.resize(static_cast<size_t>(n) * k);
  download(gpu, lists.knn.ids.data(), out.ids.data(), out.ids.size() * sizeof(uint32_t));
  download(gpu, lists.knn.distances.data(), out.distances.data(), out.distances.size() * sizeof(float));
  timer.lap("a piece's kNN lists downloaded");
  return out;
}

int64_t build_on_gpu(GpuContext& gpu, Index& index, const BuildParams& params) {
  const DatasetView& view = index.vectors.view();
  const int64_t n = view.rows;
  const int degree = static_cast<int>(std::min<int64_t>(params.graph_degree, n - 1));
  // 0: the GPU's choice, 2 x degree and at least 64 (the default before the backends chose).
  const int k = cuda_detail::gpu_intermediate_degree(params, n, degree);
  index.graph_degree = degree;
  GpuTimer timer(gpu);
  if (degree == 0) {
    index.graph.clear();
    index.entry_points = {0};
    return 0;
  }
  const ForestSettings settings = forest_settings(params);
  check_memory(gpu, view, k, degree, settings);
  const raft::resources& res = gpu.res;
  DeviceLists lists = device_lists(gpu, view, index.metric, k, params, settings, timer);
  const DeviceMatrix data{lists.vectors.data(), n, view.dim, view.type};
  DeviceKnn& knn = lists.knn;
  std::vector<uint32_t>& entries = lists.entries;
  knn.distances.release();

  DeviceBuffer<uint32_t> pruned(n * degree);
  prune_by_detours(res, knn.ids.data(), n, k, degree, pruned.data());
  knn.ids.release();
  DeviceBuffer<uint32_t> reverse(n * degree);
  DeviceBuffer<int> reverse_count(n);
  DeviceBuffer<uint32_t> graph(n * degree);
  merge_reverse_edges(res, pruned.data(), n, degree, reverse.data(), reverse_count.data(), graph.data());
  timer.lap("pruning and reverse edges");
  // Entry points: the row nearest the centroid first (as on the CPU), then one per region.
  std::vector<uint32_t> entry_points{nearest_to_centroid(res, data)};
  if (entries.empty()) {
    // Small inputs: evenly spaced rows (the exact graph has no partition to draw regions from).
    const int64_t count = std::min<int64_t>(n, cpu::entry_point_count(n));
    for (int64_t i = 0; i < count; ++i) entries.push_back(static_cast<uint32_t>(i * n / count));
  }
  for (uint32_t e : entries) {
    if (e != entry_points[0]) entry_points.push_back(e);
  }
  const int64_t unreachable = count_unreachable(res, graph.data(), n, degree, entry_points);
  timer.lap("entry points and reachability");
  reserve_huge(index.graph, static_cast<size_t>(n) * degree);
  index.graph.resize(n * degree);
  download(gpu, graph.data(), index.graph.data(), index.graph.size() * sizeof(uint32_t));
  timer.lap("graph download");
  index.entry_points = std::move(entry_points);
  if (params.progress) params.progress(Progress{"optimize", 1, 1});
  return unreachable;
}

}  // namespace annforge::cuda
