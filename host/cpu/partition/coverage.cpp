// The kNN coverage of a partition, estimated on a sample (coverage.hpp).
#include "host/cpu/partition/coverage.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <random>
#include <utility>

#include "host/cpu/all_pairs/pair_tiles.hpp"
#include "host/cpu/distance/dot_block.hpp"
#include "host/cpu/parallel.hpp"
#include "host/cpu/partition/kmeans.hpp"
#include "kernels/shared/neighbor_list.hpp"

namespace annforge::cpu {

namespace {

// The k best (score, row) of one sampled row, sorted; scores compare as core::nearer does, so
// the result does not depend on the order in which blocks arrive.
struct Best {
  std::vector<std::pair<float, uint32_t>> items;
  float threshold = std::numeric_limits<float>::infinity();
};

void offer(Best& best, int k, float score, uint32_t row) {
  auto nearer = [](const std::pair<float, uint32_t>& a, const std::pair<float, uint32_t>& b) {
    return core::nearer(a.first, a.second, b.first, b.second);
  };
  const std::pair<float, uint32_t> item{score, row};
  if (static_cast<int>(best.items.size()) == k && !nearer(item, best.items.back())) return;
  best.items.insert(std::upper_bound(best.items.begin(), best.items.end(), item, nearer), item);
  if (static_cast<int>(best.items.size()) > k) best.items.pop_back();
  if (static_cast<int>(best.items.size()) == k) best.threshold = best.items.back().first;
}

}  // namespace

SampleNeighbours sample_neighbours(const DatasetView& data, Metric metric, int samples, int k, int threads,
                                   uint64_t seed) {
  SampleNeighbours result;
  samples = static_cast<int>(std::min<int64_t>(samples, data.rows));
  k = static_cast<int>(std::min<int64_t>(k, data.rows - 1));
  if (samples <= 0 || k <= 0) return result;
  result.k = k;
  // Rows compared as the partition clusters them: by direction for cosine; L2 and inner
  // product on the raw values. Scores, smaller nearer: L2 |x|^2 - 2 <x, s> (|s|^2 is the same
  // for all of a sample's candidates), cosine and inner product -<x, s>.
  const bool normalise = metric == Metric::Cosine;
  const int64_t dim = data.dim;
  std::mt19937_64 rng(seed ^ 0x5A3Bu);
  std::vector<int64_t> picked;
  const std::vector<float> sampled = sample_as_float(data, samples, normalise, rng, &picked);
  result.rows.assign(picked.begin(), picked.end());
  std::vector<float> panels;
  pack_panels(sampled.data(), samples, static_cast<int>(dim), panels);
  const int panel_total = panel_count(samples);
  const int ldc = panel_total * 16;
  const DotBlockKernel kernel = dot_block_kernel();
  // Float rows in bf16 where the default float path is (AMX: about five times the fp32 tiles;
  // vdpbf16ps; the neighbours only rank what the partition tries): bf16 rows against bf16
  // samples, L2 rows centred on the samples' mean first (|x - m|^2 - 2 <x - m, s - m> ranks as
  // |x|^2 - 2 <x, s> does, and keeps the rounding to the data's spread, not its distance from
  // the origin).
  const DefaultBf16Dots bf16 = data.type == ElementType::Float32 ? default_bf16_dots() : DefaultBf16Dots{};
  const TileKernels* tiles = bf16.kernel != nullptr ? avx512_tile_kernels() : nullptr;
  // 8-bit rows compared as they are (L2, inner product) on AMX-INT8 where the CPU has it: exact
  // integer dots, as the fp32 tiles give them on 8-bit values, at several times the speed.
  const ByteDotsKernel byte_dots =
      data.type != ElementType::Float32 && !normalise && avx512_tile_kernels() != nullptr ? amx_byte_dots_kernel()
                                                                                          : nullptr;
  BytePack sample_bytes;
  if (byte_dots != nullptr) {
    std::vector<const void*> pointers(samples);
    for (int s = 0; s < samples; ++s) pointers[s] = data.row(picked[s]);
    pack_bytes(pointers.data(), samples, samples, static_cast<int>(dim), data.type, sample_bytes, 64);
  }
  std::vector<float> centre;
  Bf16Pack sample_pack;
  if (tiles != nullptr) {
    // Cosine and inner product centre the rows only (<x, s> = <x - m, s> + <m, s>, the last
    // the same for all of a sample's candidates): rows near one common direction keep their
    // angles in bf16 (without it, rows with a common part 30x their spread lost them).
    mean_of_rows(sampled.data(), samples, static_cast<int>(dim), centre);
    pack_bf16(sampled.data(), samples, samples, static_cast<int>(dim), metric == Metric::L2 ? centre.data() : nullptr,
              sample_pack);
  }

  const int workers = resolve_threads(threads);
  std::vector<std::vector<Best>> per_thread(workers, std::vector<Best>(samples));
  constexpr int64_t kBlock = 16 * kDotBlockRows * 4;  // rows per kernel call
  parallel_for(data.rows, workers, kBlock, [&](int64_t begin, int64_t end, int thread) {
    std::vector<float> rows(static_cast<size_t>(kBlock) * dim), dots(static_cast<size_t>(kBlock) * ldc);
    std::vector<float> norms(kBlock);
    std::vector<uint16_t> rounded(tiles != nullptr ? static_cast<size_t>(kBlock) * sample_pack.dim32 : 0);
    std::vector<const void*> pointers(byte_dots != nullptr ? kBlock : 0);
    BytePack block_bytes;
    std::vector<Best>& best = per_thread[thread];
    for (int64_t first = begin; first < end; first += kBlock) {
      const int count = static_cast<int>(std::min<int64_t>(kBlock, end - first));
      if (byte_dots != nullptr) {
        const int padded = (count + kAmxTileRows - 1) / kAmxTileRows * kAmxTileRows;
        for (int i = 0; i < count; ++i) {
          pointers[i] = data.row(first + i);
          // The squared norm as an integer: exact, then one rounding to float.
          int64_t norm = 0;
          if (metric == Metric::L2) {
            for (int64_t c = 0; c < dim; ++c) {
              const int value = data.type == ElementType::UInt8 ? static_cast<const uint8_t*>(pointers[i])[c]
                                                                : static_cast<const int8_t*>(pointers[i])[c];
              norm += value * value;
            }
          }
          norms[i] = static_cast<float>(norm);
        }
        pack_bytes(pointers.data(), count, padded, static_cast<int>(dim), data.type, block_bytes, 64);
        byte_dots(tile_block(block_bytes), padded, tile_block(sample_bytes), panel_total, dots.data(), ldc);
      } else if (tiles != nullptr) {
        const int padded = (count + bf16.rows_multiple - 1) / bf16.rows_multiple * bf16.rows_multiple;
        std::fill(rounded.begin() + static_cast<size_t>(count) * sample_pack.dim32, rounded.end(), uint16_t{0});
        for (int i = 0; i < count; ++i) {
          float* x = &rows[static_cast<size_t>(i) * dim];
          row_as_float(data, first + i, normalise, x);
          const float norm = tiles->round_row_bf16(x, centre.data(), 1.0f, static_cast<int>(dim),
                                                   &rounded[static_cast<size_t>(i) * sample_pack.dim32]);
          norms[i] = metric == Metric::L2 ? norm : 0.0f;
        }
        bf16.kernel(rounded.data(), padded, sample_pack.dim32, sample_pack.panels.data(), panel_total, dots.data(), ldc);
      } else {
        const int padded = (count + kDotBlockRows - 1) / kDotBlockRows * kDotBlockRows;
        std::fill(rows.begin() + static_cast<size_t>(count) * dim, rows.begin() + static_cast<size_t>(padded) * dim, 0.0f);
        for (int i = 0; i < count; ++i) {
          float* x = &rows[static_cast<size_t>(i) * dim];
          row_as_float(data, first + i, normalise, x);
          float norm = 0.0f;
          if (metric == Metric::L2) {
            for (int64_t c = 0; c < dim; ++c) norm += x[c] * x[c];
          }
          norms[i] = norm;
        }
        kernel(rows.data(), padded, static_cast<int>(dim), panels.data(), panel_total, dots.data(), ldc);
      }
      for (int i = 0; i < count; ++i) {
        const uint32_t row = static_cast<uint32_t>(first + i);
        const float* dot = &dots[static_cast<size_t>(i) * ldc];
        for (int s = 0; s < samples; ++s) {
          const float score = norms[i] - (metric == Metric::L2 ? 2.0f : 1.0f) * dot[s];
          if (score <= best[s].threshold && row != result.rows[s]) offer(best[s], k, score, row);
        }
      }
    }
  });
  result.neighbours.assign(static_cast<size_t>(samples) * k, kInvalidId);
  for (int s = 0; s < samples; ++s) {
    Best merged;
    for (int t = 0; t < workers; ++t) {
      for (const auto& [score, row] : per_thread[t][s].items) offer(merged, k, score, row);
    }
    for (size_t j = 0; j < merged.items.size(); ++j) result.neighbours[static_cast<size_t>(s) * k + j] = merged.items[j].second;
  }
  return result;
}

std::vector<double> neighbour_coverage(const DatasetView& data, bool normalise, const CentroidTree& tree,
                                       const SampleNeighbours& sample, int max_overlap) {
  const int samples = static_cast<int>(sample.rows.size());
  const int choices = std::min(max_overlap, tree.count());
  std::vector<double> fractions(std::max(max_overlap, 0), 1.0);
  if (samples == 0 || choices <= 0) return fractions;
  // The nearest centroids of every sampled row and of each of its neighbours.
  const int per_sample = 1 + sample.k;
  const int64_t dim = data.dim;
  const int64_t points = static_cast<int64_t>(samples) * per_sample;
  std::vector<float> rows(static_cast<size_t>(points) * dim, 0.0f);
  std::vector<uint8_t> present(points, 0);
  for (int s = 0; s < samples; ++s) {
    for (int j = 0; j < per_sample; ++j) {
      const uint32_t row = j == 0 ? sample.rows[s] : sample.neighbours[static_cast<size_t>(s) * sample.k + j - 1];
      if (row >= data.rows) continue;
      present[s * per_sample + j] = 1;
      row_as_float(data, row, normalise, &rows[(s * per_sample + j) * dim]);
    }
  }
  std::vector<int> nearest(static_cast<size_t>(points) * choices, -1);
  tree.nearest_batch(rows.data(), points, choices, nearest.data());
  std::vector<int64_t> covered(choices, 0);
  int64_t pairs = 0;
  for (int s = 0; s < samples; ++s) {
    const int* mine = &nearest[static_cast<size_t>(s) * per_sample * choices];
    for (int j = 1; j < per_sample; ++j) {
      if (!present[s * per_sample + j]) continue;
      ++pairs;
      const int* theirs = &nearest[(static_cast<size_t>(s) * per_sample + j) * choices];
      // The first overlap at which the two share a cluster: over shared centroids, the
      // smallest of the larger of the two ranks.
      int first = choices;
      for (int a = 0; a < choices; ++a) {
        for (int b = 0; b < choices; ++b) {
          if (mine[a] >= 0 && mine[a] == theirs[b]) first = std::min(first, std::max(a, b));
        }
      }
      for (int o = first; o < choices; ++o) ++covered[o];
    }
  }
  for (int o = 0; o < choices; ++o) fractions[o] = pairs ? static_cast<double>(covered[o]) / pairs : 1.0;
  return fractions;
}

int overlap_for_coverage(const std::vector<double>& covered, int lowest, int highest, double target) {
  for (int o = lowest; o < highest; ++o) {
    if (o - 1 < static_cast<int>(covered.size()) && covered[o - 1] >= target) return o;
  }
  return highest;
}

}  // namespace annforge::cpu
