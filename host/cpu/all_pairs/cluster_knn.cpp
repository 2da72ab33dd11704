// The clustered kNN-graph stage. NN-Descent from random lists spends most of its time on
// random reads of vectors; here each vector is read into a cluster's contiguous block once and
// compared against all its cluster mates from cache. Overlap (each vector in its `overlap`
// nearest clusters) covers neighbours that sit across a cluster border.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>

#include "host/cpu/all_pairs/candidate_buffers.hpp"
#include "host/cpu/all_pairs/cluster_block.hpp"
#include "host/cpu/all_pairs/dots_probe.hpp"
#include "host/cpu/all_pairs/list_merge.hpp"
#include "host/cpu/distance/distance_keys.hpp"
#include "host/cpu/knn_graph.hpp"
#include "host/cpu/all_pairs/threshold_collect.hpp"
#include "host/cpu/parallel.hpp"
#include "host/cpu/progress.hpp"
#include "host/cpu/random.hpp"
#include "host/cpu/trace.hpp"
#include "host/env_knob.hpp"
#include "host/huge_pages.hpp"
#include "kernels/shared/neighbor_list.hpp"

namespace annforge::cpu {
namespace {

// The k smallest values of an array that are below a threshold, nearest first (ties by
// position). A row of a few thousand distances is cut down in one pass: a cut from a bound on
// the k-th value (AVX-512: per-lane minima, threshold_collect.hpp) or estimated from every 8th
// value keeps about 1.5-2k candidates, and only those are selected among.
class SmallestK {
 public:
  explicit SmallestK(int k)
      : k_(k), collect_kernel_(collect_kernel()), bound_kernel_(kth_bound_kernel()), rank_kernel_(rank_select_kernel()) {}
  // With `sorted` false the k come in no particular order (cheaper, for a shortlist).
  void select(const float* values, int count, float threshold, bool sorted = true) {
    chosen_.clear();
    float cut = threshold;
    // A row met in an earlier cluster comes with its k-th distance so far: where that alone
    // passes few values, the bound's pass over the row is not needed.
    bool collected = false;
    if (threshold < std::numeric_limits<float>::infinity() && count > 16 * k_ && bound_kernel_ && k_ <= 128) {
      collect(values, count, threshold);
      collected = static_cast<int>(chosen_.size()) <= 2 * k_;
      if (!collected) chosen_.clear();
    }
    if (collected) {
      // The threshold's candidates, ranked below.
    } else if (count > 16 * k_ && bound_kernel_ && k_ <= 128) {
      cut = std::min(cut, bound_kernel_(values, count, k_));
    } else if (count > 16 * k_) {
      // The (k/8 + k/16)-th smallest of an eighth sample sits a little above the true k-th. It
      // is kept in a short sorted buffer: most sampled values are larger than its last entry, a
      // well predicted comparison (cheaper than a selection over the whole sample).
      const int samples = (count + 7) / 8;
      const int keep = std::min(samples, k_ / 8 + k_ / 16 + 1);
      sample_.assign(keep, std::numeric_limits<float>::infinity());
      for (int i = 0; i < count; i += 8) {
        const float v = values[i];
        if (!(v < sample_[keep - 1])) continue;
        int at = keep - 1;
        while (at > 0 && sample_[at - 1] > v) {
          sample_[at] = sample_[at - 1];
          --at;
        }
        sample_[at] = v;
      }
      cut = std::min(cut, sample_[keep - 1]);
    }
    if (!collected) collect(values, count, cut);
    if (!collected && static_cast<int>(chosen_.size()) < k_ && cut < threshold) {  // the estimate was too tight
      chosen_.clear();
      collect(values, count, threshold);
    }
    // A short list (the usual case: the cut keeps ~2k) is ranked with vector compares, sorted
    // on the way (nth_element and sort were most of this stage's selection time, their branches
    // unpredictable); a longer one goes through nth_element.
    if (sorted && rank_kernel_ && static_cast<int>(chosen_.size()) <= kRankSelectMax) {
      // Ranking costs the square of the list: a second bound over the candidates' own values
      // shortens any list longer than 1.25k first.
      const int found = static_cast<int>(chosen_.size());
      if (found > k_ + k_ / 4 && k_ <= 128) {
        candidate_values_.resize(found);
        for (int i = 0; i < found; ++i) candidate_values_[i] = values[static_cast<uint32_t>(chosen_[i])];
        const float tighter = bound_kernel_(candidate_values_.data(), found, k_);
        int kept = 0;
        for (int i = 0; i < found; ++i) {
          chosen_[kept] = chosen_[i];
          kept += candidate_values_[i] <= tighter;
        }
        chosen_.resize(kept);
      }
      ranked_.resize(k_);
      ranked_.resize(rank_kernel_(chosen_.data(), static_cast<int>(chosen_.size()), k_, ranked_.data()));
      chosen_.swap(ranked_);
      return;
    }
    if (static_cast<int>(chosen_.size()) > k_) {
      std::nth_element(chosen_.begin(), chosen_.begin() + (k_ - 1), chosen_.end());
      chosen_.resize(k_);
    }
    if (sorted) std::sort(chosen_.begin(), chosen_.end());
  }
  int size() const { return static_cast<int>(chosen_.size()); }
  float distance(int i) const { return key_distance(chosen_[i]); }
  uint32_t position(int i) const { return key_id(chosen_[i]); }

