// The CPU backend: kNN graph (brute force, or clusters + NN-Descent), graph optimisation,
// connectivity, beam search, extend.
#include <algorithm>
#include <memory>
#include <mutex>
#include <numeric>

#include "host/backend.hpp"
#include "host/cpu/all_pairs/float_dots.hpp"
#include "host/env_knob.hpp"
#include "host/index_key.hpp"
#include "host/cpu/search/beam_search.hpp"
#include "host/cpu/search/rerank_depth.hpp"
#include "host/cpu/graph/diverse_knn.hpp"
#include "host/cpu/graph/connectivity.hpp"
#include "host/cpu/graph/entry_point.hpp"
#include "host/cpu/graph/extend.hpp"
#include "host/cpu/graph/graph_optimize.hpp"
#include "host/cpu/knn_graph.hpp"
#include "host/cpu/parallel.hpp"
#include "host/cpu/partition/partition.hpp"
#include "host/cpu/partition/projection.hpp"
#include "host/cpu/partition/reorder.hpp"
#include "host/cpu/partitioned_build.hpp"
#include "host/cpu/repair/second_partition.hpp"
#include "host/cpu/cpu_pieces.hpp"
#include "host/cpu/trace.hpp"
#include "host/cpu/graph/landing_links.hpp"
#include "host/cpu/graph/upper_levels.hpp"
#include "host/cpu/memory_plan.hpp"
#include "host/huge_pages.hpp"

