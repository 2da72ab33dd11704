// The search entry point: the vector nearest the centroid, so walks start near the middle.
#pragma once

#include "annforge.hpp"

namespace annforge::cpu {
uint32_t nearest_to_centroid(const DatasetView& data, int threads);
}
