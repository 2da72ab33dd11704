// Stage timings on stderr when ANNFORGE_TRACE is set: where a build spends its time, without a
// profiler. Off by default, and one getenv per process.
#pragma once

#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>

namespace annforge::cpu {

inline bool tracing() {
  static const bool on = std::getenv("ANNFORGE_TRACE") != nullptr;
  return on;
}

class StageTimer {
 public:
  StageTimer() : start_(std::chrono::steady_clock::now()) {}
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }
  // Prints "[annforge] <message>: <seconds since the last lap>" and starts a new lap.
  void lap(const char* format, ...) __attribute__((format(printf, 2, 3))) {
    if (!tracing()) return;
    va_list args;
    va_start(args, format);
    std::fputs("[annforge] ", stderr);
    std::vfprintf(stderr, format, args);
    va_end(args);
    std::fprintf(stderr, ": %.3f s\n", seconds());
    start_ = std::chrono::steady_clock::now();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

}  // namespace annforge::cpu
