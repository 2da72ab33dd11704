// What the libFuzzer harnesses share: a private scratch folder for the files the readers are
// given (the readers take paths and map files, so each input is written to a file first), and
// a crash that names the broken property.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "annforge.hpp"
#include "index/checksum.hpp"

namespace annforge_fuzz {

// /dev/shm where it exists (no disk writes, cheap fsync), else $TMPDIR or /tmp; one folder per
// process so that parallel fuzzing jobs do not share files.
inline const std::string& scratch_dir() {
  static const std::string dir = [] {
    std::string base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : (std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp");
    std::string d = base + "/annforge-fuzz-" + std::to_string(::getpid());
    std::string command = "mkdir -p '" + d + "'";
    if (std::system(command.c_str()) != 0) std::abort();
    return d;
  }();
  return dir;
}

inline std::string scratch_path(const std::string& name) { return scratch_dir() + "/" + name; }

inline void write_file(const std::string& path, const uint8_t* data, size_t size) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
  if (std::fclose(f) != 0) std::abort();
}

// A property that must hold on every input: report it and crash, so libFuzzer keeps the input.
#define FUZZ_CHECK(condition)                                                           \
  do {                                                                                  \
    if (!(condition)) {                                                                 \
      std::fprintf(stderr, "fuzz check failed: %s (%s:%d)\n", #condition, __FILE__, __LINE__); \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)

// Reads every byte of a region so that AddressSanitizer sees any read past its end.
inline uint64_t touch(const void* data, size_t bytes) {
  const volatile uint8_t* p = static_cast<const volatile uint8_t*>(data);
  uint64_t sum = 0;
  for (size_t i = 0; i < bytes; ++i) sum += p[i];
  return sum;
}

// Writes a valid index checksum into the last 8 bytes (when there are 8), so that mutations get
// past it to the header and structure checks.
inline void fix_checksum(std::vector<uint8_t>& bytes) {
  if (bytes.size() < 8) return;
  annforge::detail::Checksum checksum;
  checksum.update(bytes.data(), bytes.size() - 8);
  const uint64_t sum = checksum.value();
  std::memcpy(bytes.data() + bytes.size() - 8, &sum, 8);
}

// Writes `bytes` to `path` and loads it as an index; false when the loader refuses it.
inline bool load_written(const std::string& path, const std::vector<uint8_t>& bytes, annforge::Index* index) {
  write_file(path, bytes.data(), bytes.size());
  try {
    *index = annforge::load(path);
  } catch (const annforge::Error&) {
    return false;  // refused with a message: the wanted outcome for a bad file
  }
  return true;
}

}  // namespace annforge_fuzz
