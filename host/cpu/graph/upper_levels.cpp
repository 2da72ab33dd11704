// The upper levels of upper_levels.hpp.
#include "host/cpu/graph/upper_levels.hpp"

#include <algorithm>
#include <cmath>

#include "host/cpu/partition/reorder.hpp"
#include "host/cpu/random.hpp"
#include "host/env_knob.hpp"

namespace annforge::cpu {

int level_of_row(uint32_t row, uint64_t seed, int m) {
  // 53 random bits, shifted into (0, 1]: -ln(u) stays finite.
  const uint64_t bits = mix64(seed * 0x9E3779B97F4A7C15ull ^ (uint64_t{row} + 0x5EED1E7E15ull)) >> 11;
  const double u = (static_cast<double>(bits) + 1.0) / 9007199254740992.0;
  return static_cast<int>(std::floor(-std::log(u) / std::log(static_cast<double>(m))));
}

UpperLevel build_level(const Index& index, std::vector<uint32_t> members, const BuildParams& params,
                       const FlatBuild& build_flat) {
  UpperLevel level;
  level.members = std::move(members);
  const int64_t count = static_cast<int64_t>(level.members.size());
  if (count < 2 || params.graph_degree <= 0) return level;  // one member: nothing to link
  Index sub;
  sub.metric = index.metric;
  sub.vectors = gather_rows(index.vectors.view(), level.members.data(), count, params.threads);
  BuildParams level_params = params;
  level_params.metric = index.metric;
  level_params.graph_degree = static_cast<int>(std::min<int64_t>(params.graph_degree, count - 1));
  build_flat(sub, level_params);
  level.degree = sub.graph_degree;
  level.graph = std::move(sub.graph);
  return level;
}

int64_t levels_cover(const Index& index) {
  if (index.levels.empty()) return 0;
  const int64_t members = static_cast<int64_t>(index.levels[0].members.size());
  const int64_t entries = static_cast<int64_t>(index.entry_points.size());
  return std::max<int64_t>(members - entries, 0) * std::max(2, index.graph_degree / 2);
}

std::vector<UpperLevel> build_upper_levels(const Index& index, const BuildParams& params, const FlatBuild& build_flat) {
  std::vector<UpperLevel> levels;
  const int64_t rows = index.rows();
  if (rows < 2 || index.entry_points.empty() || index.graph_degree == 0) return levels;
  const int m = std::max(2, index.graph_degree / 2);
  // Level 1: the rows HNSW's rule lifts (1 in m), and every entry point, so that the entry
  // points' scan can seed a search on level 1.
  std::vector<uint8_t> member(rows, 0);
  for (int64_t r = 0; r < rows; ++r) member[r] = level_of_row(static_cast<uint32_t>(r), params.seed, m) >= 1;
  for (uint32_t e : index.entry_points) member[e] = 1;
  std::vector<uint32_t> sorted_entries = index.entry_points;
  std::sort(sorted_entries.begin(), sorted_entries.end());
  UpperLevel upper;
  for (int64_t r = 0; r < rows; ++r) {
    if (member[r]) upper.members.push_back(static_cast<uint32_t>(r));
  }
  const int64_t count = static_cast<int64_t>(upper.members.size());
  // A level no smaller than the graph below it would only repeat it.
  if (count < 2 || count * 2 > rows) return levels;
  BuildParams level_params = params;
  level_params.graph_degree = upper_level_degree(index.graph_degree);
  level_params.intermediate_degree = 0;
  level_params.progress = nullptr;
  level_params.partitions = 1;  // a level is a small fraction of the rows: one piece
  level_params.seed = params.seed + 1;
  // Level l + 1: the rows of level l lifted once more (1 in m^(l+1) of all rows) and every entry
  // point again; level 2 always (where it is small enough), higher levels while the top holds
  // more than kMaxTopRows.
  const int most_levels = std::min(kMaxLevels, detail::env_knob("ANNFORGE_CPU_LEVELS", kMaxLevels));
  std::vector<uint32_t> below = std::move(upper.members);
  int64_t below_count = count;
  for (int level = 1; level <= most_levels; ++level) {
    std::vector<uint32_t> next;
    if (level < most_levels && (level == 1 || below_count > kMaxTopRows)) {
      for (uint32_t r : below) {
        if (level_of_row(r, params.seed, m) >= level + 1 ||
            std::binary_search(sorted_entries.begin(), sorted_entries.end(), r)) {
          next.push_back(r);
        }
      }
    }
    level_params.seed = params.seed + level;
    levels.push_back(build_level(index, std::move(below), level_params, build_flat));
    const int64_t next_count = static_cast<int64_t>(next.size());
    if (next_count < 2 || next_count * 2 > below_count) break;
    below = std::move(next);
    below_count = next_count;
  }
  return levels;
}

}  // namespace annforge::cpu