namespace annforge::cpu {
namespace {

// Below this many rows the exact all-pairs kNN graph costs less than NN-Descent's rounds
// (measured on sift-vl-1m slices, see NOTES.md), and it is exact.
constexpr int64_t kBruteForceMaxRows = 3000;
// The kNN lists of the large-data path, in the renumbered order beside the renumbering:
// partition into overlapping clusters, rows renumbered by cluster so that every later stage
// reads nearby memory (rows of 1 KiB or more are read where they are: cpu_rows_in_place), exact
// neighbours within clusters, NN-Descent rounds to repair cluster borders.
struct ClusteredKnn {
  KnnGraph knn;
  Renumbering order;
  Dataset local;  // the renumbered copy of the rows, where the caller keeps it
  bool rows_in_place = false;  // the renumbering is the identity (cpu_rows_in_place)
  bool second_partition = false;  // a second partition's all pairs are in the lists
};

// The partitions' mean cluster size for `data` (cpu_cluster_size; ANNFORGE_CPU_CLUSTER_SIZE fixes
// it, for measurement): the first partition's and the second's (repair/second_partition.hpp).
int partition_cluster_size(const DatasetView& data) {
  return detail::env_knob("ANNFORGE_CPU_CLUSTER_SIZE", cpu_cluster_size(data.dim, data.type));
}

// `second_allowed`: whether a second partition may be added (repair/second_partition.hpp); a
// partitioned build's pieces already give each row two cuts.
ClusteredKnn clustered_knn(const DatasetView& data, Metric metric, int k, int threads, const BuildParams& params,
                           bool keep_rows = false, bool second_allowed = true) {
  StageTimer timer;
  PartitionParams partitioning;
  partitioning.threads = threads;
  partitioning.seed = params.seed;
  partitioning.cluster_size = partition_cluster_size(data);
  // ANNFORGE_CPU_OVERLAP fixes the overlap (for measurement); by default it follows coverage.
  if (const int overlap = detail::env_knob("ANNFORGE_CPU_OVERLAP", 0); overlap > 0) {
    partitioning.overlap = partitioning.max_overlap = overlap;
  }
  // Where one partition's coverage calls for a second (below), the first takes one overlap less.
  // ANNFORGE_CPU_SECOND_PARTITION=3 forces the second partition (every flat build, the levels'
  // too), 2 leaves it out.
  const int asked = detail::env_knob("ANNFORGE_CPU_SECOND_PARTITION", 0);
  if (second_allowed && asked != 2 && detail::env_knob("ANNFORGE_CPU_PROJECTION", 0) == 0) {
    partitioning.second_partition_below = kOnePartitionCoverage;
  }
  Partition partition = partition_into_clusters(data, metric, partitioning);
  release_free_heap();  // its k-means samples and assignment arrays
  timer.lap("partition");
  // Wide rows are read where they are (cpu_rows_in_place): the renumbering is then the identity.
  const bool in_place =
      detail::env_knob("ANNFORGE_CPU_ROWS_IN_PLACE", cpu_rows_in_place(data.row_bytes()) ? 1 : 2) == 1;
  Renumbering order;
  Dataset local;
  if (in_place) {
    order.new_of_old.resize(data.rows);
    std::iota(order.new_of_old.begin(), order.new_of_old.end(), 0u);
    order.old_of_new = order.new_of_old;
    local = Dataset::borrow(data);
    timer.lap("rows read in place");
  } else {
    order = renumber_by_cluster(partition);
    local = reorder_rows(data, order, threads);
    timer.lap("rows copied in cluster order");
    renumber_partition(partition, order, threads);
  }
  const Distance distance(metric, local.view());
  timer.lap("partition renumbered, distances set up");
  // Opt-in (ANNFORGE_CPU_PROJECTION=1): a cheap first pass for wide vectors, ranking cluster
  // mates by distance between projections onto the top principal directions and computing exact
  // distances for a shortlist of 2k only. Off by default since the all-pairs pass became blocked
  // matrix products: on MNIST (784-d) the exact blocked pass takes 1.9 s, the projected 3.3 s.
  const Projection projection = detail::env_knob("ANNFORGE_CPU_PROJECTION", 0) != 0
                                     ? fit_projection(local.view(), metric == Metric::Cosine, threads, params.seed)
                                     : Projection{};
  std::vector<float> projected;
  FirstPass first_pass;
  if (!projection.empty()) {
    projected = project_rows(local.view(), projection, threads);
    first_pass = FirstPass{&projected, projection.output_dim, 2 * k};
    timer.lap("projection onto %d principal directions", projection.output_dim);
  }
  // With ANNFORGE_TRACE: how many of the partition's sample's true 10-NN the kNN lists hold
  // after each stage (the partition measures its coverage on that sample whenever tracing).
  const SampleNeighbours traced = tracing() ? partition.sample : SampleNeighbours{};
  auto trace_knn_recall = [&](const KnnGraph& knn, const char* stage) {
    if (traced.rows.empty()) return;
    int64_t found = 0, total = 0;
    for (size_t s = 0; s < traced.rows.size(); ++s) {
      const uint32_t* list = &knn.ids[static_cast<size_t>(order.new_of_old[traced.rows[s]]) * knn.k];
      for (int j = 0; j < traced.k; ++j) {
        const uint32_t truth = traced.neighbours[s * traced.k + j];
        if (truth >= data.rows) continue;
        ++total;
        found += std::find(list, list + knn.k, order.new_of_old[truth]) != list + knn.k;
      }
    }
    timer.lap("knn lists hold %.3f of a sample's true 10-NN after %s", total ? double(found) / total : 1.0, stage);
  };
  FirstPass decided;
  KnnGraph knn = cluster_knn_graph(distance, partition, k, threads, params.seed, first_pass, params.progress, {},
                                   &decided);
  trace_knn_recall(knn, "all pairs");
  projected = std::vector<float>();
  // Where one partition cannot bring the rows' neighbours together, a second one's all pairs
  // (repair/second_partition.hpp), before NN-Descent.
  const bool second = first_pass.projected == nullptr && second_allowed && asked != 2 &&
                      (asked == 3 || second_partition_up_front(partition));
  partition = Partition{};
  if (second) {
    knn = add_second_partition(distance, std::move(knn), partition_cluster_size(data), threads, params.seed, decided,
                               params.progress);
    trace_knn_recall(knn, "a second partition's all pairs");
  }
  // The backend's choice (-1): a round only where the second partition was taken.
  const int rounds = nn_descent_rounds(params.nn_descent_iterations, second);
  if (rounds > 0) {
    NNDescentParams nn;
    nn.k = k;
    nn.max_iterations = rounds;
    nn.termination = params.nn_descent_termination;
    nn.threads = threads;
    nn.seed = params.seed;
    nn.sample = detail::env_knob("ANNFORGE_CPU_NN_SAMPLE", nn.sample);
    knn = nn_descent_knn_graph(distance, std::move(knn), nn, params.progress);
  }
  timer.lap("knn graph (clusters + %d nn-descent rounds, k=%d)", rounds, k);
  trace_knn_recall(knn, "nn-descent");
  ClusteredKnn out{std::move(knn), order, {}, in_place, second};
  if (keep_rows) out.local = std::move(local);
  return out;
}

// The large-data path: the kNN lists above, graph optimisation in the renumbered order, then the
// graph back in the caller's ids.
std::vector<uint32_t> build_clustered(const DatasetView& data, Metric metric, int k, int degree, int threads,
                                      const BuildParams& params, bool* second_partition) {
  // Opt-in (ANNFORGE_CPU_DIVERSE=1, measurement): each row's first links chosen by HNSW's
  // heuristic from a two-hop pool of the kNN lists (graph/diverse_knn.hpp), the rest of its list
  // from the detour pruning. Better graphs at equal distances per query (1M SIFT recall@10 at beam
  // 32 0.8921 -> 0.9035; 1M x 64 in 50,000 clusters 0.9641 -> 0.9720) but 5-7 s at 1M on 2
  // cores, too slow for a default yet (NOTES.md). Inner product is left out: its heuristic over
  // -<x, y> keeps almost nothing (long rows block every other).
  const bool diverse = metric != Metric::InnerProduct && detail::env_knob("ANNFORGE_CPU_DIVERSE", 2) == 1;
  ClusteredKnn clustered = clustered_knn(data, metric, k, threads, params, diverse);
  *second_partition = clustered.second_partition;
  const Renumbering order = std::move(clustered.order);
  StageTimer timer;
  std::vector<uint32_t> chosen;
  if (diverse) {
    const Distance distance(metric, clustered.local.view());
    DiverseKnnParams p;
    p.hops = detail::env_knob("ANNFORGE_CPU_DIVERSE_HOPS", p.hops);
    p.width = detail::env_knob("ANNFORGE_CPU_DIVERSE_WIDTH", p.width);
    p.pool = detail::env_knob("ANNFORGE_CPU_DIVERSE_POOL", p.pool);
    chosen = diverse_knn_graph(distance, clustered.knn, degree, p, threads);
    int64_t links = 0;
    for (uint32_t id : chosen) links += id != kInvalidId;
    timer.lap("diverse lists: %.1f links per row", static_cast<double>(links) / clustered.knn.rows);
    clustered.local = Dataset{};
  }
  std::vector<uint32_t> graph = optimize_graph(std::move(clustered.knn), degree, threads, params.progress);
  timer.lap("graph optimisation");
  if (diverse) {
    fill_empty_slots(chosen, graph, static_cast<int64_t>(order.old_of_new.size()), degree, threads);
    graph = std::move(chosen);
  }
  return clustered.rows_in_place ? graph : graph_in_old_ids(graph, degree, order, threads);
}

class CpuBackend final : public detail::Backend {
 public:
  const char* name() const override { return "cpu"; }

