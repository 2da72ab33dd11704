// annforge gen: deterministic synthetic clustered vectors (a Gaussian mixture), so the demo and
// tests need no download. Queries come from the same mixture through a separate random stream.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

#include "annforge.hpp"
#include "host/cli/args.hpp"
#include "host/cli/commands.hpp"
#include "host/cli/json.hpp"

namespace annforge::cli {
namespace {

// Cluster centres spread in a unit cube; each cluster's points vary mostly along a few random
// directions of its own (a low-rank Gaussian) plus faint isotropic noise, so the data has the
// low intrinsic dimension of real embeddings rather than the unsearchable uniform spread of
// pure noise. For uint8 the values are scaled to [0, 255] and rounded.
Dataset mixture(int64_t rows, int64_t dim, int clusters, ElementType type, uint64_t seed, uint64_t stream) {
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
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + stream);
  std::uniform_int_distribution<int> pick(0, clusters - 1);
  std::normal_distribution<float> noise(0.0f, 0.01f);
  Dataset out = Dataset::allocate(rows, dim, type);
  std::vector<float> z(rank), point(dim);
  for (int64_t i = 0; i < rows; ++i) {
    const int cluster = pick(rng);
    const float* centre = &centres[static_cast<size_t>(cluster) * dim];
    const float* basis = &directions[static_cast<size_t>(cluster) * rank * dim];
    for (auto& value : z) value = gaussian(rng);
    for (int64_t c = 0; c < dim; ++c) point[c] = centre[c] + noise(rng);
    for (int64_t r = 0; r < rank; ++r) {
      for (int64_t c = 0; c < dim; ++c) point[c] += z[r] * basis[r * dim + c];
    }
    for (int64_t c = 0; c < dim; ++c) {
      if (type == ElementType::Float32) {
        static_cast<float*>(out.mutable_data())[i * dim + c] = point[c];
      } else {
        float scaled = std::round(std::fmin(std::fmax(point[c], 0.0f), 1.0f) * 255.0f);
        static_cast<uint8_t*>(out.mutable_data())[i * dim + c] = static_cast<uint8_t>(scaled);
      }
    }
  }
  return out;
}

}  // namespace

int run_generate(int argc, char** argv) {
  Args args("gen", argc, argv, {"n", "dim", "out", "queries", "queries-out", "clusters", "type", "seed"}, {"json"});
  const int64_t rows = args.integer("n", 0, 1, int64_t{1} << 32);
  const int64_t dim = args.integer("dim", 0, 1, 65536);
  if (!args.has("n")) throw Error(ErrorCode::InvalidArgument, "'annforge gen' needs --n");
  if (!args.has("dim")) throw Error(ErrorCode::InvalidArgument, "'annforge gen' needs --dim");
  const std::string out_path = args.required("out");
  const int64_t query_rows = args.integer("queries", 0, 0, int64_t{1} << 32);
  const std::string queries_path = query_rows > 0 ? args.required("queries-out") : "";
  const int clusters = static_cast<int>(args.integer("clusters", std::max<int64_t>(8, rows / 2000), 1, 1 << 24));
  const std::string type_name = args.text("type", "float32");
  ElementType type;
  if (type_name == "float32") type = ElementType::Float32;
  else if (type_name == "uint8") type = ElementType::UInt8;
  else throw Error(ErrorCode::InvalidArgument, "--type: unknown value '" + type_name + "' (expected float32 or uint8)");
  const uint64_t seed = static_cast<uint64_t>(args.integer("seed", 7, 0, INT64_MAX));

  write_vectors(out_path, mixture(rows, dim, clusters, type, seed, 1).view());
  if (query_rows > 0) write_vectors(queries_path, mixture(query_rows, dim, clusters, type, seed, 2).view());
  if (args.has("json")) {
    JsonObject o;
    o.add("command", "gen").add("out", out_path).add("rows", static_cast<long long>(rows)).add("dim", static_cast<long long>(dim));
    o.add("clusters", clusters).add("type", type_name);
    if (query_rows > 0) o.add("queries_out", queries_path).add("queries", static_cast<long long>(query_rows));
    std::printf("%s\n", o.str().c_str());
  } else {
    std::printf("generated %lld x %lld %s vectors in %d clusters: %s", static_cast<long long>(rows),
                static_cast<long long>(dim), type_name.c_str(), clusters, out_path.c_str());
    if (query_rows > 0) std::printf(" (+ %lld queries: %s)", static_cast<long long>(query_rows), queries_path.c_str());
    std::printf("\n");
  }
  return 0;
}

}  // namespace annforge::cli
