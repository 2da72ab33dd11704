// Lloyd's k-means on sampled rows, and the two-level centroid tree built from it.
#include "host/cpu/partition/kmeans.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "host/cpu/distance/distance.hpp"
#include "host/cpu/distance/dot_block.hpp"
#include "host/cpu/parallel.hpp"
#include "host/cpu/all_pairs/float_dots.hpp"
#include "host/cpu/all_pairs/threshold_collect.hpp"

namespace annforge::cpu {

void row_as_float(const DatasetView& data, int64_t i, bool normalise, float* out) {
  const uint8_t* row = data.row(i);
  switch (data.type) {
    case ElementType::Float32: std::memcpy(out, row, data.dim * sizeof(float)); break;
    case ElementType::UInt8:
      for (int64_t c = 0; c < data.dim; ++c) out[c] = row[c];
      break;
    case ElementType::Int8:
      for (int64_t c = 0; c < data.dim; ++c) out[c] = static_cast<int8_t>(row[c]);
      break;
  }
  if (normalise) {
    // The vector kernel's squared norm (a scalar running sum here was a chain of dependent adds:
    // 1.5% of a 1M x 256 cosine build).
    static const PairKernel dot = kernels_for(ElementType::Float32).dot;
    const float norm = dot(out, out, static_cast<size_t>(data.dim));
    float scale = norm > 0.0f ? 1.0f / std::sqrt(norm) : 0.0f;
    for (int64_t c = 0; c < data.dim; ++c) out[c] *= scale;
  }
}

namespace {

// The default float path's bf16 dots (AMX, or vdpbf16ps without it); null on fp32.
const DefaultBf16Dots& bf16_dots() {
  static const DefaultBf16Dots dots = default_bf16_dots();
  return dots;
}

}  // namespace

void Centroids::refresh_norms(const KernelTable& f32) {
  if (bf16_dots().kernel != nullptr && count > 0) {
    // The bf16 path ranks by the norms of the centred, rounded values (bf16.squared_norms).
    mean_of_rows(values.data(), count, static_cast<int>(dim), centre);
    pack_bf16(values.data(), count, count, static_cast<int>(dim), centre.data(), bf16);
    squared_norms.clear();
    panels.clear();
    return;
  }
  // The fp32 path centres too: ||c||^2 - 2 <x, c> of rows far from the origin cancels in fp32
  // (at 1,000 from the origin in 96 dimensions the terms are ~10^8 and their ulp ~8, the
  // distances between neighbouring centroids ~100).
  if (count == 0) return;
  mean_of_rows(values.data(), count, static_cast<int>(dim), centre);
  std::vector<float> centred(values.size());
  for (int c = 0; c < count; ++c) {
    for (int64_t d = 0; d < dim; ++d) centred[c * dim + d] = values[c * dim + d] - centre[d];
  }
  squared_norms.resize(count);
  for (int c = 0; c < count; ++c) squared_norms[c] = f32.dot(&centred[c * dim], &centred[c * dim], dim);
  pack_panels(centred.data(), count, static_cast<int>(dim), panels);
}

namespace {

// Inserts (score, id) into a list of `want` sorted by score, if it belongs there.
inline void keep_nearest(float score, int id, int want, float* best, int* out) {
  if (!(score < best[want - 1])) return;
  int pos = want - 1;
  while (pos > 0 && score < best[pos - 1]) best[pos] = best[pos - 1], out[pos] = out[pos - 1], --pos;
  best[pos] = score;
  out[pos] = id;
}

}  // namespace

void Centroids::nearest_block(const float* rows, int count, int want, int* out, float* scores,
                              std::vector<float>& dots) const {
  thread_local std::vector<const float*> pointers;
  pointers.resize(count);
  for (int i = 0; i < count; ++i) pointers[i] = rows + static_cast<size_t>(i) * dim;
  nearest_rows(pointers.data(), count, want, out, scores, dots);
}

void Centroids::nearest_rows(const float* const* rows, int count, int want, int* out, float* scores,
                             std::vector<float>& dots) const {
  const int panel_total = panel_count(this->count);
  const int ldc = panel_total * 16;
  // Rows centred (and on the bf16 path rounded) as the centroids were, so that
  // ||c~||^2 - 2 <x~, c~> ranks the centroids as ||x - c||^2 does (to the rounding), plus
  // ||x~||^2 - ||x||^2 per row to give the scores ||c||^2 - 2 <x, c>.
  // Per-thread scratch: one Centroids serves every thread of nearest_of_all().
  thread_local std::vector<uint16_t> bf16_rows;
  thread_local std::vector<float> row_shift;
  if (!bf16.panels.empty()) {
    const int multiple = bf16_dots().rows_multiple;
    const int padded = (count + multiple - 1) / multiple * multiple;
    const int dim32 = bf16.dim32;
    // Only what round_row_bf16 leaves unwritten is zeroed: the padding rows, and the padding
    // dimensions where dim is not a multiple of 32 (a fill of the whole block per call was ~3%
    // of a 1M-row partition).
    bf16_rows.resize(static_cast<size_t>(padded) * dim32);
    if (dim32 != dim) {
      std::fill(bf16_rows.begin(), bf16_rows.end(), uint16_t{0});
    } else {
      std::fill(bf16_rows.begin() + static_cast<size_t>(count) * dim32, bf16_rows.end(), uint16_t{0});
    }
    row_shift.resize(count);
    const TileKernels* tiles = avx512_tile_kernels();
    const KernelTable& f32 = kernels_for(ElementType::Float32);
    for (int i = 0; i < count; ++i) {
      const float* x = rows[i];
      const float rounded_norm = tiles->round_row_bf16(x, centre.data(), 1.0f, static_cast<int>(dim), &bf16_rows[static_cast<size_t>(i) * dim32]);
      row_shift[i] = rounded_norm - f32.dot(x, x, dim);
    }
    dots.resize(static_cast<size_t>(padded) * ldc);
    bf16_dots().kernel(bf16_rows.data(), padded, dim32, bf16.panels.data(), panel_total, dots.data(), ldc);
  } else {
    const int padded = (count + kDotBlockRows - 1) / kDotBlockRows * kDotBlockRows;
    thread_local std::vector<float> gathered;
    gathered.resize(static_cast<size_t>(padded) * dim);
    row_shift.resize(count);
    const KernelTable& f32 = kernels_for(ElementType::Float32);
    for (int i = 0; i < count; ++i) {
      float* y = &gathered[static_cast<size_t>(i) * dim];
      for (int64_t d = 0; d < dim; ++d) y[d] = rows[i][d] - centre[d];
      row_shift[i] = f32.dot(y, y, dim) - f32.dot(rows[i], rows[i], dim);
    }
    std::fill(gathered.begin() + static_cast<size_t>(count) * dim, gathered.end(), 0.0f);
    dots.resize(static_cast<size_t>(padded) * ldc);
    dot_block_kernel()(gathered.data(), padded, static_cast<int>(dim), panels.data(), panel_total, dots.data(), ldc);
  }
  // Both paths rank by centred values; the row's shift gives ||c||^2 - 2 <x, c>.
  const float* norms = !bf16.panels.empty() ? bf16.squared_norms.data() : squared_norms.data();
  // Where the CPU has AVX-512 the wanted few are found by vector minima (the same result as
  // the insertion scan, whose unpredictable branches were its cost).
  static const FewSmallestKernel few_smallest = few_smallest_kernel();
  const bool vectorised = few_smallest != nullptr && this->count <= 256;
  for (int i = 0; i < count; ++i) {
    float* best = &scores[static_cast<size_t>(i) * want];
    int* ids = &out[static_cast<size_t>(i) * want];
    for (int w = 0; w < want; ++w) best[w] = std::numeric_limits<float>::infinity(), ids[w] = -1;
    float* row = &dots[static_cast<size_t>(i) * ldc];
    if (!vectorised) {
      for (int c = 0; c < this->count; ++c) keep_nearest(norms[c] - 2.0f * row[c], c, want, best, ids);
    } else {
      for (int c = 0; c < this->count; ++c) row[c] = norms[c] - 2.0f * row[c];
      few_smallest(row, this->count, want, ids, best);
    }
    for (int w = 0; w < want; ++w) best[w] += row_shift[i];
  }
}

void nearest_of_all(const Centroids& centroids, const float* points, int64_t count, int* out, float* scores,
                    int threads) {
  constexpr int64_t kBlock = 170 * kDotBlockRows;
  const int64_t dim = centroids.dim;
  parallel_for(count, threads, kBlock, [&](int64_t begin, int64_t end, int) {
    std::vector<float> dots, block_scores(end - begin);
    centroids.nearest_block(points + begin * dim, static_cast<int>(end - begin), 1, out + begin, block_scores.data(),
                            dots);
    if (scores) std::copy(block_scores.begin(), block_scores.end(), scores + begin);
  });
}

Centroids lloyd(const float* points, int64_t count, int64_t dim, int clusters, int iterations, int threads,
                std::mt19937_64& rng) {
  const KernelTable& f32 = kernels_for(ElementType::Float32);
  Centroids centroids;
  centroids.count = clusters;
  centroids.dim = dim;
  // Seeds: distinct random points.
  std::vector<int64_t> order(count);
  std::iota(order.begin(), order.end(), 0);
  centroids.values.resize(static_cast<size_t>(clusters) * dim);
  for (int c = 0; c < clusters; ++c) {
    std::uniform_int_distribution<int64_t> pick(c, count - 1);
    std::swap(order[c], order[pick(rng)]);
    std::memcpy(&centroids.values[static_cast<size_t>(c) * dim], points + order[c] * dim, dim * sizeof(float));
  }
  std::vector<int> label(count);
  std::uniform_int_distribution<int64_t> any(0, count - 1);
  for (int iteration = 0; iteration < iterations; ++iteration) {
    centroids.refresh_norms(f32);
    nearest_of_all(centroids, points, count, label.data(), nullptr, threads);
    std::vector<double> sums(static_cast<size_t>(clusters) * dim, 0.0);
    std::vector<int64_t> sizes(clusters, 0);
    for (int64_t i = 0; i < count; ++i) {
      double* sum = &sums[static_cast<size_t>(label[i]) * dim];
      const float* x = points + i * dim;
      for (int64_t c = 0; c < dim; ++c) sum[c] += x[c];
      ++sizes[label[i]];
    }
    for (int c = 0; c < clusters; ++c) {
      float* centroid = &centroids.values[static_cast<size_t>(c) * dim];
      if (sizes[c] == 0) {
        std::memcpy(centroid, points + any(rng) * dim, dim * sizeof(float));
        continue;
      }
      for (int64_t d = 0; d < dim; ++d) centroid[d] = static_cast<float>(sums[static_cast<size_t>(c) * dim + d] / sizes[c]);
    }
  }
  centroids.refresh_norms(f32);
  return centroids;
}

std::vector<float> sample_as_float(const DatasetView& data, int64_t count, bool normalise, std::mt19937_64& rng,
                                   std::vector<int64_t>* rows_out) {
  // Partial Fisher-Yates over the row ids.
  std::vector<int64_t> rows(data.rows);
  std::iota(rows.begin(), rows.end(), 0);
  std::vector<float> sample(count * data.dim);
  for (int64_t i = 0; i < count; ++i) {
    std::uniform_int_distribution<int64_t> pick(i, data.rows - 1);
    std::swap(rows[i], rows[pick(rng)]);
    row_as_float(data, rows[i], normalise, &sample[i * data.dim]);
  }
  rows.resize(count);
  if (rows_out) *rows_out = std::move(rows);
  return sample;
}

SampledCentroids kmeans_on_sample(const DatasetView& data, bool normalise, int clusters, int iterations, int threads,
                                  uint64_t seed) {
  const KernelTable& f32 = kernels_for(ElementType::Float32);
  const int64_t dim = data.dim;
  const int64_t count = std::min<int64_t>(data.rows, std::max<int64_t>(int64_t{clusters} * 40, 10000));
  std::mt19937_64 rng(seed);
  std::vector<int64_t> rows;
  std::vector<float> sample = sample_as_float(data, count, normalise, rng, &rows);
  SampledCentroids out;
  out.centroids = lloyd(sample.data(), count, dim, clusters, iterations, threads, rng);
  // Per centroid, the nearest sampled row among those it attracts (||x - c||^2 = ||x||^2 + score).
  std::vector<float> best(clusters, std::numeric_limits<float>::infinity());
  out.representatives.assign(clusters, kInvalidId);
  std::vector<int> label(count);
  std::vector<float> label_score(count);
  nearest_of_all(out.centroids, sample.data(), count, label.data(), label_score.data(), threads);
  for (int64_t i = 0; i < count; ++i) {
    const float* x = &sample[i * dim];
    const int c = label[i];
    float d = f32.dot(x, x, dim) + label_score[i];
    if (d < best[c]) best[c] = d, out.representatives[c] = static_cast<uint32_t>(rows[i]);
  }
  return out;
}

CentroidTree::CentroidTree(const DatasetView& data, bool normalise, int clusters, int iterations, int threads,
                           uint64_t seed) {
  const int64_t dim = data.dim;
  std::mt19937_64 rng(seed);
  if (clusters <= 256) {  // flat: one cell holding every centroid
    const int64_t count = std::min<int64_t>(data.rows, std::max<int64_t>(int64_t{clusters} * 40, 10000));
    std::vector<float> sample = sample_as_float(data, count, normalise, rng, nullptr);
    fine_.push_back(lloyd(sample.data(), count, dim, clusters, iterations, threads, rng));
    first_id_ = {0};
    count_ = clusters;
    return;
  }
  // Enough sample for ~24 points per fine centroid.
  const int64_t count = std::min<int64_t>(data.rows, int64_t{clusters} * 24);
  std::vector<float> sample = sample_as_float(data, count, normalise, rng, nullptr);
  const int cells = static_cast<int>(std::lround(std::sqrt(static_cast<double>(clusters))));
  coarse_ = lloyd(sample.data(), count, dim, cells, iterations, threads, rng);
  std::vector<int> cell_of(count);
  nearest_of_all(coarse_, sample.data(), count, cell_of.data(), nullptr, threads);
  std::vector<std::vector<float>> members(cells);
  for (int64_t i = 0; i < count; ++i) {
    members[cell_of[i]].insert(members[cell_of[i]].end(), &sample[i * dim], &sample[(i + 1) * dim]);
  }
  for (int cell = 0; cell < cells; ++cell) {
    const int64_t size = static_cast<int64_t>(members[cell].size() / dim);
    first_id_.push_back(count_);
    const int want = static_cast<int>(std::clamp<int64_t>(std::llround(static_cast<double>(clusters) * size / count), size > 0, size));
    fine_.push_back(want > 0 ? lloyd(members[cell].data(), size, dim, want, iterations, threads, rng) : Centroids{});
    count_ += want;
  }
  probes_ = 3;  // neighbours that straddle a cell border still find their own centroids
}

void CentroidTree::nearest_batch(const float* rows, int64_t count, int want, int* out) const {
  const int64_t dim = coarse_.dim > 0 ? coarse_.dim : fine_[0].dim;
  // Rows are taken in blocks of pointers (Centroids::nearest_rows): each cell's rows are met
  // where they are, not copied (the copies and their fills were ~10% of a 1M-row partition).
  constexpr int kBlock = 1024;
  std::vector<float> dots, gathered_scores, best(static_cast<size_t>(kBlock) * want);
  std::vector<const float*> block_rows, cell_rows;
  std::vector<int> cells, local, order, cell_starts;
  std::vector<float> cell_scores;
  for (int64_t first = 0; first < count; first += kBlock) {
    const int block = static_cast<int>(std::min<int64_t>(kBlock, count - first));
    block_rows.resize(block);
    for (int i = 0; i < block; ++i) block_rows[i] = rows + (first + i) * dim;
    int* block_out = out + first * want;
    if (fine_.size() == 1) {
      fine_[0].nearest_rows(block_rows.data(), block, want, block_out, best.data(), dots);
      continue;
    }
    const int probes = std::min(probes_, coarse_.count);
    cells.resize(static_cast<size_t>(block) * probes);
    cell_scores.resize(static_cast<size_t>(block) * probes);
    coarse_.nearest_rows(block_rows.data(), block, probes, cells.data(), cell_scores.data(), dots);
    for (int i = 0; i < block * want; ++i) best[i] = std::numeric_limits<float>::infinity(), block_out[i] = -1;
    // (cell, row) pairs grouped by cell, in row order within a cell (a counting sort).
    order.resize(static_cast<size_t>(block) * probes);
    cell_starts.assign(static_cast<size_t>(coarse_.count) + 1, 0);
    for (int pair = 0; pair < block * probes; ++pair) ++cell_starts[cells[pair] + 1];
    for (int cell = 0; cell < coarse_.count; ++cell) cell_starts[cell + 1] += cell_starts[cell];
    for (int pair = 0; pair < block * probes; ++pair) order[cell_starts[cells[pair]]++] = pair;
    for (size_t start = 0; start < order.size();) {
      const int cell = cells[order[start]];
      size_t stop = start;
      while (stop < order.size() && cells[order[stop]] == cell) ++stop;
      const Centroids& fine = fine_[cell];
      const int members = static_cast<int>(stop - start);
      if (fine.count > 0) {
        cell_rows.resize(members);
        for (int m = 0; m < members; ++m) cell_rows[m] = block_rows[order[start + m] / probes];
        const int fine_want = std::min(want, fine.count);
        local.resize(static_cast<size_t>(members) * fine_want);
        gathered_scores.resize(static_cast<size_t>(members) * fine_want);
        fine.nearest_rows(cell_rows.data(), members, fine_want, local.data(), gathered_scores.data(), dots);
        for (int m = 0; m < members; ++m) {
          const int row = order[start + m] / probes;
          for (int w = 0; w < fine_want && local[m * fine_want + w] >= 0; ++w) {
            keep_nearest(gathered_scores[m * fine_want + w], first_id_[cell] + local[m * fine_want + w], want,
                         &best[static_cast<size_t>(row) * want], &block_out[static_cast<size_t>(row) * want]);
          }
        }
      }
      start = stop;
    }
  }
}

}  // namespace annforge::cpu
