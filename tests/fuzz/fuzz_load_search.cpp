// Fuzzes a load followed by a search: the checksum is fixed up (as in fuzz_load_index with
// FUZZ_FIX_CHECKSUM) so that the structure is what varies, and any index the loader accepts
// must be searchable without a fault, returning ids in range, k per query, nearest first.
// The last byte of the input picks k and the beam width.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "annforge.hpp"
#include "tests/fuzz/fuzz_support.hpp"

using namespace annforge;
using namespace annforge_fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string input = scratch_path("input.afi");
  if (size < 9) return 0;
  const uint8_t knobs = data[size - 1];
  std::vector<uint8_t> bytes(data, data + size - 1);
  fix_checksum(bytes);
  Index index;
  if (!load_written(input, bytes, &index)) return 0;
  // Queries: the index's own first rows (each should find itself) and their bytes reversed.
  const DatasetView& base = index.vectors.view();
  const int64_t own = std::min<int64_t>(base.rows, 3);
  Dataset queries = Dataset::allocate(2 * own, base.dim, base.type);
  auto* q = static_cast<uint8_t*>(queries.mutable_data());
  std::memcpy(q, base.data, own * base.row_bytes());
  for (int64_t i = 0; i < own; ++i) {
    for (size_t b = 0; b < base.row_bytes(); ++b) q[(own + i) * base.row_bytes() + b] = base.row(i)[base.row_bytes() - 1 - b];
  }
  if (base.type == ElementType::Float32) {
    // Reversed bytes of a float may be NaN, infinite or too large for float32 distances (search
    // refuses rows whose squared norm exceeds FLT_MAX / 16): make them finite and modest.
    float* f = reinterpret_cast<float*>(q);
    for (int64_t i = 0; i < 2 * own * base.dim; ++i) {
      if (!std::isfinite(f[i]) || std::fabs(f[i]) > 1e6f) f[i] = 0.5f;
    }
  }
  const int k = 1 + (knobs & 15);
  SearchParams params;
  params.beam_width = k + (knobs >> 4) * 4;
  params.threads = 1;
  params.device = Device::Cpu;
  const Neighbors found = search(index, queries.view(), k, params);
  FUZZ_CHECK(found.rows == 2 * own && found.k == k);
  for (int64_t i = 0; i < found.rows; ++i) {
    for (int j = 0; j < k; ++j) {
      const uint32_t id = found.ids[i * k + j];
      FUZZ_CHECK(id == kInvalidId || id < index.rows());
      if (j > 0 && id != kInvalidId) FUZZ_CHECK(!(found.distances[i * k + j] < found.distances[i * k + j - 1]));
    }
  }
  return 0;
}
