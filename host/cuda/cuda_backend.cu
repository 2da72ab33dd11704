// The CUDA backend: the Backend interface (host/backend.hpp) on the GPU. Builds run the device
// pipeline of gpu_build.cu and then the CPU engine's island joining (a breadth-first pass over
// the host graph); searches keep the last index's vectors and graph on the device between calls.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "host/backend.hpp"
#include "host/cpu/cpu_pieces.hpp"
#include "host/cpu/partition/reorder.hpp"
#include "host/cpu/partitioned_build.hpp"
#include "host/cpu/search/beam_search.hpp"
#include "host/cpu/search/upper_width.hpp"
#include "host/cpu/graph/extend.hpp"
#include "host/cpu/parallel.hpp"
#include "host/cpu/graph/landing_links.hpp"
#include "host/cpu/graph/upper_levels.hpp"
#include "host/env_knob.hpp"
#include "host/cpu/graph/connectivity.hpp"
#include "host/cpu/distance/distance.hpp"
#include "host/cpu/trace.hpp"
#include "host/cuda/gpu_build.hpp"
#include "host/cuda/gpu_context.hpp"
#include "host/cuda/gpu_memory_model.hpp"
#include "host/cuda/gpu_exact.hpp"
#include "host/index_key.hpp"
#include "kernels/beam_search.hpp"
#include "kernels/shared/partition_core.hpp"

namespace annforge::cuda {
namespace {

using detail::IndexKey;
using detail::key_of;

// An upper level on the device (Index::levels): nodes are positions in its member list.
struct DeviceLevel {
  int degree = 0;
  DeviceBuffer<uint32_t> members;     // position -> row
  DeviceBuffer<uint32_t> graph;       // members x degree positions
  DeviceBuffer<uint32_t> entries;     // positions of the entry points this level is the highest to hold
  DeviceBuffer<uint32_t> from_above;  // a position in the level above -> its position here (kInvalidId: absent)
};

struct DeviceIndex {
  IndexKey key;
  DeviceBuffer<uint8_t> vectors;
  DeviceBuffer<float> inverse_norms;
  DeviceBuffer<uint32_t> graph;
  DeviceBuffer<uint32_t> entries;
  std::vector<DeviceLevel> levels;  // levels[0] is level 1
  bool descend = false;             // searches descend the levels (descent_finds_more), else scan the entry points
};

void upload_rows(GpuContext& gpu, const DatasetView& view, DeviceBuffer<uint8_t>& out) {
  out.resize(view.rows * view.row_bytes());
  cuda::upload_rows(gpu, view, out.data());
}

class CudaBackend final : public detail::Backend {
 public:
  explicit CudaBackend(GpuContext& gpu) : gpu_(gpu) {}
  const char* name() const override { return "cuda"; }

  // The graph and entry points on the device, then the hierarchy above them as the CPU backend
  // builds it (host/cpu/graph/upper_levels.hpp), each level's graph by the same GPU pipeline:
  // without it a search reaches only the regions near one of the <= 512 entry points (1M x 64
  // in 5,000 clusters: recall@10 0.22-0.31 at beams 16-128 on an H200, 2026-12-04).
  void build(Index& index, const BuildParams& params) override {
    build_flat(index, params);
    if (detail::env_knob("ANNFORGE_GPU_FLAT", 0) == 1) return;  // measurements: entry points only
    cpu::StageTimer timer;
    index.levels = cpu::build_upper_levels(index, params, [this](Index& sub, const BuildParams& p) { build_flat(sub, p); });
    timer.lap("gpu: %d upper levels (level 1: %lld rows)", static_cast<int>(index.levels.size()),
              static_cast<long long>(index.levels.empty() ? 0 : index.levels[0].members.size()));
    // The upper beam's divisor measured by the CPU's search, with landing links where a narrow
    // beam misses (host/cpu/graph/landing_links.hpp): host work over the built levels.
    cpu::settle_upper_levels(index, params.threads, params.seed);
    timer.lap("gpu: upper levels settled on the CPU: base beam / %d", index.upper_width_divisor);
  }

