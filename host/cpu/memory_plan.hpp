// The CPU backend's build plan (BuildPlan, annforge.hpp): the host memory each stage of
// CpuBackend::build holds, from the sizes of the structures it allocates, and a time estimate.
#pragma once

#include "annforge.hpp"

namespace annforge::cpu {

// Stages, peaks, seconds and index_bytes of a CPU build of `rows` x `dim` `type` vectors.
BuildPlan cpu_build_plan(int64_t rows, int64_t dim, ElementType type, const BuildParams& params);

}  // namespace annforge::cpu
