// compare_gpu's command line and data.
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <sstream>
#include <thread>

#include "child_process.hpp"
#include "compare_gpu.hpp"
#include "host/cli/mixture.hpp"

#ifndef ANNFORGE_BENCH_TORCH_SCRIPT
#define ANNFORGE_BENCH_TORCH_SCRIPT "bench/torch_knn_graph.py"
#endif

namespace compare_gpu {

using annforge_bench::directory_of;
using annforge_bench::file_exists;
using annforge_bench::parse_integer;
using annforge_bench::shell_quote;

const std::vector<std::string> kSystems = {"annforge-gpu", "gpu-graph-cpu-search", "annforge-cpu", "exact-gpu", "torch"};

extern const char* const kUsage;
const char* const kUsage =
    "usage: compare_gpu (--base FILE --queries FILE | --generate N,DIM) [--gt FILE] [--rows N]\n"
    "                   [--queries-limit Q] [--threads T] [--widths 16,32,64,128] [--k 10]\n"
    "                   [--degree 32] [--repeat R] [--systems LIST] [--json FILE]\n"
    "                   [--python python3] [--torch-script FILE] [--torch-timeout S]\n"
    "                   [--warmup-rows 10000] [--sample 1000] [--seed 42]\n"
    "\n"
    "  --base FILE          base vectors (.fvecs .bvecs .fbin .u8bin .i8bin .npy)\n"
    "  --queries FILE       query vectors, same element type and dimension as the base\n"
    "  --generate N,DIM     instead of --base/--queries: N clustered uint8 vectors of DIM dimensions\n"
    "                       made in memory (the mixture of 'annforge gen'), and --queries-limit\n"
    "                       (default 10000) queries from the same mixture\n"
    "  --gt FILE            ground-truth ids (.ivecs .ibin) for the whole base file; without it (or\n"
    "                       for a --rows slice) exact ground truth is computed with exact_knn, on the\n"
    "                       GPU when there is one, else on the CPU (the output says which)\n"
    "  --rows N             use only the first N base vectors\n"
    "  --queries-limit Q    use only the first Q queries\n"
    "  --threads T          CPU threads (CPU build and search, host parts of the GPU build; default all)\n"
    "  --widths LIST        search beam widths (default 16,32,64,128; each >= --k)\n"
    "  --k K                neighbours per query, the k of recall@k (default 10)\n"
    "  --degree D           graph degree (default 32; intermediate degree 2*D); the exact graphs\n"
    "                       keep D + 1 neighbours per row (the row itself included)\n"
    "  --repeat R           time each build R times and report the best (default 1)\n"
    "  --systems LIST       rows to run, of: annforge-gpu, gpu-graph-cpu-search, annforge-cpu,\n"
    "                       exact-gpu, torch (default: all)\n"
    "  --json FILE          also write every figure as one JSON object to FILE\n"
    "  --python PATH        the Python that runs the torch script (default: python3 on PATH)\n"
    "  --torch-script FILE  bench/torch_knn_graph.py (default: found beside the sources or binary)\n"
    "  --torch-timeout S    seconds the torch script may run (default 600)\n"
    "  --torch-device D     cuda (default), or cpu: only to try the script out without a GPU\n"
    "  --warmup-rows N      rows of the untimed warm-up GPU build (default 10000)\n"
    "  --sample N           rows checked in the exact and torch graphs (default 1000)\n"
    "  --seed S             seed of the sample (and of --generate; default 42)\n";

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> items;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, separator)) items.push_back(item);
  return items;
}

// 1234567.8 -> "1,234,568"
std::string grouped(double value) {
  if (!std::isfinite(value)) return "-";
  char digits[64];
  std::snprintf(digits, sizeof digits, "%.0f", value);
  std::string text = digits, out;
  size_t start = text[0] == '-' ? 1 : 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (i > start && (text.size() - i) % 3 == 0) out += ',';
    out += text[i];
  }
  return out;
}

