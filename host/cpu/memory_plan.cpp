// The plan of memory_plan.hpp. Each stage's bytes are the structures alive while it runs, named
// after the code that allocates them; the figures are checked against the resident peak of real
// builds (ANNFORGE_TRACE prints rss and peak per stage; tests/memory_plan_test.cpp).
#include "host/cpu/all_pairs/pair_tiles.hpp"
#include "host/cpu/memory_plan.hpp"

#include <algorithm>
#include <cmath>

#include "host/cpu/graph/entry_point.hpp"
#include "host/cpu/graph/upper_levels.hpp"
#include "host/cpu/knn_graph.hpp"
#include "host/cpu/parallel.hpp"
#include "host/cpu/partition/partition.hpp"
#include "host/cpu/partitioned_build.hpp"

namespace annforge::cpu {
namespace {

// Rows below which the kNN graph is exact brute force (cpu_backend.cpp's kBruteForceMaxRows).
constexpr int64_t kBruteForceMaxRows = 3000;
// The partition's highest overlap (PartitionParams::max_overlap): the plan takes the most.
constexpr int kOverlap = 5;

// The heap's slack (see flat_build): before and after the kNN stage's buffers are freed. With
// the renumbered copy freed at the end of the kNN stage the resident peak moved from pruning to
// the all-pairs stage, where 6 + 3 MiB per thread overstated it by 13-20% on float rows
// (2026-12-04).
constexpr double kSlackMiB = 2.0;
constexpr double kSlackMiBPerThread = 1.0;
constexpr double kFreedSlack = 4.0 * 1024 * 1024;  // per thread, once the kNN stage is done

struct Flat {
  std::vector<PlanStage> stages;
  uint64_t peak = 0;
  uint64_t held = 0;  // what the caller keeps alive beside every stage