  // The graph, its entry points and the hierarchy above it; where the levels' measurement finds
  // that the base graph strands walks, the graph again with a second partition's all pairs
  // (repair/second_partition.hpp; one-piece clustered builds that had only one: pieces bring
  // their own second cut, brute force is exact). ANNFORGE_CPU_SECOND_PARTITION=1 forces it, 2
  // leaves it out.
  void build(Index& index, const BuildParams& params) override {
    // Only a build whose kNN lists came from one partition: where clustered_knn added a second
    // up front (FlatPath::ClusteredTwice), this repair has nothing left to add.
    const bool clustered = build_flat(index, params) == FlatPath::Clustered;
    const UpperWidthMeasurement width = build_levels(index, params);
    const int asked = detail::env_knob("ANNFORGE_CPU_SECOND_PARTITION", 0);
    if (!clustered || index.levels.empty() || asked == 2 || (asked != 1 && !strands_walks(width, index.metric))) {
      return;
    }
    const DatasetView& data = index.vectors.view();
    const int threads = resolve_threads(params.threads);
    const auto [degree, k] = degrees(data.rows, params);
    index.graph = repartitioned_graph(data, index.metric, std::move(index.graph), degree, k,
                                      partition_cluster_size(data),
                                      threads, params.seed, params.progress);
    StageTimer timer;
    const Distance distance(index.metric, data);
    const int64_t rewired = connect_islands(index.graph, graph_of(index), distance, threads);
    timer.lap("connectivity: %lld islands joined", static_cast<long long>(rewired));
    settle_upper_levels(index, params.threads, params.seed);
  }

