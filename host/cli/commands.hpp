// The CLI's commands; each returns the process exit code and throws annforge::Error on failure.
#pragma once

namespace annforge::cli {
int run_build(int argc, char** argv);
int run_search(int argc, char** argv);
int run_ground_truth(int argc, char** argv);
int run_info(int argc, char** argv);
int run_generate(int argc, char** argv);
int run_export(int argc, char** argv);
}  // namespace annforge::cli
