// A minimal fork-join loop over index ranges: threads take chunks from a shared counter, the
// first exception thrown by any worker is rethrown on the caller's thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace annforge::cpu {

inline int resolve_threads(int requested) {
  if (requested > 0) return requested;
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

// A one-byte spin lock: per-vector locks for neighbour-list updates, where critical sections
// are a few dozen instructions and contention is rare.
class SpinLock {
 public:
  void lock() {
    while (flag_.exchange(1, std::memory_order_acquire)) {
      while (flag_.load(std::memory_order_relaxed)) {
      }
    }
  }
  void unlock() { flag_.store(0, std::memory_order_release); }

 private:
  std::atomic<uint8_t> flag_{0};
};

// Calls body(begin, end, thread_index) over [0, n) in chunks of `grain`.
template <typename Body>
void parallel_for(int64_t n, int threads, int64_t grain, Body&& body) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  int workers = static_cast<int>(std::min<int64_t>(resolve_threads(threads), (n + grain - 1) / grain));
  if (workers <= 1) {
    body(int64_t{0}, n, 0);
    return;
  }
  std::atomic<int64_t> next{0};
  std::exception_ptr failure;
  std::mutex failure_mutex;
  auto run = [&](int t) {
    try {
      for (;;) {
        int64_t begin = next.fetch_add(grain);
        if (begin >= n) break;
        body(begin, std::min(n, begin + grain), t);
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(failure_mutex);
      if (!failure) failure = std::current_exception();
      next.store(n);  // stop handing out work
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(workers - 1);
  for (int t = 1; t < workers; ++t) pool.emplace_back(run, t);
  run(0);
  for (auto& th : pool) th.join();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace annforge::cpu