  // The upper levels over the index's graph and entry points (host/cpu/graph/upper_levels.hpp),
  // and what the measurement of their beam found (samples 0 where there are none).
  UpperWidthMeasurement build_levels(Index& index, const BuildParams& params) {
    StageTimer timer;
    if (detail::env_knob("ANNFORGE_CPU_FLAT", 0) == 1) return {};  // measurements: flat entry points only
    index.levels = build_upper_levels(index, params, [this](Index& sub, const BuildParams& p) { build_flat(sub, p); });
    timer.lap("%d upper levels (level 1: %lld rows)", static_cast<int>(index.levels.size()),
              static_cast<long long>(index.levels.empty() ? 0 : index.levels[0].members.size()));
    return settle_upper_levels(index, params.threads, params.seed);
  }

  // A piece's kNN lists as the one-piece pipeline builds them (exact below kBruteForceMaxRows
  // rows), with the piece's rows renumbered by cluster (PieceKnn::row_of).
  static PieceKnnBuild piece_builder(Metric metric, int threads, const BuildParams& params) {
    BuildParams piece_params = params;
    piece_params.progress = nullptr;
    // Measurement knob: ANNFORGE_CPU_PIECE_ROUNDS=N runs N - 1 NN-Descent rounds inside each
    // piece (the rounds over all rows follow either way). The backend's choice is one round
    // there (the pieces measured at the one-piece build's recall that way).
    const int rounds = detail::nn_descent_rounds_or_one(params.nn_descent_iterations);
    piece_params.nn_descent_iterations = detail::env_knob("ANNFORGE_CPU_PIECE_ROUNDS", rounds + 1) - 1;
    return [metric, threads, piece_params](const DatasetView& piece, int piece_k) {
      if (piece.rows <= kBruteForceMaxRows) {
        return PieceKnn{brute_force_knn_graph(Distance(metric, piece), piece_k, threads, nullptr), {}};
      }
      ClusteredKnn clustered = clustered_knn(piece, metric, piece_k, threads, piece_params, false, false);
      return PieceKnn{std::move(clustered.knn), std::move(clustered.order.old_of_new)};
    };
  }

  // The degrees of a flat build of `rows` rows: the graph's, and the kNN lists' before pruning.
  static std::pair<int, int> degrees(int64_t rows, const BuildParams& params) {
    const int degree = static_cast<int>(std::min<int64_t>(params.graph_degree, rows - 1));
    const int k = static_cast<int>(std::min<int64_t>(cpu_intermediate_degree(params, degree), rows - 1));
    return {degree, k};
  }

