// Large host arrays backed by transparent huge pages, touched first on several threads. With THP
// in "madvise" mode (Debian's default) a fresh vector of hundreds of MiB is first touched in
// 4 KiB pages; on a VM each first touch of guest memory also costs the hypervisor a fault
// (measured on the 2-core Firecracker VM this project is built on: 512 MiB took 1.5-1.7 s to
// first touch in 4 KiB pages, 0.65 s with huge pages, 0.8 s of that on two threads; memory
// freed and allocated again within a second or two costs ~0.04 s). At 1M rows the page faults
// were ~10% of a CPU build's time. Hence: reserve, ask for huge pages, prefault in parallel,
// and free big arrays as soon as they are dead so that later stages reuse their memory.
#pragma once

#include <sys/mman.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <cstddef>
#include <algorithm>
#include <cstdint>
#include <thread>
#include <vector>

namespace annforge {

// Returns the heap's free pages to the system (glibc: malloc_trim). Blocks under glibc's mmap
// threshold (which grows up to 32 MiB as large blocks are freed) stay resident after free():
// the k-means stages' float copies of row samples (30 MiB for MNIST's 784-d rows) stayed in the
// resident set through the whole build, and the memory plan could not tell whether they would.
// A few milliseconds, after the stages that free such blocks.
inline void release_free_heap() {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

// Asks for huge pages on the 2 MiB-aligned part of [data, data + bytes) (a hint: ignored where
// THP is off).
inline void advise_huge_pages(const void* data, size_t bytes) {
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  if (bytes < 4 * kHuge) return;
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(data) + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(data) + bytes) & ~(kHuge - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
}

// Faults [data, data + bytes) in on `threads` threads (MADV_POPULATE_WRITE, Linux 5.14+; a
// no-op elsewhere), so that the first touch does not run on one thread.
inline void prefault(void* data, size_t bytes, int threads) {
#ifdef MADV_POPULATE_WRITE
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  if (threads <= 1 || bytes < 8 * kHuge) return;
  const uintptr_t begin = reinterpret_cast<uintptr_t>(data) & ~uintptr_t{4095};
  const uintptr_t end = reinterpret_cast<uintptr_t>(data) + bytes;
  const uintptr_t step = ((end - begin) / threads + kHuge - 1) & ~(kHuge - 1);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    const uintptr_t lo = begin + t * step, hi = std::min(end, lo + step);
    if (lo >= hi) break;
    workers.emplace_back([lo, hi] { madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_POPULATE_WRITE); });
  }
  for (std::thread& w : workers) w.join();
#else
  (void)data, (void)bytes, (void)threads;
#endif
}

// Empties `v` and reserves `count` elements on huge pages, untouched (or faulted in on
// `threads` threads).
template <class T>
void reserve_huge(std::vector<T>& v, size_t count, int threads = 1) {
  v.clear();
  v.shrink_to_fit();
  v.reserve(count);
  advise_huge_pages(v.data(), count * sizeof(T));
  prefault(v.data(), count * sizeof(T), threads);
}

// v = count copies of value, on huge pages where v must grow (its memory is reused otherwise).
template <class T>
void assign_huge(std::vector<T>& v, size_t count, const T& value, int threads = 1) {
  if (v.capacity() < count) reserve_huge(v, count, threads);
  v.assign(count, value);
}

}  // namespace annforge
