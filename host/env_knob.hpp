// Tuning knobs read from the environment (ANNFORGE_CPU_*, ANNFORGE_GPU_*; README "Build
// options"), for measurement runs: a positive integer, or the fallback when unset.
#pragma once

#include <cstdlib>
#include <string>

#include "annforge.hpp"

namespace annforge::detail {

inline int env_knob(const char* name, int fallback) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return fallback;
  char* end = nullptr;
  const long parsed = std::strtol(value, &end, 10);
  if (*end != '\0' || parsed <= 0 || parsed > (1 << 20)) {
    throw Error(ErrorCode::InvalidArgument, std::string(name) + "=" + value + ": expected a positive integer");
  }
  return static_cast<int>(parsed);
}

}  // namespace annforge::detail