  // A graph built elsewhere (rows x its degree, optimised): entry points, islands joined, the
  // upper levels.
  void finish_graph(Index& index, std::vector<uint32_t> graph, const BuildParams& params) {
    const DatasetView& data = index.vectors.view();
    const int threads = resolve_threads(params.threads);
    index.graph_degree = degrees(data.rows, params).first;
    index.graph = std::move(graph);
    StageTimer timer;
    index.entry_points = choose_entry_points(data, index.metric, entry_point_count(data.rows), threads, params.seed);
    release_free_heap();
    timer.lap("%d entry points", static_cast<int>(index.entry_points.size()));
    const Distance distance(index.metric, data);
    int64_t rewired = connect_islands(index.graph, graph_of(index), distance, threads);
    timer.lap("connectivity: %lld islands joined", static_cast<long long>(rewired));
    build_levels(index, params);
  }

  // How build_flat made the graph.
  enum class FlatPath { Empty, BruteForce, Pieces, Clustered, ClusteredTwice };

  // The graph and its entry points, no levels: the base of an index, and each upper level.
  // `build_piece`: where a partitioned build's pieces get their kNN lists (default: this CPU).
  FlatPath build_flat(Index& index, const BuildParams& params, const PieceKnnBuild& build_piece = {}) {
    const DatasetView& data = index.vectors.view();
    const int threads = resolve_threads(params.threads);
    const int64_t rows = data.rows;
    const auto [degree, k] = degrees(rows, params);
    index.graph_degree = degree;
    StageTimer timer;
    index.entry_points = choose_entry_points(data, index.metric, entry_point_count(rows), threads, params.seed);
    release_free_heap();  // its k-means sample
    timer.lap("%d entry points", static_cast<int>(index.entry_points.size()));
    if (degree == 0) {
      index.graph.clear();
      return FlatPath::Empty;
    }
    Distance distance(index.metric, data);
    bool brute = params.algorithm == BuildAlgorithm::BruteForce ||
                 (params.algorithm == BuildAlgorithm::Auto && rows <= kBruteForceMaxRows);
    const int pieces = brute ? 1 : effective_pieces(rows, params.partitions);
    bool twice = false;  // a second partition's all pairs are in the kNN lists
    if (brute) {
      KnnGraph knn = brute_force_knn_graph(distance, k, threads, params.progress);
      timer.lap("knn graph (brute force, k=%d)", k);
      index.graph = optimize_graph(std::move(knn), degree, threads, params.progress);
    } else if (pieces > 1) {
      Pieces split = split_into_pieces(data, index.metric, pieces, kPieceMemberships, threads, params.seed);
      release_free_heap();  // its preferences, gaps and placement order
      timer.lap("%d pieces (largest %lld rows)", pieces, static_cast<long long>(largest_piece(split)));
      KnnGraph knn = partitioned_knn_graph(data, index.metric, k, std::move(split), threads, params,
                                           build_piece ? build_piece : piece_builder(index.metric, threads, params));
      index.graph = optimize_graph(std::move(knn), degree, threads, params.progress);
      timer.lap("graph optimisation");
    } else {
      index.graph = build_clustered(data, index.metric, k, degree, threads, params, &twice);
    }
    timer.lap("graph (degree %d)", degree);
    int64_t rewired = connect_islands(index.graph, graph_of(index), distance, threads);
    timer.lap("connectivity: %lld islands joined", static_cast<long long>(rewired));
    if (brute) return FlatPath::BruteForce;
    if (pieces > 1) return FlatPath::Pieces;
    return twice ? FlatPath::ClusteredTwice : FlatPath::Clustered;
  }

  void search(const Index& index, const DatasetView& queries, int k, const SearchParams& params, uint32_t* ids,
              float* distances) override {
    const SearchCache reused = search_cache(index, queries.rows, params.threads);
    // Without the cache's norms (borrowed rows, a batch too small to pay for copies of them),
    // cosine's are computed for the rows the walk reads, not for every row.
    Distance distance(index.metric, index.vectors.view(), reused.inverse_norms.get(),
                      Distance::BaseNorms::OnDemand);
    BeamSearchParams beam;
    beam.k = k;
    beam.beam_width = params.beam_width;
    beam.threads = params.threads;
    beam.upper_width_divisor = index.upper_width_divisor;
    beam.cap_upper_width = true;
    beam.trace_distances = true;
    beam_search(graph_of(index), distance, queries, beam, params.progress, ids, distances, &index.levels,
                reused.rows.get());
  }

