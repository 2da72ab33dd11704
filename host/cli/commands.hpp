// The CLI's commands: each declares its flags (a CommandSpec, which also makes its --help) and
// runs from the parsed Args, returning the exit code; failures throw annforge::Error.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "annforge.hpp"

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
const CommandSpec& extend_spec();
int run_extend(const Args& args);
const CommandSpec& generate_spec();
int run_generate(const Args& args);
const CommandSpec& plan_spec();
int run_plan(const Args& args);
const CommandSpec& convert_spec();
int run_convert(const Args& args);

// The build plan (BuildPlan) as the CLI shows it, for `plan` and `build --verbose / --json`.
void print_plan(std::FILE* out, const BuildPlan& plan);
std::string plan_json(const BuildPlan& plan);
// --memory-limit: "4G", "512M", "1.5GiB", bytes; binary units. An error names the flag.
uint64_t parse_size(const std::string& flag, const std::string& text);
// MemAvailable from /proc/meminfo (0 where unreadable: no limit).
uint64_t available_host_memory();
// The flags `plan` declares as `build` does: --data, --degree, --intermediate-degree,
// --iterations, --memory-limit.
Flag data_flag();
Flag degree_flag();
Flag intermediate_degree_flag();
Flag iterations_flag();
Flag partitions_flag();
Flag memory_limit_flag();
// The build flags `plan` shares with `build` (degree, intermediate-degree, device, threads,
// iterations, partitions), and the limit: --memory-limit, else what the machine has available.
BuildParams build_params_of(const Args& args);
// Everything `build` takes from its flags: build_params_of's, --algorithm, --seed, the limit.
BuildParams build_command_params(const Args& args);
uint64_t memory_limit_of(const Args& args);

}  // namespace annforge::cli
