// How the clustered kNN stage compares float rows (8-bit data always takes the exact integer
// paths): exact fp32 tiles, or bfloat16 ones whose distances are kept as they are (within
// bf16's rounding; an exact fp32 re-ranking of each row's candidates was dropped on 2026-12-04:
// a third of the all-pairs stage at 1M wordtext for no change in search recall).
// On the Intel Xeon (AVX-512 BF16 + AMX) of 2026-12-03, 200K x 256 wordtext: AMX cut the
// all-pairs stage from 2.38 s to 1.77 s with the same graph (1,505 of 231 MB of the index file
// differ); vdpbf16ps was slower than fp32 FMA there (3.5 s: one port against FMA's two), but
// AMX comes first where it exists. On a Zen 4 EPYC (AVX512_BF16, no AMX; 2026-12-06) vdpbf16ps
// took the 1M wordtext all-pairs stage from 18.7-19.0 s (fp32 FMA) to 11.6 s, the same kNN
// lists' coverage and search recall: it is the default where AMX is not.
#pragma once

#include <cstdint>

namespace annforge::cpu {

enum class FloatDots {
  Exact,    // fp32: AVX-512 FMA tiles, or the AVX2 / portable blocks
  Bf16,     // bfloat16 pairs by vdpbf16ps (AVX512_BF16)
  AmxBf16,  // bfloat16 on AMX tiles
};
bool float_dots_available(FloatDots dots);
// AMX where the CPU has it, else vdpbf16ps (AVX512_BF16), else Exact. ANNFORGE_CPU_DOTS=
// fp32|bf16|amx asks for one (for measurement); a path the CPU lacks falls back to the next one.
// A probe (dots_probe.hpp) then chooses per data set: int8 codes by VNNI where the path is not
// AMX and they keep the rows' nearest, bf16 where it does, else fp32.
FloatDots default_float_dots();
const char* float_dots_name(FloatDots dots);
// How many times cheaper a pair of float rows is on the default path than on fp32 FMA tiles:
// the cluster-size rule's divisor (default_cluster_size, partition.hpp). AMX 4; vdpbf16ps 2
// (1.65x measured on a Zen 4 EPYC, 2026-12-06: with it clusters of 1,500 instead of 1,061 on
// 1M wordtext, recall@10 at beam 64 0.9112 -> 0.9192 for a build of 25.7 s instead of 22.6 s,
// the AMX path's trade); on AVX2 without the AVX-512 tiles, where the probe most often takes
// int8 codes by vpmaddwd, 2 (the same trade measured there, 2026-12-07: 1M wordtext under
// ANNFORGE_SIMD=avx2, recall@10 at beam 64 / 128 0.9274 / 0.9598 -> 0.9314 / 0.9644 for a build
// of 38.4-42.0 s instead of 36.1-37.4 s); fp32 elsewhere 1.
int float_dots_cost_divisor();

// The plain bf16 dots kernel of the default path (pair_tiles.hpp's Bf16DotsKernel: AMX's, or
// vdpbf16ps's) and the multiple its row count must be; null on fp32. The partition's centroid
// steps and coverage sample rank by it.
using Bf16DotsFunction = void (*)(const uint16_t* rows, int row_count, int dim32, const uint16_t* panels,
                                  int panels_count, float* out, int ldo);
struct DefaultBf16Dots {
  Bf16DotsFunction kernel = nullptr;
  int rows_multiple = 1;
};
DefaultBf16Dots default_bf16_dots();

}  // namespace annforge::cpu
