#include "host/cpu/all_pairs/dots_probe.hpp"

#include <algorithm>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "host/cpu/all_pairs/cluster_block.hpp"
#include "host/cpu/all_pairs/pair_tiles.hpp"
#include "host/env_knob.hpp"

namespace annforge::cpu {

namespace {

// Clusters probed (evenly over the partition's ids) and rows per cluster (one tile of rows).
constexpr int kProbeClusters = 16;
// The lists are judged by the rows' exact nearest few that they hold: near the k-th the order
// of neighbours matters little (later stages exchange them), and 1M wordtext's int8 lists,
// with 0.7 points fewer of the exact in-cluster 48-NN than bf16's, gave the same search recall.
constexpr int kNearest = 10;
// A tile path that keeps less than this of the rows' nearest gives way to exact fp32.
constexpr double kTilesFloor = 0.98;

// Positions of the `k` smallest of values[0..count) (the row's own position excluded by the
// caller's +infinity), in no order.
void smallest_positions(const float* values, int count, int k, std::vector<std::pair<float, int>>& scratch,
                        std::vector<int>& out) {
  scratch.resize(count);
  for (int i = 0; i < count; ++i) scratch[i] = {values[i], i};
  std::nth_element(scratch.begin(), scratch.begin() + (k - 1), scratch.end());
  out.resize(k);
  for (int i = 0; i < k; ++i) out[i] = scratch[i].second;
  std::sort(out.begin(), out.end());
}

// The probe's cluster `probe_index` (of kProbeClusters, evenly over the partition's ids): its
// members, or false where it is too small to tell (the k nearest of a small cluster are most
// of it).
bool probed_cluster(const Partition& partition, int probe_index, int k, const uint32_t*& ids, int& size) {
  const int cluster = static_cast<int>(static_cast<int64_t>(probe_index) * partition.clusters / kProbeClusters);
  const int64_t first = partition.offsets[cluster];
  size = static_cast<int>(partition.offsets[cluster + 1] - first);
  ids = &partition.members[first];
  return size >= 4 * k;
}

// The rows of cluster `ids` as pointers, and their inverse norms (1 unless cosine).
void gather_cluster(const Distance& distance, const uint32_t* ids, int size, std::vector<const void*>& rows,
                    std::vector<float>& norms) {
  rows.resize(size);
  norms.resize(size);
  for (int i = 0; i < size; ++i) {
    rows[i] = distance.base().row(ids[i]);
    norms[i] = distance.inverse_norm_of(ids[i]);
  }
}

// Positions (in the cluster `ids`) of member r's exact kNearest nearest members.
void exact_nearest(const Distance& distance, const uint32_t* ids, int size, int r, std::vector<float>& exact,
                   std::vector<std::pair<float, int>>& scratch, std::vector<int>& out) {
  exact.resize(size);
  for (int c = 0; c < size; ++c) {
    exact[c] = c == r ? std::numeric_limits<float>::infinity() : distance.between(ids[r], ids[c]);
  }
  smallest_positions(exact.data(), size, kNearest, scratch, out);
}

int shared(const std::vector<int>& a, const std::vector<int>& b) {
  int found = 0;
  for (size_t i = 0, j = 0; i < a.size() && j < b.size();) {
    if (a[i] < b[j]) {
      ++i;
    } else if (b[j] < a[i]) {
      ++j;
    } else {
      ++found, ++i, ++j;
    }
  }
  return found;
}

// Without AMX (VNNI, and vdpbf16ps where the CPU has it), every metric: the first rows of each
// probed cluster against the whole cluster through the blocks the all-pairs stage uses, bf16
// (ClusterBlock::load and row_distances with its terms) and int8 (load_dot_form, or load for
// L2; vpdpbusd) against exact fp32. int8 where it keeps kTilesFloor of the rows' exact
// in-cluster nearest (twice vdpbf16ps's multiply-adds per instruction), else bf16 where that
// does, else fp32.
DotsProbe probe_vector_tiles(const Distance& distance, const Partition& partition, int k) {
  DotsProbe probe;
  // Where the default is fp32 (AVX-512 without BF16) only int8 is probed.
  const bool with_bf16 = default_float_dots() == FloatDots::Bf16;
  probe.dots = with_bf16 ? FloatDots::Bf16 : FloatDots::Exact;
  const DatasetView& data = distance.base();
  const Metric metric = distance.metric();
  const int forced = forced_dot_bits();
  if (forced != 0) {
    if (forced == 32) probe.dots = FloatDots::Exact;
    probe.int8 = forced == 8;
    return probe;
  }
  constexpr int kProbedRows = 32;
  ClusterBlock bf16(probe.dots, false), int8(probe.dots, true);
  const int dim = static_cast<int>(data.dim);
  std::vector<const void*> rows;
  std::vector<float> add, int8_add, mul, norms, by_bf16, by_int8, exact;
  std::vector<std::pair<float, int>> scratch;
  std::vector<int> truth, found;
  int64_t kept_bf16 = 0, kept_int8 = 0, total = 0;
  bool int8_probed = true;
  for (int probe_index = 0; probe_index < kProbeClusters; ++probe_index) {
    const uint32_t* ids = nullptr;
    int size = 0;
    if (!probed_cluster(partition, probe_index, k, ids, size)) continue;
    gather_cluster(distance, ids, size, rows, norms);
    // The terms of cluster_knn's blocked pass: L2 the norms, inner product -dot, cosine
    // 1 - dot x norms.
    const bool l2 = metric == Metric::L2;
    add.assign(size + kAmxTileRows + 16, 0.0f);
    mul.assign(add.size(), 1.0f);
    if (with_bf16) bf16.load(rows, size, ElementType::Float32, dim, add.data(), l2);
    const PairTerms terms = metric_terms(metric, size, norms.data(), add.data(), mul.data());
    bool with_int8 = true;
    if (l2) {
      int8_add.assign(add.size(), 0.0f);
      int8.load(rows, size, ElementType::Float32, dim, int8_add.data(), true);
    } else {
      with_int8 = int8.load_dot_form(rows, size, dim, metric, metric == Metric::Cosine ? norms.data() : nullptr);
    }
    const PairTerms int8_terms = l2 ? metric_terms(metric, size, norms.data(), int8_add.data(), mul.data()) : PairTerms{};
    const int ldo = panel_count(size) * 16;
    const int height = bf16.rows_per_call();
    by_bf16.resize(static_cast<size_t>(height) * ldo);
    by_int8.resize(by_bf16.size());
    for (int r0 = 0; r0 < kProbedRows && r0 < size; r0 += height) {
      if (with_bf16) bf16.row_distances(r0, terms, by_bf16.data(), ldo);
      if (with_int8) int8.row_distances(r0, int8_terms, by_int8.data(), ldo);
      for (int r = r0; r < r0 + height && r < size; ++r) {
        exact_nearest(distance, ids, size, r, exact, scratch, truth);
        if (with_bf16) {
          smallest_positions(&by_bf16[static_cast<size_t>(r - r0) * ldo], size, k, scratch, found);
          kept_bf16 += shared(truth, found);
        }
        if (with_int8) {
          // The stored values differ from the distances by a per-row offset only: the same order.
          smallest_positions(&by_int8[static_cast<size_t>(r - r0) * ldo], size, k, scratch, found);
          kept_int8 += shared(truth, found);
        }
        total += kNearest;
        ++probe.rows;
      }
    }
    int8_probed = int8_probed && with_int8;
  }
  if (total == 0) return probe;  // clusters too small to tell: the default
  probe.bf16_recall = with_bf16 ? static_cast<double>(kept_bf16) / total : 0.0;
  probe.int8_recall = int8_probed ? static_cast<double>(kept_int8) / total : 0.0;
  probe.int8 = probe.int8_recall >= kTilesFloor;
  if (!probe.int8 && probe.bf16_recall < kTilesFloor) probe.dots = FloatDots::Exact;
  return probe;
}

// On AVX2 (no AVX-512 tiles), every metric: the first rows of each probed cluster against the
// whole cluster by the int8 codes the all-pairs stage would use (ClusterBlock::load_codes, its
// distances one by one) against exact fp32. int8 where they keep kTilesFloor of the rows' exact
// in-cluster nearest, else fp32.
DotsProbe probe_avx2_codes(const Distance& distance, const Partition& partition, int k) {
  DotsProbe probe;
  probe.dots = FloatDots::Exact;
  const int forced = forced_dot_bits();
  if (forced != 0) {
    probe.int8 = forced == 8;
    return probe;
  }
  constexpr int kProbedRows = 32;
  const DatasetView& data = distance.base();
  ClusterBlock codes(FloatDots::Exact, true);
  const int dim = static_cast<int>(data.dim);
  std::vector<const void*> rows;
  std::vector<float> norms, by_codes, exact;
  std::vector<std::pair<float, int>> scratch;
  std::vector<int> truth, found;
  int64_t kept = 0, total = 0;
  for (int probe_index = 0; probe_index < kProbeClusters; ++probe_index) {
    const uint32_t* ids = nullptr;
    int size = 0;
    if (!probed_cluster(partition, probe_index, k, ids, size)) continue;
    gather_cluster(distance, ids, size, rows, norms);
    if (!codes.load_codes(rows, size, dim, distance.metric(), norms.data())) return probe;
    const int ldo = panel_count(size) * 16;
    by_codes.resize(static_cast<size_t>(kProbedRows + kDotBlockRows) * ldo);  // the probed rows only
    codes.code_distances(kProbedRows, by_codes.data(), ldo);
    for (int r = 0; r < kProbedRows && r < size; ++r) {
      exact_nearest(distance, ids, size, r, exact, scratch, truth);
      smallest_positions(&by_codes[static_cast<size_t>(r) * ldo], size, k, scratch, found);
      kept += shared(truth, found);
      total += kNearest;
      ++probe.rows;
    }
  }
  if (total == 0) return probe;  // clusters too small to tell: fp32
  probe.int8_recall = static_cast<double>(kept) / total;
  probe.int8 = probe.int8_recall >= kTilesFloor;
  return probe;
}

}  // namespace

int forced_dot_bits() {
  const int forced = detail::env_knob("ANNFORGE_CPU_DOT_BITS", 0);
  if (forced != 0 && forced != 8 && forced != 16 && forced != 32) {
    throw Error(ErrorCode::InvalidArgument,
                "ANNFORGE_CPU_DOT_BITS=" + std::to_string(forced) + ": expected 8, 16 or 32");
  }
  return forced;
}

DotsProbe probe_float_dots(const Distance& distance, const Partition& partition, int k) {
  DotsProbe probe;
  const DatasetView& data = distance.base();
  const Metric metric = distance.metric();
  if (data.type == ElementType::Float32 && default_float_dots() != FloatDots::AmxBf16 &&
      avx512_tile_kernels() != nullptr) {
    return probe_vector_tiles(distance, partition, k);
  }
  if (data.type == ElementType::Float32 && avx512_tile_kernels() == nullptr && int16_dot_block_kernel() != nullptr) {
    return probe_avx2_codes(distance, partition, k);
  }
  const int forced = forced_dot_bits();
  if (data.type != ElementType::Float32 || metric == Metric::L2 || default_float_dots() != FloatDots::AmxBf16 ||
      amx_int8_dots_kernel() == nullptr) {
    return probe;
  }
  if (forced != 0) {
    probe.int8 = forced == 8;
    if (forced == 32) probe.dots = FloatDots::Exact;
    return probe;
  }
  ClusterBlock bf16(FloatDots::AmxBf16, false), int8(FloatDots::AmxBf16, true);
  const int dim = static_cast<int>(data.dim);
  std::vector<const void*> rows;
  std::vector<float> scales, exact, by_bf16, by_int8;
  std::vector<std::pair<float, int>> scratch;
  std::vector<int> truth, found;
  int64_t kept_bf16 = 0, kept_int8 = 0, total = 0;
  for (int probe_index = 0; probe_index < kProbeClusters; ++probe_index) {
    const uint32_t* ids = nullptr;
    int size = 0;
    if (!probed_cluster(partition, probe_index, k, ids, size)) continue;
    rows.resize(size);
    scales.resize(size);
    for (int i = 0; i < size; ++i) {
      rows[i] = data.row(ids[i]);
      scales[i] = distance.inverse_norm_of(ids[i]);
    }
    const float* row_scales = metric == Metric::Cosine ? scales.data() : nullptr;
    if (!bf16.load_dot_form(rows, size, dim, metric, row_scales) ||
        !int8.load_dot_form(rows, size, dim, metric, row_scales) || !int8.int8_dot_form()) {
      return probe;
    }
    const int ldo = panel_count(size) * 16;
    by_bf16.resize(static_cast<size_t>(kAmxTileRows) * ldo);
    by_int8.resize(by_bf16.size());
    bf16.row_distances(0, PairTerms{}, by_bf16.data(), ldo);
    int8.row_distances(0, PairTerms{}, by_int8.data(), ldo);
    for (int r = 0; r < kAmxTileRows && r < size; ++r) {
      exact_nearest(distance, ids, size, r, exact, scratch, truth);
      smallest_positions(&by_bf16[static_cast<size_t>(r) * ldo], size, k, scratch, found);
      kept_bf16 += shared(truth, found);
      smallest_positions(&by_int8[static_cast<size_t>(r) * ldo], size, k, scratch, found);
      kept_int8 += shared(truth, found);
      total += kNearest;
      ++probe.rows;
    }
  }
  if (total == 0) return probe;  // clusters too small to tell: bf16
  probe.bf16_recall = static_cast<double>(kept_bf16) / total;
  probe.int8_recall = static_cast<double>(kept_int8) / total;
  // bf16 where it keeps the nearest (on 1M wordtext int8 all pairs measured no faster in this
  // code's A/B runs, 13.8-15.9 against 14.3-17.6 cpu s, and recall@10 0.0009 lower at beam 64),
  // then int8, then fp32.
  probe.int8 = probe.bf16_recall < kTilesFloor && probe.int8_recall >= kTilesFloor;
  if (!probe.int8 && probe.bf16_recall < kTilesFloor) probe.dots = FloatDots::Exact;
  return probe;
}

}  // namespace annforge::cpu