  void build_flat(Index& index, const BuildParams& params) {
    if (cpu::effective_pieces(index.rows(), params.partitions) > 1) {
      // Data past the device's memory (or pieces asked for): one piece at a time on the GPU, the
      // lists merged, the borders repaired and the graph optimised on the host.
      detail::cpu_build_flat_in_pieces(index, params, detail::cuda_piece_builder(index.metric, params));
      return;
    }
    int64_t unreachable = 0;
    {
      std::lock_guard<std::mutex> hold(gpu_.lock);
      unreachable = build_on_gpu(gpu_, index, params);
    }
    if (unreachable > 0) join_islands(index);
  }

  // Device memory by the formula build_on_gpu checks (gpu_memory_model.hpp, within 2% of the
  // peaks an H200 measured on three data sets); host memory: the graph and kNN lists downloaded,
  // then joined into one graph there. Time: 1M SIFT (128-d) built in 0.33 s on an H100
  // (2026-11-25), taken as linear in rows and dimensions.
  BuildPlan plan(int64_t rows, int64_t dim, ElementType type, const BuildParams& params) override {
    if (cpu::effective_pieces(rows, params.partitions) > 1) return pieces_plan(rows, dim, type, params);
    BuildPlan plan;
    const int degree = static_cast<int>(std::min<int64_t>(params.graph_degree, std::max<int64_t>(rows - 1, 0)));
    const int k = std::max(degree, cuda_detail::gpu_intermediate_degree(params, rows, degree));
    const size_t row_bytes = static_cast<size_t>(dim) * element_size(type);
    const cuda_detail::GpuBuildBytes device =
        cuda_detail::gpu_build_bytes(rows, dim, element_size(type), k, degree, forest_settings(params).leaf_size);
    plan.graph_degree = degree;
    plan.intermediate_degree = k;
    plan.threads = params.threads;
    const double seconds = 0.33 * (static_cast<double>(rows) / 1e6) * (static_cast<double>(dim) / 128.0);
    auto add = [&](const char* name, size_t device_bytes, size_t host_bytes, double share) {
      PlanStage stage;
      stage.name = name;
      stage.device_bytes = device_bytes;
      stage.host_bytes = host_bytes;
      stage.seconds = seconds * share;
      plan.stages.push_back(stage);
      plan.peak_device_bytes = std::max<uint64_t>(plan.peak_device_bytes, device_bytes);
      plan.peak_host_bytes = std::max<uint64_t>(plan.peak_host_bytes, host_bytes);
    };
    const size_t graph = static_cast<size_t>(rows) * degree * 4;
    const size_t held = device.fixed + device.data;
    add("upload and norms", held, 0, 0.1);
    add("forest (leaf tiles by GEMM, select_k)", held + device.forest, 0, 0.5);
    add("neighbour joins", held + device.join, 0, 0.1);
    add("pruning and reverse edges", held + device.graph, 0, 0.2);
    add("download and islands joined", 0, 2 * graph + static_cast<size_t>(rows) * 8, 0.1);
    plan.seconds = seconds;
    plan.index_bytes = 64 + graph + static_cast<uint64_t>(rows) * row_bytes + 8 + 512 * 4;
    const size_t free_bytes = gpu_.free_memory();
    if (device.total() > free_bytes - free_bytes / 10) {  // build_on_gpu's check
      plan.fits = false;
      plan.refusal = "the GPU build needs about " + std::to_string(device.total() >> 20) + " MiB of GPU memory and " +
                     gpu_.name + " has " + std::to_string(free_bytes >> 20) + " MiB free";
    }
    return plan;
  }

  // A partitioned build with its pieces on the GPU: the host's stages as the CPU's partitioned
  // plan has them (its all-pairs buffers are not needed, so the piece stage is overestimated),
  // and on the device the largest piece's lists (piece_capacity rows) one at a time.
  BuildPlan pieces_plan(int64_t rows, int64_t dim, ElementType type, const BuildParams& params) {
    BuildPlan plan = detail::cpu_backend().plan(rows, dim, type, params);
    const int64_t piece_rows = cpu::piece_capacity(rows, plan.partitions, cpu::kPieceMemberships);
    const int k = plan.intermediate_degree;
    const size_t device =
        cuda_detail::gpu_build_bytes(piece_rows, dim, element_size(type), k, std::min(k, plan.graph_degree),
                                     forest_settings(params).leaf_size)
            .total();
    for (PlanStage& stage : plan.stages) {
      if (stage.name.find("kNN lists") != std::string::npos) stage.device_bytes = device;
    }
    plan.peak_device_bytes = device;
    // Its seconds stay the CPU plan's: an upper bound until GPU pieces are measured.
    const size_t free_bytes = gpu_.free_memory();
    if (device > free_bytes - free_bytes / 10) {
      plan.fits = false;
      plan.refusal = "a piece of " + std::to_string(piece_rows) + " rows needs about " + std::to_string(device >> 20) +
                     " MiB of GPU memory and " + gpu_.name + " has " + std::to_string(free_bytes >> 20) + " MiB free";
    }
    return plan;
  }

