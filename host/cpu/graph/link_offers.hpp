// Long links written into the tails of full lists, shared by the landing links (landing_links.hpp)
// and the links across clusters (cross_links.hpp): offers grouped by the list they go to, each
// list's nearest first, kept by HNSW's rule among themselves, written over the list's last links.
#pragma once

#include <algorithm>
#include <cstdint>
#include <tuple>
#include <utility>
#include <vector>

#include "host/cpu/graph/diverse_links.hpp"
#include "host/cpu/parallel.hpp"

namespace annforge::cpu {

struct LinkOffer {
  uint32_t to;       // the list (row, or position on a level) the link goes into
  float distance;    // from `to` to `offered`
  uint32_t offered;  // the link
  bool operator<(const LinkOffer& o) const {
    return std::tie(to, distance, offered) < std::tie(o.to, o.distance, o.offered);
  }
};

// Each list's offers, nearest first (ties by id), into up to `slots` slots of its list in `graph`
// (rows x degree), ending `spared` slots before the list's end (the last link first): HNSW's
// rule where `diverse` (an offer is left out when one taken before it is nearer to it than the
// list's row is), never a link the list holds, nor one offer twice. `between(a, b)`: the distance
// of two of the graph's ids. Returns the links written; the same for any `threads`.
template <typename Between>
int64_t link_offers(std::vector<LinkOffer> offers, uint32_t* graph, int degree, int slots, int spared, bool diverse,
                    int threads, const Between& between) {
  std::sort(offers.begin(), offers.end());
  // Group boundaries: each list is written by its own group only.
  std::vector<size_t> starts;
  for (size_t i = 0; i < offers.size(); ++i) {
    if (i == 0 || offers[i].to != offers[i - 1].to) starts.push_back(i);
  }
  starts.push_back(offers.size());
  const int64_t groups = static_cast<int64_t>(starts.size()) - 1;
  std::vector<int64_t> linked(resolve_threads(threads), 0);
  parallel_for(groups, threads, 256, [&](int64_t begin, int64_t end, int thread) {
    std::vector<std::pair<float, uint32_t>> candidates, kept(slots);
    for (int64_t g = begin; g < end; ++g) {
      uint32_t* list = graph + static_cast<int64_t>(offers[starts[g]].to) * degree;
      candidates.clear();
      for (size_t i = starts[g]; i < starts[g + 1]; ++i) {
        const uint32_t c = offers[i].offered;
        // An offer made twice sorts next to itself (its distance is the same).
        if (i > starts[g] && offers[i - 1].offered == c) continue;
        if (std::find(list, list + degree, c) == list + degree) candidates.push_back({offers[i].distance, c});
      }
      const int taken = keep_diverse(
          candidates.data(), static_cast<int>(candidates.size()), slots,
          [&](int i, const std::pair<float, uint32_t>& c) { return diverse && between(kept[i].second, c.second) < c.first; },
          [](int, uint32_t) {}, kept.data());
      for (int t = 0; t < taken; ++t) list[degree - spared - 1 - t] = kept[t].second;
      linked[thread] += taken;
    }
  });
  int64_t total = 0;
  for (int64_t n : linked) total += n;
  return total;
}

}  // namespace annforge::cpu
