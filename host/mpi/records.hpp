// What the distributed stages send between ranks: fixed-size records of 32-bit fields whose
// first is a target row, bucketed per destination rank as a parallel pass makes them, and
// grouped by target row where they arrive (without moving them).
#pragma once

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <numeric>
#include <vector>

namespace annforge::mpi {

// Per thread, per destination rank: the records (of `width` fields) a parallel pass produces.
class RecordBuckets {
 public:
  RecordBuckets(int threads, int ranks, int width)
      : ranks_(ranks), width_(width), buckets_(static_cast<size_t>(threads) * ranks) {}
  int width() const { return width_; }
  size_t record_bytes() const { return 4 * static_cast<size_t>(width_); }
  // Appends one record (`width` fields; the first, its target row) for `rank`.
  void add(int thread, int rank, const uint32_t* fields) {
    std::vector<uint8_t>& bucket = buckets_[static_cast<size_t>(thread) * ranks_ + rank];
    const size_t at = bucket.size();
    bucket.resize(at + record_bytes());
    std::memcpy(&bucket[at], fields, record_bytes());
  }
  void add(int thread, int rank, std::initializer_list<uint32_t> fields) { add(thread, rank, fields.begin()); }
  // Per destination, the threads' records in thread order (the buckets are emptied).
  std::vector<std::vector<uint8_t>> per_rank() {
    std::vector<std::vector<uint8_t>> to(ranks_);
    const size_t threads = buckets_.size() / ranks_;
    for (int r = 0; r < ranks_; ++r) {
      for (size_t t = 0; t < threads; ++t) {
        std::vector<uint8_t>& bucket = buckets_[t * ranks_ + r];
        to[r].insert(to[r].end(), bucket.begin(), bucket.end());
        std::vector<uint8_t>().swap(bucket);
      }
    }
    return to;
  }

 private:
  int ranks_;
  int width_;
  std::vector<std::vector<uint8_t>> buckets_;
};

// Received records grouped by target row (rows [first, first + count)), each group in the
// order received: record(j) for j in start[i] .. start[i + 1] are row first + i's.
struct ByTarget {
  const uint32_t* records = nullptr;
  int width = 0;
  std::vector<int64_t> start;
  std::vector<uint32_t> order;  // positions in `records`
  const uint32_t* record(int64_t j) const { return records + static_cast<size_t>(order[j]) * width; }
};

// `received` must outlive the grouping, which points into it.
inline ByTarget group_by_target(const std::vector<uint8_t>& received, int width, int64_t first, int64_t count) {
  ByTarget out;
  out.records = reinterpret_cast<const uint32_t*>(received.data());
  out.width = width;
  const size_t total = received.size() / (4 * static_cast<size_t>(width));
  out.start.assign(count + 1, 0);
  for (size_t i = 0; i < total; ++i) ++out.start[out.records[i * width] - first + 1];
  std::partial_sum(out.start.begin(), out.start.end(), out.start.begin());
  out.order.resize(total);
  std::vector<int64_t> fill(out.start.begin(), out.start.end() - 1);
  for (size_t i = 0; i < total; ++i) out.order[fill[out.records[i * width] - first]++] = static_cast<uint32_t>(i);
  return out;
}

}  // namespace annforge::mpi
