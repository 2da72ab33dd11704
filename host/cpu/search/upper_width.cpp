// The measurement of upper_width.hpp.
#include "host/cpu/search/upper_width.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "host/cpu/distance/distance.hpp"
#include "host/cpu/partition/reorder.hpp"
#include "host/cpu/search/beam_search.hpp"

namespace annforge::cpu {

std::vector<float> miss_bounds(const Index& index, const Distance& distance, const std::vector<uint32_t>& rows,
                               float tolerance) {
  std::vector<float> bounds(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    const uint32_t* list = index.neighbors(rows[i]);
    float best = distance.between(rows[i], list[0]);
    for (int e = 1; e < index.graph_degree; ++e) best = std::min(best, distance.between(rows[i], list[e]));
    bounds[i] = best + tolerance * std::abs(best) + 1e-30f;
  }
  return bounds;
}

int count_missed(const std::vector<uint32_t>& rows, const std::vector<float>& bounds, const uint32_t* ids,
                 const float* distances, int k) {
  int missed = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    bool found = false;
    for (int j = 0; j < k && !found; ++j) {
      const size_t at = i * k + j;
      found = ids[at] == rows[i] || (ids[at] != kInvalidId && distances[at] <= bounds[i]);
    }
    missed += found ? 0 : 1;
  }
  return missed;
}

UpperWidthMeasurement measure_upper_width(const Index& index, int threads, uint64_t seed) {
  UpperWidthMeasurement result;
  const int64_t rows = index.rows();
  const int degree = index.graph_degree;
  if (index.levels.empty() || rows < 2 || degree == 0) return result;
  const DatasetView& base = index.vectors.view();
  const int samples = static_cast<int>(std::min<int64_t>(1000, rows));
  // Distinct rows, a seeded partial shuffle.
  std::vector<uint32_t> picked(rows);
  std::iota(picked.begin(), picked.end(), 0u);
  std::mt19937_64 rng(seed ^ 0x0FF1CE5EEDull);
  for (int i = 0; i < samples; ++i) {
    std::uniform_int_distribution<int64_t> pick(i, rows - 1);
    std::swap(picked[i], picked[pick(rng)]);
  }
  picked.resize(samples);
  const Dataset queries = gather_rows(base, picked.data(), samples, threads);

  Distance distance(index.metric, base);
  // Each sampled row's nearest graph neighbour: what a walk that reached the row's
  // neighbourhood finds (or something nearer).
  const std::vector<float> bounds = miss_bounds(index, distance, picked, 1e-5f);

  const int k = static_cast<int>(std::min<int64_t>(10, rows));
  std::vector<uint32_t> ids(static_cast<size_t>(samples) * k);
  std::vector<float> distances(ids.size());
  // The share of the sample a search at (base beam, divisor) misses.
  auto missed_share = [&](int beam_width, int divisor) {
    BeamSearchParams params;
    params.k = k;
    params.beam_width = beam_width;
    params.threads = threads;
    params.upper_width_divisor = divisor;
    beam_search(graph_of(index), distance, queries.view(), params, {}, ids.data(), distances.data(), &index.levels);
    return static_cast<double>(count_missed(picked, bounds, ids.data(), distances.data(), k)) / samples;
  };
  const int divisors[3] = {4, 2, 1};
  for (int d = 0; d < 3; ++d) result.missed[d] = missed_share(16, divisors[d]);
  result.missed_wider_base = missed_share(32, 4);
  result.missed_narrower = missed_share(32, 8);
  result.samples = samples;
  result.divisor = divisor_for(result.missed, result.missed_wider_base, result.missed_narrower);
  return result;
}

int divisor_for(const std::array<double, 3>& missed, double missed_wider_base, double missed_narrower) {
  // 0.01: a narrower beam that misses one row in a hundred more than the widest is not worth
  // its speed (1M x 64 in 5,000 clusters: 0.177 / 0.079 / 0.020, base beam 32 0.07 -> 1); SIFT's
  // 0.007 / 0.005 / 0.005 is noise at 1,000 rows (-> 4).
  const int quarter = missed_narrower <= missed_wider_base + 0.002 ? 8 : 4;
  if (missed[2] >= missed_wider_base) return quarter;
  if (missed[0] <= missed[2] + 0.01) return quarter;
  if (missed[1] <= missed[2] + 0.01) return 2;
  return 1;
}

}  // namespace annforge::cpu