  BuildPlan plan(int64_t rows, int64_t dim, ElementType type, const BuildParams& params) override {
    return cpu_build_plan(rows, dim, type, params);
  }

  // New rows linked into the base graph (a rebuild where they outweigh it, which brings its own
  // levels). The upper levels stay while they were built over at least 4/5 of the rows: the
  // rows added since are reached through the base graph from their neighbours, as a query's walk
  // goes on from where the descent lands. Past that the levels are built again, so their cost
  // (about a tenth of a build) comes once per quarter more rows, not once per call.
  // The candidates' walk reads the search's compact rows where a search made them (1M wordtext,
  // width 96: 1.7x the queries/s of the fp32 rows), and cosine's norms come from there too.
  void extend(Index& index, int64_t first_new_row, const BuildParams& params) override {
    const SearchCache aids = search_aids_for_extend(index, params.threads);
    ReplacedSlots replaced;
    if (extend_graph(index, first_new_row, params, replaced, {aids.rows.get(), aids.inverse_norms.get()})) return;
    if (index.levels.empty() || levels_cover(index) * 5 < index.rows() * 4) {
      // A failure below leaves the old levels and the old rows' links in place (the new levels
      // may add landing links to the base graph).
      std::vector<UpperLevel> kept_levels = index.levels;
      std::vector<uint32_t> kept_graph = index.graph;
      try {
        build_levels(index, params);
      } catch (...) {
        index.levels = std::move(kept_levels);
        index.graph = std::move(kept_graph);
        undo_reverse_edges(index.graph, replaced);
        throw;
      }
    }
    if (aids.rows || aids.inverse_norms) adopt_extended(index);
  }

  void exact_knn(const DatasetView& base, const DatasetView& queries, int k, Metric metric, int threads,
                 const ProgressCallback& progress, uint32_t* ids, float* distances) override {
    Distance distance(metric, base);
    brute_force_neighbors(distance, queries, k, false, threads, progress, ids, distances);
  }

 private:
  // What a search reuses from an earlier one on the same index: the bf16 rows its walk reads
  // (approximate_rows.hpp; float data, AVX-512) and, for cosine, the inverse norms (n x dim
  // work, which a search of one query would otherwise spend every call). Kept between calls
  // only where the index owns its vectors (allocated or memory-mapped by annforge). Borrowed
  // caller memory may change between calls: its rows are made for one call, and only for a
  // batch that pays for them (a query computes ~1,000 distances, the copy about one per row);
  // its norms are computed per call (once, for the rows and the search, where rows are made;
  // otherwise for the rows the walk reads, as it reads them: Distance::BaseNorms::OnDemand).
  enum class RowsAsked { Choose, Int8, Bf16 };  // ANNFORGE_CPU_SEARCH_ROWS unset, int8, bf16
  struct SearchCache {
    detail::IndexKey key;
    std::shared_ptr<const ApproximateRows> rows;             // null: the walk reads the fp32 rows
    RowsAsked asked = RowsAsked::Choose;                     // what `rows` were made for
    std::shared_ptr<const std::vector<float>> inverse_norms;  // null: Distance computes them
    // The vectors the copies cover: an index extended in place (the same storage, its first
    // rows unchanged) has the new rows' copies appended instead of all made again.
    const void* vectors = nullptr;
    int64_t covered_rows = 0;
    uint64_t covered_print = 0;  // detail::rows_fingerprint of those rows
  };

