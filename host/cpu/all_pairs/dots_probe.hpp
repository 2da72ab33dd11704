// How a float data set's all-pairs stage computes inner product and cosine on a CPU with bf16
// tiles (AMX, or vdpbf16ps): bf16 tiles, int8 tiles or exact fp32, chosen by measuring what each
// keeps. int8 tiles do twice bf16's multiply-adds per instruction (AMX-INT8's tdpbssd, or
// vpdpbusd without AMX) and centre the columns on the block's mean, so their one step per block
// follows the cluster's spread; bf16 rounds each element to 2^-9 of itself and takes the dot as
// it is, which loses the angles between rows that share a large common component (4,000 x 96
// clustered rows with 100 added to one dimension, as the "rogue dimensions" of some transformer
// embeddings: bf16 kept 0.63 of the rows' in-cluster 10 nearest, int8 0.999). In a sample of
// clusters, the first rows' exact in-cluster 10 nearest are looked for in the k nearest by each
// path.
#pragma once

#include <cstdint>

#include "host/cpu/all_pairs/float_dots.hpp"
#include "host/cpu/distance/distance.hpp"
#include "host/cpu/partition/partition.hpp"

namespace annforge::cpu {

struct DotsProbe {
  int rows = 0;              // rows probed (0: the probe did not run)
  double int8_recall = 0.0;  // of their exact in-cluster 10 nearest, the share int8 tiles' k nearest hold
  double bf16_recall = 0.0;  // the same for bf16 tiles
  FloatDots dots = FloatDots::AmxBf16;  // the choice: AmxBf16 (or Bf16 without AMX), or Exact where no tile path keeps enough
  bool int8 = false;                    // with AmxBf16: int8 tiles
};

// The choice for the clustered kNN stage over `partition` of `distance.base()`, for float rows.
// With AMX-BF16 and AMX-INT8 (inner product and cosine only): bf16 where it keeps at least
// kTilesFloor (0.98) of the rows' nearest, else int8 where that does, else exact fp32 (on AMX
// int8 measured no faster once its packing was counted). Without AMX, on CPUs with the AVX-512
// tiles, every metric: int8 by vpdpbusd where it keeps them (1M wordtext on a Zen 4: all pairs
// 15.8 -> 9.5 s), else bf16 where the default is vdpbf16ps and that does, else Exact. On AVX2
// without the AVX-512 tiles, every metric: int8 codes by vpmaddwd (ClusterBlock::load_codes)
// where they keep them, else Exact. Elsewhere (portable code) the default, unprobed. ANNFORGE_CPU_DOT_BITS=8 / 16 / 32 forces int8 / bf16 / fp32
// (measurement; 16 only where the CPU has a bf16 path). Deterministic, one thread.
DotsProbe probe_float_dots(const Distance& distance, const Partition& partition, int k);

// ANNFORGE_CPU_DOT_BITS as set (0 where unset); any value but 8, 16 or 32 is refused with an
// InvalidArgument error naming it. The all-pairs stage reads it on every machine, so a mistyped
// value is never silently ignored where the probe does not run.
int forced_dot_bits();

}  // namespace annforge::cpu
