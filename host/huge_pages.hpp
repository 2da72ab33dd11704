// Large host arrays backed by transparent huge pages. With THP in "madvise" mode (Debian's
// default) a fresh vector of hundreds of MiB is first touched in 4 KiB pages: at 1M rows the
// page faults and their zeroing took ~10% of a CPU build's time. Reserving first and asking
// for huge pages before anything touches the memory makes those faults 512 times fewer.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace annforge {

// Asks for huge pages on the 2 MiB-aligned part of [data, data + bytes) (a hint: ignored where
// THP is off).
inline void advise_huge_pages(const void* data, size_t bytes) {
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  if (bytes < 4 * kHuge) return;
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(data) + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(data) + bytes) & ~(kHuge - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
}

// Empties `v` and reserves `count` elements on huge pages, untouched.
template <class T>
void reserve_huge(std::vector<T>& v, size_t count) {
  v.clear();
  v.shrink_to_fit();
  v.reserve(count);
  advise_huge_pages(v.data(), count * sizeof(T));
}

// v = count copies of value, on huge pages where v must grow (its memory is reused otherwise).
template <class T>
void assign_huge(std::vector<T>& v, size_t count, const T& value) {
  if (v.capacity() < count) reserve_huge(v, count);
  v.assign(count, value);
}

}  // namespace annforge