  void search(const Index& index, const DatasetView& queries, int k, const SearchParams& params, uint32_t* ids,
              float* distances) override {
    if (index.graph_degree == 0 || index.graph.empty()) {
      // A one-row index has no graph to walk: the CPU answers it.
      detail::cpu_backend().search(index, queries, k, params, ids, distances);
      return;
    }
    std::lock_guard<std::mutex> hold(gpu_.lock);
    DeviceIndex& device = device_index(index);
    GraphSearchParams search;
    search.k = k;
    search.beam_width = std::max(params.beam_width, k);
    // Queries in batches, so that a huge query set needs bounded device memory.
    const int64_t batch = 1 << 18;
    SearchBuffers buffers;
    for (int64_t q0 = 0; q0 < queries.rows; q0 += batch) {
      const int64_t qn = std::min(batch, queries.rows - q0);
      const DatasetView part = queries.slice(q0, qn);
      upload_rows(gpu_, part, buffers.query_rows);
      search_batch(index, device, part, search, device.descend, buffers);
      download(gpu_, buffers.found_ids.data(), ids + q0 * k, qn * k * sizeof(uint32_t));
      download(gpu_, buffers.found_distances.data(), distances + q0 * k, qn * k * sizeof(float));
      if (params.progress) params.progress(Progress{"search", q0 + qn, queries.rows});
    }
    if (!index.vectors.owns_storage()) cached_.reset();  // borrowed memory: no copy outlives the call
  }

  // On the GPU a whole rebuild over old and new rows costs less than linking the new rows chunk
  // by chunk, and gives the graph a fresh build's quality.
  void extend(Index& index, int64_t first_new_row, const BuildParams& params) override {
    // The index keeps its degree, unless the old graph was too small to have it (a graph over r
    // rows has at most r - 1 edges per row): the CPU engine's rule (host/cpu/graph/extend.cpp).
    const int degree = index.graph_degree;
    const bool degree_was_capped = degree == first_new_row - 1 && degree < params.graph_degree;
    // A batch small against the index: linked in on the host by the CPU engine (its cost
    // follows the batch; the device copy of the index is made again at the next search).
    if (!degree_was_capped && !index.graph.empty() &&
        cpu::link_on_host_rather_than_rebuild(first_new_row, index.rows() - first_new_row,
                                              cpu::resolve_threads(params.threads))) {
      detail::cpu_backend().extend(index, first_new_row, params);
      return;
    }
    BuildParams rebuild = params;
    if (!degree_was_capped) {
      rebuild.graph_degree = index.graph_degree;
      if (params.intermediate_degree != 0) {
        rebuild.intermediate_degree = std::max(params.intermediate_degree, index.graph_degree);
      }
    }
    // Built apart and moved in, so that a failure leaves the index as it was.
    Index rebuilt;
    rebuilt.metric = index.metric;
    rebuilt.vectors = index.vectors;
    build(rebuilt, rebuild);
    index = std::move(rebuilt);
  }

