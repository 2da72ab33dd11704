// bench_support.cpp: the shared helpers of compare_cpu declared in bench_support.hpp: JSON
// strings and numbers, the /proc/self/status memory probe, make_resident, recall@k and the
// float32 copies of uint8 / int8 data (normalised for cosine), and the exact distances of the
// tie-aware recall.
#include "bench_support.hpp"

#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

namespace annforge_bench {

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string json_number(double value) {
  if (!std::isfinite(value)) return "null";
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", value);
  return text;
}

// ---- memory --------------------------------------------------------------------------------

// One field of /proc/self/status in KiB ("VmRSS", "VmHWM"), or -1 where it cannot be read.
int64_t status_kib(const char* field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  const size_t length = std::strlen(field);
  while (std::getline(status, line)) {
    if (line.compare(0, length, field) == 0 && line.size() > length && line[length] == ':') {
      return std::strtoll(line.c_str() + length + 1, nullptr, 10);
    }
  }
  return -1;
}

MemoryProbe::MemoryProbe() {
  malloc_trim(0);
  int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
  if (fd >= 0) {
    hwm_reset_ = write(fd, "5", 1) == 1;
    close(fd);
  }
  rss_before_ = status_kib("VmRSS");
}

MemoryUse MemoryProbe::finish() const {
  MemoryUse use;
  const int64_t rss_after = status_kib("VmRSS");
  const int64_t hwm_after = status_kib("VmHWM");
  if (rss_before_ < 0 || rss_after < 0) return use;
  use.retained_mib = (rss_after - rss_before_) / 1024.0;
  if (hwm_reset_ && hwm_after >= 0) {
    use.peak_mib = (hwm_after - rss_before_) / 1024.0;
    use.peak_is_hwm = true;
  } else {
    use.peak_mib = use.retained_mib;
  }
  return use;
}

// Reads one byte of every page of `view`, so that memory-mapped input files are resident before
// any measurement: otherwise the first system to read the data is charged for its file pages.
void make_resident(const annforge::DatasetView& view) {
  const volatile uint8_t* bytes = static_cast<const uint8_t*>(view.data);
  const size_t total = view.rows > 0 ? static_cast<size_t>(view.rows - 1) * view.row_stride() + view.row_bytes() : 0;
  volatile uint8_t sink = 0;
  for (size_t offset = 0; offset < total; offset += 4096) sink = sink ^ bytes[offset];
  if (total > 0) sink = sink ^ bytes[total - 1];
}

namespace {

template <typename T>
double exact_distance_of(const T* a, const T* b, int64_t dim, annforge::Metric metric) {
  if (metric == annforge::Metric::L2) {
    double sum = 0;
    for (int64_t d = 0; d < dim; ++d) {
      const double difference = static_cast<double>(a[d]) - static_cast<double>(b[d]);
      sum += difference * difference;
    }
    return sum;
  }
  double dot = 0, norm_a = 0, norm_b = 0;
  for (int64_t d = 0; d < dim; ++d) {
    const double x = a[d], y = b[d];
    dot += x * y;
    norm_a += x * x;
    norm_b += y * y;
  }
  if (metric == annforge::Metric::InnerProduct) return -dot;
  // Cosine: annforge gives a zero vector an inverse norm of 0, so its cosine is 0 (distance 1).
  if (norm_a <= 0 || norm_b <= 0) return 1.0;
  return 1.0 - dot / (std::sqrt(norm_a) * std::sqrt(norm_b));
}

}  // namespace

double exact_distance(const annforge::DatasetView& base, int64_t i, const annforge::DatasetView& queries, int64_t q,
                      annforge::Metric metric) {
  switch (base.type) {
    case annforge::ElementType::Float32:
      return exact_distance_of(reinterpret_cast<const float*>(base.row(i)), reinterpret_cast<const float*>(queries.row(q)),
                               base.dim, metric);
    case annforge::ElementType::UInt8:
      return exact_distance_of(base.row(i), queries.row(q), base.dim, metric);
    case annforge::ElementType::Int8:
      return exact_distance_of(reinterpret_cast<const int8_t*>(base.row(i)), reinterpret_cast<const int8_t*>(queries.row(q)),
                               base.dim, metric);
  }
  return NAN;
}

void enable_tie_aware_recall(GroundTruth& truth, const annforge::DatasetView& base, const annforge::DatasetView& queries,
                             annforge::Metric metric, int k) {
  truth.base = base;
  truth.queries = queries;
  truth.metric = metric;
  truth.kth_distance.assign(static_cast<size_t>(queries.rows), -INFINITY);
  for (int64_t q = 0; q < queries.rows; ++q) {
    const uint32_t* truth_row = truth.ids.data() + q * truth.stride;
    // The largest exact distance among the true top k: the k-th true distance. The ground truth
    // was ordered by float32 distances (or by a file's maker), so the k-th listed id may not be
    // the farthest in double; taking the largest keeps every true neighbour a hit.
    double kth = -INFINITY;
    for (int j = 0; j < k; ++j) {
      if (truth_row[j] == annforge::kInvalidId || truth_row[j] >= static_cast<uint64_t>(base.rows)) continue;
      kth = std::max(kth, exact_distance(base, truth_row[j], queries, q, metric));
    }
    truth.kth_distance[q] = kth;
  }
}

double recall_at_k(const std::vector<uint32_t>& found, const GroundTruth& truth, int64_t queries, int k) {
  int64_t hits = 0;
  if (!truth.kth_distance.empty()) {
    // Tie-aware: each distinct returned id whose exact distance is within the k-th true distance.
    std::vector<uint32_t> returned(k);
    for (int64_t q = 0; q < queries; ++q) {
      returned.assign(found.begin() + q * k, found.begin() + (q + 1) * k);
      std::sort(returned.begin(), returned.end());
      returned.erase(std::unique(returned.begin(), returned.end()), returned.end());
      const double kth = truth.kth_distance[q];
      const double limit = kth + kTieRelativeTolerance * std::fabs(kth) + kTieAbsoluteTolerance;
      int64_t query_hits = 0;
      for (uint32_t id : returned) {
        if (id == annforge::kInvalidId || id >= static_cast<uint64_t>(truth.base.rows)) continue;
        if (exact_distance(truth.base, id, truth.queries, q, truth.metric) <= limit) ++query_hits;
      }
      hits += std::min<int64_t>(query_hits, k);
    }
    return static_cast<double>(hits) / (static_cast<double>(queries) * k);
  }
  return recall_at_k_by_ids(found, truth, queries, k);
}

// Mean over queries of |found ∩ true top-k| / k.
double recall_at_k_by_ids(const std::vector<uint32_t>& found, const GroundTruth& truth, int64_t queries, int k) {
  int64_t hits = 0;
  std::vector<uint32_t> expected(k);
  for (int64_t q = 0; q < queries; ++q) {
    const uint32_t* truth_row = truth.ids.data() + q * truth.stride;
    expected.assign(truth_row, truth_row + k);
    std::sort(expected.begin(), expected.end());
    for (int j = 0; j < k; ++j) {
      uint32_t id = found[q * k + j];
      if (id != annforge::kInvalidId && std::binary_search(expected.begin(), expected.end(), id)) ++hits;
    }
  }
  return static_cast<double>(hits) / (static_cast<double>(queries) * k);
}

SearchPoint scored_point(int width, const std::vector<uint32_t>& found, const GroundTruth& truth, int64_t queries, int k,
                         double queries_per_second) {
  SearchPoint point;
  point.width = width;
  point.recall = recall_at_k(found, truth, queries, k);
  point.queries_per_second = queries_per_second;
  if (!truth.kth_distance.empty()) point.recall_by_ids = recall_at_k_by_ids(found, truth, queries, k);
  return point;
}

annforge::Dataset read_packed_vectors(const std::string& path, int64_t max_rows) {
  annforge::Dataset read = annforge::read_vectors(path, max_rows);
  if (read.view().packed()) return read;
  annforge::Dataset packed = annforge::Dataset::copy_of(read.view());
  packed.set_source(read.source());
  return packed;
}

FloatRows as_float32(const annforge::DatasetView& view) {
  FloatRows out;
  out.rows = view.rows;
  out.dim = view.dim;
  if (view.type == annforge::ElementType::Float32) {
    out.data = static_cast<const float*>(view.data);
    return out;
  }
  out.storage.resize(static_cast<size_t>(view.rows * view.dim));
  const size_t count = out.storage.size();
  if (view.type == annforge::ElementType::UInt8) {
    const auto* in = static_cast<const uint8_t*>(view.data);
    for (size_t i = 0; i < count; ++i) out.storage[i] = in[i];
  } else {
    const auto* in = static_cast<const int8_t*>(view.data);
    for (size_t i = 0; i < count; ++i) out.storage[i] = in[i];
  }
  out.data = out.storage.data();
  return out;
}

void normalise_rows(FloatRows& rows) {
  const size_t count = static_cast<size_t>(rows.rows * rows.dim);
  if (rows.storage.size() != count || rows.data != rows.storage.data()) {
    rows.storage.assign(rows.data, rows.data + count);
    rows.data = rows.storage.data();
  }
  const size_t dim = static_cast<size_t>(rows.dim);
  for (int64_t r = 0; r < rows.rows; ++r) {
    float* row = rows.storage.data() + static_cast<size_t>(r) * dim;
    double squared = 0;
    for (size_t d = 0; d < dim; ++d) squared += static_cast<double>(row[d]) * row[d];
    if (squared <= 0) continue;
    const double scale = 1.0 / std::sqrt(squared);
    for (size_t d = 0; d < dim; ++d) row[d] = static_cast<float>(row[d] * scale);
  }
}

// Shared by compare_cpu's and compare_gpu's option parsers.
int64_t parse_integer(const std::string& flag, const std::string& text, int64_t minimum) {
  size_t consumed = 0;
  int64_t value = 0;
  try {
    value = std::stoll(text, &consumed);
  } catch (const std::exception&) {
    consumed = 0;
  }
  if (consumed == 0 || consumed != text.size()) throw UsageError(flag + ": '" + text + "' is not an integer");
  if (value < minimum) throw UsageError(flag + ": " + text + " is below the minimum of " + std::to_string(minimum));
  return value;
}

}  // namespace annforge_bench
