// Which of the machine's GPUs this process takes: $ANNFORGE_GPU_DEVICE where set, else under an
// MPI launcher the rank's place on its node (so that ranks sharing a node spread over its GPUs),
// else the first. Host code only: the CUDA backend calls it once, before its first CUDA context.
#pragma once

#include <cstdlib>
#include <string>

#include "annforge.hpp"

namespace annforge::detail {

// The local rank a launcher gives this process (OpenMPI, MPICH / Hydra, Slurm), or -1.
inline int launcher_local_rank() {
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "PMI_LOCAL_RANK", "SLURM_LOCALID"}) {
    if (const char* value = std::getenv(name); value && *value) {
      char* end = nullptr;
      const long rank = std::strtol(value, &end, 10);
      if (*end == '\0' && rank >= 0) return static_cast<int>(rank);
    }
  }
  return -1;
}

// The device ordinal among `count` (> 0) devices. ANNFORGE_GPU_DEVICE must name one of them.
inline int choose_gpu_ordinal(int count) {
  if (const char* asked = std::getenv("ANNFORGE_GPU_DEVICE"); asked && *asked) {
    char* end = nullptr;
    const long ordinal = std::strtol(asked, &end, 10);
    if (*end != '\0' || ordinal < 0 || ordinal >= count) {
      throw Error(ErrorCode::InvalidArgument, std::string("ANNFORGE_GPU_DEVICE=") + asked + ": this machine has " +
                                                  std::to_string(count) + " CUDA device(s), numbered from 0");
    }
    return static_cast<int>(ordinal);
  }
  const int local = launcher_local_rank();
  return local >= 0 ? local % count : 0;
}

}  // namespace annforge::detail