std::string format(const char* pattern, double value) {
  char text[64];
  std::snprintf(text, sizeof text, pattern, value);
  return text;
}

Options parse_options(int argc, char** argv) {
  Options options;
  for (int i = 0; i < argc; ++i) options.command_line += (i == 0 ? "" : " ") + shell_quote(argv[i]);
  std::optional<std::vector<std::string>> systems;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) throw UsageFailure(flag + ": missing value (or unknown flag)");
    const std::string value = argv[++i];
    if (flag == "--base") options.base_path = value;
    else if (flag == "--queries") options.queries_path = value;
    else if (flag == "--gt") options.gt_path = value;
    else if (flag == "--json") options.json_path = value;
    else if (flag == "--python") options.python = value;
    else if (flag == "--torch-script") options.torch_script = value;
    else if (flag == "--torch-device") {
      if (value != "cuda" && value != "cpu") throw UsageFailure("--torch-device: expects cuda or cpu");
      options.torch_device = value;
    }
    else if (flag == "--torch-timeout") options.torch_timeout = static_cast<double>(parse_integer(flag, value, 1));
    else if (flag == "--rows") options.rows = parse_integer(flag, value, 1);
    else if (flag == "--queries-limit") options.queries_limit = parse_integer(flag, value, 1);
    else if (flag == "--threads") options.threads = static_cast<int>(parse_integer(flag, value, 0));
    else if (flag == "--k") options.k = static_cast<int>(parse_integer(flag, value, 1));
    else if (flag == "--degree") options.degree = static_cast<int>(parse_integer(flag, value, 2));
    else if (flag == "--repeat") options.repeat = static_cast<int>(parse_integer(flag, value, 1));
    else if (flag == "--warmup-rows") options.warmup_rows = parse_integer(flag, value, 2);
    else if (flag == "--sample") options.sample = parse_integer(flag, value, 1);
    else if (flag == "--seed") options.seed = static_cast<uint64_t>(parse_integer(flag, value, 0));
    else if (flag == "--widths") {
      options.widths.clear();
      for (const std::string& item : split(value, ',')) options.widths.push_back(static_cast<int>(parse_integer(flag, item, 1)));
      if (options.widths.empty()) throw UsageFailure("--widths: expects a comma-separated list");
    } else if (flag == "--systems") {
      systems = split(value, ',');
    } else if (flag == "--generate") {
      std::vector<std::string> parts = split(value, ',');
      if (parts.size() != 2) throw UsageFailure("--generate: expects N,DIM (e.g. 1000000,128)");
      options.generate_rows = parse_integer(flag, parts[0], 2);
      options.generate_dim = parse_integer(flag, parts[1], 1);
    } else {
      throw UsageFailure("unknown flag " + flag);
    }
  }
  const bool generated = options.generate_rows > 0;
  if (generated && (!options.base_path.empty() || !options.queries_path.empty() || !options.gt_path.empty())) {
    throw UsageFailure("--generate: replaces --base, --queries and --gt");
  }
  if (!generated && options.base_path.empty()) throw UsageFailure("--base (or --generate N,DIM) is required");
  if (!generated && options.queries_path.empty()) throw UsageFailure("--queries is required with --base");
  if (options.threads == 0) {
    unsigned hardware = std::thread::hardware_concurrency();
    options.threads = hardware == 0 ? 1 : static_cast<int>(hardware);
  }
  for (int width : options.widths) {
    if (width < options.k) throw UsageFailure("--widths: width " + std::to_string(width) + " is smaller than --k " + std::to_string(options.k));
  }
  if (systems) {
    for (const std::string& key : *systems) {
      if (std::find(kSystems.begin(), kSystems.end(), key) == kSystems.end()) {
        throw UsageFailure("--systems: unknown system '" + key + "' (known: annforge-gpu, gpu-graph-cpu-search, annforge-cpu, exact-gpu, torch)");
      }
    }
    for (const std::string& key : kSystems) {
      if (std::find(systems->begin(), systems->end(), key) != systems->end()) options.systems.push_back(key);
    }
    if (options.systems.empty()) throw UsageFailure("--systems: no system left to run");
    if (options.runs("gpu-graph-cpu-search") && !options.runs("annforge-gpu")) {
      throw UsageFailure("--systems: gpu-graph-cpu-search searches the graph of annforge-gpu; name both");
    }
  } else {
    options.systems = kSystems;
  }
  if (options.torch_script.empty()) {
    // The source tree's copy (a build run where it was configured), else one beside the binary
    // (a build carried to another machine: bin/ and bench/ side by side, or the build folder's
    // bench/ inside the repository), else bench/ under the working folder.
    std::string self;
    char buffer[4096];
    ssize_t length = readlink("/proc/self/exe", buffer, sizeof buffer - 1);
    if (length > 0) self = directory_of(std::string(buffer, static_cast<size_t>(length)));
    std::vector<std::string> candidates = {ANNFORGE_BENCH_TORCH_SCRIPT};
    if (!self.empty()) {
      candidates.push_back(self + "/torch_knn_graph.py");
      candidates.push_back(self + "/../bench/torch_knn_graph.py");
      candidates.push_back(self + "/../../bench/torch_knn_graph.py");
    }
    candidates.push_back("bench/torch_knn_graph.py");
    options.torch_script = candidates.front();
    for (const std::string& candidate : candidates) {
      if (file_exists(candidate)) {
        options.torch_script = candidate;
        break;
      }
    }
  }
  return options;
}

