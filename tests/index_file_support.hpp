// Helpers of the index file's tests (index_file_test.cpp, index_damage_test.cpp): the header's
// field offsets, little-endian reads and writes of a saved file's bytes, a checksum made valid
// again after a change, a small index, and a field-by-field comparison of two indexes.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "annforge.hpp"
#include "index/checksum.hpp"
#include "tests/test_support.hpp"

namespace annforge_test {

// Field offsets of the 64-byte header.
constexpr size_t kVersionAt = 8, kHeaderBytesAt = 12, kMetricAt = 16, kTypeAt = 20, kRowsAt = 24, kDimAt = 32,
                 kDegreeAt = 40, kEntryCountAt = 44, kBackendAt = 48, kLevelCountAt = 52, kUpperWidthDivisorAt = 56,
                 kHeaderSize = 64;
constexpr uint32_t kNewestVersion = 3;  // the newest index format this build reads

inline uint32_t u32_at(const std::vector<uint8_t>& b, size_t at) {
  uint32_t v;
  std::memcpy(&v, b.data() + at, 4);
  return v;
}
inline uint64_t u64_at(const std::vector<uint8_t>& b, size_t at) {
  uint64_t v;
  std::memcpy(&v, b.data() + at, 8);
  return v;
}
inline std::vector<uint8_t> text_of(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }
inline void put_u32(std::vector<uint8_t>& b, size_t at, uint32_t v) { std::memcpy(b.data() + at, &v, 4); }

// Rewrites the trailing checksum so that only the structural checks can catch a change.
inline void fix_checksum(std::vector<uint8_t>& b) {
  annforge::detail::Checksum sum;
  sum.update(b.data(), b.size() - 8);
  uint64_t value = sum.value();
  std::memcpy(b.data() + b.size() - 8, &value, 8);
}

inline annforge::Index small_index(annforge::ElementType type = annforge::ElementType::Float32, annforge::Metric metric = annforge::Metric::L2, int64_t rows = 3000,
                  int64_t dim = 24, annforge::Device device = annforge::Device::Cpu) {
  annforge::BuildParams params;
  params.metric = metric;
  params.graph_degree = 32;
  params.intermediate_degree = 64;
  params.device = device;
  return annforge::build(clustered(rows, dim, type, 11), params);
}

inline void expect_same_index(const annforge::Index& a, const annforge::Index& b) {
  EXPECT_EQ(a.metric, b.metric);
  EXPECT_EQ(a.graph_degree, b.graph_degree);
  EXPECT_EQ(a.entry_points, b.entry_points);
  EXPECT_EQ(a.backend, b.backend);
  EXPECT_EQ(a.graph, b.graph);
  ASSERT_EQ(a.levels.size(), b.levels.size());
  for (size_t l = 0; l < a.levels.size(); ++l) {
    EXPECT_EQ(a.levels[l].members, b.levels[l].members) << "upper level " << l + 1;
    EXPECT_EQ(a.levels[l].degree, b.levels[l].degree) << "upper level " << l + 1;
    EXPECT_EQ(a.levels[l].graph, b.levels[l].graph) << "upper level " << l + 1;
  }
  ASSERT_EQ(a.rows(), b.rows());
  ASSERT_EQ(a.dim(), b.dim());
  ASSERT_EQ(a.vectors.type(), b.vectors.type());
  for (int64_t r = 0; r < a.rows(); ++r) {
    ASSERT_EQ(std::memcmp(a.vectors.view().row(r), b.vectors.view().row(r), a.vectors.view().row_bytes()), 0) << "row " << r;
  }
}

}  // namespace annforge_test