  void exact_knn(const DatasetView& base, const DatasetView& queries, int k, Metric metric, int threads,
                 const ProgressCallback& progress, uint32_t* ids, float* distances) override {
    (void)threads;
    std::lock_guard<std::mutex> hold(gpu_.lock);
    const DeviceMatrix probe{nullptr, base.rows, base.dim, base.type};
    const size_t need = base.rows * base.row_bytes() + queries.rows * queries.row_bytes() +
                        (base.rows + queries.rows) * 4 + queries.rows * static_cast<size_t>(k) * 8 +
                        exact_knn_scratch_bytes(probe, queries.rows, k);
    const size_t free_bytes = gpu_.free_memory();
    if (need > free_bytes - free_bytes / 10) {
      throw Error(ErrorCode::Unsupported, "GPU exact kNN needs about " + std::to_string(need >> 20) + " MiB and " +
                                              gpu_.name + " has " + std::to_string(free_bytes >> 20) +
                                              " MiB free: use device=cpu or fewer queries per call");
    }
    DeviceBuffer<uint8_t> base_rows, query_rows;
    upload_rows(gpu_, base, base_rows);
    upload_rows(gpu_, queries, query_rows);
    const DeviceMatrix base_matrix{base_rows.data(), base.rows, base.dim, base.type};
    const DeviceMatrix query_matrix{query_rows.data(), queries.rows, queries.dim, queries.type};
    DeviceBuffer<float> base_norms(base.rows), query_norms(queries.rows);
    row_norms(gpu_.res, base_matrix, metric, base_norms.data());
    row_norms(gpu_.res, query_matrix, metric, query_norms.data());
    const int width = static_cast<int>(std::min<int64_t>(k, base.rows));
    DeviceBuffer<uint32_t> found_ids(queries.rows * width);
    DeviceBuffer<float> found_distances(queries.rows * width);
    exact_knn_device(gpu_, base_matrix, base_norms.data(), query_matrix, query_norms.data(), metric, k,
                     found_ids.data(), found_distances.data(), progress);
    if (width == k) {
      download(gpu_, found_ids.data(), ids, found_ids.bytes());
      download(gpu_, found_distances.data(), distances, found_distances.bytes());
      return;
    }
    // More neighbours asked for than there are rows: the rest is kInvalidId at +infinity.
    std::vector<uint32_t> got_ids(found_ids.size());
    std::vector<float> got_distances(found_distances.size());
    download(gpu_, found_ids.data(), got_ids.data(), found_ids.bytes());
    download(gpu_, found_distances.data(), got_distances.data(), found_distances.bytes());
    for (int64_t q = 0; q < queries.rows; ++q) {
      for (int j = 0; j < k; ++j) {
        ids[q * k + j] = j < width ? got_ids[q * width + j] : kInvalidId;
        distances[q * k + j] = j < width ? got_distances[q * width + j] : std::numeric_limits<float>::infinity();
      }
    }
  }

 private:
  // The CPU engine's island joining: every row reachable from the entry points.
  void join_islands(Index& index) {
    if (index.graph_degree == 0) return;
    cpu::StageTimer timer;
    const cpu::Distance distance(index.metric, index.vectors.view());
    const int64_t rewired = cpu::connect_islands(index.graph, cpu::graph_of(index), distance);
    timer.lap("connectivity: %lld islands joined (CPU)", static_cast<long long>(rewired));
  }

  struct SearchBuffers {
    DeviceBuffer<uint8_t> query_rows;  // uploaded by the caller
    DeviceBuffer<uint32_t> found_ids;
    DeviceBuffer<float> found_distances;
    DeviceBuffer<uint32_t> upper_ids[2];  // the upper levels' results, alternating
    DeviceBuffer<float> upper_distances;
  };

