// Stage timings on stderr when ANNFORGE_TRACE is set: where a build spends its time, without a
// profiler. Off by default, and one getenv per process.
#pragma once

#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace annforge::cpu {

inline bool tracing() {
  static const bool on = std::getenv("ANNFORGE_TRACE") != nullptr;
  return on;
}

// The process's resident set and its peak so far (VmRSS, VmHWM) in MiB, -1 where unreadable:
// traced beside each stage, the figures the memory plan (host/cpu/memory_plan.hpp) is checked by.
inline void resident_mib(double* rss, double* peak) {
  *rss = *peak = -1;
  if (std::FILE* status = std::fopen("/proc/self/status", "r")) {
    char line[256];
    while (std::fgets(line, sizeof line, status)) {
      if (std::strncmp(line, "VmRSS:", 6) == 0) *rss = std::strtod(line + 6, nullptr) / 1024.0;
      if (std::strncmp(line, "VmHWM:", 6) == 0) *peak = std::strtod(line + 6, nullptr) / 1024.0;
    }
    std::fclose(status);
  }
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
  // Prints "[annforge] <message>: <seconds since the last lap> ... rss <MiB>, peak <MiB>" and
  // starts a new lap.
  void lap(const char* format, ...) __attribute__((format(printf, 2, 3))) {
    if (!tracing()) return;
    va_list args;
    va_start(args, format);
    std::fputs("[annforge] ", stderr);
    std::vfprintf(stderr, format, args);
    va_end(args);
    double rss, peak;
    resident_mib(&rss, &peak);
    std::fprintf(stderr, ": %.3f s (cpu %.3f s), rss %.0f MiB, peak %.0f MiB\n", seconds(), cpu_seconds() - cpu_start_,
                 rss, peak);
    start_ = std::chrono::steady_clock::now();
    cpu_start_ = cpu_seconds();
  }

 private:
  std::chrono::steady_clock::time_point start_;
  double cpu_start_;
};

}  // namespace annforge::cpu
