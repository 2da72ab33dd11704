#include "host/cpu/graph/locality_order.hpp"

#include <algorithm>

#include "host/cpu/parallel.hpp"

namespace annforge::cpu {

namespace {

constexpr uint32_t kUnclaimed = 0xFFFFFFFFu;

// `row`'s links on `level` as rows, into `out` (resized to them).
void level_links(const HnswHierarchy& hierarchy, uint32_t row, int level, std::vector<uint32_t>& out) {
  const int slots = level == 0 ? hierarchy.base_degree : hierarchy.levels[level - 1].degree;
  out.resize(static_cast<size_t>(std::max(0, slots)));
  out.resize(static_cast<size_t>(hierarchy.links(row, level, slots, out.data())));
}

// The rows on `level`, ascending.
std::vector<uint32_t> level_rows(const HnswHierarchy& hierarchy, int level) {
  if (level > 0) return hierarchy.levels[level - 1].members;
  std::vector<uint32_t> rows(hierarchy.top_level.size());
  for (size_t r = 0; r < rows.size(); ++r) rows[r] = static_cast<uint32_t>(r);
  return rows;
}

// The top level in breadth-first order from the entry (rows no walk reaches last, ascending).
std::vector<uint32_t> top_level_order(const HnswHierarchy& hierarchy) {
  const int top = hierarchy.max_level();
  std::vector<uint8_t> seen(hierarchy.top_level.size(), 0);
  std::vector<uint32_t> order{hierarchy.entry};
  seen[hierarchy.entry] = 1;
  std::vector<uint32_t> links;
  for (size_t i = 0; i < order.size(); ++i) {
    level_links(hierarchy, order[i], top, links);
    for (uint32_t next : links) {
      if (seen[next] != 0) continue;
      seen[next] = 1;
      order.push_back(next);
    }
  }
  for (uint32_t row : level_rows(hierarchy, top)) {
    if (seen[row] == 0) order.push_back(row);
  }
  return order;
}

}  // namespace

std::vector<uint32_t> hierarchy_locality_order(const HnswHierarchy& hierarchy, int threads) {
  const size_t rows = hierarchy.top_level.size();
  if (rows == 0) return {};
  std::vector<uint32_t> order = top_level_order(hierarchy);

  // claim[row]: the position in `order` (the level above's) of the member whose group the row
  // joins; pass_of[row]: the pass that claimed it (its distance in hops from that level).
  std::vector<uint32_t> claim(rows, kUnclaimed);
  std::vector<uint8_t> pass_of(rows, 0);
  std::vector<uint32_t> starts;
  for (int level = hierarchy.max_level() - 1; level >= 0; --level) {
    const std::vector<uint32_t> members = level_rows(hierarchy, level);
    for (uint32_t row : members) claim[row] = kUnclaimed;
    for (size_t s = 0; s < order.size(); ++s) {
      claim[order[s]] = static_cast<uint32_t>(s);
      pass_of[order[s]] = 0;
    }
    // Passes until every row is claimed: an unclaimed row joins the group of its first link
    // (nearest first) claimed in an earlier pass. Reading only earlier passes' claims keeps the
    // result independent of the threads.
    std::vector<uint32_t> open;
    for (uint32_t row : members) {
      if (claim[row] == kUnclaimed) open.push_back(row);
    }
    std::vector<uint32_t> taken(open.size());
    for (int pass = 1; !open.empty() && pass < 255; ++pass) {
      parallel_for(static_cast<int64_t>(open.size()), threads, 4096, [&](int64_t first, int64_t end, int) {
        std::vector<uint32_t> links;
        for (int64_t i = first; i < end; ++i) {
          taken[i] = kUnclaimed;
          level_links(hierarchy, open[i], level, links);
          for (uint32_t next : links) {
            if (claim[next] != kUnclaimed && pass_of[next] < pass) {
              taken[i] = claim[next];
              break;
            }
          }
        }
      });
      size_t still_open = 0;
      for (size_t i = 0; i < open.size(); ++i) {
        if (taken[i] == kUnclaimed) {
          open[still_open] = open[i];
          ++still_open;
          continue;
        }
        claim[open[i]] = taken[i];
        pass_of[open[i]] = static_cast<uint8_t>(pass);
      }
      if (still_open == open.size()) break;  // the rest links to no claimed row
      open.resize(still_open);
      taken.resize(still_open);
    }
    // Rows that link to no claimed row (none in a connected graph) form a last group.
    const uint32_t last_group = static_cast<uint32_t>(order.size());
    for (uint32_t row : open) {
      claim[row] = last_group;
      pass_of[row] = 255;
    }
    // The level's order: each member above, then the rows of its group by pass, then row.
    // Counting sort by group; members are visited in row order, so within a pass rows ascend.
    starts.assign(order.size() + 2, 0);
    for (uint32_t row : members) starts[claim[row] + 1] += 1;
    for (size_t g = 0; g + 1 < starts.size(); ++g) starts[g + 1] += starts[g];
    std::vector<uint32_t> grouped(members.size());
    for (uint32_t row : members) grouped[starts[claim[row]]++] = row;
    // Within each group: the member above first (pass 0), then by pass (stable, so row order).
    size_t begin = 0;
    for (size_t g = 0; g <= order.size(); ++g) {
      const size_t end = starts[g];
      std::stable_sort(grouped.begin() + begin, grouped.begin() + end,
                       [&](uint32_t a, uint32_t b) { return pass_of[a] < pass_of[b]; });
      begin = end;
    }
    order.swap(grouped);
  }
  return order;
}

std::vector<uint32_t> inverse_permutation(const std::vector<uint32_t>& order) {
  std::vector<uint32_t> position_of(order.size());
  for (size_t p = 0; p < order.size(); ++p) position_of[order[p]] = static_cast<uint32_t>(p);
  return position_of;
}

}  // namespace annforge::cpu
