// annforge: the command-line front end. Every failure ends as one line on stderr naming the
// file or flag at fault, and a non-zero exit code.
#include <cstdio>
#include <cstring>
#include <string>

#include "annforge.hpp"
#include "host/cli/commands.hpp"

namespace {

const char kUsage[] =
    "annforge: batch proximity-graph index builder for vector search\n"
    "\n"
    "  annforge build  --data FILE --out INDEX [--metric l2|ip|cosine] [--degree 32]\n"
    "                  [--intermediate-degree 0=auto] [--algorithm auto|brute_force|nn_descent]\n"
    "                  [--iterations N] [--device auto|cpu|gpu] [--threads N] [--rows N]\n"
    "                  [--seed S] [--json]\n"
    "  annforge search --index INDEX --queries FILE --k 10 [--gt FILE] [--beam N[,N...]]\n"
    "                  [--out FILE.ivecs|.ibin] [--device auto|cpu|gpu] [--threads N] [--json]\n"
    "  annforge gt     --data FILE --queries FILE --k 100 --out FILE.ivecs|.ibin\n"
    "                  [--metric l2|ip|cosine] [--rows N] [--device auto|cpu|gpu] [--threads N]\n"
    "                  [--json]\n"
    "  annforge info   INDEX [--json]\n"
    "  annforge export --index INDEX --out FILE [--format hnswlib|faiss] [--threads N] [--seed S]\n"
    "                  [--json]\n"
    "  annforge gen    --n N --dim D --out FILE [--queries M --queries-out FILE]\n"
    "                  [--clusters C] [--type float32|uint8] [--duplicates F] [--seed S] [--json]\n"
    "\n"
    "Vector files: .fvecs .bvecs .fbin .u8bin .i8bin .npy; neighbour ids: .ivecs .ibin.\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "help") || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  std::string command = argv[1];
  try {
    using namespace annforge::cli;
    if (command == "build") return run_build(argc - 2, argv + 2);
    if (command == "search") return run_search(argc - 2, argv + 2);
    if (command == "gt") return run_ground_truth(argc - 2, argv + 2);
    if (command == "info") return run_info(argc - 2, argv + 2);
    if (command == "gen") return run_generate(argc - 2, argv + 2);
    if (command == "export") return run_export(argc - 2, argv + 2);
    std::fprintf(stderr, "annforge: unknown command '%s' (see 'annforge help')\n", command.c_str());
    return 2;
  } catch (const annforge::Error& e) {
    std::fprintf(stderr, "annforge %s: error: %s\n", command.c_str(), e.what());
    return e.code() == annforge::ErrorCode::InvalidArgument ? 2 : 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "annforge %s: error: out of memory\n", command.c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "annforge %s: error: %s\n", command.c_str(), e.what());
    return 1;
  }
}
