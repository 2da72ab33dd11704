// The mixture of mixture.hpp.
#include "host/cli/mixture.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "host/cpu/parallel.hpp"

namespace annforge::cli {

Dataset generate_mixture(int64_t rows, int64_t dim, int clusters, ElementType type, uint64_t seed, uint64_t stream,
                         int threads) {
  const int64_t rank = std::min<int64_t>(dim, 12);
  std::mt19937_64 model_rng(seed);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  std::normal_distribution<float> gaussian(0.0f, 1.0f);
  std::vector<float> centres(static_cast<size_t>(clusters) * dim);
  for (float& c : centres) c = uniform(model_rng);
  // Per cluster: `rank` directions of length ~0.15 (spread along them) over `dim` coordinates.
  std::vector<float> directions(static_cast<size_t>(clusters) * rank * dim);
  const float scale = 0.15f / std::sqrt(static_cast<float>(dim));
  for (float& d : directions) d = gaussian(model_rng) * scale * std::sqrt(static_cast<float>(dim) / rank);
  Dataset out = Dataset::allocate(rows, dim, type);
  void* data = out.mutable_data();
  constexpr int64_t kBlock = 65536;
  const int64_t blocks = (rows + kBlock - 1) / kBlock;
  cpu::parallel_for(blocks, threads, 1, [&](int64_t first_block, int64_t end_block, int) {
    for (int64_t block = first_block; block < end_block; ++block) {
      std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + stream * 0x100000001B3ull + static_cast<uint64_t>(block));
      std::uniform_int_distribution<int> pick(0, clusters - 1);
      std::normal_distribution<float> normal(0.0f, 1.0f);
      std::normal_distribution<float> noise(0.0f, 0.01f);
      std::vector<float> z(rank), point(dim);
      for (int64_t i = block * kBlock; i < std::min(rows, (block + 1) * kBlock); ++i) {
        const int cluster = pick(rng);
        const float* centre = &centres[static_cast<size_t>(cluster) * dim];
        const float* basis = &directions[static_cast<size_t>(cluster) * rank * dim];
        for (auto& value : z) value = normal(rng);
        for (int64_t c = 0; c < dim; ++c) point[c] = centre[c] + noise(rng);
        for (int64_t r = 0; r < rank; ++r) {
          for (int64_t c = 0; c < dim; ++c) point[c] += z[r] * basis[r * dim + c];
        }
        for (int64_t c = 0; c < dim; ++c) {
          if (type == ElementType::Float32) {
            static_cast<float*>(data)[i * dim + c] = point[c];
          } else {
            const float scaled = std::round(std::fmin(std::fmax(point[c], 0.0f), 1.0f) * 255.0f);
            static_cast<uint8_t*>(data)[i * dim + c] = static_cast<uint8_t>(scaled);
          }
        }
      }
    }
  });
  return out;
}

void add_exact_duplicates(Dataset& data, double fraction, uint64_t seed) {
  const int64_t rows = data.rows();
  const int64_t copies = std::min<int64_t>(rows - 1, static_cast<int64_t>(std::llround(fraction * rows)));
  if (copies <= 0) return;
  std::mt19937_64 rng(seed ^ 0xD0B1E5C0FFEEull);
  std::vector<int64_t> order(rows);
  std::iota(order.begin(), order.end(), int64_t{0});
  std::shuffle(order.begin(), order.end(), rng);
  // order[0, rows - copies) keep their values and serve as sources; the rest become copies.
  const int64_t sources = rows - copies;
  std::uniform_int_distribution<int64_t> pick(0, sources - 1);
  auto* bytes = static_cast<uint8_t*>(data.mutable_data());
  const size_t row_bytes = data.view().row_bytes();
  for (int64_t i = sources; i < rows; ++i) {
    std::memcpy(bytes + order[i] * row_bytes, bytes + order[pick(rng)] * row_bytes, row_bytes);
  }
}

}  // namespace annforge::cli
