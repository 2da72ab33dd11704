// A second, independent partition for graphs that strand walks: its clusters' all pairs merged
// into a finished graph's lists, and the graph optimised again.
//
// Why: a row's kNN list comes from the clusters of one partition, and where a row's neighbours
// fall on many sides of that partition's borders the list keeps the nearest rows of the clusters
// it shares and misses nearer ones beyond (NN-Descent's neighbours-of-neighbours rarely reach
// them: they sit in the same few clusters). On data of many small separate groups that is the
// links between groups: 1M x 64 in 50,000 clusters of 20 at overlap 4 holds 0.74 of a sample's
// true 10-NN after all pairs, and its rows' links to other groups lie farther than the true
// 48-NN's (squared distance 6-8 where the true ones are 5-6), so a narrow walk that leaves the
// upper levels in a neighbouring group cannot find its way (recall@10 0.857 at beam 16, where
// hnswlib's level 0, searched by the same code, gave 0.944). A second partition cuts elsewhere:
// the same set's lists then hold 0.92 (0.97 after NN-Descent), and recall@10 at beam 16 / 32 /
// 48 went 0.8575 / 0.9672 / 0.9853 -> 0.9140 / 0.9863 / 0.9970 with the second partition at
// overlap 2 (AMD EPYC Zen 4, 2 threads, 2026-12-06; NOTES.md "Issue 12, a second partition").
#pragma once

#include <cstdint>
#include <vector>

#include "annforge.hpp"
#include "host/cpu/knn_graph.hpp"
#include "host/cpu/partition/partition.hpp"
#include "host/cpu/search/upper_width.hpp"

namespace annforge::cpu {

// Each row joins its kSecondPartitionOverlap nearest clusters of the second partition: half the
// first partition's usual work. On the set above overlap 2 kept most of overlap 4's gain (recall@10
// at beam 32 0.9863 against 0.9893) for +2.9 s of all pairs instead of +5.0 s.
constexpr int kSecondPartitionOverlap = 2;

// A base graph strands walks when searches for its own rows at base beam 16, with the widest
// upper beam, miss this share or more (upper_width.hpp's measurement, `missed[2]`). Measured
// shares at 1M (2026-12-06): sift 0.005, mnist 0.000, duplicates 0.000, 5,000 clusters 0.015,
// wordtext (cosine) 0.030, 50,000 clusters 0.061. Inner product is left out: its misses count
// rows that are not their own nearest (wordtext-ip 0.090), and a second partition bought it
// +0.008-0.01 recall@10 for +10 s of a 24 s build.
constexpr double kStrandedShare = 0.04;

bool strands_walks(const UpperWidthMeasurement& width, Metric metric);

// The other case, decided before any graph exists: data on which even overlap 5 of one
// partition puts fewer than kOnePartitionCoverage of a sample's true 10-NN in a cluster with
// their row (Partition::coverage, measured where the overlap is chosen) gets a second partition's
// all pairs before NN-Descent. Text embeddings are such data: 1M wordtext (cosine) 0.775 (SIFT
// 0.904, 50,000 clusters of 20 0.851, MNIST 0.989); their graph from one partition, searched at
// the widths where hnswlib reaches recall@10 0.99, served 0.81x hnswlib's queries/s there
// (recall@10 0.9865 at beam 512, 0.9929 at 1,024); with a second partition up front 0.9902 /
// 0.9951, the kNN lists holding 0.811 of the sample's true 10-NN instead of 0.728, for +6-7 s of
// a 23 s build; wordtext-ip (0.662) 0.9878 / 0.9939 -> 0.9910 / 0.9955 for +5.5 s (AMD EPYC Zen
// 4, 2 threads, 2026-12-06). The kNN stage's coverage rises where more of the same partition
// does little: a second cut puts together the neighbours the first one split.
constexpr double kOnePartitionCoverage = 0.82;
bool second_partition_up_front(const Partition& first);

// The NN-Descent rounds after the clustered kNN stage: `asked` (BuildParams::
// nn_descent_iterations) where it is 0 or more; for -1 (the backend's choice) one round where the
// second partition up front was taken, none elsewhere. A round repairs what the partitions'
// borders cut; where one partition brings most neighbours together it buys little: 1M, 2 threads,
// AMD EPYC Zen 4, 2026-12-06, build seconds and recall@10 with the round and without: SIFT 10.44
// -> 8.35 s, 0.8921 / 0.9523 / 0.9843 -> 0.8901 / 0.9507 / 0.9833 at beam 32 / 64 / 128 (the same
// queries/s per beam); 1M x 64 in 5,000 clusters 11.40 -> 9.42 s, 0.9875 / 0.9981 -> 0.9848 /
// 0.9976 at beam 16 / 32; in 50,000 clusters 17.83 -> 16.54 s, 0.9879 / 0.9977 -> 0.9896 / 0.9971
// at beam 32 / 48; MNIST 1.41 -> 1.22 s, 0.9876 / 0.9961 -> 0.9870 / 0.9957 at beam 16 / 32.
// Where the second partition is taken the round stays: 1M wordtext-ip without it 0.9045 ->
// 0.8900 at beam 64.
int nn_descent_rounds(int asked, bool second_partition);

// `knn` (rows x k lists over `distance.base()`, from a first partition) with the pairs of a
// second partition (overlap kSecondPartitionOverlap, drawn with another seed than the first's)
// merged in, on the tiles `decided` (the first partition's probe). Traced with ANNFORGE_TRACE.
KnnGraph add_second_partition(const Distance& distance, KnnGraph knn, int cluster_size, int threads, uint64_t seed,
                              const FirstPass& decided, const ProgressCallback& progress);

// `graph` (rows x degree ids over `data`, the caller's order) rebuilt from its own links and the
// k nearest of each row's clusters in a second partition (drawn with `seed`, another than the
// first's), pruned to `degree` by graph_optimize.hpp. `cluster_size`: the partition's mean
// cluster size (cpu_cluster_size). Traced with ANNFORGE_TRACE.
std::vector<uint32_t> repartitioned_graph(const DatasetView& data, Metric metric, std::vector<uint32_t> graph,
                                          int degree, int k, int cluster_size, int threads, uint64_t seed,
                                          const ProgressCallback& progress);

}  // namespace annforge::cpu