  SearchCache search_cache(const Index& index, int64_t queries, int threads) {
    const DatasetView& view = index.vectors.view();
    const bool owned = index.vectors.owns_storage();
    const bool rows_pay = approximate_rows_usable(view) && (owned || queries * 256 >= index.rows());
    const RowsAsked asked = !rows_pay || !approximate_kind_asked()           ? RowsAsked::Choose
                            : approximate_kind() == ApproximateKind::Int8 ? RowsAsked::Int8
                                                                          : RowsAsked::Bf16;
    // The compact rows with the exact re-ranking's depth measured on this index. Unless asked
    // for one kind: int8 codes, or bf16 rows where the codes rank a row's exact 10 nearest
    // deeper than 1.5x the ideal (by their 90th or 99th percentile: rerank_depth.hpp) and bf16
    // ranks them better (rows near one direction, mean cosine 0.98: int8 depths 28 / 46,
    // recall@10 at beam 16 0.9240; bf16 15 / 26 and 0.9938).
    auto make_rows = [&](const std::vector<float>* norms) {
      const Distance distance(index.metric, view, norms);
      auto made = [&](ApproximateKind kind, RerankDepth& depth) {
        StageTimer timer;
        ApproximateRows rows = make_approximate_rows(view, index.metric, threads, kind, norms);
        depth = measure_rerank_depth(graph_of(index), distance, rows, threads);
        // ANNFORGE_CPU_RERANK=N fixes the depth (measurement).
        const int fixed = detail::env_knob("ANNFORGE_CPU_RERANK", 0);
        rows.rerank_at_10 = fixed > 0 ? fixed : depth.at_10;
        timer.lap("search rows (%s): a row's exact 10 nearest within the walk's %d for 90%% of rows, %d for 99%%",
                  kind == ApproximateKind::Int8 ? "int8" : "bf16", depth.typical, depth.at_10);
        return rows;
      };
      RerankDepth depth, finer_depth;
      ApproximateRows rows = made(asked == RowsAsked::Bf16 ? ApproximateKind::Bf16 : ApproximateKind::Int8, depth);
      if (asked == RowsAsked::Choose && (depth.typical > 15 || depth.at_10 > 39)) {
        ApproximateRows finer = made(ApproximateKind::Bf16, finer_depth);
        if (finer_depth.typical < depth.typical || finer_depth.at_10 < depth.at_10) rows = std::move(finer);
      }
      return std::make_shared<ApproximateRows>(std::move(rows));  // not const: extend_search_cache appends
    };
    if (!owned) {
      SearchCache once;
      if (rows_pay) {
        // Cosine's inverse norms once for this call: the rows, their measurement and the search.
        if (index.metric == Metric::Cosine) {
          once.inverse_norms = std::make_shared<const std::vector<float>>(inverse_norms(view, threads));
        }
        once.rows = make_rows(once.inverse_norms.get());
      }
      return once;
    }
    const detail::IndexKey key = detail::key_of(index);
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (!follow_rows(index, key, threads)) {
      cache_ = SearchCache{};  // free the old index's copies before making new ones
      cache_.vectors = view.data;
      cache_.covered_rows = view.rows;
      cache_.covered_print = detail::rows_fingerprint(view, view.rows);
    }
    cache_.key = key;
    if (index.metric == Metric::Cosine && !cache_.inverse_norms) {
      cache_.inverse_norms = std::make_shared<std::vector<float>>(inverse_norms(view, threads));
    }
    if (rows_pay && (!cache_.rows || cache_.asked != asked)) {
      cache_.rows = make_rows(cache_.inverse_norms.get());
      cache_.asked = asked;
    }
    SearchCache reused = cache_;
    if (!rows_pay) reused.rows.reset();  // ANNFORGE_CPU_SEARCH_BF16=0 since the copy was made
    return reused;
  }

  // Whether the cache's copies serve `index`: made for it, or for the same storage before rows
  // were appended (an index extended in place: the same kind of rows, the first ones unchanged,
  // sampled), the new rows' copies then appended. An index with other links over the same rows
  // (a copy, a rebuild) gets its own (the re-ranking depth is measured on a graph). Under
  // cache_mutex_; `key` is key_of(index).
  bool follow_rows(const Index& index, const detail::IndexKey& key, int threads) {
    const DatasetView& view = index.vectors.view();
    if (cache_.key == key) return true;
    const bool grown = cache_.vectors == view.data && cache_.covered_rows > 0 && view.rows > cache_.covered_rows &&
                       cache_.key.dim == key.dim && cache_.key.type == key.type && cache_.key.metric == key.metric &&
                       detail::rows_fingerprint(view, cache_.covered_rows) == cache_.covered_print;
    if (!grown) return false;
    extend_search_cache(view, threads);
    cache_.covered_rows = view.rows;
    cache_.covered_print = detail::rows_fingerprint(view, view.rows);
    return true;
  }

