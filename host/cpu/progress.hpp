// Progress reporting from parallel loops: workers add to a shared count; only the calling
// thread (worker 0) invokes the user's callback, at most every 1/200 of the work.
#pragma once

#include <atomic>

#include "annforge.hpp"

namespace annforge::cpu {

class ProgressReporter {
 public:
  ProgressReporter(const ProgressCallback& callback, const char* stage, int64_t total)
      : callback_(callback), stage_(stage), total_(total) {}
  void add(int64_t amount, int thread) {
    int64_t done = done_.fetch_add(amount, std::memory_order_relaxed) + amount;
    if (thread != 0 || !callback_) return;
    if (done - last_reported_ >= total_ / 200 || done >= total_) {
      last_reported_ = done;
      callback_(Progress{stage_, done < total_ ? done : total_, total_});
    }
  }
  void finish() {
    if (callback_) callback_(Progress{stage_, total_, total_});
  }

 private:
  const ProgressCallback& callback_;
  const char* stage_;
  int64_t total_;
  std::atomic<int64_t> done_{0};
  int64_t last_reported_ = 0;
};

}  // namespace annforge::cpu
