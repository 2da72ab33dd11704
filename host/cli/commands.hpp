// The CLI's commands: each declares its flags (a CommandSpec, which also makes its --help) and
// runs from the parsed Args, returning the exit code; failures throw annforge::Error.
#pragma once

#include <vector>

#include "host/cli/args.hpp"

namespace annforge::cli {

struct Command {
  const CommandSpec& (*spec)();
  int (*run)(const Args& args);
};
// In the order `annforge help` lists them.
const std::vector<Command>& commands();

// The vector file formats, for the notes of the commands that read them.
inline constexpr const char* kVectorFileNote =
    "Vector files: .fvecs .bvecs .fbin .f16bin .u8bin .i8bin .npy (float32/float16/float64/uint8/int8)\n"
    "and ann-benchmarks .hdf5; neighbour ids: .ivecs .ibin (and .hdf5 'neighbors').\n"
    "float16 and float64 values are converted to float32 at read.";

const CommandSpec& build_spec();
int run_build(const Args& args);
const CommandSpec& search_spec();
int run_search(const Args& args);
const CommandSpec& ground_truth_spec();
int run_ground_truth(const Args& args);
const CommandSpec& info_spec();
int run_info(const Args& args);
const CommandSpec& export_spec();
int run_export(const Args& args);
const CommandSpec& generate_spec();
int run_generate(const Args& args);

}  // namespace annforge::cli
