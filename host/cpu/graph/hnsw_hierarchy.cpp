// The hierarchy of hnsw_hierarchy.hpp.
#include "host/cpu/graph/hnsw_hierarchy.hpp"

#include <algorithm>
#include <cstring>

namespace annforge::cpu {

namespace {

// Level `level`'s graph over `members` (ascending rows of `index`), built by the flat pipeline.
UpperLevel build_level(const Index& index, std::vector<uint32_t> members, int m, uint64_t seed, int threads,
                       const FlatBuild& build_flat) {
  UpperLevel level;
  level.members = std::move(members);
  const int64_t count = static_cast<int64_t>(level.members.size());
  level.degree = static_cast<int>(std::min<int64_t>(m, count - 1));
  if (level.degree <= 0) return level;  // one member: nothing to link
  const DatasetView& data = index.vectors.view();
  const size_t row_bytes = data.row_bytes();
  Index sub;
  sub.metric = index.metric;
  sub.vectors = Dataset::allocate(count, data.dim, data.type);
  auto* bytes = static_cast<uint8_t*>(sub.vectors.mutable_data());
  for (int64_t i = 0; i < count; ++i) std::memcpy(bytes + i * row_bytes, data.row(level.members[i]), row_bytes);
  BuildParams params;
  params.metric = index.metric;
  params.graph_degree = level.degree;
  params.threads = threads;
  params.seed = seed;
  build_flat(sub, params);
  level.degree = sub.graph_degree;
  level.graph = std::move(sub.graph);
  return level;
}

}  // namespace

HnswHierarchy build_hnsw_hierarchy(const Index& index, uint64_t seed, int threads, const FlatBuild& build_flat) {
  HnswHierarchy out;
  const int64_t rows = index.rows();
  out.m = std::max(1, index.graph_degree / 2);
  const int rule_m = std::max(2, out.m);  // HNSW's level rule needs m >= 2
  out.top_level.assign(rows, 0);
  const bool own_level_one = !index.levels.empty() && index.levels[0].degree <= out.m;
  if (own_level_one) {
    // Level 1 as the index has it; above it, each member climbs on with probability 1/m per level.
    for (uint32_t r : index.levels[0].members) {
      out.top_level[r] = static_cast<uint8_t>(std::min(1 + level_of_row(r, seed ^ 0xA11u, rule_m), 32));
    }
  } else {
    for (int64_t r = 0; r < rows; ++r) {
      out.top_level[r] = static_cast<uint8_t>(std::min(level_of_row(static_cast<uint32_t>(r), seed, rule_m), 32));
    }
  }
  // The descent starts at the vector nearest the centroid, lifted to the top.
  out.entry = index.entry_points.empty() ? 0 : index.entry_points[0];
  const int top = *std::max_element(out.top_level.begin(), out.top_level.end());
  out.top_level[out.entry] = static_cast<uint8_t>(top);
  for (int level = 1; level <= top; ++level) {
    if (level == 1 && own_level_one && out.top_level[out.entry] >= 1 &&
        std::binary_search(index.levels[0].members.begin(), index.levels[0].members.end(), out.entry)) {
      out.levels.push_back(index.levels[0]);
      continue;
    }
    std::vector<uint32_t> members;
    for (int64_t r = 0; r < rows; ++r) {
      if (out.top_level[r] >= level) members.push_back(static_cast<uint32_t>(r));
    }
    out.levels.push_back(build_level(index, std::move(members), out.m, seed + static_cast<uint64_t>(level), threads,
                                     build_flat));
  }
  return out;
}

}  // namespace annforge::cpu
