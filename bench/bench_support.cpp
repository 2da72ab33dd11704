// bench_support.cpp: the shared helpers of compare_cpu declared in bench_support.hpp: JSON
// strings and numbers, the /proc/self/status memory probe, make_resident, recall@k and the
// float32 copies of uint8 / int8 data.
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
  const size_t total = static_cast<size_t>(view.rows) * view.row_bytes();
  volatile uint8_t sink = 0;
  for (size_t offset = 0; offset < total; offset += 4096) sink = sink ^ bytes[offset];
  if (total > 0) sink = sink ^ bytes[total - 1];
}

// Mean over queries of |found ∩ true top-k| / k. `found` holds queries x k ids.
double recall_at_k(const std::vector<uint32_t>& found, const GroundTruth& truth, int64_t queries, int k) {
  std::vector<uint32_t> expected(k);
  int64_t hits = 0;
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
