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

// Calls `visit(row)` for every row on `level`, ascending.
template <typename Visit>
void for_each_row_on(const HnswHierarchy& hierarchy, int level, Visit visit) {
  if (level > 0) {
    for (uint32_t row : hierarchy.levels[level - 1].members) visit(row);
    return;
  }
  for (size_t row = 0; row < hierarchy.top_level.size(); ++row) visit(static_cast<uint32_t>(row));
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
  for_each_row_on(hierarchy, top, [&](uint32_t row) {
    if (seen[row] == 0) order.push_back(row);
  });
  return order;
}

}  // namespace

std::vector<uint32_t> hierarchy_locality_order(const HnswHierarchy& hierarchy, int threads) {
  const size_t rows = hierarchy.top_level.size();
  if (rows == 0) return {};
  std::vector<uint32_t> order = top_level_order(hierarchy);

  // claim[row]: the position in `order` (the level above's) of the member whose group the row
  // joins.
  std::vector<uint32_t> claim(rows, kUnclaimed);
  std::vector<uint32_t> open, taken, claimed, starts;
  for (int level = hierarchy.max_level() - 1; level >= 0; --level) {
    for_each_row_on(hierarchy, level, [&](uint32_t row) { claim[row] = kUnclaimed; });
    // `claimed`: the level's rows in the order they are claimed, the members above first (each
    // claims itself), then pass by pass in row order.
    claimed.assign(order.begin(), order.end());
    for (size_t s = 0; s < order.size(); ++s) claim[order[s]] = static_cast<uint32_t>(s);
    open.clear();
    for_each_row_on(hierarchy, level, [&](uint32_t row) {
      if (claim[row] == kUnclaimed) open.push_back(row);
    });
    // Passes until every row is claimed: an unclaimed row joins the group of its first link
    // (nearest first) claimed in an earlier pass. A pass's claims are written after it, so the
    // result does not depend on the threads.
    while (!open.empty()) {
      taken.resize(open.size());
      parallel_for(static_cast<int64_t>(open.size()), threads, 4096, [&](int64_t first, int64_t end, int) {
        std::vector<uint32_t> links;
        for (int64_t i = first; i < end; ++i) {
          taken[i] = kUnclaimed;
          level_links(hierarchy, open[i], level, links);
          for (uint32_t next : links) {
            if (claim[next] != kUnclaimed) {
              taken[i] = claim[next];
              break;
            }
          }
        }
      });
      size_t still_open = 0;
      for (size_t i = 0; i < open.size(); ++i) {
        if (taken[i] == kUnclaimed) {
          open[still_open++] = open[i];
          continue;
        }
        claim[open[i]] = taken[i];
        claimed.push_back(open[i]);
      }
      if (still_open == open.size()) break;  // the rest links to no claimed row
      open.resize(still_open);
    }
    // Rows that link to no claimed row (none in a connected graph) form a last group.
    const uint32_t last_group = static_cast<uint32_t>(order.size());
    for (uint32_t row : open) {
      claim[row] = last_group;
      claimed.push_back(row);
    }
    // The level's order: a stable counting sort of `claimed` by group, so each member above
    // comes first in its group, then the rows it gathered by pass, then row.
    starts.assign(order.size() + 2, 0);
    for (uint32_t row : claimed) starts[claim[row] + 1] += 1;
    for (size_t g = 0; g + 1 < starts.size(); ++g) starts[g + 1] += starts[g];
    order.resize(claimed.size());
    for (uint32_t row : claimed) order[starts[claim[row]]++] = row;
  }
  return order;
}

std::vector<uint32_t> inverse_permutation(const std::vector<uint32_t>& order) {
  std::vector<uint32_t> position_of(order.size());
  for (size_t p = 0; p < order.size(); ++p) position_of[order[p]] = static_cast<uint32_t>(p);
  return position_of;
}

}  // namespace annforge::cpu