 private:
  // The cut passes a few percent of the values, at unpredictable places: a branch-free
  // compaction of their positions (threshold_collect.hpp), then (distance, position) as one
  // integer key that sorts nearest first, ties by position.
  void collect(const float* values, int count, float cut) {
    positions_.resize(static_cast<size_t>(count) + 16);
    const int found = collect_kernel_(values, count, cut, positions_.data());
    for (int i = 0; i < found; ++i) chosen_.push_back(distance_key(values[positions_[i]], positions_[i]));
  }
  int k_;
  CollectKernel collect_kernel_;
  static constexpr int kRankSelectMax = 256;
  KthBoundKernel bound_kernel_;
  RankSelectKernel rank_kernel_;
  std::vector<uint32_t> positions_;
  std::vector<float> sample_, candidate_values_;
  std::vector<uint64_t> chosen_, ranked_;
};

// Cluster members sampled to estimate a first threshold (a multiple of 16).
constexpr int kThresholdSamples = 64;
// Candidate buffer slots per member, in units of k: a buffer is cut back to k when full.
constexpr int kBufferCapacityPerK = 2;

}  // namespace

KnnGraph cluster_knn_graph(const Distance& distance, const Partition& partition, int k, int threads, uint64_t seed,
                           const FirstPass& first_pass, const ProgressCallback& progress, KnnGraph start,
                           FirstPass* decided) {
  const DatasetView& data = distance.base();
  const int64_t rows = data.rows;
  const int clusters = partition.clusters;
  const std::vector<int64_t>& offsets = partition.offsets;
  const std::vector<uint32_t>& members = partition.members;
  StageTimer timer;
  KnnGraph graph;
  if (start.rows == rows && start.k == k) {
    graph = std::move(start);  // lists to add this partition's pairs to
  } else {
    graph.rows = rows;
    graph.k = k;
    assign_huge(graph.ids, rows * k, kInvalidId, resolve_threads(threads));
    assign_huge(graph.distances, rows * k, std::numeric_limits<float>::infinity(), resolve_threads(threads));
  }
  std::vector<SpinLock> locks(rows);
  const KernelTable& f32 = kernels_for(ElementType::Float32);
  const int dim = static_cast<int>(data.dim);
  const Metric metric = distance.metric();

  // Each vector's clusters, ascending (at most partition.overlap; -1 padded): on the symmetric
  // (non-AVX-512) path a pair is offered only in the first cluster its two members share. The
  // row path selects each row on its own and needs neither this nor the start thresholds.
  const bool row_path = avx512_tile_kernels() != nullptr;
  const int overlap = std::max(1, partition.overlap);
  std::vector<int> clusters_of(row_path ? 0 : rows * overlap, -1);
  if (!row_path) {
    std::vector<uint8_t> filled(rows, 0);
    for (int c = 0; c < clusters; ++c) {
      for (int64_t m = offsets[c]; m < offsets[c + 1]; ++m) {
        const uint32_t v = members[m];
        if (filled[v] < overlap) clusters_of[int64_t{v} * overlap + filled[v]++] = c;
      }
    }
  }
  // Float rows: int8 tiles, bf16 tiles or exact fp32, by a probe (AMX: inner product and
  // cosine only).
  (void)forced_dot_bits();
  DotsProbe probe;
  probe.dots = first_pass.float_dots;
  if (row_path && first_pass.float_dots == FloatDots::AmxBf16 && first_pass.int8 != FirstPass::Int8::Never) {
    if (first_pass.int8 == FirstPass::Int8::Always) {
      probe.int8 = data.type == ElementType::Float32 && metric != Metric::L2 && amx_int8_dots_kernel() != nullptr;
    } else {
      probe = probe_float_dots(distance, partition, k);
    }
  } else if (first_pass.float_dots != FloatDots::AmxBf16 &&
             (row_path || (data.type == ElementType::Float32 && int16_dot_block_kernel() != nullptr))) {
    // vdpbf16ps, or fp32 FMA tiles (AVX-512 without BF16): int8 by VNNI; on AVX2 (no tiles),
    // int8 codes by vpmaddwd; each where it keeps the rows' nearest (the probe runs for the
    // default path, not for one a caller asked for).
    if (first_pass.int8 == FirstPass::Int8::Always) {
      probe.int8 = data.type == ElementType::Float32;  // every metric: L2 through the 8-bit path
    } else if (first_pass.float_dots == default_float_dots()) {
      probe = probe_float_dots(distance, partition, k);
      if (first_pass.int8 == FirstPass::Int8::Never) probe.int8 = false;
    }
  }
  const FloatDots float_dots = probe.dots;
  if (decided != nullptr) {
    *decided = first_pass;
    decided->float_dots = probe.dots;
    decided->int8 = probe.int8 ? FirstPass::Int8::Always : FirstPass::Int8::Never;
  }
  if (probe.rows > 0 && !row_path) {
    timer.lap("clusters: in-cluster 10-NN of %d rows in the %d nearest by vpmaddwd int8 %.4f: %s", probe.rows, k,
              probe.int8_recall, probe.int8 ? "int8" : "fp32");
  } else if (probe.rows > 0 && first_pass.float_dots == FloatDots::Exact) {
    timer.lap("clusters: in-cluster 10-NN of %d rows in the %d nearest by vpdpbusd int8 %.4f: %s", probe.rows, k,
              probe.int8_recall, probe.int8 ? "int8" : "fp32");
  } else if (probe.rows > 0 && first_pass.float_dots == FloatDots::Bf16) {
    timer.lap("clusters: in-cluster 10-NN of %d rows in the %d nearest by vpdpbusd int8 %.4f, by vdpbf16ps %.4f: %s",
              probe.rows, k, probe.int8_recall, probe.bf16_recall,
              probe.int8 ? "int8" : float_dots == FloatDots::Exact ? "fp32" : "bf16");
  } else if (probe.rows > 0) {
    timer.lap("clusters: in-cluster 10-NN of %d rows in the %d nearest by int8 tiles %.4f, by bf16 %.4f: %s",
              probe.rows, k, probe.int8_recall, probe.bf16_recall,
              probe.int8 ? "int8" : float_dots == FloatDots::Exact ? "fp32" : "bf16");
  }
  // Largest clusters first, so no thread is left with a big one at the end.
  std::vector<int> order(clusters);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int a, int b) {
    return offsets[a + 1] - offsets[a] > offsets[b + 1] - offsets[b];
  });
  ProgressReporter reporter(progress, "knn-clusters", static_cast<int64_t>(members.size()));
  const size_t row_bytes = data.row_bytes();
  // One worker per thread takes clusters from a shared counter, keeping its blocks and buffers
  // (megabytes) from one cluster to the next instead of allocating them per cluster.
  std::atomic<int64_t> next_position{0};
  const int workers = static_cast<int>(std::min<int64_t>(resolve_threads(threads), clusters));
  parallel_for(workers, workers, 1, [&](int64_t, int64_t, int thread) {
    std::vector<uint8_t> block;
    std::vector<float> block_norms, row_distances, block_projected, candidate_norms;
    std::vector<const void*> row_pointers, projected_pointers, candidate_pointers;
    SmallestK best(k);
    ListIds list_ids(k);
    ClusterBlock block_dots(float_dots, probe.int8);
    // Lists merge by equal distances unless one pair can arrive with two: the bf16 paths centre
    // L2 rows on each cluster's mean and the int8 dot form scales inner product and cosine rows
    // by each cluster's step (so a pair's approximate distance differs from cluster to cluster),
    // and the projected first pass stores exact distances beside the bf16 ones of small
    // clusters. There repeats are found by id.
    const bool approximate_floats =
        data.type == ElementType::Float32 && row_path &&
        ((float_dots != FloatDots::Exact && float_dots_available(float_dots)) || probe.int8);
    // Float rows as int8 codes on AVX2 meet a pair once per partition, but a second partition
    // meets it again with another cluster's codes.
    const bool repeats_by_id = (approximate_floats && (metric == Metric::L2 || first_pass.projected != nullptr ||
                                                       block_dots.int8_dot_form())) ||
                               (data.type == ElementType::Float32 && block_dots.float_codes());
    SmallestK shortlist(std::max(first_pass.exact_candidates, 1));
    std::vector<uint32_t> best_ids(k);
    std::vector<float> best_distances(k);
    std::vector<uint64_t> merge_keys(3 * static_cast<size_t>(k) + 2);
    std::vector<float> add_terms, mul_terms, start_thresholds, sample_dots, tile_distances;
    std::vector<int> sample_positions(kThresholdSamples);
    CandidateBuffers buffers(k, kBufferCapacityPerK * k);
    // v's kNN list so far (from its other clusters) merged with `count` new candidates, sorted
    // by (distance, id) unless `ties_by_id` is false (the projected pass ranks ties by its
    // shortlist's order).
    std::vector<uint32_t> merged_ids(k);
    std::vector<float> merged_distances(k);
    auto merge_into = [&](int64_t v, int count, bool ties_by_id = true) {
      if (count == 0) return;
      locks[v].lock();
      if (graph.ids[v * k] == kInvalidId) {  // v's first cluster: nothing to merge with
        std::copy(best_ids.data(), best_ids.data() + count, &graph.ids[v * k]);
        std::copy(best_distances.data(), best_distances.data() + count, &graph.distances[v * k]);
        locks[v].unlock();
        return;
      }
      if (repeats_by_id) {
        // Drop the candidates v's list already holds, the smaller of a pair's two distances kept
        // (so that the lists do not depend on which cluster came first).
        count = drop_listed_keeping_nearer(list_ids, &graph.ids[v * k], &graph.distances[v * k], k, best_ids.data(),
                                           best_distances.data(), count, merged_ids.data(), merged_distances.data());
      }
      if (ties_by_id) {
        merge_sorted_by_key(&graph.ids[v * k], &graph.distances[v * k], best_ids.data(), best_distances.data(), count,
                            k, merge_keys.data());
      } else {
        merge_sorted(&graph.ids[v * k], &graph.distances[v * k], best_ids.data(), best_distances.data(), count, k,
                     merged_ids.data(), merged_distances.data());
      }
      locks[v].unlock();
    };
    auto prefetch_list = [&](uint32_t v) {
      const char* id_row = reinterpret_cast<const char*>(&graph.ids[int64_t{v} * k]);
      const char* distance_row = reinterpret_cast<const char*>(&graph.distances[int64_t{v} * k]);
      for (int line = 0; line < k * 4; line += 64) {
        __builtin_prefetch(id_row + line, 1);
        __builtin_prefetch(distance_row + line, 1);
      }
    };
    // A member seen in no cluster before starts with no threshold: every pair would reach its
    // buffer until the buffer's cuts tighten it (a third of all pairs at overlap 3). Instead it
    // starts from an estimate: its distances to an even sample of the cluster, and the sampled
    // value whose rank corresponds to about twice k in the whole cluster (an upper bound on the
    // member's k-th in-cluster distance but in rare cases, which then keep fewer candidates from
    // this cluster, still its nearest).
    auto estimate_first_thresholds = [&](int size, const PairTerms& terms) {
      const int wanted_rank = (2 * k * kThresholdSamples + size - 1) / size + 2;
      if (wanted_rank > kThresholdSamples / 2) return;  // small cluster: the estimate saves little
      bool any = false;
      for (int i = 0; i < size && !any; ++i) any = start_thresholds[i] == std::numeric_limits<float>::infinity();
      if (!any) return;
      for (int s = 0; s < kThresholdSamples; ++s) {
        sample_positions[s] = static_cast<int>(static_cast<int64_t>(s) * size / kThresholdSamples);
      }
      sample_dots.resize(static_cast<size_t>(block_dots.padded_rows()) * kThresholdSamples);
      block_dots.sample_dots(sample_positions.data(), kThresholdSamples, sample_dots.data());
      float sampled[kThresholdSamples];
      for (int i = 0; i < size; ++i) {
        if (start_thresholds[i] != std::numeric_limits<float>::infinity()) continue;
        for (int s = 0; s < kThresholdSamples; ++s) {
          const int j = sample_positions[s];
          const float factor = (terms.mul[i] * terms.mul[j]) * -terms.scale;
          sampled[s] = j == i ? std::numeric_limits<float>::infinity()
                              : std::max(factor * sample_dots[static_cast<size_t>(i) * kThresholdSamples + s] +
                                             terms.add[i] + terms.add[j],
                                         terms.floor);
        }
        std::nth_element(sampled, sampled + wanted_rank - 1, sampled + kThresholdSamples);
        // Strictly above the sampled value, so the pair that gave it still passes.
        start_thresholds[i] = std::nextafter(sampled[wanted_rank - 1], std::numeric_limits<float>::infinity());
      }
    };
    // The default pass: the cluster's dots as blocked matrix products with the pair filter
    // (cluster_block.hpp), which offers only the pairs that beat a member's threshold.
    auto blocked_all_pairs = [&](int cluster, const uint32_t* ids, int size) {
      // Terms are read 16 entries past the last column, and for every row of the last tile
      // (up to kAmxTileRows - 1 padding rows).
      add_terms.assign(size + kAmxTileRows + 16, 0.0f);
      mul_terms.assign(size + kAmxTileRows + 16, 1.0f);
      // Float rows on AMX: distances straight from the tiles (ClusterBlock::load_dot_form).
      const bool dot_form = approximate_floats && block_dots.load_dot_form(row_pointers, size, dim, metric,
                                                                         metric == Metric::Cosine ? block_norms.data()
                                                                                                  : nullptr);
      // Float rows as int8 codes on AVX2 (no tiles), with the block's own terms.
      const bool coded = !dot_form && data.type == ElementType::Float32 &&
                         block_dots.load_codes(row_pointers, size, dim, metric, block_norms.data());
      if (!dot_form && !coded) block_dots.load(row_pointers, size, data.type, dim, add_terms.data(), metric == Metric::L2);
      const PairTerms terms = coded ? block_dots.code_terms()
                                    : metric_terms(metric, size, block_norms.data(), add_terms.data(), mul_terms.data());
      if (block_dots.has_row_distances()) {
        // Row by row: a tile of rows' distances to the whole cluster, then each row's best k
        // below its k-th so far (the cut estimated from the row itself), merged at once.
        const int ldo = panel_count(size) * 16;
        const int tile_height = block_dots.rows_per_call();
        const float value_scale = block_dots.value_scale();
        tile_distances.resize(static_cast<size_t>(tile_height) * ldo);
        for (int r0 = 0; r0 < size; r0 += tile_height) {
          const int tile_rows = std::min(tile_height, size - r0);
          for (int r = 0; r < tile_rows; ++r) prefetch_list(ids[r0 + r]);
          block_dots.row_distances(r0, terms, tile_distances.data(), ldo);
          for (int r = 0; r < tile_rows; ++r) {
            const int64_t v = ids[r0 + r];
            float threshold;
            __atomic_load(&graph.distances[v * k + k - 1], &threshold, __ATOMIC_RELAXED);
            const float* row = &tile_distances[static_cast<size_t>(r) * ldo];
            // Tiles in dot form hold the distance less the row's offset (0 otherwise).
            const float offset = block_dots.row_offset(r0 + r);
            best.select(row, size, (threshold - offset) / value_scale);
            for (int c = 0; c < best.size(); ++c) {
              best_ids[c] = ids[best.position(c)];
              best_distances[c] = std::max(best.distance(c) * value_scale + offset, terms.floor);
            }
            merge_into(v, best.size());
          }
        }
        return;
      }
      // A member starts from its k-th distance so far (from its other clusters).
      start_thresholds.resize(size);
      for (int i = 0; i < size; ++i) {
        __atomic_load(&graph.distances[int64_t{ids[i]} * k + k - 1], &start_thresholds[i], __ATOMIC_RELAXED);
      }
      estimate_first_thresholds(size, terms);
      buffers.reset(size, start_thresholds.data());
      for (int i = 0; i < size; ++i) {
        const int* mine = &clusters_of[int64_t{ids[i]} * overlap];
        int earlier = 0;
        while (earlier < overlap && mine[earlier] >= 0 && mine[earlier] < cluster) ++earlier;
        buffers.set_earlier_clusters(i, mine, earlier);
      }
      block_dots.filter_pairs(terms, ids, buffers);
      // The members' global lists are random reads (cache misses): start them a few members ahead.
      constexpr int kAhead = 6;
      for (int i = 0; i < std::min(size, kAhead); ++i) prefetch_list(ids[i]);
      for (int i = 0; i < size; ++i) {
        if (i + kAhead < size) prefetch_list(ids[i + kAhead]);
        merge_into(ids[i], buffers.take_sorted(i, best_ids.data(), best_distances.data()));
      }
    };
    for (int64_t position = next_position++; position < clusters; position = next_position++) {
      const int cluster = order[position];
      const uint32_t* ids = &members[offsets[cluster]];
      const int64_t size = offsets[cluster + 1] - offsets[cluster];
      if (size < 2) continue;
      // The blocked pass gathers the cluster's vectors into its own layout (ClusterBlock::load)
      // straight from the data; the projected pass reads them from one contiguous block.
      const bool blocked = !first_pass.projected || size <= first_pass.exact_candidates;
      block_norms.assign(size, 1.0f);
      row_pointers.resize(size);
      if (!blocked) block.resize(size * row_bytes);
      for (int64_t i = 0; i < size; ++i) {
        if (blocked) {
          row_pointers[i] = data.row(ids[i]);
        } else {
          std::memcpy(&block[i * row_bytes], data.row(ids[i]), row_bytes);
          row_pointers[i] = &block[i * row_bytes];
        }
        block_norms[i] = distance.inverse_norm_of(ids[i]);  // 1 unless cosine
      }
      if (blocked) {
        blocked_all_pairs(cluster, ids, static_cast<int>(size));
        reporter.add(size, thread);
        continue;
      }
      // The projected first pass (opt-in): each member against the whole block, ranked by
      // projected distance (negated dot product for inner product), then exact distances for
      // the shortlist only.
      row_distances.resize(size);
      block_projected.resize(size * first_pass.dim);
      projected_pointers.resize(size);
      for (int64_t i = 0; i < size; ++i) {
        std::memcpy(&block_projected[i * first_pass.dim], &(*first_pass.projected)[int64_t{ids[i]} * first_pass.dim],
                    first_pass.dim * sizeof(float));
        projected_pointers[i] = &block_projected[i * first_pass.dim];
      }
      for (int64_t i = 0; i < size; ++i) {
        const int64_t v = ids[i];
        // Start from v's k-th distance so far (from its other clusters): nothing worse can enter.
        float threshold;
        __atomic_load(&graph.distances[v * k + k - 1], &threshold, __ATOMIC_RELAXED);
        if (distance.metric() == Metric::InnerProduct) {
          f32.dot_many(projected_pointers[i], projected_pointers.data(), static_cast<int>(size), first_pass.dim,
                       row_distances.data());
          for (int64_t j = 0; j < size; ++j) row_distances[j] = -row_distances[j];
        } else {
          f32.squared_l2_many(projected_pointers[i], projected_pointers.data(), static_cast<int>(size),
                              first_pass.dim, row_distances.data());
        }
        row_distances[i] = std::numeric_limits<float>::infinity();
        shortlist.select(row_distances.data(), static_cast<int>(size), std::numeric_limits<float>::infinity(), false);
        const int count = shortlist.size();
        candidate_pointers.resize(count);
        candidate_norms.resize(count);
        for (int c = 0; c < count; ++c) {
          candidate_pointers[c] = row_pointers[shortlist.position(c)];
          candidate_norms[c] = block_norms[shortlist.position(c)];
        }
        distance.raw_many(row_pointers[i], block_norms[i], candidate_pointers.data(), candidate_norms.data(), count,
                          row_distances.data());
        best.select(row_distances.data(), count, threshold);
        for (int c = 0; c < best.size(); ++c) {
          best_ids[c] = ids[shortlist.position(best.position(c))];
          best_distances[c] = best.distance(c);
        }
        merge_into(v, best.size(), false);
      }
      reporter.add(size, thread);
    }
  });
  reporter.finish();
  timer.lap("clusters: all pairs inside %d clusters (%s dots)", clusters,
            data.type != ElementType::Float32                 ? "exact 8-bit"
            : probe.int8 && float_dots == FloatDots::AmxBf16  ? "amx int8"
            : probe.int8 && !row_path                         ? "vpmaddwd int8"
            : probe.int8                                      ? "vnni int8"
            : float_dots_available(float_dots)                 ? float_dots_name(float_dots)
                                                          : "fp32");
  // A vector whose clusters were all tiny (outliers, heavy duplication) can end up with fewer
  // than k neighbours: top its list up with random vectors, which the next stages improve on.
  parallel_for(rows, threads, 4096, [&](int64_t begin, int64_t end, int) {
    for (int64_t v = begin; v < end; ++v) {
      uint32_t* list = &graph.ids[v * k];
      uint64_t state = mix64(seed ^ static_cast<uint64_t>(v));
      while (list[k - 1] == kInvalidId) {
        state = mix64(state);
        uint32_t u = static_cast<uint32_t>(state % static_cast<uint64_t>(rows));
        if (u != v) core::insert_sorted(list, &graph.distances[v * k], nullptr, k, u, distance.between(v, u), 0);
      }
    }
  });
  return graph;
}

}  // namespace annforge::cpu
