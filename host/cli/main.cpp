// annforge: the command-line front end. Every failure ends as one line on stderr naming the
// file or flag at fault, and a non-zero exit code (2 for a bad command line, 1 otherwise).
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "annforge.hpp"
#include "host/cli/commands.hpp"
#include "host/cli/mpi_runtime.hpp"

namespace {

using annforge::cli::Command;
using annforge::cli::commands;

std::string usage() {
  std::string text = "annforge " + std::string(annforge::version()) +
                     ": batch proximity-graph index builder for vector search\n\nUsage:\n";
  for (const Command& c : commands()) {
    const auto& spec = c.spec();
    std::string line = "  annforge " + spec.name;
    line.resize(20, ' ');
    text += line + spec.summary + "\n";
  }
  text +=
      "\n  annforge help COMMAND    every flag of COMMAND with its meaning and default\n"
      "                           (also: annforge COMMAND --help)\n"
      "  annforge --version       version, backends, this CPU's SIMD level, the GPU found\n"
      "\nExample: annforge gen --n 100000 --dim 64 --out base.fbin --queries 1000 --queries-out q.fbin\n"
      "         annforge build --data base.fbin --out base.afi\n"
      "         annforge gt --data base.fbin --queries q.fbin --k 10 --out gt.ivecs\n"
      "         annforge search --index base.afi --queries q.fbin --gt gt.ivecs --beam 32,64,128\n";
  return text;
}

const Command* find_command(const std::string& name) {
  for (const Command& c : commands()) {
    if (c.spec().name == name) return &c;
  }
  return nullptr;
}

int unknown_command(const std::string& name) {
  std::fprintf(stderr, "annforge: unknown command '%s' (see 'annforge help')\n", name.c_str());
  return 2;
}

int print_version() {
  const annforge::SystemInfo info = annforge::system_info();
  std::string backends;
  for (const std::string& b : info.backends) backends += (backends.empty() ? "" : ", ") + b;
  std::printf("annforge %s\n", info.version.c_str());
  std::printf("backends: %s\n", backends.c_str());
  std::printf("cpu: %s\n", info.cpu_simd.c_str());
  std::printf("gpu: %s\n", info.gpu.c_str());
  std::printf("hdf5 input: %s\n", info.hdf5 ? "yes" : "no (built without libhdf5)");
  return 0;
}

// Runs one command; every failure becomes one line on stderr and an exit code. Every rank of a
// distributed build fails with the same error: rank 0 alone prints it.
int run_command(const Command& command, const std::string& first, int argc, char** argv) {
  auto print_error = [&](const char* message) {
    if (annforge::cli::MpiRuntime::rank() == 0) std::fprintf(stderr, "annforge %s: error: %s\n", first.c_str(), message);
  };
  try {
    annforge::cli::Args args(command.spec(), argc - 2, argv + 2);
    if (args.help_requested()) {
      std::fputs(annforge::cli::help_text(command.spec()).c_str(), stdout);
      return 0;
    }
    return command.run(args);
  } catch (const annforge::Error& e) {
    print_error(e.what());
    return e.code() == annforge::ErrorCode::InvalidArgument ? 2 : 1;
  } catch (const std::bad_alloc&) {
    print_error("out of memory");
    return 1;
  } catch (const std::exception& e) {
    print_error(e.what());
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(usage().c_str(), stderr);
    return 2;
  }
  const std::string first = argv[1];
  if (first == "--version" || first == "version") return print_version();
  if (first == "help" || first == "--help" || first == "-h") {
    if (argc < 3) {
      std::fputs(usage().c_str(), stdout);
      return 0;
    }
    const Command* command = find_command(argv[2]);
    if (!command) return unknown_command(argv[2]);
    std::fputs(annforge::cli::help_text(command->spec()).c_str(), stdout);
    return 0;
  }
  const Command* command = find_command(first);
  if (!command) return unknown_command(first);
  // MPI outlives the command: a rank's error is printed before MPI_Finalize, which every rank
  // reaches, so the launcher does not end the job (and rank 0's message) when another rank exits.
  std::unique_ptr<annforge::cli::MpiRuntime> mpi;
  try {
    mpi = std::make_unique<annforge::cli::MpiRuntime>(&argc, &argv);
  } catch (const annforge::Error& e) {
    std::fprintf(stderr, "annforge %s: error: %s\n", first.c_str(), e.what());
    return 1;
  }
  // Under mpirun only build is distributed; another command runs once, on rank 0.
  if (annforge::cli::MpiRuntime::active() && first != "build" && annforge::cli::MpiRuntime::rank() != 0) return 0;
  return run_command(*command, first, argc, argv);
}