  // One batch of queries (already in buffers.query_rows) into buffers.found_*: from the entry
  // points on the base graph, or (`descend`) as the CPU search descends
  // (host/cpu/search/beam_search.cpp): the entry points seed beam searches down the upper levels,
  // each level's result seeds the level below, level 1's seeds the base graph.
  void search_batch(const Index& index, DeviceIndex& device, const DatasetView& queries, const GraphSearchParams& search,
                    bool descend, SearchBuffers& buffers) {
    const int64_t qn = queries.rows;
    const DeviceMatrix base{device.vectors.data(), index.rows(), index.dim(), index.vectors.type()};
    const MetricSpec metric{index.metric, index.metric == Metric::Cosine ? device.inverse_norms.data() : nullptr};
    const DeviceMatrix query_matrix{buffers.query_rows.data(), qn, queries.dim, queries.type};
    buffers.found_ids.resize(qn * search.k);
    buffers.found_distances.resize(qn * search.k);
    if (!descend || device.levels.empty()) {
      graph_search(gpu_.res, base, metric, device.graph.data(), index.graph_degree, device.entries.data(),
                   static_cast<int>(device.entries.size()), query_matrix, search, buffers.found_ids.data(),
                   buffers.found_distances.data());
      return;
    }
    GraphSearchParams upper;
    // A quarter of the base beam at most and no cap: the CPU search's eighth and cap
    // (upper_beam_width) were measured there only.
    upper.beam_width = cpu::upper_beam_width(search.beam_width, std::min(index.upper_width_divisor, 4), false);
    upper.k = upper.beam_width;
    buffers.upper_ids[0].resize(qn * upper.k);
    buffers.upper_ids[1].resize(qn * upper.k);
    buffers.upper_distances.resize(qn * upper.k);
    const uint32_t* above = nullptr;
    for (int l = static_cast<int>(device.levels.size()) - 1; l >= 0; --l) {
      DeviceLevel& level = device.levels[l];
      uint32_t* found = buffers.upper_ids[l & 1].data();
      const SearchSeeds seeds{above, above ? upper.k : 0, above ? level.from_above.data() : nullptr};
      graph_search(gpu_.res, base, metric, level.graph.data(), level.degree, level.entries.data(),
                   static_cast<int>(level.entries.size()), query_matrix, upper, found,
                   buffers.upper_distances.data(), level.members.data(), seeds);
      above = found;
    }
    const SearchSeeds seeds{above, upper.k, device.levels[0].members.data()};
    graph_search(gpu_.res, base, metric, device.graph.data(), index.graph_degree, nullptr, 0, query_matrix, search,
                 buffers.found_ids.data(), buffers.found_distances.data(), nullptr, seeds);
  }

  // Whether the descent finds rows the entry points' scan misses, measured when the index is
  // uploaded: 1,000 of its rows searched for at beam 16 both ways, a row missed when nothing as
  // near as its nearest graph neighbour comes back (the rule of host/cpu/search/upper_width.cpp).
  // Where the scan finds as many, the GPU walks from it: on a 200K sift-vl-1m slice the descent
  // found the same and served 16-25% fewer queries/s at beams 16-64 (H200, 2026-12-04); on 1M x
  // 64 in 5,000 clusters the scan reached recall@10 0.22 and the descent 0.98.
  bool descent_finds_more(const Index& index, DeviceIndex& device) {
    const int64_t rows = index.rows();
    const int samples = static_cast<int>(std::min<int64_t>(1000, rows));
    const DatasetView& view = index.vectors.view();
    std::vector<uint32_t> picked(samples);
    for (int i = 0; i < samples; ++i) picked[i] = static_cast<uint32_t>((static_cast<int64_t>(i) * rows) / samples);
    const Dataset sample = cpu::gather_rows(view, picked.data(), samples, 1);
    // The GPU's distances and between() may differ in the last bits.
    const std::vector<float> bounds = cpu::miss_bounds(index, cpu::Distance(index.metric, view), picked, 1e-4f);
    GraphSearchParams search;
    search.k = static_cast<int>(std::min<int64_t>(10, rows));
    search.beam_width = 16;
    SearchBuffers buffers;
    upload_rows(gpu_, sample.view(), buffers.query_rows);
    std::vector<uint32_t> ids(static_cast<size_t>(samples) * search.k);
    std::vector<float> distances(ids.size());
    auto missed = [&](bool descend) {
      search_batch(index, device, sample.view(), search, descend, buffers);
      download(gpu_, buffers.found_ids.data(), ids.data(), ids.size() * sizeof(uint32_t));
      download(gpu_, buffers.found_distances.data(), distances.data(), distances.size() * sizeof(float));
      return cpu::count_missed(picked, bounds, ids.data(), distances.data(), search.k);
    };
    const int flat = missed(false), descent = missed(true);
    if (cpu::tracing()) {
      std::fprintf(stderr, "[annforge] gpu search: of %d rows the entry points' scan missed %d, the descent %d: %s\n",
                   samples, flat, descent, descent + samples / 500 < flat ? "descend" : "scan");
    }
    return descent + samples / 500 < flat;
  }

