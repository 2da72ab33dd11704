// Stage timings on stderr when ANNFORGE_TRACE is set: where a build spends its time, without a
// profiler. Off by default, and one getenv per process.
#pragma once

#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace annforge::cpu {

inline bool tracing() {
  static const bool on = std::getenv("ANNFORGE_TRACE") != nullptr;
  return on;
}

class StageTimer {
 public:
  StageTimer() : start_(std::chrono::steady_clock::now()), cpu_start_(cpu_seconds()) {}
  // CPU time of the whole process (all threads): steadier than wall time on a shared machine.
  static double cpu_seconds() {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
  }
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }
  // Prints "[annforge] <message>: <seconds since the last lap>" and starts a new lap.
  void lap(const char* format, ...) __attribute__((format(printf, 2, 3))) {
    if (!tracing()) return;
    va_list args;
    va_start(args, format);
    std::fputs("[annforge] ", stderr);
    std::vfprintf(stderr, format, args);
    va_end(args);
    std::fprintf(stderr, ": %.3f s (cpu %.3f s)\n", seconds(), cpu_seconds() - cpu_start_);
    start_ = std::chrono::steady_clock::now();
    cpu_start_ = cpu_seconds();
  }

 private:
  std::chrono::steady_clock::time_point start_;
  double cpu_start_;
};

}  // namespace annforge::cpu