  void add(const std::string& name, double bytes) {
    PlanStage stage;
    stage.name = name;
    stage.host_bytes = held + static_cast<uint64_t>(bytes);
    peak = std::max(peak, stage.host_bytes);
    stages.push_back(stage);
  }
};

// Float copies of row samples for k-means (kmeans.cpp: 40 rows per centroid, at least 10,000,
// at most all `n` rows); the build returns their heap pages after each (release_free_heap).
double sample_bytes(double n, int64_t dim, double centroids) { return std::min(n, std::max(40 * centroids, 10000.0)) * dim * 4.0; }

// nn_descent.cpp beside its kNN lists: new candidates (ids, priorities, counts), the worst
// distances, locks; from a second round on, old candidates and the new flags.
double nn_descent_bytes(double n, int k, const BuildParams& params) {
  const int sample = std::max(8, k / 6);  // NNDescentParams::sample's default
  const bool rounds = params.nn_descent_iterations > 1;
  return n * (sample * 8.0 + 4 + 4 + 4) + (rounds ? n * (sample * 8.0 + 4 + k) : 0);
}

// graph_optimize.cpp on top of `base`: the kNN ids (their distances freed) and the pruned lists;
// then the reverse lists (merged in place), counts and a column copy of up to 8 positions.
void add_optimisation(Flat& out, double base, double n, double knn, double graph, int degree) {
  out.add("pruning", base + knn / 2 + graph);
  out.add("reverse edges", base + 2 * graph + n * 4 + n * 4.0 * std::min(8, degree));
}

// connectivity.cpp: reached flags, fixed-edge marks, in-degrees, a visited set per thread.
double connectivity_bytes(double n, double graph, int degree, int threads) {
  return graph + n * (1 + degree + 4 + 2.0 * threads);
}

// The flat build (build_flat: kNN graph, pruning, reverse edges, connectivity) of `n` rows,
// each stage's bytes on top of `held` (what the caller keeps alive meanwhile).
Flat flat_build(int64_t n, int64_t dim, ElementType type, Metric metric, int degree, int k, int threads,
                const BuildParams& params, uint64_t held) {
  Flat out;
  out.held = held;
  const double N = static_cast<double>(n);
  const double row_bytes = static_cast<double>(dim * element_size(type));
  const double knn = N * k * 8;           // KnnGraph: ids and distances
  const double graph = N * degree * 4.0;  // one rows x degree id array
  const double norms = metric == Metric::Cosine ? N * 4 : 0;
  auto add = [&](const char* name, double bytes) { out.add(name, bytes); };
  // The k-means samples: the entry points' regions, then the partition's clusters (at the
  // highest overlap).
  add("entry points", N * 4 + sample_bytes(N, dim, std::max(1, entry_point_count(n) - 1)));
  // The heap's slack and what small structures add up to (centroid trees, samples, progress),
  // and per thread its stack and heap arena: measured as what the structures above leave
  // unexplained (2 threads: 6 MiB on 100K x 96 float rows, 19 on MNIST 60K x 784, with the peak
  // at pruning). Once the kNN stage's structures are freed, the heap keeps more of them.
  double kept = norms + (kSlackMiB + kSlackMiBPerThread * threads) * 1024 * 1024;  // held to the end
  double base = kept;  // what every stage of the kNN graph and its optimisation holds
  const bool brute = params.algorithm == BuildAlgorithm::BruteForce ||
                     (params.algorithm == BuildAlgorithm::Auto && n <= kBruteForceMaxRows);
  if (brute) {
    add("knn graph (brute force)", base + knn + threads * 64.0 * 1024 * 16);
  } else {
    const double o = kOverlap;
    const int cluster_size = cpu_cluster_size(dim, type);
    const double partition_sample = sample_bytes(N, dim, N * o / cluster_size);
    // partition.cpp: nearest (overlap + 3 choices), membership, placement order, members, primary.
    add("partition", base + N * 4 * ((o + 3) + o + 1 + o + 1) + partition_sample);
    // Kept: members, primary; the renumbering (two id maps) and the renumbered copy of the rows
    // (none for wide rows, read in place: cpu_rows_in_place).
    const double copy = cpu_rows_in_place(static_cast<size_t>(row_bytes)) ? 0.0 : N * row_bytes;
    base += N * 4 * (o + 1) + N * 8 + copy;
    add("renumbering by cluster", base + N * 4);
    // Per thread, one cluster's block: its rows (float rows also as bf16 tiles), its distance
    // tiles and candidate lists (clusters are capped at 1.5x the mean size).
    const double cluster = 1.5 * cluster_size;
    const double per_thread = cluster * (row_bytes + 2.0 * dim + 1024 + k * 8.0);
    // cluster_knn.cpp: on the symmetric pass (no AVX-512 tiles) each row's clusters (overlap
    // ints) and a filled flag; the row path has neither.
    const double clusters_of_rows = avx512_tile_kernels() != nullptr ? 0.0 : N * (4 * o + 1);
    add("all pairs in clusters", base + knn + clusters_of_rows + threads * per_thread);
    base -= N * 4 * (o + 1);  // the partition is dropped after the all-pairs stage
    // -1 (the backend's choice) may take a round: planned as one.
    if (params.nn_descent_iterations != 0) add("nn-descent", base + knn + nn_descent_bytes(N, k, params));
    base -= copy;  // the renumbered copy of the rows goes with the kNN stage (cpu_backend.cpp)
    base += kFreedSlack * threads;
    kept += kFreedSlack * threads;
    add_optimisation(out, base, N, knn, graph, degree);
    // reorder.cpp: the graph in the caller's row ids beside the renumbered one.
    if (copy > 0) add("graph in caller's ids", base + 2 * graph);
  }
  add("connectivity", kept + connectivity_bytes(N, graph, degree, threads));
  return out;
}

// The partitioned flat build (partitioned_build.hpp) in `pieces` pieces of `memberships` per row:
// the split's arrays, then per piece (the largest, at its capacity) a copy of its rows and the
// one-piece kNN stages over it beside the merged lists of all rows, then NN-Descent over all
// rows, pruning and reverse edges in the caller's ids, connectivity.
Flat pieces_build(int64_t n, int64_t dim, ElementType type, Metric metric, int degree, int k, int threads,
                  const BuildParams& params, int pieces, int memberships) {
  Flat out;
  const double N = static_cast<double>(n);
  const double row_bytes = static_cast<double>(dim * element_size(type));
  const double knn = N * k * 8;
  const double graph = N * degree * 4.0;
  const double norms = metric == Metric::Cosine ? N * 4 : 0;
  auto add = [&](const std::string& name, double bytes) { out.add(name, bytes); };
  add("entry points", N * 4 + sample_bytes(N, dim, std::max(1, entry_point_count(n) - 1)));
  const double kept = norms + (kSlackMiB + kSlackMiBPerThread * threads) * 1024 * 1024;
  const double members = N * 4 * memberships;
  const int want = std::min(pieces, memberships + 2);
  // partitioned_build.cpp: each row's preferences (ints) and gap, the placement order, the joins.
  add("pieces (k-means)", kept + members + N * (4.0 * want + 4 + 4 + 4.0 * memberships) +
                                            sample_bytes(N, dim, pieces));
  const int64_t piece_rows = piece_capacity(n, pieces, memberships);
  const int piece_k = static_cast<int>(std::min<int64_t>(k, piece_rows - 1));
  // Beside the piece's own build (which counts the heap's slack itself): the pieces' members,
  // the merged lists and the copy of the piece's rows.
  const double held = members + knn + static_cast<double>(piece_rows) * row_bytes;
  const Flat piece = flat_build(piece_rows, dim, type, metric, std::min(degree, piece_k), piece_k, threads, params,
                                static_cast<uint64_t>(held));
  uint64_t piece_peak = 0;
  for (const PlanStage& stage : piece.stages) {
    if (stage.name == "partition" || stage.name == "renumbering by cluster" || stage.name == "all pairs in clusters" ||
        stage.name == "nn-descent" || stage.name == "knn graph (brute force)") {
      piece_peak = std::max(piece_peak, stage.host_bytes);
    }
  }
  add("kNN lists, piece by piece", static_cast<double>(piece_peak));
  add("borders (nn-descent, all rows)", kept + knn + nn_descent_bytes(N, k, params));
  add_optimisation(out, kept, N, knn, graph, degree);
  add("connectivity", kept + connectivity_bytes(N, graph, degree, threads));
  return out;
}

double microseconds_per_row(int64_t dim) {
  // Measured on 2 threads (Intel Xeon with AVX-512 and AMX, 2026-12-04) at 1M rows: SIFT
  // 128-d uint8 8.5 s, 64-d float 7.9-9.5 s, 256-d float 15 s: ~ 8 us + 0.07 us per dimension
  // per row and thread, growing as log n.
  return 8.0 + 0.07 * static_cast<double>(dim);
}

}  // namespace

BuildPlan cpu_build_plan(int64_t rows, int64_t dim, ElementType type, const BuildParams& params) {
  BuildPlan plan;
  const int threads = resolve_threads(params.threads);
  const int degree = static_cast<int>(std::min<int64_t>(params.graph_degree, std::max<int64_t>(rows - 1, 0)));
  const int k = static_cast<int>(std::min<int64_t>(cpu_intermediate_degree(params, degree), std::max<int64_t>(rows - 1, 0)));
  plan.threads = threads;
  plan.graph_degree = degree;
  plan.intermediate_degree = k;
  const bool brute = params.algorithm == BuildAlgorithm::BruteForce ||
                     (params.algorithm == BuildAlgorithm::Auto && rows <= kBruteForceMaxRows);
  plan.partitions = brute ? 1 : effective_pieces(rows, params.partitions);
  const Flat base = plan.partitions > 1
                        ? pieces_build(rows, dim, type, params.metric, degree, k, threads, params, plan.partitions,
                                       kPieceMemberships)
                        : flat_build(rows, dim, type, params.metric, degree, k, threads, params, 0);
  plan.stages = base.stages;
  plan.peak_host_bytes = base.peak;
  // Upper levels (upper_levels.cpp): level 1 holds 1 in degree / 2 rows and the entry points, a
  // copy of their rows and a flat build of degree / 2 over them, beside the base graph.
  const uint64_t graph = static_cast<uint64_t>(rows) * degree * 4;
  if (rows > 2 && degree > 0) {
    const int m = std::max(2, degree / 2);
    const int64_t level_rows = std::min<int64_t>(rows, rows / m + entry_point_count(rows));
    const int level_degree = static_cast<int>(std::min<int64_t>(upper_level_degree(degree), level_rows - 1));
    BuildParams level_params = params;
    level_params.graph_degree = level_degree;
    level_params.intermediate_degree = 0;
    const int level_k = static_cast<int>(std::min<int64_t>(cpu_intermediate_degree(level_params, level_degree), level_rows - 1));
    const uint64_t held = graph + static_cast<uint64_t>(level_rows) * dim * element_size(type);
    const Flat level = flat_build(level_rows, dim, type, params.metric, level_degree, level_k, threads, level_params, held);
    PlanStage stage;
    stage.name = "upper levels";
    stage.host_bytes = level.peak;
    plan.stages.push_back(stage);
    plan.peak_host_bytes = std::max(plan.peak_host_bytes, level.peak);
  }
  // Time: the flat build's stages share the estimate by their measured shares (ANNFORGE_TRACE,
  // 1M SIFT: partition 15%, all pairs 45%, nn-descent 12%, pruning and reverse edges 18%, the
  // rest 10%).
  const double n = static_cast<double>(std::max<int64_t>(rows, 2));
  plan.seconds = n * microseconds_per_row(dim) * 1e-6 * (std::log2(n) / std::log2(1e6)) / threads;
  for (PlanStage& stage : plan.stages) {
    const std::string& s = stage.name;
    const double share = s == "partition" ? 0.12 : s == "renumbering by cluster" ? 0.03 : s == "all pairs in clusters" ? 0.45
                       : s == "nn-descent" ? 0.12 : s == "pruning" ? 0.10 : s == "reverse edges" ? 0.06
                       : s == "upper levels" ? 0.07 : s == "knn graph (brute force)" ? 0.75
                       : s == "kNN lists, piece by piece" ? 0.6 * kPieceMemberships
                       : s == "borders (nn-descent, all rows)" ? 0.25 : s == "pieces (k-means)" ? 0.03 : 0.016;
    stage.seconds = plan.seconds * share;
  }
  if (plan.partitions > 1) {  // every row's all pairs twice, and a round over all rows: the sum
    plan.seconds = 0;
    for (const PlanStage& stage : plan.stages) plan.seconds += stage.seconds;
  }
  plan.index_bytes = 64 + graph + static_cast<uint64_t>(rows) * dim * element_size(type) + 8 +
                     static_cast<uint64_t>(entry_point_count(rows)) * 4 +
                     static_cast<uint64_t>(rows / std::max(2, degree / 2)) * (degree / 2 + 1) * 4;
  return plan;
}

}  // namespace annforge::cpu