Data load_data(const Options& options) {
  Data data;
  if (options.generate_rows > 0) {
    data.generated = true;
    const int clusters = static_cast<int>(std::max<int64_t>(8, options.generate_rows / 2000));
    const int64_t query_rows = options.queries_limit > 0 ? options.queries_limit : 10000;
    std::fprintf(stderr, "compare_gpu: generating %lld x %lld uint8 vectors in %d clusters ...\n",
                 static_cast<long long>(options.generate_rows), static_cast<long long>(options.generate_dim), clusters);
    data.base = annforge::cli::generate_mixture(options.generate_rows, options.generate_dim, clusters, ElementType::UInt8, options.seed, 1, options.threads);
    data.base_file = data.base;
    data.queries = annforge::cli::generate_mixture(query_rows, options.generate_dim, clusters, ElementType::UInt8, options.seed, 2, options.threads);
    data.description = "generated in memory: " + std::to_string(options.generate_rows) + " clustered uint8 vectors (" +
                       std::to_string(clusters) + " clusters, seed " + std::to_string(options.seed) + ")";
    data.queries_description = "generated: " + std::to_string(query_rows) + " queries from the same mixture";
    return data;
  }
  // One row more than asked: if it is there, the file is larger than the slice and a ground-truth
  // file for the whole file does not apply.
  data.base_file = annforge_bench::read_packed_vectors(options.base_path, options.rows < 0 ? -1 : options.rows + 1);
  data.is_slice = options.rows >= 0 && data.base_file.rows() > options.rows;
  DatasetView view = data.base_file.view();
  if (data.is_slice) view.rows = options.rows;
  data.base = data.is_slice ? Dataset::borrow(view) : data.base_file;
  data.queries = annforge_bench::read_packed_vectors(options.queries_path, options.queries_limit);
  const DatasetView& q = data.queries.view();
  if (q.dim != view.dim || q.type != view.type) {
    throw annforge::Error(annforge::ErrorCode::InvalidArgument,
                          options.queries_path + ": holds " + std::to_string(q.dim) + "-dimensional " + annforge::to_string(q.type) +
                              " vectors but the base holds " + std::to_string(view.dim) + "-dimensional " + annforge::to_string(view.type));
  }
  data.description = options.base_path + (data.is_slice ? " (first " : " (") + std::to_string(view.rows) + " rows)";
  data.queries_description = options.queries_path + " (" + std::to_string(q.rows) + " queries)";
  return data;
}

}  // namespace compare_gpu
