// The clustered kNN-graph stage. NN-Descent from random lists spends most of its time on
// random reads of vectors; here each vector is read into a cluster's contiguous block once and
// compared against all its cluster mates from cache. Overlap (each vector in its `overlap`
// nearest clusters) covers neighbours that sit across a cluster border.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>

#include "host/cpu/dot_block.hpp"
#include "host/cpu/knn_graph.hpp"
#include "host/cpu/threshold_collect.hpp"
#include "host/cpu/parallel.hpp"
#include "host/cpu/progress.hpp"
#include "host/cpu/random.hpp"
#include "host/cpu/trace.hpp"
#include "kernels/shared/neighbor_list.hpp"

namespace annforge::cpu {
namespace {

// The k smallest values of an array that are below a threshold, nearest first (ties by
// position). A row of a few thousand distances is cut down in one pass: a threshold estimated
// from every 8th value keeps about 1.5k candidates, and only those are selected among.
class SmallestK {
 public:
  explicit SmallestK(int k) : k_(k), collect_kernel_(collect_kernel()) {}
  // With `sorted` false the k come in no particular order (cheaper, for a shortlist).
  void select(const float* values, int count, float threshold, bool sorted = true) {
    chosen_.clear();
    float cut = threshold;
    if (count > 16 * k_) {
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
    collect(values, count, cut);
    if (static_cast<int>(chosen_.size()) < k_ && cut < threshold) {  // the estimate was too tight
      chosen_.clear();
      collect(values, count, threshold);
    }
    if (static_cast<int>(chosen_.size()) > k_) {
      std::nth_element(chosen_.begin(), chosen_.begin() + (k_ - 1), chosen_.end());
      chosen_.resize(k_);
    }
    if (sorted) std::sort(chosen_.begin(), chosen_.end());
  }
  int size() const { return static_cast<int>(chosen_.size()); }
  float distance(int i) const { return chosen_[i].first; }
  uint32_t position(int i) const { return chosen_[i].second; }

 private:
  // The cut passes a few percent of the values, at unpredictable places: a branch-free
  // compaction of their positions (threshold_collect.hpp), then the pairs.
  void collect(const float* values, int count, float cut) {
    positions_.resize(static_cast<size_t>(count) + 8);
    const int found = collect_kernel_(values, count, cut, positions_.data());
    for (int i = 0; i < found; ++i) chosen_.emplace_back(values[positions_[i]], positions_[i]);
  }
  int k_;
  CollectKernel collect_kernel_;
  std::vector<uint32_t> positions_;
  std::vector<float> sample_;
  std::vector<std::pair<float, uint32_t>> chosen_;
};

// Merges a candidate list sorted by distance into a list of length k sorted by distance (in
// place), keeping the k nearest. The same pair computed in two clusters has the same distance,
// so a repeat sits among the emitted entries of equal distance and is dropped there (ties may
// come in any id order).
void merge_sorted(uint32_t* ids, float* distances, const uint32_t* more_ids, const float* more_distances, int more,
                  int k, uint32_t* scratch_ids, float* scratch_distances) {
  int a = 0, b = 0, out = 0;
  while (out < k && (a < k || b < more)) {
    bool take_a = b >= more || (a < k && core::nearer(distances[a], ids[a], more_distances[b], more_ids[b]));
    uint32_t id = take_a ? ids[a] : more_ids[b];
    float d = take_a ? distances[a++] : more_distances[b++];
    if (id == kInvalidId) break;  // the rest of the list is empty slots
    bool repeat = false;
    for (int back = out - 1; back >= 0 && scratch_distances[back] == d && !repeat; --back) repeat = scratch_ids[back] == id;
    if (repeat) continue;
    scratch_ids[out] = id;
    scratch_distances[out++] = d;
  }
  for (int i = out; i < k; ++i) scratch_ids[i] = kInvalidId, scratch_distances[i] = std::numeric_limits<float>::infinity();
  std::copy(scratch_ids, scratch_ids + k, ids);
  std::copy(scratch_distances, scratch_distances + k, distances);
}

// A row of any element type as floats.
void to_floats(const void* row, ElementType type, int dim, float* out) {
  switch (type) {
    case ElementType::Float32: std::memcpy(out, row, dim * sizeof(float)); break;
    case ElementType::UInt8:
      for (int d = 0; d < dim; ++d) out[d] = static_cast<const uint8_t*>(row)[d];
      break;
    case ElementType::Int8:
      for (int d = 0; d < dim; ++d) out[d] = static_cast<const int8_t*>(row)[d];
      break;
  }
}

// Rows of a cluster block whose dots one kernel call computes: enough to reuse each packed
// panel from L1 several times, few enough that their dots stay in L2. A multiple of 16 (the
// panel width), so that a chunk's first row starts a panel.
constexpr int kDotChunkRows = 8 * kDotBlockRows;
static_assert(kDotChunkRows % 16 == 0, "chunks start at panel boundaries");

}  // namespace

KnnGraph cluster_knn_graph(const Distance& distance, const Partition& partition, int k, int threads, uint64_t seed,
                           const FirstPass& first_pass, const ProgressCallback& progress) {
  const DatasetView& data = distance.base();
  const int64_t rows = data.rows;
  const int clusters = partition.clusters;
  const std::vector<int64_t>& offsets = partition.offsets;
  const std::vector<uint32_t>& members = partition.members;
  StageTimer timer;
  KnnGraph graph;
  graph.rows = rows;
  graph.k = k;
  graph.ids.assign(rows * k, kInvalidId);
  graph.distances.assign(rows * k, std::numeric_limits<float>::infinity());
  std::vector<SpinLock> locks(rows);
  const KernelTable& f32 = kernels_for(ElementType::Float32);
  const DotBlockKernel dot_block = dot_block_kernel();
  const int dim = static_cast<int>(data.dim);
  const Metric metric = distance.metric();

  // Largest clusters first, so no thread is left with a big one at the end.
  std::vector<int> order(clusters);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int a, int b) {
    return offsets[a + 1] - offsets[a] > offsets[b + 1] - offsets[b];
  });
  ProgressReporter reporter(progress, "knn-clusters", static_cast<int64_t>(members.size()));
  const size_t row_bytes = data.row_bytes();
  parallel_for(clusters, threads, 1, [&](int64_t begin, int64_t end, int thread) {
    std::vector<uint8_t> block;
    std::vector<float> block_norms, row_distances, block_projected, candidate_norms;
    std::vector<const void*> row_pointers, projected_pointers, candidate_pointers;
    SmallestK best(k);
    SmallestK shortlist(std::max(first_pass.exact_candidates, 1));
    std::vector<uint32_t> best_ids(k);
    std::vector<float> best_distances(k);
    std::vector<uint32_t> merged_ids(k);
    std::vector<float> merged_distances(k);
    std::vector<float> float_block, squared_norms, panels, dots, matrix;
    for (int64_t position = begin; position < end; ++position) {
      const int cluster = order[position];
      const uint32_t* ids = &members[offsets[cluster]];
      const int64_t size = offsets[cluster + 1] - offsets[cluster];
      if (size < 2) continue;
      // Gather the cluster's vectors into one block, read from cache from here on.
      block.resize(size * row_bytes);
      block_norms.assign(size, 1.0f);
      row_pointers.resize(size);
      for (int64_t i = 0; i < size; ++i) {
        std::memcpy(&block[i * row_bytes], data.row(ids[i]), row_bytes);
        row_pointers[i] = &block[i * row_bytes];
        block_norms[i] = distance.inverse_norm_of(ids[i]);  // 1 unless cosine
      }
      row_distances.resize(size);
      const bool two_pass = first_pass.projected && size > first_pass.exact_candidates;
      if (two_pass) {
        block_projected.resize(size * first_pass.dim);
        projected_pointers.resize(size);
        for (int64_t i = 0; i < size; ++i) {
          std::memcpy(&block_projected[i * first_pass.dim], &(*first_pass.projected)[int64_t{ids[i]} * first_pass.dim],
                      first_pass.dim * sizeof(float));
          projected_pointers[i] = &block_projected[i * first_pass.dim];
        }
      }
      // Narrow vectors: the block's dots come from one blocked matrix product per chunk of rows
      // (dot_block.hpp); distances from dots and norms.
      const int panels_count = panel_count(static_cast<int>(size));
      const int ldc = panels_count * 16;
      if (!two_pass) {
        const int64_t padded = (size + kDotBlockRows - 1) / kDotBlockRows * kDotBlockRows;
        float_block.assign(padded * dim, 0.0f);
        squared_norms.resize(size);
        for (int64_t i = 0; i < size; ++i) {
          float* row = &float_block[i * dim];
          to_floats(row_pointers[i], data.type, dim, row);
          float sum = 0.0f;
          for (int d = 0; d < dim; ++d) sum = std::fma(row[d], row[d], sum);
          squared_norms[i] = sum;
        }
        pack_panels(float_block.data(), static_cast<int>(size), dim, panels);
        dots.resize(static_cast<size_t>(kDotChunkRows) * ldc);
        matrix.resize(static_cast<size_t>(size) * ldc);
      }
      // Each member against the whole block (both halves of the symmetric matrix: a row at a
      // time makes selection a streaming threshold test instead of sorted insertions).
      for (int64_t i = 0; i < size; ++i) {
        if (!two_pass && i % kDotChunkRows == 0) {
          // The dot matrix is symmetric: a chunk computes its rows' dots with columns from its
          // own first row on (half the products in all), keeps them, and mirrors them into the
          // rows of later chunks.
          const int64_t chunk = std::min<int64_t>(kDotChunkRows, size - i);
          const int a_rows = static_cast<int>((chunk + kDotBlockRows - 1) / kDotBlockRows * kDotBlockRows);
          const int first_panel = static_cast<int>(i / 16);
          const int width = (panels_count - first_panel) * 16;
          dot_block(&float_block[i * dim], a_rows, dim, &panels[static_cast<size_t>(first_panel) * dim * 16],
                    panels_count - first_panel, dots.data(), width);
          const int64_t columns = size - i;
          for (int64_t r = 0; r < chunk; ++r) {
            std::memcpy(&matrix[(i + r) * ldc + i], &dots[r * width], columns * sizeof(float));
          }
          for (int64_t j = i + chunk; j < size; ++j) {
            float* mirror = &matrix[j * ldc + i];
            for (int64_t r = 0; r < chunk; ++r) mirror[r] = dots[r * width + (j - i)];
          }
        }
        const int64_t v = ids[i];
        // Start from v's k-th distance so far (from its other clusters): nothing worse can enter.
        float threshold;
        __atomic_load(&graph.distances[v * k + k - 1], &threshold, __ATOMIC_RELAXED);
        if (two_pass) {
          // Rank the block by projected distance (negated dot product for inner product), then
          // exact distances for the shortlist only.
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
        } else {
          const float* row_dots = &matrix[i * ldc];
          if (metric == Metric::L2) {
            const float own = squared_norms[i];
            for (int64_t j = 0; j < size; ++j) {
              row_distances[j] = std::max(own + squared_norms[j] - 2.0f * row_dots[j], 0.0f);
            }
          } else if (metric == Metric::InnerProduct) {
            for (int64_t j = 0; j < size; ++j) row_distances[j] = -row_dots[j];
          } else {
            const float own = block_norms[i];
            for (int64_t j = 0; j < size; ++j) row_distances[j] = 1.0f - row_dots[j] * own * block_norms[j];
          }
          row_distances[i] = std::numeric_limits<float>::infinity();  // not its own neighbour
          best.select(row_distances.data(), static_cast<int>(size), threshold);
          for (int c = 0; c < best.size(); ++c) {
            best_ids[c] = ids[best.position(c)];
            best_distances[c] = best.distance(c);
          }
        }
        if (best.size() == 0) continue;
        locks[v].lock();
        merge_sorted(&graph.ids[v * k], &graph.distances[v * k], best_ids.data(), best_distances.data(), best.size(), k,
                     merged_ids.data(), merged_distances.data());
        locks[v].unlock();
      }
      reporter.add(size, thread);
    }
  });
  reporter.finish();
  timer.lap("clusters: all pairs inside %d clusters", clusters);
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
