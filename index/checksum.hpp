// A fast streaming 64-bit checksum for index files: four multiply-xor lanes over 8-byte words
// (several GB/s), to catch corruption and truncation, not to resist tampering.
#pragma once

#include <cstdint>
#include <cstring>

namespace annforge::detail {

class Checksum {
 public:
  void update(const void* data, size_t bytes) {
    const uint8_t* p = static_cast<const uint8_t*>(data);
    total_ += bytes;
    while (bytes > 0 && pending_ > 0) {  // finish a partly filled block first
      block_[pending_++] = *p++;
      --bytes;
      if (pending_ == sizeof(block_)) absorb(block_), pending_ = 0;
    }
    for (; bytes >= sizeof(block_); p += sizeof(block_), bytes -= sizeof(block_)) absorb(p);
    if (bytes > 0) {  // only here can pending_ be 0: a partial block above was not completed
      std::memcpy(block_, p, bytes);
      pending_ = bytes;
    }
  }
  uint64_t value() const {
    uint64_t h = total_ * kPrime;
    for (uint64_t lane : lanes_) h = (h ^ lane) * kPrime, h ^= h >> 29;
    for (size_t i = 0; i < pending_; ++i) h = (h ^ block_[i]) * kPrime;
    return h ^ (h >> 32);
  }

 private:
  static constexpr uint64_t kPrime = 0x100000001B3ull * 0x9E3779B97F4A7C15ull | 1;
  void absorb(const uint8_t* block) {
    for (int lane = 0; lane < 4; ++lane) {
      uint64_t word;
      std::memcpy(&word, block + 8 * lane, 8);
      uint64_t h = (lanes_[lane] ^ word) * kPrime;
      lanes_[lane] = h ^ (h >> 31);
    }
  }
  uint64_t lanes_[4] = {1, 2, 3, 4};
  uint8_t block_[32] = {};
  size_t pending_ = 0;
  uint64_t total_ = 0;
};

}  // namespace annforge::detail
