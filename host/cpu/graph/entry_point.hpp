// Search entry points: the vector nearest the centroid, then representatives of k-means
// regions, so every query starts near its own part of the data.
#pragma once

#include <algorithm>
#include <vector>

#include "annforge.hpp"

namespace annforge::cpu {
// Entry points per index, for both backends: one per ~250 vectors, 128 to 512. A query's first
// step costs one distance per entry point (on 1M SIFT, 1,024 of them cost ~15% of the
// queries/s at beam 64, hence the cap), and in return starts in its own region of the data: on
// data that falls into many well separated clusters, greedy search cannot cross from a cluster
// without an entry point to one with, whatever the beam.
inline int entry_point_count(int64_t rows) { return static_cast<int>(std::clamp<int64_t>(rows / 250, 128, 512)); }

uint32_t nearest_to_centroid(const DatasetView& data, int threads);
// Up to `count` distinct rows: nearest_to_centroid first, then one per k-means region.
std::vector<uint32_t> choose_entry_points(const DatasetView& data, Metric metric, int count, int threads, uint64_t seed);
}