  // For extend(): the copies an earlier search made of the index's rows, with the new rows
  // appended (none where no search made them: making them for all rows costs more than a small
  // batch's linking, and the depth measurement needs the graph the new rows are not in yet).
  SearchCache search_aids_for_extend(const Index& index, int threads) {
    if (!index.vectors.owns_storage()) return {};
    const detail::IndexKey key = detail::key_of(index);
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (cache_.covered_rows == 0 || !follow_rows(index, key, threads)) return {};
    cache_.key = key;
    return cache_;
  }

  // After extend(): the copies that covered its rows belong to the extended index (its new links).
  void adopt_extended(const Index& index) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    const DatasetView& view = index.vectors.view();
    if (cache_.vectors == view.data && cache_.covered_rows == view.rows) cache_.key = detail::key_of(index);
  }

  // The cache's copies grown to `view`'s rows (the rows it covered, then new ones): appended in
  // place where no search holds them (std::vector's growth), else on copies. The exact
  // re-ranking's depth stays as measured.
  void extend_search_cache(const DatasetView& view, int threads) {
    StageTimer timer;
    const DatasetView added = view.slice(cache_.covered_rows, view.rows - cache_.covered_rows);
    std::vector<float> added_norms;
    if (cache_.inverse_norms) {
      added_norms = inverse_norms(added, threads);
      std::shared_ptr<std::vector<float>> norms = cache_.inverse_norms.use_count() == 1
                                                      ? std::const_pointer_cast<std::vector<float>>(cache_.inverse_norms)
                                                      : std::make_shared<std::vector<float>>(*cache_.inverse_norms);
      norms->insert(norms->end(), added_norms.begin(), added_norms.end());
      cache_.inverse_norms = std::move(norms);
    }
    if (cache_.rows) {
      std::shared_ptr<ApproximateRows> rows = cache_.rows.use_count() == 1
                                                  ? std::const_pointer_cast<ApproximateRows>(cache_.rows)
                                                  : std::make_shared<ApproximateRows>(*cache_.rows);
      append_approximate_rows(*rows, view, threads, cache_.inverse_norms ? &added_norms : nullptr);
      cache_.rows = std::move(rows);
    }
    timer.lap("search rows: %lld new rows appended", static_cast<long long>(added.rows));
  }

  std::mutex cache_mutex_;
  SearchCache cache_;
};

}  // namespace
}  // namespace annforge::cpu

namespace annforge::detail {
Backend& cpu_backend() {
  static cpu::CpuBackend backend;
  return backend;
}
void cpu_build_flat(Index& index, const BuildParams& params) {
  static_cast<cpu::CpuBackend&>(cpu_backend()).build_flat(index, params);
}
void cpu_build_flat_in_pieces(Index& index, const BuildParams& params, const cpu::PieceKnnBuild& build_piece) {
  static_cast<cpu::CpuBackend&>(cpu_backend()).build_flat(index, params, build_piece);
}
CpuPieceStages cpu_piece_stages(Metric metric, int64_t rows, const BuildParams& params) {
  const int threads = cpu::resolve_threads(params.threads);
  const auto [degree, k] = cpu::CpuBackend::degrees(rows, params);
  return CpuPieceStages{k, degree, threads, cpu::CpuBackend::piece_builder(metric, threads, params)};
}
void cpu_finish_graph(Index& index, std::vector<uint32_t> graph, const BuildParams& params) {
  static_cast<cpu::CpuBackend&>(cpu_backend()).finish_graph(index, std::move(graph), params);
}
}  // namespace annforge::detail
