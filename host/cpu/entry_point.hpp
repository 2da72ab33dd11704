// Search entry points: the vector nearest the centroid, then representatives of k-means
// regions, so every query starts near its own part of the data.
#pragma once

#include <vector>

#include "annforge.hpp"

namespace annforge::cpu {
uint32_t nearest_to_centroid(const DatasetView& data, int threads);
// Up to `count` distinct rows: nearest_to_centroid first, then one per k-means region.
std::vector<uint32_t> choose_entry_points(const DatasetView& data, Metric metric, int count, int threads, uint64_t seed);
}
