// ann-benchmarks' .hdf5 files (datasets `train`, `test`, `neighbors`, attribute `distance`) read
// through libhdf5. In a build without libhdf5 every call throws Unsupported saying so.
#pragma once

#include <cstdint>
#include <string>

#include "annforge.hpp"

namespace annforge::detail {

// A 2-D float (16, 32 or 64 bit) or 8-bit integer dataset, as float32 / uint8 / int8 rows.
Dataset read_hdf5_vectors(const std::string& path, const std::string& member, int64_t max_rows);
// A 2-D integer dataset of neighbour ids (negative ids read as kInvalidId).
Neighbors read_hdf5_neighbors(const std::string& path, const std::string& member);
// The file's `distance` attribute, if it has one.
bool read_hdf5_metric(const std::string& path, Metric* metric);

}  // namespace annforge::detail
