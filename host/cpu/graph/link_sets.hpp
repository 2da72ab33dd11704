// What the two diverse-link passes share (diverse_links.hpp for the export, diverse_knn.hpp for
// the build): a set of row ids for one row's pool, and each row's kept links joined with the
// links other rows kept to it, so that the result is symmetric.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

namespace annforge::cpu {

using LinkCandidate = std::pair<float, uint32_t>;  // (distance to the row, id): nearest first, ties by id

// The rows already in one row's pool: a bit per row of the data (128 KiB at 1M rows, so the
// tests hit L2; an open-addressing table of the pool's ids measured slower), cleared after each
// row by the ids that were set.
class RowBits {
 public:
  explicit RowBits(int64_t rows) : words_(static_cast<size_t>(rows / 64 + 1), 0) {}
  // True the first time `id` is offered since it was last cleared.
  bool insert(uint32_t id) {
    uint64_t& word = words_[id >> 6];
    const uint64_t bit = uint64_t{1} << (id & 63);
    if (word & bit) return false;
    word |= bit;
    return true;
  }
  void erase(uint32_t id) { words_[id >> 6] &= ~(uint64_t{1} << (id & 63)); }

 private:
  std::vector<uint64_t> words_;
};

// For each row, the rows that kept it among their links (with the same distance), in row order:
// `kept` is rows x degree, kept_count[r] of row r's slots used.
struct ReverseLinks {
  std::vector<int64_t> offsets;  // rows + 1
  std::vector<LinkCandidate> links;

  ReverseLinks(const std::vector<LinkCandidate>& kept, const std::vector<int>& kept_count, int64_t rows, int degree)
      : offsets(rows + 1, 0) {
    for (int64_t r = 0; r < rows; ++r) {
      for (int j = 0; j < kept_count[r]; ++j) ++offsets[kept[r * degree + j].second + 1];
    }
    for (int64_t r = 0; r < rows; ++r) offsets[r + 1] += offsets[r];
    links.resize(offsets[rows]);
    std::vector<int64_t> cursor(offsets.begin(), offsets.end() - 1);
    for (int64_t r = 0; r < rows; ++r) {
      for (int j = 0; j < kept_count[r]; ++j) {
        const LinkCandidate& link = kept[r * degree + j];
        links[cursor[link.second]++] = {link.first, static_cast<uint32_t>(r)};
      }
    }
  }

  // Row r's own kept links and the reverse ones into `out`, nearest first, each id once. A link
  // kept both ways appears twice; its two distances can differ in the last bit (cosine scales by
  // the two norms in either order), so repeats go by id. `seen` is left clear.
  void both_ways(int64_t r, const LinkCandidate* own, int own_count, RowBits& seen,
                 std::vector<LinkCandidate>& out) const {
    out.assign(own, own + own_count);
    out.insert(out.end(), links.begin() + offsets[r], links.begin() + offsets[r + 1]);
    std::sort(out.begin(), out.end());
    const auto repeats =
        std::remove_if(out.begin(), out.end(), [&](const LinkCandidate& c) { return !seen.insert(c.second); });
    for (auto c = out.begin(); c != repeats; ++c) seen.erase(c->second);
    out.erase(repeats, out.end());
  }
};

}  // namespace annforge::cpu