  // The upper levels, with what the descent needs beside each graph: which entry points seed it
  // (each seeds the highest level holding it, as on the CPU) and where the level above's members
  // sit in it. As on the CPU, the descent scans only the first cpu::kEntryScanWithLevels entry
  // points (beam_search.hpp: all of them, up to 512, were most of a query's distances where the
  // base walk is short); the top level holds every entry point and its walk reaches the rest.
  void upload_levels(const Index& index, DeviceIndex& device) {
    const int count = static_cast<int>(index.levels.size());
    const int scanned = std::min(static_cast<int>(index.entry_points.size()), cpu::kEntryScanWithLevels);
    const std::vector<std::vector<std::pair<int, uint32_t>>> seeds =
        cpu::entry_seeds(index.levels, index.entry_points.data(), scanned);
    auto put = [&](const std::vector<uint32_t>& host, DeviceBuffer<uint32_t>& out) {
      out.resize(host.size());
      if (!host.empty()) upload(gpu_, host.data(), out.data(), out.bytes());
    };
    device.levels.resize(count);
    for (int l = 0; l < count; ++l) {
      const UpperLevel& level = index.levels[l];
      DeviceLevel& target = device.levels[l];
      target.degree = level.degree;
      put(level.members, target.members);
      put(level.graph, target.graph);
      std::vector<uint32_t> entries;
      for (const auto& seed : seeds[l]) entries.push_back(seed.second);
      put(entries, target.entries);
      if (l + 1 < count) {
        std::vector<uint32_t> from_above;
        from_above.reserve(index.levels[l + 1].members.size());
        for (uint32_t row : index.levels[l + 1].members) from_above.push_back(cpu::position_or_invalid(level, row));
        put(from_above, target.from_above);
      }
    }
  }

  // The device copy of an index. It is kept for the next call only where the index owns its
  // vectors (allocated or memory-mapped by annforge): borrowed caller memory may change between
  // calls, so it is uploaded afresh each time and its copy dropped after the call.
  DeviceIndex& device_index(const Index& index) {
    const IndexKey key = key_of(index);
    if (cached_ && cached_->key == key && index.vectors.owns_storage()) return *cached_;
    cached_.reset();  // free the old copy before allocating the new one
    auto device = std::make_unique<DeviceIndex>();
    device->key = key;
    upload_rows(gpu_, index.vectors.view(), device->vectors);
    device->graph.resize(index.graph.size());
    upload(gpu_, index.graph.data(), device->graph.data(), device->graph.bytes());
    device->entries.resize(index.entry_points.size());
    upload(gpu_, index.entry_points.data(), device->entries.data(), device->entries.bytes());
    if (!index.entry_points.empty()) upload_levels(index, *device);
    if (index.metric == Metric::Cosine) {
      device->inverse_norms.resize(index.rows());
      const DeviceMatrix base{device->vectors.data(), index.rows(), index.dim(), index.vectors.type()};
      row_norms(gpu_.res, base, Metric::Cosine, device->inverse_norms.data());
    }
    // ANNFORGE_GPU_DESCEND=1 always descends, 2 always scans (measurements); else measured.
    const int forced = detail::env_knob("ANNFORGE_GPU_DESCEND", 0);
    if (!device->levels.empty()) device->descend = forced != 0 ? forced == 1 : descent_finds_more(index, *device);
    gpu_.synchronize();
    cached_ = std::move(device);
    return *cached_;
  }

  GpuContext& gpu_;
  std::unique_ptr<DeviceIndex> cached_;
};

}  // namespace
}  // namespace annforge::cuda

namespace annforge::detail {

cpu::PieceKnnBuild cuda_piece_builder(Metric metric, const BuildParams& params) {
  cuda::GpuContext* gpu = cuda::gpu_context();
  if (!gpu) return {};
  return [gpu, metric, params](const DatasetView& piece, int k) {
    std::lock_guard<std::mutex> hold(gpu->lock);
    return cpu::PieceKnn{cuda::knn_lists_on_gpu(*gpu, piece, metric, k, params), {}};
  };
}

Backend* cuda_backend() {
  static std::unique_ptr<cuda::CudaBackend> backend = []() -> std::unique_ptr<cuda::CudaBackend> {
    cuda::GpuContext* gpu = cuda::gpu_context();
    if (!gpu) return nullptr;
    return std::make_unique<cuda::CudaBackend>(*gpu);
  }();
  return backend.get();
}

}  // namespace annforge::detail
