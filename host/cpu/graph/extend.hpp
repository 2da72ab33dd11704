// Links new rows into an existing graph without rebuilding it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "annforge.hpp"
#include "host/cpu/search/approximate_rows.hpp"

namespace annforge::cpu {

// index.vectors holds old rows [0, first_new_row) and new rows after them; index.graph covers
// the old rows. On return the graph covers every row, with the same fixed degree. Returns true
// where it rebuilt the index instead (a batch that outweighs the graph, or a degree that grows:
// graph, entry points and levels all new). Work grows with the new rows, not with the index
// (but cosine's norms of every row, once per call). `replaced` receives the old rows' slots that
// reverse edges took and what they held (undo_reverse_edges puts them back). On failure (an
// exception: out of memory, a progress callback's) index.graph's old rows are as they were and
// a rebuild leaves the index untouched.
// `aids`: the search's copies of every row, old and new, where the caller has them: the
// candidates' walk ranks by the compact rows (re-ranking its beam exactly), and cosine's
// inverse norms are not computed again.
using ReplacedSlots = std::vector<std::pair<int64_t, uint32_t>>;
struct ExtendAids {
  const ApproximateRows* rows = nullptr;
  const std::vector<float>* inverse_norms = nullptr;
};
bool extend_graph(Index& index, int64_t first_new_row, const BuildParams& params, ReplacedSlots& replaced,
                  const ExtendAids& aids = {});
void undo_reverse_edges(std::vector<uint32_t>& graph, const ReplacedSlots& replaced);

// The CUDA backend's extend: a rebuild on the GPU costs what the whole index costs, linking on
// the host what the batch costs; the cheaper is taken, by measured rates: the GPU build of 1M
// SIFT at ~2.5M rows/s (H100, 2026-11-25), the host's linking into 1M SIFT at ~3,900 rows/s per
// thread (Zen 4, calls of 1,000 rows, 2026-12-06). One row into a 1M-row index: ~2 ms linked,
// ~0.4 s rebuilt; a tenth of the index: rebuilt.
inline bool link_on_host_rather_than_rebuild(int64_t old_rows, int64_t added, int threads) {
  constexpr double kGpuBuildRowsPerSecond = 2.5e6;
  constexpr double kHostLinkRowsPerThreadSecond = 3900.0;
  const double rebuild_seconds = static_cast<double>(old_rows + added) / kGpuBuildRowsPerSecond;
  const double link_seconds = static_cast<double>(added) / (kHostLinkRowsPerThreadSecond * std::max(1, threads));
  return link_seconds < rebuild_seconds;
}

}  // namespace annforge::cpu
