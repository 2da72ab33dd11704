// compare_gpu: annforge's GPU build against its CPU build, an exact kNN graph on the same GPU and
// PyTorch's, in one run on one machine. Rows of the report:
//   annforge-gpu          annforge::build with device=Gpu, timed end to end (vectors in host memory
//                         -> index with its graph in host memory), searched with device=Gpu (all
//                         queries in one call) at each width
//   gpu-graph-cpu-search  the same GPU-built graph searched with device=Cpu at the same widths
//   annforge-cpu          annforge::build with device=Cpu on --threads threads, CPU search
//   exact-gpu             annforge::exact_knn(base, base, degree + 1, L2, device=Gpu): the exact kNN
//                         graph; checked against the CPU exact_knn on sampled rows
//   torch                 bench/torch_knn_graph.py (torch.cdist + topk in blocks, float32 on the
//                         GPU) run as a subprocess; its neighbour lists are checked against
//                         annforge's exact GPU graph on the same sampled rows
// Without a GPU (no CUDA backend compiled in, or no device) the GPU rows are reported as skipped
// with the reason and the CPU rows still run; the program then exits 0. A row that fails for
// another reason is reported as failed and the program exits 1.
//
// It needs neither hnswlib nor FAISS: it shares bench_support.{hpp,cpp} (JSON helpers, recall,
// make_resident, parallel_for_each) with compare_cpu and nothing else. See bench/README.md.
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "annforge.hpp"
#include "bench_support.hpp"
#include "host/cli/mixture.hpp"

#ifndef ANNFORGE_BENCH_TORCH_SCRIPT
#define ANNFORGE_BENCH_TORCH_SCRIPT "bench/torch_knn_graph.py"
#endif

extern char** environ;

namespace {

using annforge::Dataset;
using annforge::DatasetView;
using annforge::Device;
using annforge::ElementType;
using annforge_bench::GroundTruth;
using annforge_bench::json_number;
using annforge_bench::json_string;
using annforge_bench::parse_integer;
using annforge_bench::make_resident;
using annforge_bench::parallel_for_each;
using annforge_bench::recall_at_k;
using annforge_bench::seconds_since;

// The issue's target for the GPU build.
constexpr double kTargetVectorsPerSecond = 1e6;
constexpr double kTargetRecall = 0.95;

const std::vector<std::string> kSystems = {"annforge-gpu", "gpu-graph-cpu-search", "annforge-cpu", "exact-gpu", "torch"};

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

using UsageFailure = annforge_bench::UsageError;  // bench_support.hpp

struct Options {
  std::string base_path, queries_path, gt_path, json_path;
  int64_t generate_rows = 0, generate_dim = 0;
  int64_t rows = -1, queries_limit = -1;
  int threads = 0, k = 10, degree = 32, repeat = 1;
  std::vector<int> widths = {16, 32, 64, 128};
  std::vector<std::string> systems;
  std::string python = "python3";
  std::string torch_script;
  std::string torch_device = "cuda";  // cpu: only for trying the script out without a GPU
  double torch_timeout = 600;
  int64_t warmup_rows = 10000;
  int64_t sample = 1000;
  uint64_t seed = 42;
  std::string command_line;

  bool runs(const std::string& key) const { return std::find(systems.begin(), systems.end(), key) != systems.end(); }
  bool runs_gpu() const { return runs("annforge-gpu") || runs("exact-gpu"); }
};

// ---- small helpers -------------------------------------------------------------------------


std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> items;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, separator)) items.push_back(item);
  return items;
}

std::string shell_quote(const std::string& word) {
  if (!word.empty() && word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.,/=:+@") == std::string::npos) {
    return word;
  }
  std::string out = "'";
  for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
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

std::string trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  size_t start = text.find_first_not_of(' ');
  return start == std::string::npos ? "" : text.substr(start);
}

// The first line of `command`'s output, or "" when it fails or prints nothing.
std::string command_output(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return "";
  std::string out;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) out += buffer;
  if (pclose(pipe) != 0) return "";
  return trim(out.substr(0, out.find('\n')));
}

std::string cpu_model() {
  std::ifstream info("/proc/cpuinfo");
  std::string line;
  while (std::getline(info, line)) {
    if (line.rfind("model name", 0) == 0) {
      size_t colon = line.find(':');
      if (colon != std::string::npos) return trim(line.substr(colon + 1));
    }
  }
  return "unknown CPU";
}

bool file_exists(const std::string& path) { return access(path.c_str(), R_OK) == 0; }

