// The links of diverse_links.hpp: per row a pool from the two-hop neighbourhood, HNSW's
// heuristic over it, then the kept links made symmetric.
#include "host/cpu/graph/diverse_links.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include "host/cpu/graph/link_sets.hpp"
#include "host/cpu/parallel.hpp"
#include "host/cpu/search/approximate_rows.hpp"
#include "host/env_knob.hpp"
#include "kernels/shared/neighbor_list.hpp"

namespace annforge::cpu {

namespace {

using Candidate = LinkCandidate;

// ANNFORGE_EXPORT_CODES=2 compares float rows exactly instead of by int8 codes (measurement).
bool codes_env() { return detail::env_knob("ANNFORGE_EXPORT_CODES", 1) == 1; }

// A float's bits as an unsigned number in the float's order (negative floats reversed below
// the positive ones), and back.
inline uint32_t ordered_bits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return (bits & 0x80000000u) ? ~bits : bits | 0x80000000u;
}
inline float float_of_ordered_bits(uint32_t ordered) {
  const uint32_t bits = (ordered & 0x80000000u) ? ordered & 0x7FFFFFFFu : ~ordered;
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

// One thread's buffers, kept from row to row.
struct Scratch {
  explicit Scratch(int64_t rows) : seen(rows) {}
  RowBits seen;
  std::vector<float> distances, norms;
  std::vector<const void*> pointers;
  std::vector<Candidate> candidates;
  std::vector<uint64_t> keys;  // the pool as (ordered distance bits, id)
  std::vector<float> prepared;  // a row as a query of the int8 codes
  std::vector<float> kept_prepared;  // the heuristic's kept rows as queries of the codes
  std::vector<uint32_t> kept_ids;
  std::vector<uint32_t> candidate_ids;  // the blocking distances' rows (angles)
  std::vector<float> to_row;            // ... and their blocking distances to the row
};

// The distances the links are chosen by: exact, or for float rows those of int8 codes with a
// scale per dimension (search/approximate_rows.hpp). Choosing a row's links reads ~900
// scattered rows (its pool) and computes ~1,000 more distances among the pool's nearest (the
// heuristic): on 256-d float rows, 16 cache lines each, that took 55 s at 1M rows on 2 cores,
// 40 s on the codes' 4 lines.
class LinkDistances {
 public:
  LinkDistances(const Distance& exact, const ApproximateRows* codes) : exact_(exact), codes_(codes) {}
  // Distances from `from` to rows `ids` (count of them) into `out`, in blocks, the next
  // block's rows prefetched while this one's are computed: the rows are scattered over the
  // data, and the kernel alone waits on each.
  void measure(uint32_t from, const uint32_t* ids, int count, Scratch& s, float* out) const {
    s.pointers.resize(count);
    s.norms.resize(count);
    if (codes_ == nullptr) {
      exact_.row_to_rows(from, ids, count, s.pointers.data(), s.norms.data(), out);
      return;
    }
    const size_t row_bytes = codes_->row_bytes();
    for (int i = 0; i < count; ++i) s.pointers[i] = codes_->bytes() + ids[i] * row_bytes;
    s.prepared.resize(codes_->prepared_size());
    prepare_query(*codes_, reinterpret_cast<const float*>(exact_.base().row(from)), exact_.inverse_norm_of(from),
                  s.prepared.data());
    in_prefetched_blocks(s.pointers.data(), count, row_bytes, [&](int first, int n) {
      approximate_distances(*codes_, s.prepared.data(), s.pointers.data() + first, n, out + first);
    });
  }

  // The heuristic's kept rows, one distance at a time: kept row `slot` is `id` (rows are in
  // cache by then, the pool's pass read them).
  void keep(int slot, uint32_t id, Scratch& s) const {
    if (static_cast<int>(s.kept_ids.size()) <= slot) s.kept_ids.resize(slot + 1);
    s.kept_ids[slot] = id;
    if (codes_ == nullptr) return;
    const size_t size = codes_->prepared_size();
    if (s.kept_prepared.size() < (slot + 1) * size) s.kept_prepared.resize((slot + 1) * size);
    prepare_query(*codes_, reinterpret_cast<const float*>(exact_.base().row(id)), exact_.inverse_norm_of(id),
                  &s.kept_prepared[slot * size]);
  }
  float to_kept(int slot, uint32_t id, Scratch& s) const {
    if (codes_ == nullptr) return exact_.between(s.kept_ids[slot], id);
    const void* row = codes_->bytes() + id * codes_->row_bytes();
    float out;
    approximate_distances(*codes_, &s.kept_prepared[slot * codes_->prepared_size()], &row, 1, &out);
    return out;
  }

 private:
  const Distance& exact_;
  const ApproximateRows* codes_;
};

// keep_diverse (diverse_links.hpp) by `distance`: a kept row blocks a candidate nearer to it
// than the row is. Each candidate is compared with the kept ones lazily, as hnswlib does: most
// are dropped by the first few (half the distances of computing every kept row's distances to
// every later candidate). With `to_row` (the candidates' distances to row `r` by `distance`,
// where the candidates are ranked by another one) the comparison takes those.
int heuristic(const LinkDistances& distance, const Candidate* candidates, int count, int most, Scratch& s,
              Candidate* kept, uint32_t r, bool by_other_distance) {
  const float* to_row = nullptr;
  if (by_other_distance) {
    s.candidate_ids.resize(count);
    for (int i = 0; i < count; ++i) s.candidate_ids[i] = candidates[i].second;
    s.to_row.resize(count);
    distance.measure(r, s.candidate_ids.data(), count, s, s.to_row.data());
    to_row = s.to_row.data();
  }
  return keep_diverse(
      candidates, count, most,
      [&](int i, const Candidate& candidate) {
        const float row_distance = to_row != nullptr ? to_row[&candidate - candidates] : candidate.first;
        return distance.to_kept(i, candidate.second, s) < row_distance;
      },
      [&](int i, uint32_t id) { distance.keep(i, id, s); }, kept);
}

// Every row once, breadth first from row 0 over the graph's links, each unreached row starting
// a new search.
std::vector<uint32_t> breadth_first_order(const uint32_t* graph, int64_t rows, int degree) {
  std::vector<uint32_t> order;
  order.reserve(rows);
  std::vector<uint8_t> reached(rows, 0);
  for (int64_t start = 0; start < rows; ++start) {
    if (reached[start]) continue;
    reached[start] = 1;
    order.push_back(static_cast<uint32_t>(start));
    for (size_t head = order.size() - 1; head < order.size(); ++head) {
      const uint32_t* list = graph + static_cast<int64_t>(order[head]) * degree;
      for (int j = 0; j < degree; ++j) {
        if (list[j] < rows && !reached[list[j]]) reached[list[j]] = 1, order.push_back(list[j]);
      }
    }
  }
  return order;
}

}  // namespace

void select_diverse_links(const Distance& distance, const uint32_t* graph, int64_t rows, int degree, int pool,
                          int threads, uint32_t* out, int out_width, const Distance* blocking) {
  threads = resolve_threads(threads);
  pool = std::max(pool, degree);
  // Per row, the links the heuristic keeps from its pool (nearest first) with their distances.
  std::vector<Candidate> kept(static_cast<size_t>(rows) * degree);
  std::vector<int> kept_count(rows, 0);
  std::vector<Scratch> scratch;
  scratch.reserve(threads);
  for (int t = 0; t < threads; ++t) scratch.emplace_back(rows);
  // Rows in breadth-first order over the graph: consecutive rows share most of their two-hop
  // neighbourhoods, so the pools' vectors come from cache instead of memory (the rows' own
  // order is the caller's, random on most data sets).
  const std::vector<uint32_t> order = breadth_first_order(graph, rows, degree);
  // Float rows: links chosen by the distances of int8 codes (LinkDistances).
  ApproximateRows codes;
  if (distance.base().type == ElementType::Float32 && approximate_rows_usable(distance.base()) && codes_env()) {
    codes = make_approximate_rows(distance.base(), distance.metric(), threads, ApproximateKind::Int8);
  }
  const LinkDistances links(distance, codes.rows > 0 ? &codes : nullptr);
  // The heuristic's comparisons by another distance where one is given (inner product: by angle).
  ApproximateRows blocking_codes;
  if (blocking != nullptr && blocking->base().type == ElementType::Float32 &&
      approximate_rows_usable(blocking->base()) && codes_env()) {
    blocking_codes = make_approximate_rows(blocking->base(), blocking->metric(), threads, ApproximateKind::Int8);
  }
  const bool by_other = blocking != nullptr;
  const LinkDistances blocks =
      by_other ? LinkDistances(*blocking, blocking_codes.rows > 0 ? &blocking_codes : nullptr) : links;
  parallel_for(rows, threads, 512, [&](int64_t begin, int64_t end, int thread) {
    Scratch& s = scratch[thread];
    std::vector<uint32_t> pool_ids;
    for (int64_t position = begin; position < end; ++position) {
      const int64_t r = order[position];
      // The pool: r's links and their links, each once.
      pool_ids.clear();
      s.seen.insert(static_cast<uint32_t>(r));
      auto add = [&](uint32_t v) {
        if (v < rows && s.seen.insert(v)) pool_ids.push_back(v);
      };
      const uint32_t* list = graph + r * degree;
      for (int j = 0; j < degree; ++j) add(list[j]);
      const size_t direct = pool_ids.size();
      for (size_t a = 0; a < direct; ++a) {
        const char* second = reinterpret_cast<const char*>(graph + static_cast<int64_t>(pool_ids[a]) * degree);
        for (int line = 0; line < degree * 4; line += 64) __builtin_prefetch(second + line);
      }
      for (size_t a = 0; a < direct; ++a) {
        const uint32_t* second = graph + static_cast<int64_t>(pool_ids[a]) * degree;
        for (int j = 0; j < degree; ++j) add(second[j]);
      }
      s.seen.erase(static_cast<uint32_t>(r));
      for (uint32_t id : pool_ids) s.seen.erase(id);
      const int count = static_cast<int>(pool_ids.size());
      s.distances.resize(count);
      links.measure(static_cast<uint32_t>(r), pool_ids.data(), count, s, s.distances.data());
      // The pool's nearest `pool`, nearest first (ties by id): selected and sorted as 64-bit keys
      // (the distance's bits made to order as unsigned, then the id), one compare per step
      // where (distance, id) pairs took two (the selection and sort were ~25% of this pass).
      s.keys.resize(count);
      for (int i = 0; i < count; ++i) s.keys[i] = (uint64_t{ordered_bits(s.distances[i])} << 32) | pool_ids[i];
      const int nearest = std::min(count, pool);
      if (nearest < count) std::nth_element(s.keys.begin(), s.keys.begin() + nearest, s.keys.end());
      std::sort(s.keys.begin(), s.keys.begin() + nearest);
      s.candidates.resize(nearest);
      for (int i = 0; i < nearest; ++i) {
        s.candidates[i] = {float_of_ordered_bits(static_cast<uint32_t>(s.keys[i] >> 32)), static_cast<uint32_t>(s.keys[i])};
      }
      kept_count[r] = heuristic(blocks, s.candidates.data(), nearest, degree, s, &kept[r * degree],
                                static_cast<uint32_t>(r), by_other);
    }
  });
  const ReverseLinks reverse(kept, kept_count, rows, degree);
  parallel_for(rows, threads, 512, [&](int64_t begin, int64_t end, int thread) {
    Scratch& s = scratch[thread];
    std::vector<Candidate> chosen(degree);
    for (int64_t r = begin; r < end; ++r) {
      reverse.both_ways(r, &kept[r * degree], kept_count[r], s.seen, s.candidates);
      const int count = static_cast<int>(s.candidates.size());
      // Over `degree` (a row many others kept): HNSW's answer to a full list, the heuristic again.
      const int kept_links =
          count <= degree ? count
                          : heuristic(blocks, s.candidates.data(), count, degree, s, chosen.data(),
                                      static_cast<uint32_t>(r), by_other);
      const Candidate* from = count <= degree ? s.candidates.data() : chosen.data();
      uint32_t* row = out + r * out_width;
      std::fill(row, row + out_width, kInvalidId);
      for (int j = 0; j < kept_links; ++j) row[j] = from[j].second;
    }
  });
}

}  // namespace annforge::cpu
