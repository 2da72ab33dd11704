// How wide the upper levels' beam must be on one index (Index::upper_width_divisor), measured
// when the levels are built.
//
// Why measure: the level walk is what finds a query's region. On data without sharp cluster
// structure a narrow beam (a quarter of the base beam) lands as well as a wide one and a wider
// one only costs time (1M SIFT: a fifth of the queries/s at base beam 16). On data of many
// separate clusters a level holds many members of each cluster, a narrow beam fills with one
// cluster's members, and its walk ends in the wrong cluster for a seventh of the queries
// (1M x 64 in 5,000 clusters at base beam 16); no fixed width serves both.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "annforge.hpp"

namespace annforge::cpu {

class Distance;

// Rows searched for themselves, the measure of how often a search lands: a row is missed when
// nothing as near as its nearest graph neighbour comes back (any metric; duplicates count as
// found). `miss_bounds`: each row's nearest graph neighbour's distance plus `tolerance` of it
// (a search's kernels and between() may differ in the last bits); `count_missed`: how many of
// the rows the results (k per row) miss.
std::vector<float> miss_bounds(const Index& index, const Distance& distance, const std::vector<uint32_t>& rows,
                               float tolerance);
int count_missed(const std::vector<uint32_t>& rows, const std::vector<float>& bounds, const uint32_t* ids,
                 const float* distances, int k);

struct UpperWidthMeasurement {
  int divisor = 4;                      // what Index::upper_width_divisor should be
  std::array<double, 3> missed{};       // share of the sample missed at base beam 16, divisors 4, 2, 1
  double missed_wider_base = 0;         // at base beam 32, divisor 4: the other way to spend
  double missed_narrower = 0;           // at base beam 32, divisor 8 (an upper beam of 4)
  int samples = 0;
};

// Rows of `index` (its levels built), up to 1,000 drawn with `seed`, searched as queries at base
// beam 16 with the upper levels' beam at 16 / 4, 16 / 2 and 16, and at base beam 32 with 32 / 4.
// A row counts as missed when no result other than itself is as near to it as the nearest of
// its own graph neighbours: the walk did not reach the row's neighbourhood (for any metric,
// inner product included, where a row is not always its own nearest). An index without levels
// keeps 4.
UpperWidthMeasurement measure_upper_width(const Index& index, int threads, uint64_t seed);

// The divisor from those shares. A wider upper beam is worth its time only where it finds more
// than doubling the base beam would (1M x 64 in 50,000 clusters of 20: the full upper beam at
// base beam 16 missed 0.057 and cost more queries/s than base beam 32's 0.03); then the largest
// of 4, 2, 1 whose misses are within 0.01 of the full upper beam's; and 8 where 4 is chosen and
// an eighth of base beam 32 misses at most 2 rows in 1,000 more than a quarter (1M SIFT: 0.000
// and 0.000, 1M wordtext: 0.012 against 0.008 -> 4; MNIST 0.000 and 0.000). The eighth served
// 1M SIFT at beam 32 / 64 with 7-8% fewer distances per query, recall@10 -0.0002 / -0.0007,
// and MNIST at beam 64 with 7% fewer, -0.0001 (2026-12-07).
int divisor_for(const std::array<double, 3>& missed, double missed_wider_base, double missed_narrower = 1.0);

}  // namespace annforge::cpu