std::string directory_of(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

// A temporary file name (the file is created empty), removed by the destructor.
class TemporaryFile {
 public:
  explicit TemporaryFile(const std::string& suffix) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/compare_gpu_XXXXXX" + suffix;
    std::vector<char> name(pattern.begin(), pattern.end());
    name.push_back('\0');
    int fd = mkstemps(name.data(), static_cast<int>(suffix.size()));
    if (fd < 0) throw annforge::Error(annforge::ErrorCode::Io, "cannot create a temporary file " + pattern + ": " + std::strerror(errno));
    close(fd);
    path_ = name.data();
  }
  ~TemporaryFile() { std::remove(path_.c_str()); }
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// ---- the command line ----------------------------------------------------------------------

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

// ---- the data ------------------------------------------------------------------------------


struct Data {
  Dataset base_file;  // keeps the storage of a slice alive
  Dataset base;       // what every system gets (a borrowed slice, or the whole file)
  Dataset queries;
  bool is_slice = false;
  bool generated = false;
  std::string description;  // "data/sift-vl-1m/base.bvecs (first 20000 rows ...)"
  std::string queries_description;
};

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
  data.base_file = annforge::read_vectors(options.base_path, options.rows < 0 ? -1 : options.rows + 1);
  data.is_slice = options.rows >= 0 && data.base_file.rows() > options.rows;
  DatasetView view = data.base_file.view();
  if (data.is_slice) view.rows = options.rows;
  data.base = data.is_slice ? Dataset::borrow(view) : data.base_file;
  data.queries = annforge::read_vectors(options.queries_path, options.queries_limit);
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

// ---- results -------------------------------------------------------------------------------

struct Point {
  int width = 0;
  double recall = NAN;
  double queries_per_second = NAN;
  std::string error;
};

struct Row {
  Row(std::string key_, std::string label_) : key(std::move(key_)), label(std::move(label_)) {}
  std::string key;
  std::string label;
  std::string status = "ok";  // ok, skipped, failed
  std::string reason;         // why skipped / failed
  std::string search_device;  // "gpu", "cpu", or "" (no search)
  std::vector<double> build_times;
  double build_seconds = NAN;
  double vectors_per_second = NAN;
  std::string build_cell;  // overrides the build column ("the GPU build above")
  std::vector<Point> points;
  std::string note;  // the table's last column
  std::vector<std::pair<std::string, std::string>> json;  // extra fields, values already JSON

  void set_build(const std::vector<double>& times, int64_t rows) {
    build_times = times;
    build_seconds = *std::min_element(times.begin(), times.end());
    vectors_per_second = rows / build_seconds;
  }
};

void skip(Row& row, const std::string& reason) {
  row.status = "skipped";
  row.reason = reason;
}

// Runs `body` for `row`; NoDevice makes the row skipped, any other exception failed.
template <typename Body>
void guarded(Row& row, Body&& body) {
  try {
    body();
  } catch (const annforge::Error& error) {
    if (error.code() == annforge::ErrorCode::NoDevice) {
      skip(row, error.what());
    } else {
      row.status = "failed";
      row.reason = error.what();
    }
  } catch (const std::exception& error) {
    row.status = "failed";
    row.reason = error.what();
  }
  if (row.status != "ok") std::fprintf(stderr, "compare_gpu: %s %s: %s\n", row.label.c_str(), row.status.c_str(), row.reason.c_str());
}

annforge::BuildParams build_params(const Options& options, Device device) {
  annforge::BuildParams params;
  params.metric = annforge::Metric::L2;
  params.device = device;
  params.graph_degree = options.degree;
  params.intermediate_degree = std::max(params.intermediate_degree, 2 * options.degree);
  params.threads = options.threads;
  return params;
}

// Searches `index` at every width on `device`, all queries in one call per width; a width that
// fails records its error and the next still runs.
void search_sweep(Row& row, const annforge::Index& index, const DatasetView& queries, const GroundTruth& truth,
                  const Options& options, Device device) {
  row.search_device = device == Device::Gpu ? "gpu" : "cpu";
  std::vector<uint32_t> ids(static_cast<size_t>(queries.rows) * options.k);
  std::vector<float> distances(ids.size());
  if (device == Device::Gpu && !options.widths.empty()) {
    // The first GPU search of an index uploads its vectors and graph (kept on the device for
    // later calls): timed apart, so that queries/s is the steady state a server would see.
    try {
      const DatasetView few{queries.data, std::min<int64_t>(queries.rows, 100), queries.dim, queries.type};
      annforge::SearchParams params;
      params.device = device;
      params.beam_width = options.widths.front();
      auto start = std::chrono::steady_clock::now();
      annforge::search(index, few, options.k, params);
      row.note += (row.note.empty() ? "" : "; ") + std::string("first GPU search call (index upload) ") +
                  format("%.3f", seconds_since(start)) + " s, untimed";
    } catch (const std::exception&) {
      // the sweep below records the error per width
    }
  }
  for (int width : options.widths) {
    Point point;
    point.width = width;
    annforge::SearchParams params;
    params.device = device;
    params.beam_width = width;
    params.threads = options.threads;
    try {
      auto start = std::chrono::steady_clock::now();
      annforge::search(index, queries, options.k, params, ids.data(), distances.data());
      const double seconds = seconds_since(start);
      point.queries_per_second = queries.rows / seconds;
      point.recall = recall_at_k(ids, truth, queries.rows, options.k);
    } catch (const std::exception& error) {
      point.error = error.what();
      std::fprintf(stderr, "compare_gpu: %s, width %d: %s\n", row.label.c_str(), width, error.what());
    }
    row.points.push_back(point);
  }
}

// Builds `repeat` times on `device`; returns the last index.
annforge::Index timed_builds(Row& row, const Dataset& base, const Options& options, Device device) {
  const annforge::BuildParams params = build_params(options, device);
  std::vector<double> times;
  std::optional<annforge::Index> index;
  for (int r = 0; r < options.repeat; ++r) {
    index.reset();
    std::fprintf(stderr, "compare_gpu: %s: build %d of %d over %lld vectors ...\n", row.label.c_str(), r + 1, options.repeat,
                 static_cast<long long>(base.rows()));
    auto start = std::chrono::steady_clock::now();
    index = annforge::build(base, params);
    times.push_back(seconds_since(start));
  }
  row.set_build(times, base.rows());
  row.json.push_back({"parameters", "{\"graph_degree\": " + std::to_string(params.graph_degree) + ", \"intermediate_degree\": " +
                                        std::to_string(params.intermediate_degree) + ", \"metric\": \"l2\"}"});
  row.json.push_back({"backend", json_string(index->backend)});
  return std::move(*index);
}

// ---- the exact graph's check ---------------------------------------------------------------

double l2_double(const DatasetView& a, int64_t i, const DatasetView& b, int64_t j) {
  double sum = 0;
  for (int64_t c = 0; c < a.dim; ++c) {
    double x, y;
    switch (a.type) {
      case ElementType::Float32:
        x = reinterpret_cast<const float*>(a.row(i))[c];
        y = reinterpret_cast<const float*>(b.row(j))[c];
        break;
      case ElementType::UInt8:
        x = a.row(i)[c];
        y = b.row(j)[c];
        break;
      default:
        x = reinterpret_cast<const int8_t*>(a.row(i))[c];
        y = reinterpret_cast<const int8_t*>(b.row(j))[c];
    }
    sum += (x - y) * (x - y);
  }
  return sum;
}

// The first `count` ids of one neighbour list, leaving out `self`.
std::vector<uint32_t> others(const uint32_t* list, int length, uint32_t self, int count) {
  std::vector<uint32_t> out;
  for (int j = 0; j < length && static_cast<int>(out.size()) < count; ++j) {
    if (list[j] != self && list[j] != annforge::kInvalidId) out.push_back(list[j]);
  }
  return out;
}

struct ExactCheck {
  bool done = false;
  int64_t sample = 0;
  int check_k = 0;
  double strict = NAN;  // |GPU first check_k (minus self) ∩ CPU first check_k (minus self)| / check_k
  double ties = NAN;    // the same, counting an id as near as the CPU's check_k-th (an exact tie)
  double cpu_seconds = NAN;
};

// ---- the torch subprocess ------------------------------------------------------------------

// A flat JSON object's fields: strings unescaped, everything else as its text.
std::map<std::string, std::string> parse_flat_json(const std::string& text) {
  std::map<std::string, std::string> fields;
  size_t i = 0;
  auto skip_space = [&] {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  };
  auto read_string = [&]() {
    std::string out;
    ++i;  // the opening quote
    while (i < text.size() && text[i] != '"') {
      if (text[i] == '\\' && i + 1 < text.size()) {
        ++i;
        switch (text[i]) {
          case 'n': out += '\n'; break;
          case 't': out += '\t'; break;
          case 'u': out += '?'; i += 4; break;
          default: out += text[i];
        }
      } else {
        out += text[i];
      }
      ++i;
    }
    ++i;  // the closing quote
    return out;
  };
  skip_space();
  if (i >= text.size() || text[i] != '{') return fields;
  ++i;
  while (i < text.size()) {
    skip_space();
    if (i < text.size() && text[i] == '}') break;
    if (i >= text.size() || text[i] != '"') break;
    std::string key = read_string();
    skip_space();
    if (i >= text.size() || text[i] != ':') break;
    ++i;
    skip_space();
    std::string value;
    if (i < text.size() && text[i] == '"') {
      value = read_string();
    } else {
      int depth = 0;
      size_t start = i;
      while (i < text.size() && (depth > 0 || (text[i] != ',' && text[i] != '}'))) {
        if (text[i] == '[' || text[i] == '{') ++depth;
        if (text[i] == ']' || text[i] == '}') --depth;
        ++i;
      }
      value = trim(text.substr(start, i - start));
    }
    fields[key] = value;
    skip_space();
    if (i < text.size() && text[i] == ',') ++i;
  }
  return fields;
}

struct ChildResult {
  int status = -1;  // exit status, or -1
  bool timed_out = false;
  std::string out;  // its stdout
  std::string spawn_error;
};

// Runs argv[0] (searched on PATH) with stdout captured and stderr passed through; kills it after
// `timeout` seconds.
ChildResult run_child(std::vector<std::string> arguments, double timeout) {
  ChildResult result;
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) {
    result.spawn_error = std::string("pipe: ") + std::strerror(errno);
    return result;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[1]);
  std::vector<char*> argv;
  for (std::string& argument : arguments) argv.push_back(argument.data());
  argv.push_back(nullptr);
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t child = 0;
  int spawn_error = posix_spawnp(&child, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);
  if (spawn_error != 0) {
    close(pipe_fds[0]);
    result.spawn_error = "cannot run " + arguments[0] + ": " + std::strerror(spawn_error);
    return result;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout);
  char buffer[4096];
  while (true) {
    const double left = std::chrono::duration<double>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) {
      result.timed_out = true;
      kill(child, SIGKILL);
      break;
    }
    pollfd fd{pipe_fds[0], POLLIN, 0};
    int ready = poll(&fd, 1, static_cast<int>(std::min(left * 1000, 1000.0)) + 1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    ssize_t got = read(pipe_fds[0], buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    result.out.append(buffer, static_cast<size_t>(got));
  }
  close(pipe_fds[0]);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// ---- the report ----------------------------------------------------------------------------

struct Machine {
  std::string gpu;         // nvidia-smi's name, memory, driver; "" where there is none
  bool gpu_usable = false; // annforge can build on the GPU here
  std::string gpu_reason;  // why not
  std::string cpu;
  unsigned hardware_threads = 0;
};

struct Warmup {
  bool done = false;
  int64_t rows = 0;
  double build_seconds = NAN, search_seconds = NAN, exact_seconds = NAN;
  std::string error;
};

struct Target {
  std::string verdict;  // MET, NOT MET, NOT MEASURED
  std::string text;
};

Target judge_target(const std::vector<Row>& rows, int64_t base_rows, int k) {
  const Row* gpu = nullptr;
  const Row* cpu_search = nullptr;
  for (const Row& row : rows) {
    if (row.key == "annforge-gpu") gpu = &row;
    if (row.key == "gpu-graph-cpu-search") cpu_search = &row;
  }
  Target target;
  const std::string goal = "annforge-GPU >= " + grouped(kTargetVectorsPerSecond) + " vectors/s end to end with recall@" +
                           std::to_string(k) + " >= " + format("%.2f", kTargetRecall) + " at some width";
  if (gpu == nullptr || gpu->status != "ok") {
    target.verdict = "NOT MEASURED";
    target.text = goal + ": NOT MEASURED (" +
                  (gpu == nullptr ? std::string("annforge-gpu not run") : "annforge-GPU " + gpu->status + ": " + gpu->reason) + ")";
    return target;
  }
  const Point* best = nullptr;
  std::string where;
  for (const Row* row : {gpu, cpu_search}) {
    if (row == nullptr || row->status != "ok") continue;
    for (const Point& point : row->points) {
      if (point.error.empty() && point.recall >= kTargetRecall && (best == nullptr || point.width < best->width)) {
        best = &point;
        where = row->search_device + " search";
      }
    }
    if (best != nullptr) break;  // a GPU-search width that reaches the recall is preferred
  }
  const bool fast = gpu->vectors_per_second >= kTargetVectorsPerSecond;
  target.verdict = fast && best != nullptr ? "MET" : "NOT MET";
  target.text = goal + ": " + target.verdict + " (" + grouped(gpu->vectors_per_second) + " vectors/s; ";
  if (best != nullptr) {
    target.text += "recall@" + std::to_string(k) + " " + format("%.4f", best->recall) + " at width " + std::to_string(best->width) +
                   " (" + where + "))";
  } else {
    double top = NAN;
    for (const Row* row : {gpu, cpu_search}) {
      if (row == nullptr) continue;
      for (const Point& point : row->points) {
        if (point.error.empty() && (std::isnan(top) || point.recall > top)) top = point.recall;
      }
    }
    target.text += "best recall@" + std::to_string(k) + " " + format("%.4f", top) + " at the widths tried)";
  }
  if (base_rows < 1000000) target.text += "; measured on " + grouped(static_cast<double>(base_rows)) + " rows, not the 1M of the issue";
  return target;
}

std::string point_cell(const Point& point) {
  if (!point.error.empty()) return "failed: " + point.error;
  return format("%.4f", point.recall) + " / " + grouped(point.queries_per_second);
}

std::string escape_cell(std::string text) {
  for (char& c : text) {
    if (c == '|') c = '/';
    if (c == '\n') c = ' ';
  }
  return text;
}

void print_table(const std::vector<Row>& rows, const Options& options) {
  std::printf("| system | build s | vectors/s |");
  for (int width : options.widths) std::printf(" width %d: recall@%d / queries/s |", width, options.k);
  std::printf(" notes |\n|---|---:|---:|");
  for (size_t i = 0; i < options.widths.size(); ++i) std::printf("---:|");
  std::printf("---|\n");
  for (const Row& row : rows) {
    std::printf("| %s |", row.label.c_str());
    if (row.status != "ok") {
      std::printf(" %s: %s | |", row.status.c_str(), escape_cell(row.reason).c_str());
      for (size_t i = 0; i < options.widths.size(); ++i) std::printf(" |");
      std::printf(" |\n");
      continue;
    }
    if (!row.build_cell.empty()) {
      std::printf(" %s | |", row.build_cell.c_str());
    } else {
      std::string seconds = format("%.3f", row.build_seconds);
      if (row.build_times.size() > 1) seconds += " (best of " + std::to_string(row.build_times.size()) + ")";
      std::printf(" %s | %s |", seconds.c_str(), grouped(row.vectors_per_second).c_str());
    }
    for (size_t i = 0; i < options.widths.size(); ++i) {
      std::printf(" %s |", i < row.points.size() ? escape_cell(point_cell(row.points[i])).c_str() : "-");
    }
    std::printf(" %s |\n", escape_cell(row.note).c_str());
  }
}

std::string row_json(const Row& row) {
  std::ostringstream json;
  json << "    {\"system\": " << json_string(row.key) << ", \"label\": " << json_string(row.label)
       << ", \"status\": " << json_string(row.status);
  if (!row.reason.empty()) json << ", \"reason\": " << json_string(row.reason);
  if (row.status == "ok") {
    json << ",\n     \"build_seconds\": " << json_number(row.build_seconds) << ", \"build_seconds_all\": [";
    for (size_t i = 0; i < row.build_times.size(); ++i) json << (i ? ", " : "") << json_number(row.build_times[i]);
    json << "], \"vectors_per_second\": " << json_number(row.vectors_per_second);
    json << ",\n     \"search_device\": " << (row.search_device.empty() ? "null" : json_string(row.search_device)) << ", \"search\": [";
    for (size_t i = 0; i < row.points.size(); ++i) {
      const Point& point = row.points[i];
      json << (i ? ", " : "") << "{\"width\": " << point.width << ", \"recall\": " << json_number(point.recall)
           << ", \"qps\": " << json_number(point.queries_per_second);
      if (!point.error.empty()) json << ", \"error\": " << json_string(point.error);
      json << "}";
    }
    json << "]";
    if (!row.note.empty()) json << ", \"note\": " << json_string(row.note);
  }
  for (const auto& [key, value] : row.json) json << ",\n     " << json_string(key) << ": " << value;
  json << "}";
  return json.str();
}

// ---- the run -------------------------------------------------------------------------------

int run(const Options& options) {
  Data data = load_data(options);
  const DatasetView& base = data.base.view();
  const DatasetView& queries = data.queries.view();
  if (options.k > base.rows) {
    throw UsageFailure("--k " + std::to_string(options.k) + " is more than the " + std::to_string(base.rows) + " base rows");
  }
  make_resident(base);
  make_resident(queries);

  Machine machine;
  machine.gpu = command_output("nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null");
  machine.cpu = cpu_model();
  machine.hardware_threads = std::thread::hardware_concurrency();
  machine.gpu_usable = annforge::gpu_available();
  if (!machine.gpu_usable) {
    try {
      annforge::resolve_backend(Device::Gpu);
      machine.gpu_reason = "annforge::gpu_available() is false";
    } catch (const std::exception& error) {
      machine.gpu_reason = error.what();
    }
  }

  // Warm-up: the first GPU calls pay for the CUDA context, the cuBLAS handle and module loading;
  // they run here, untimed in the table, on a small slice, and are reported apart.
  Warmup warmup;
  if (machine.gpu_usable && options.runs_gpu()) {
    warmup.done = true;
    warmup.rows = std::min(base.rows, options.warmup_rows);
    DatasetView slice = base;
    slice.rows = warmup.rows;
    DatasetView few = queries;
    few.rows = std::min<int64_t>(queries.rows, 1000);
    std::fprintf(stderr, "compare_gpu: warm-up GPU build over %lld rows (first call, CUDA init included) ...\n",
                 static_cast<long long>(warmup.rows));
    try {
      auto start = std::chrono::steady_clock::now();
      annforge::Index index = annforge::build(Dataset::borrow(slice), build_params(options, Device::Gpu));
      warmup.build_seconds = seconds_since(start);
      annforge::SearchParams params;
      params.device = Device::Gpu;
      params.beam_width = options.widths.front();
      params.threads = options.threads;
      start = std::chrono::steady_clock::now();
      annforge::search(index, few, options.k, params);
      warmup.search_seconds = seconds_since(start);
      DatasetView some = slice;
      some.rows = std::min<int64_t>(slice.rows, 1000);
      start = std::chrono::steady_clock::now();
      annforge::exact_knn(slice, some, std::min<int64_t>(options.degree + 1, slice.rows), annforge::Metric::L2, options.threads, {},
                          Device::Gpu);
      warmup.exact_seconds = seconds_since(start);
    } catch (const annforge::Error& error) {
      warmup.error = error.what();
      if (error.code() == annforge::ErrorCode::NoDevice) {
        machine.gpu_usable = false;
        machine.gpu_reason = error.what();
      }
    } catch (const std::exception& error) {
      warmup.error = error.what();
    }
    if (!warmup.error.empty()) std::fprintf(stderr, "compare_gpu: warm-up failed: %s\n", warmup.error.c_str());
  }

  // Ground truth for the queries.
  GroundTruth truth;
  double truth_seconds = NAN;
  std::string truth_device = "file";
  const bool file_applies = !options.gt_path.empty() && !data.is_slice;
  if (file_applies) {
    annforge::Neighbors file = annforge::read_neighbors(options.gt_path);
    if (file.rows < queries.rows || file.k < options.k) {
      throw annforge::Error(annforge::ErrorCode::InvalidArgument,
                            options.gt_path + ": holds " + std::to_string(file.rows) + " x " + std::to_string(file.k) +
                                " ids, fewer than the " + std::to_string(queries.rows) + " queries x --k " + std::to_string(options.k));
    }
    for (int64_t q = 0; q < queries.rows; ++q) {
      for (int j = 0; j < options.k; ++j) {
        const uint32_t id = file.ids[q * file.k + j];
        if (id == annforge::kInvalidId || id >= static_cast<uint64_t>(base.rows)) {
          throw annforge::Error(annforge::ErrorCode::InvalidArgument,
                                options.gt_path + ": query " + std::to_string(q) + " lists a neighbour outside the base; is it the ground truth for " +
                                    options.base_path + "?");
        }
      }
    }
    truth.ids = std::move(file.ids);
    truth.stride = file.k;
    truth.source = "file " + options.gt_path;
  } else {
    if (!options.gt_path.empty()) {
      std::fprintf(stderr, "compare_gpu: %s is the ground truth of the whole base file, not of this %lld-row slice; computing it\n",
                   options.gt_path.c_str(), static_cast<long long>(base.rows));
    }
    annforge::Neighbors exact;
    std::string how;
    bool done = false;
    if (machine.gpu_usable) {
      try {
        auto start = std::chrono::steady_clock::now();
        exact = annforge::exact_knn(base, queries, options.k, annforge::Metric::L2, options.threads, {}, Device::Gpu);
        truth_seconds = seconds_since(start);
        truth_device = "gpu";
        how = "on the GPU";
        done = true;
      } catch (const std::exception& error) {
        how = "on the CPU (the GPU exact_knn failed: " + std::string(error.what()) + ")";
      }
    } else {
      how = "on the CPU (no GPU: " + machine.gpu_reason + ")";
    }
    if (!done) {
      std::fprintf(stderr, "compare_gpu: exact ground truth %s ...\n", how.c_str());
      auto start = std::chrono::steady_clock::now();
      exact = annforge::exact_knn(base, queries, options.k, annforge::Metric::L2, options.threads, {}, Device::Cpu);
      truth_seconds = seconds_since(start);
      truth_device = "cpu";
    }
    truth.ids = std::move(exact.ids);
    truth.stride = exact.k;
    truth.source = "exact_knn " + how + " over the " + std::to_string(base.rows) + "-row base, k = " + std::to_string(options.k) + " (" +
                   format("%.2f", truth_seconds) + " s)";
  }

  std::vector<Row> rows;
  const std::string no_gpu = machine.gpu_reason.empty() ? "no GPU" : machine.gpu_reason;

  // 1. annforge-GPU, and its graph searched on the CPU.
  if (options.runs("annforge-gpu")) {
    Row gpu{"annforge-gpu", "annforge-GPU"};
    Row cpu_search{"gpu-graph-cpu-search", "annforge-GPU graph, CPU search"};
    const bool with_cpu_search = options.runs("gpu-graph-cpu-search");
    if (!machine.gpu_usable) {
      skip(gpu, no_gpu);
      skip(cpu_search, no_gpu);
    } else {
      std::optional<annforge::Index> index;
      guarded(gpu, [&] {
        index = timed_builds(gpu, data.base, options, Device::Gpu);
        gpu.note = "build: host vectors -> host graph, end to end; GPU search: all queries in one call";
        search_sweep(gpu, *index, queries, truth, options, Device::Gpu);
      });
      if (index) {
        guarded(cpu_search, [&] {
          cpu_search.build_cell = "(the GPU build)";
          cpu_search.note = "the annforge-GPU graph, searched with device=Cpu on " + std::to_string(options.threads) + " threads";
          search_sweep(cpu_search, *index, queries, truth, options, Device::Cpu);
        });
      } else {
        skip(cpu_search, "no GPU-built graph (annforge-GPU " + gpu.status + ")");
      }
    }
    rows.push_back(gpu);
    if (with_cpu_search) rows.push_back(cpu_search);
  }

  // 2. annforge-CPU.
  if (options.runs("annforge-cpu")) {
    Row cpu{"annforge-cpu", "annforge-CPU"};
    guarded(cpu, [&] {
      annforge::Index index = timed_builds(cpu, data.base, options, Device::Cpu);
      cpu.note = "device=Cpu, " + std::to_string(options.threads) + " threads; CPU search";
      search_sweep(cpu, index, queries, truth, options, Device::Cpu);
    });
    rows.push_back(cpu);
  }

  // The sampled rows of the exact and torch checks.
  const int check_k = static_cast<int>(std::min<int64_t>({10, options.degree, base.rows - 1}));
  std::vector<uint32_t> sample;
  {
    std::vector<uint32_t> all(static_cast<size_t>(base.rows));
    for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint32_t>(i);
    std::mt19937_64 rng(options.seed);
    const size_t count = static_cast<size_t>(std::min<int64_t>(options.sample, base.rows));
    for (size_t i = 0; i < count; ++i) {
      std::uniform_int_distribution<size_t> pick(i, all.size() - 1);
      std::swap(all[i], all[pick(rng)]);
    }
    sample.assign(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(count));
    std::sort(sample.begin(), sample.end());
  }

  // 3. The exact kNN graph on the GPU.
  ExactCheck check;
  std::vector<uint32_t> reference;  // sample x check_k: the exact GPU graph's first check_k others
  if (options.runs("exact-gpu")) {
    const int graph_k = static_cast<int>(std::min<int64_t>(options.degree + 1, base.rows));
    Row exact{"exact-gpu", "exact kNN graph, GPU (annforge exact_knn, k=" + std::to_string(graph_k) + ")"};
    if (!machine.gpu_usable) {
      skip(exact, no_gpu);
    } else {
      guarded(exact, [&] {
        std::vector<double> times;
        annforge::Neighbors graph;
        for (int r = 0; r < options.repeat; ++r) {
          graph = annforge::Neighbors();
          std::fprintf(stderr, "compare_gpu: exact kNN graph on the GPU, run %d of %d ...\n", r + 1, options.repeat);
          auto start = std::chrono::steady_clock::now();
          graph = annforge::exact_knn(base, base, graph_k, annforge::Metric::L2, options.threads, {}, Device::Gpu);
          times.push_back(seconds_since(start));
        }
        exact.set_build(times, base.rows);
        exact.json.push_back({"k", std::to_string(graph_k)});

        // Check: the first check_k neighbours other than the row itself, against the CPU exact_knn.
        std::fprintf(stderr, "compare_gpu: checking %zu rows of the exact GPU graph against the CPU exact_knn ...\n", sample.size());
        Dataset picked = Dataset::allocate(static_cast<int64_t>(sample.size()), base.dim, base.type);
        for (size_t s = 0; s < sample.size(); ++s) {
          std::memcpy(static_cast<uint8_t*>(picked.mutable_data()) + s * base.row_bytes(), base.row(sample[s]), base.row_bytes());
        }
        auto start = std::chrono::steady_clock::now();
        const int cpu_k = std::min<int>(check_k + 1, static_cast<int>(base.rows));
        annforge::Neighbors cpu = annforge::exact_knn(base, picked.view(), cpu_k, annforge::Metric::L2, options.threads, {}, Device::Cpu);
        check.cpu_seconds = seconds_since(start);
        int64_t strict_hits = 0, tie_hits = 0, total = 0;
        for (size_t s = 0; s < sample.size(); ++s) {
          const uint32_t row = sample[s];
          std::vector<uint32_t> gpu_list = others(graph.ids.data() + row * static_cast<int64_t>(graph.k), graph.k, row, check_k);
          std::vector<uint32_t> cpu_list = others(cpu.ids.data() + s * static_cast<int64_t>(cpu.k), cpu.k, row, check_k);
          reference.insert(reference.end(), gpu_list.begin(), gpu_list.end());
          reference.resize((s + 1) * check_k, annforge::kInvalidId);
          const double tenth = cpu_list.empty() ? INFINITY : l2_double(base, row, base, cpu_list.back());
          for (uint32_t id : gpu_list) {
            const bool listed = std::find(cpu_list.begin(), cpu_list.end(), id) != cpu_list.end();
            strict_hits += listed;
            tie_hits += listed || l2_double(base, row, base, id) <= tenth;
          }
          total += static_cast<int64_t>(cpu_list.size());
        }
        check.done = true;
        check.sample = static_cast<int64_t>(sample.size());
        check.check_k = check_k;
        check.strict = static_cast<double>(strict_hits) / total;
        check.ties = static_cast<double>(tie_hits) / total;
        exact.note = "recall 1.0 by construction; check on " + std::to_string(check.sample) + " sampled rows, first " +
                     std::to_string(check_k) + " neighbours minus self vs CPU exact_knn: " + format("%.4f", check.strict) +
                     " (ties counted: " + format("%.4f", check.ties) + ")";
        exact.json.push_back({"check", "{\"sample\": " + std::to_string(check.sample) + ", \"check_k\": " + std::to_string(check_k) +
                                           ", \"recall_vs_cpu_exact\": " + json_number(check.strict) +
                                           ", \"recall_vs_cpu_exact_ties\": " + json_number(check.ties) +
                                           ", \"cpu_seconds\": " + json_number(check.cpu_seconds) + "}"});
      });
    }
    rows.push_back(exact);
  }

  // 4. PyTorch's kNN graph (a subprocess).
  if (options.runs("torch")) {
    const int graph_k = static_cast<int>(std::min<int64_t>(options.degree + 1, base.rows));
    Row torch{"torch", "PyTorch kNN graph (cdist + topk, float32, k=" + std::to_string(graph_k) + ")"};
    guarded(torch, [&] {
      if (!file_exists(options.torch_script)) {
        skip(torch, "the script " + options.torch_script + " is not there (see --torch-script)");
        return;
      }
      std::optional<TemporaryFile> base_copy;
      std::string base_path = options.base_path;
      if (data.generated) {
        base_copy.emplace(".u8bin");
        annforge::write_vectors(base_copy->path(), base);
        base_path = base_copy->path();
      }
      TemporaryFile sample_file(".ibin");
      annforge::Neighbors sample_ids;
      sample_ids.rows = static_cast<int64_t>(sample.size());
      sample_ids.k = 1;
      sample_ids.ids = sample;
      sample_ids.distances.assign(sample.size(), 0.0f);
      annforge::write_neighbors(sample_file.path(), sample_ids);
      std::optional<TemporaryFile> reference_file;
      if (check.done) {
        reference_file.emplace(".ibin");
        annforge::Neighbors ref;
        ref.rows = static_cast<int64_t>(sample.size());
        ref.k = check_k;
        ref.ids = reference;
        ref.distances.assign(reference.size(), 0.0f);
        annforge::write_neighbors(reference_file->path(), ref);
      }
      std::vector<std::string> arguments = {options.python, options.torch_script, "--base", base_path, "--k", std::to_string(graph_k),
                                            "--repeat", std::to_string(options.repeat), "--sample", sample_file.path(),
                                            "--check-k", std::to_string(check_k), "--device", options.torch_device};
      if (data.is_slice) {
        arguments.push_back("--rows");
        arguments.push_back(std::to_string(base.rows));
      }
      if (reference_file) {
        arguments.push_back("--reference");
        arguments.push_back(reference_file->path());
      }
      std::string printed;
      for (const std::string& argument : arguments) printed += (printed.empty() ? "" : " ") + shell_quote(argument);
      std::fprintf(stderr, "compare_gpu: running %s\n", printed.c_str());
      torch.json.push_back({"command", json_string(printed)});
      ChildResult child = run_child(arguments, options.torch_timeout);
      if (!child.spawn_error.empty()) {
        skip(torch, child.spawn_error);
        return;
      }
      // Its JSON: the last line that starts with '{'.
      std::string line;
      for (const std::string& candidate : split(child.out, '\n')) {
        if (!trim(candidate).empty() && trim(candidate)[0] == '{') line = trim(candidate);
      }
      if (child.timed_out) {
        torch.status = "failed";
        torch.reason = "stopped after --torch-timeout " + format("%.0f", options.torch_timeout) + " s";
        return;
      }
      if (line.empty()) {
        torch.status = "failed";
        torch.reason = "exit status " + std::to_string(child.status) + " and no JSON line (see its messages above)";
        return;
      }
      torch.json.push_back({"script_output", line});
      std::map<std::string, std::string> fields = parse_flat_json(line);
      if (fields.count("skipped")) {
        skip(torch, fields["skipped"]);
        return;
      }
      if (fields.count("error") || child.status != 0) {
        torch.status = "failed";
        torch.reason = fields.count("error") ? fields["error"] : "exit status " + std::to_string(child.status);
        return;
      }
      auto number = [&](const char* key) { return fields.count(key) ? std::strtod(fields[key].c_str(), nullptr) : NAN; };
      torch.build_seconds = number("seconds");
      torch.vectors_per_second = number("vectors_per_second");
      torch.build_times = {torch.build_seconds};
      torch.note = fields["device"] + ", torch " + fields["torch"] + ", " + fields["blocks"] + " blocks of " + fields["block_rows"] +
                   " rows (warm-up " + format("%.2f", number("warmup_seconds")) + " s, untimed); first " + std::to_string(check_k) +
                   " minus self on " + fields["sample"] + " sampled rows vs ";
      if (fields.count("recall_vs_annforge_exact")) {
        torch.note += "annforge exact GPU graph: " + format("%.4f", number("recall_vs_annforge_exact")) + " (ties " +
                      format("%.4f", number("recall_vs_annforge_exact_ties")) + "); vs ";
      }
      torch.note += "float64 recomputation: " + format("%.4f", number("recall_vs_float64")) + " (ties " +
                    format("%.4f", number("recall_vs_float64_ties")) + ")";
      // seconds_all: "[1.23, 1.21]", every timed run.
      std::string all = fields["seconds_all"];
      std::replace(all.begin(), all.end(), '[', ' ');
      std::replace(all.begin(), all.end(), ']', ' ');
      std::vector<double> times;
      for (const std::string& item : split(all, ',')) {
        if (!trim(item).empty()) times.push_back(std::strtod(item.c_str(), nullptr));
      }
      if (!times.empty()) torch.build_times = times;
    });
    rows.push_back(torch);
  }

  // ---- output ----
  const Target target = judge_target(rows, base.rows, options.k);
  std::printf("# compare_gpu\n\n");
  std::printf("command: %s\n", options.command_line.c_str());
  std::printf("GPU: %s\n", machine.gpu.empty() ? "none found (nvidia-smi absent or found no device)" : machine.gpu.c_str());
  std::printf("annforge GPU backend: %s\n", machine.gpu_usable ? "usable" : ("not usable: " + machine.gpu_reason).c_str());
  std::printf("CPU: %s, %u hardware threads; --threads %d\n", machine.cpu.c_str(), machine.hardware_threads, options.threads);
  std::printf("base: %s, dim %lld, %s\n", data.description.c_str(), static_cast<long long>(base.dim), annforge::to_string(base.type));
  std::printf("queries: %s, k = %d\n", data.queries_description.c_str(), options.k);
  std::printf("ground truth: %s\n", truth.source.c_str());
  std::printf("annforge: graph_degree %d, intermediate_degree %d, L2; build s = wall time of one build() call from vectors in host\n"
              "  memory to the index (graph) in host memory; queries/s = queries / wall time of one search() call with all of them\n",
              options.degree, std::max(64, 2 * options.degree));
  if (warmup.done) {
    if (warmup.error.empty()) {
      std::printf("warm-up (untimed in the table): first GPU build call incl. CUDA init, %lld rows: %.3f s; first GPU search: %.3f s; "
                  "first GPU exact_knn: %.3f s\n",
                  static_cast<long long>(warmup.rows), warmup.build_seconds, warmup.search_seconds, warmup.exact_seconds);
    } else {
      std::printf("warm-up: failed: %s\n", warmup.error.c_str());
    }
  }
  std::printf("\n");
  print_table(rows, options);
  std::printf("\n%s\n", target.text.c_str());

  if (!options.json_path.empty()) {
    std::ostringstream json;
    json << "{\n  \"mode\": \"compare_gpu\",\n";
    json << "  \"command\": " << json_string(options.command_line) << ",\n";
    json << "  \"machine\": {\"gpu\": " << json_string(machine.gpu) << ", \"gpu_usable\": " << (machine.gpu_usable ? "true" : "false")
         << ", \"gpu_reason\": " << json_string(machine.gpu_reason) << ", \"cpu\": " << json_string(machine.cpu)
         << ", \"hardware_threads\": " << machine.hardware_threads << "},\n";
    json << "  \"base\": " << json_string(data.generated ? "" : options.base_path) << ",\n";
    json << "  \"base_description\": " << json_string(data.description) << ",\n";
    json << "  \"generated\": " << (data.generated ? "true" : "false") << ",\n";
    json << "  \"rows\": " << base.rows << ",\n  \"rows_are_slice\": " << (data.is_slice ? "true" : "false") << ",\n";
    json << "  \"dim\": " << base.dim << ",\n  \"element_type\": " << json_string(annforge::to_string(base.type)) << ",\n";
    json << "  \"queries_file\": " << json_string(options.queries_path) << ",\n  \"queries\": " << queries.rows << ",\n";
    json << "  \"k\": " << options.k << ",\n  \"degree\": " << options.degree << ",\n  \"threads\": " << options.threads << ",\n";
    json << "  \"repeat\": " << options.repeat << ",\n  \"widths\": [";
    for (size_t i = 0; i < options.widths.size(); ++i) json << (i ? ", " : "") << options.widths[i];
    json << "],\n";
    json << "  \"ground_truth\": {\"source\": " << json_string(truth.source) << ", \"device\": " << json_string(truth_device)
         << ", \"seconds\": " << json_number(truth_seconds) << "},\n";
    json << "  \"warmup\": {\"done\": " << (warmup.done ? "true" : "false") << ", \"rows\": " << warmup.rows
         << ", \"build_seconds\": " << json_number(warmup.build_seconds) << ", \"search_seconds\": " << json_number(warmup.search_seconds)
         << ", \"exact_seconds\": " << json_number(warmup.exact_seconds) << ", \"error\": " << json_string(warmup.error) << "},\n";
    json << "  \"systems\": [\n";
    for (size_t i = 0; i < rows.size(); ++i) json << row_json(rows[i]) << (i + 1 < rows.size() ? ",\n" : "\n");
    json << "  ],\n";
    json << "  \"target\": {\"vectors_per_second\": " << json_number(kTargetVectorsPerSecond) << ", \"recall\": " << json_number(kTargetRecall)
         << ", \"verdict\": " << json_string(target.verdict) << ", \"text\": " << json_string(target.text) << "}\n}\n";
    std::ofstream file(options.json_path, std::ios::binary | std::ios::trunc);
    file << json.str();
    file.close();
    if (!file) throw annforge::Error(annforge::ErrorCode::Io, options.json_path + ": cannot write the JSON report");
    std::printf("\njson: %s\n", options.json_path.c_str());
  }
  for (const Row& row : rows) {
    if (row.status == "failed") return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse_options(argc, argv));
  } catch (const UsageFailure& error) {
    std::fprintf(stderr, "compare_gpu: %s\n\n%s", error.what(), kUsage);
    return 2;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "compare_gpu: %s\n", error.what());
    return 1;
  }
}
