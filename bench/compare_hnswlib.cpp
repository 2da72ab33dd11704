// compare_hnswlib: builds an annforge graph and an hnswlib HNSW index over the same vectors with
// the same number of threads, then reports for each the build time, the build throughput and the
// recall@k / queries-per-second trade-off at several search widths. The two indexes answer the
// same queries and are scored against the same ground truth.
//
// Only this translation unit includes hnswlib: hnswlib.h defines non-inline functions and picks
// its SIMD distance kernels from compile-time macros (see bench/CMakeLists.txt).
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "annforge.hpp"

namespace {

// hnswlib parameters: the values its own README and most published comparisons use.
constexpr size_t kHnswM = 16;
constexpr size_t kHnswEfConstruction = 200;

const char* const kUsage =
    "usage: compare_hnswlib --base FILE --queries FILE [--gt FILE] [--rows N] [--queries-limit Q]\n"
    "                       [--k 10] [--threads T] [--degree 32] [--beams 32,64,128,256]\n"
    "                       [--ef-search 32,64,128,256] [--json FILE] [--skip-hnswlib] [--hnswlib-uint8]\n"
    "\n"
    "  --base FILE          base vectors (.fvecs .bvecs .fbin .u8bin .i8bin .npy)\n"
    "  --queries FILE       query vectors, same element type and dimension as the base\n"
    "  --gt FILE            ground-truth neighbour ids (.ivecs .ibin) for the whole base file;\n"
    "                       ignored when --rows takes a smaller slice (exact ground truth is computed)\n"
    "  --rows N             use only the first N base vectors\n"
    "  --queries-limit Q    use only the first Q queries\n"
    "  --k K                neighbours per query, and the k of recall@k (default 10)\n"
    "  --threads T          threads for both libraries (default: all hardware threads)\n"
    "  --degree D           annforge graph degree (default 32)\n"
    "  --beams LIST         annforge beam widths to search with (default 32,64,128,256)\n"
    "  --ef-search LIST     hnswlib ef values to search with (default 32,64,128,256)\n"
    "  --json FILE          also write every figure as one JSON object to FILE\n"
    "  --skip-hnswlib       measure annforge only\n"
    "  --hnswlib-uint8      give hnswlib uint8 data as bytes (its scalar L2SpaceI) instead of\n"
    "                       converting it to float32 for its SIMD L2Space\n";

struct Options {
  std::string base_path;
  std::string queries_path;
  std::string ground_truth_path;
  std::string json_path;
  int64_t rows = -1;           // -1: the whole file
  int64_t queries_limit = -1;  // -1: every query
  int k = 10;
  int threads = 0;
  int degree = 32;
  std::vector<int> beam_widths{32, 64, 128, 256};
  std::vector<int> ef_values{32, 64, 128, 256};
  bool skip_hnswlib = false;
  bool hnswlib_uint8 = false;
};

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

int64_t parse_integer(const std::string& flag, const std::string& text, int64_t minimum) {
  size_t consumed = 0;
  int64_t value = 0;
  try {
    value = std::stoll(text, &consumed);
  } catch (const std::exception&) {
    consumed = 0;
  }
  if (consumed == 0 || consumed != text.size()) throw UsageError(flag + ": '" + text + "' is not an integer");
  if (value < minimum) throw UsageError(flag + ": " + text + " is below the minimum of " + std::to_string(minimum));
  return value;
}

std::vector<int> parse_integer_list(const std::string& flag, const std::string& text) {
  std::vector<int> values;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    values.push_back(static_cast<int>(parse_integer(flag, item, 1)));
  }
  if (values.empty()) throw UsageError(flag + ": expects a comma-separated list of widths");
  return values;
}

Options parse_options(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (flag == "--skip-hnswlib") {
      options.skip_hnswlib = true;
      continue;
    }
    if (flag == "--hnswlib-uint8") {
      options.hnswlib_uint8 = true;
      continue;
    }
    if (i + 1 >= argc) throw UsageError(flag + ": missing value (or unknown flag)");
    const std::string value = argv[++i];
    if (flag == "--base") options.base_path = value;
    else if (flag == "--queries") options.queries_path = value;
    else if (flag == "--gt") options.ground_truth_path = value;
    else if (flag == "--json") options.json_path = value;
    else if (flag == "--rows") options.rows = parse_integer(flag, value, 1);
    else if (flag == "--queries-limit") options.queries_limit = parse_integer(flag, value, 1);
    else if (flag == "--k") options.k = static_cast<int>(parse_integer(flag, value, 1));
    else if (flag == "--threads") options.threads = static_cast<int>(parse_integer(flag, value, 0));
    else if (flag == "--degree") options.degree = static_cast<int>(parse_integer(flag, value, 1));
    else if (flag == "--beams") options.beam_widths = parse_integer_list(flag, value);
    else if (flag == "--ef-search") options.ef_values = parse_integer_list(flag, value);
    else throw UsageError("unknown flag " + flag);
  }
  if (options.base_path.empty()) throw UsageError("--base is required");
  if (options.queries_path.empty()) throw UsageError("--queries is required");
  // A search that keeps fewer candidates than k cannot return k neighbours; hnswlib would
  // silently widen ef to k, which would make the table lie about the width used.
  for (int width : options.beam_widths) {
    if (width < options.k) throw UsageError("--beams: width " + std::to_string(width) + " is smaller than --k " + std::to_string(options.k));
  }
  for (int width : options.ef_values) {
    if (width < options.k) throw UsageError("--ef-search: ef " + std::to_string(width) + " is smaller than --k " + std::to_string(options.k));
  }
  if (options.threads == 0) {
    unsigned hardware = std::thread::hardware_concurrency();
    options.threads = hardware == 0 ? 1 : static_cast<int>(hardware);
  }
  return options;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Calls body(i) for every i in [begin, end) on `threads` threads that take indices from a shared
// counter, so a slow item never holds up a whole pre-assigned range. The first exception thrown
// by any thread is rethrown on the caller's thread.
template <typename Body>
void parallel_for_each(int64_t begin, int64_t end, int threads, Body&& body) {
  std::atomic<int64_t> next{begin};
  std::exception_ptr failure;
  std::mutex failure_mutex;
  auto work = [&]() {
    try {
      for (int64_t i = next.fetch_add(1); i < end; i = next.fetch_add(1)) body(i);
    } catch (...) {
      std::lock_guard<std::mutex> lock(failure_mutex);
      if (!failure) failure = std::current_exception();
      next.store(end);
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& thread : pool) thread.join();
  if (failure) std::rethrow_exception(failure);
}

// The true top-k ids of every query, whichever way they were obtained.
struct GroundTruth {
  std::vector<uint32_t> ids;  // queries x stride, nearest first
  int stride = 0;
  std::string source;
};

// Mean over queries of |found ∩ true top-k| / k. `found` holds queries x k ids.
double recall_at_k(const std::vector<uint32_t>& found, const GroundTruth& truth, int64_t queries, int k) {
  std::vector<uint32_t> expected(k);
  int64_t hits = 0;
  for (int64_t q = 0; q < queries; ++q) {
    const uint32_t* truth_row = truth.ids.data() + q * truth.stride;
    expected.assign(truth_row, truth_row + k);
    std::sort(expected.begin(), expected.end());
    for (int j = 0; j < k; ++j) {
      uint32_t id = found[q * k + j];
      if (id != annforge::kInvalidId && std::binary_search(expected.begin(), expected.end(), id)) ++hits;
    }
  }
  return static_cast<double>(hits) / (static_cast<double>(queries) * k);
}

struct SearchPoint {
  int width = 0;
  double recall = 0;
  double queries_per_second = 0;
};

struct SystemResult {
  std::string system;
  std::string width_name;  // what "search width" means for this system
  double build_seconds = 0;
  double vectors_per_second = 0;
  std::vector<SearchPoint> points;
};

SystemResult run_annforge(const annforge::Dataset& base, const annforge::DatasetView& queries,
                          const GroundTruth& truth, const Options& options) {
  annforge::BuildParams build_params;
  build_params.device = annforge::Device::Cpu;
  build_params.graph_degree = options.degree;
  // Pruning needs more candidates than it keeps; twice the degree is the library's own ratio.
  build_params.intermediate_degree = std::max(build_params.intermediate_degree, 2 * options.degree);
  build_params.threads = options.threads;

  SystemResult result;
  result.system = "annforge";
  result.width_name = "beam_width";
  std::fprintf(stderr, "annforge: building over %lld vectors ...\n", static_cast<long long>(base.rows()));
  auto start = std::chrono::steady_clock::now();
  annforge::Index index = annforge::build(base, build_params);
  result.build_seconds = seconds_since(start);
  result.vectors_per_second = base.rows() / result.build_seconds;

  std::vector<uint32_t> ids(queries.rows * options.k);
  std::vector<float> distances(ids.size());
  for (int width : options.beam_widths) {
    annforge::SearchParams search_params;
    search_params.device = annforge::Device::Cpu;
    search_params.beam_width = width;
    search_params.threads = options.threads;
    start = std::chrono::steady_clock::now();
    annforge::search(index, queries, options.k, search_params, ids.data(), distances.data());
    double seconds = seconds_since(start);
    result.points.push_back({width, recall_at_k(ids, truth, queries.rows, options.k), queries.rows / seconds});
  }
  return result;
}

// Row-major vectors as hnswlib takes them: a pointer to each row's bytes.
struct RowBytes {
  const uint8_t* data = nullptr;
  size_t row_bytes = 0;
  int64_t rows = 0;
  const void* row(int64_t i) const { return data + static_cast<size_t>(i) * row_bytes; }
};

template <typename Distance>
SystemResult run_hnswlib(hnswlib::SpaceInterface<Distance>& space, const RowBytes& base, const RowBytes& queries,
                         const GroundTruth& truth, const Options& options) {
  SystemResult result;
  result.system = "hnswlib";
  result.width_name = "ef";
  std::fprintf(stderr, "hnswlib: building over %lld vectors ...\n", static_cast<long long>(base.rows));
  auto start = std::chrono::steady_clock::now();
  auto index = std::make_unique<hnswlib::HierarchicalNSW<Distance>>(&space, static_cast<size_t>(base.rows), kHnswM,
                                                                    kHnswEfConstruction);
  // The first point becomes the entry point; inserting it alone keeps the parallel inserts from
  // racing to create the top level of an empty graph.
  index->addPoint(base.row(0), 0);
  parallel_for_each(1, base.rows, options.threads,
                    [&](int64_t i) { index->addPoint(base.row(i), static_cast<hnswlib::labeltype>(i)); });
  result.build_seconds = seconds_since(start);
  result.vectors_per_second = base.rows / result.build_seconds;

  const int k = options.k;
  std::vector<uint32_t> ids(queries.rows * k);
  for (int ef : options.ef_values) {
    index->setEf(static_cast<size_t>(ef));
    std::fill(ids.begin(), ids.end(), annforge::kInvalidId);
    start = std::chrono::steady_clock::now();
    parallel_for_each(0, queries.rows, options.threads, [&](int64_t q) {
      auto found = index->searchKnn(queries.row(q), static_cast<size_t>(k));
      // The queue pops the farthest first; fill the row from its end so it reads nearest first.
      for (size_t position = found.size(); !found.empty(); found.pop()) {
        ids[q * k + --position] = static_cast<uint32_t>(found.top().second);
      }
    });
    double seconds = seconds_since(start);
    result.points.push_back({ef, recall_at_k(ids, truth, queries.rows, k), queries.rows / seconds});
  }
  return result;
}

// hnswlib's SIMD L2 kernels take float32 only, so other element types are widened first.
std::vector<float> to_float32(const annforge::DatasetView& view) {
  std::vector<float> out(static_cast<size_t>(view.rows * view.dim));
  const size_t count = out.size();
  if (view.type == annforge::ElementType::UInt8) {
    const auto* in = static_cast<const uint8_t*>(view.data);
    for (size_t i = 0; i < count; ++i) out[i] = in[i];
  } else if (view.type == annforge::ElementType::Int8) {
    const auto* in = static_cast<const int8_t*>(view.data);
    for (size_t i = 0; i < count; ++i) out[i] = in[i];
  } else {
    const auto* in = static_cast<const float*>(view.data);
    std::copy(in, in + count, out.begin());
  }
  return out;
}

// Runs hnswlib on the data as a user would hand it over: float32 as is, uint8 and int8 widened
// to float32 (its only SIMD L2 space) unless --hnswlib-uint8 asks for its scalar byte space.
// `note` says which; the conversion is not part of the timed build.
SystemResult run_hnswlib_on(const annforge::DatasetView& base, const annforge::DatasetView& queries,
                            const GroundTruth& truth, const Options& options, std::string& note) {
  const size_t dim = static_cast<size_t>(base.dim);
  if (options.hnswlib_uint8) {
    note = "uint8 data given as bytes to L2SpaceI (scalar, integer distances)";
    hnswlib::L2SpaceI space(dim);
    return run_hnswlib<int>(space, {base.row(0), base.row_bytes(), base.rows},
                            {queries.row(0), queries.row_bytes(), queries.rows}, truth, options);
  }
  hnswlib::L2Space space(dim);
  if (base.type == annforge::ElementType::Float32) {
    note = "float32 data, L2Space";
    return run_hnswlib<float>(space, {base.row(0), base.row_bytes(), base.rows},
                              {queries.row(0), queries.row_bytes(), queries.rows}, truth, options);
  }
  note = std::string(annforge::to_string(base.type)) +
         " data converted to float32 for L2Space (hnswlib's SIMD kernels are float32 only); conversion not timed";
  std::vector<float> query_floats = to_float32(queries);
  std::vector<float> base_floats = to_float32(base);
  const size_t row_bytes = dim * sizeof(float);
  return run_hnswlib<float>(space, {reinterpret_cast<const uint8_t*>(base_floats.data()), row_bytes, base.rows},
                            {reinterpret_cast<const uint8_t*>(query_floats.data()), row_bytes, queries.rows},
                            truth, options);
}

GroundTruth load_ground_truth(const Options& options, const annforge::DatasetView& base,
                              const annforge::DatasetView& queries, bool base_is_slice) {
  GroundTruth truth;
  if (!options.ground_truth_path.empty() && !base_is_slice) {
    annforge::Neighbors file = annforge::read_neighbors(options.ground_truth_path);
    if (file.rows < queries.rows) {
      throw annforge::Error(annforge::ErrorCode::InvalidArgument,
                            options.ground_truth_path + ": holds " + std::to_string(file.rows) + " rows, fewer than the " +
                                std::to_string(queries.rows) + " queries");
    }
    if (file.k < options.k) {
      throw annforge::Error(annforge::ErrorCode::InvalidArgument,
                            options.ground_truth_path + ": holds " + std::to_string(file.k) +
                                " neighbours per query, fewer than --k " + std::to_string(options.k));
    }
    for (int64_t q = 0; q < queries.rows; ++q) {
      for (int j = 0; j < options.k; ++j) {
        uint32_t id = file.ids[q * file.k + j];
        if (id == annforge::kInvalidId || id >= static_cast<uint64_t>(base.rows)) {
          throw annforge::Error(annforge::ErrorCode::InvalidArgument,
                                options.ground_truth_path + ": query " + std::to_string(q) +
                                    " lists a neighbour outside the base; is it the ground truth for " + options.base_path + "?");
        }
      }
    }
    truth.ids = std::move(file.ids);
    truth.stride = file.k;
    truth.source = "file " + options.ground_truth_path;
    return truth;
  }
  if (!options.ground_truth_path.empty()) {
    std::fprintf(stderr, "%s is the ground truth for the whole base file, not this %lld-row slice; computing it exactly\n",
                 options.ground_truth_path.c_str(), static_cast<long long>(base.rows));
  }
  std::fprintf(stderr, "ground truth: exact search of %lld queries over %lld vectors ...\n",
               static_cast<long long>(queries.rows), static_cast<long long>(base.rows));
  auto start = std::chrono::steady_clock::now();
  annforge::Neighbors exact = annforge::exact_knn(base, queries, options.k, annforge::Metric::L2, options.threads);
  std::fprintf(stderr, "ground truth: %.1f s\n", seconds_since(start));
  truth.ids = std::move(exact.ids);
  truth.stride = exact.k;
  truth.source = "exact_knn over the " + std::to_string(base.rows) + "-row " + (base_is_slice ? "slice" : "base") +
                 " (computed here)";
  return truth;
}

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string json_number(double value) {
  if (!std::isfinite(value)) return "null";
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", value);
  return text;
}

struct Report {
  std::string base_path;
  std::string queries_path;
  std::string element_type;
  int64_t rows = 0;
  bool base_is_slice = false;
  int64_t dim = 0;
  int64_t queries = 0;
  int k = 0;
  int threads = 0;
  int degree = 0;
  std::string ground_truth_source;
  std::string hnswlib_note;
  std::vector<SystemResult> systems;
  double build_throughput_ratio = NAN;  // annforge / hnswlib vectors per second
};

void print_report(const Report& report) {
  std::printf("base: %s (%s%lld rows, dim %lld, %s)\n", report.base_path.c_str(), report.base_is_slice ? "first " : "",
              static_cast<long long>(report.rows),
              static_cast<long long>(report.dim), report.element_type.c_str());
  std::printf("queries: %s (%lld queries, k = %d)\n", report.queries_path.c_str(), static_cast<long long>(report.queries),
              report.k);
  std::printf("threads: %d\n", report.threads);
  std::printf("ground truth: %s\n", report.ground_truth_source.c_str());
  std::printf("annforge: cpu backend, graph degree %d; search width = beam_width\n", report.degree);
  if (!report.hnswlib_note.empty()) {
    std::printf("hnswlib: M=%zu, efConstruction=%zu, %s; search width = ef\n", kHnswM, kHnswEfConstruction,
                report.hnswlib_note.c_str());
  }
  std::printf("\n| system | build s | build vectors/s | search width | recall@%d | queries/s |\n", report.k);
  std::printf("|---|---:|---:|---:|---:|---:|\n");
  for (const SystemResult& system : report.systems) {
    for (const SearchPoint& point : system.points) {
      std::printf("| %s | %.2f | %.0f | %d | %.4f | %.0f |\n", system.system.c_str(), system.build_seconds,
                  system.vectors_per_second, point.width, point.recall, point.queries_per_second);
    }
  }
  if (std::isfinite(report.build_throughput_ratio)) {
    std::printf("\nbuild throughput ratio annforge/hnswlib: %.2fx\n", report.build_throughput_ratio);
  }
}

void write_json(const Report& report, const std::string& path) {
  std::ostringstream json;
  json << "{\n";
  json << "  \"base\": " << json_string(report.base_path) << ",\n";
  json << "  \"queries_file\": " << json_string(report.queries_path) << ",\n";
  json << "  \"element_type\": " << json_string(report.element_type) << ",\n";
  json << "  \"rows\": " << report.rows << ",\n";
  json << "  \"rows_are_slice\": " << (report.base_is_slice ? "true" : "false") << ",\n";
  json << "  \"dim\": " << report.dim << ",\n";
  json << "  \"queries\": " << report.queries << ",\n";
  json << "  \"k\": " << report.k << ",\n";
  json << "  \"threads\": " << report.threads << ",\n";
  json << "  \"ground_truth\": " << json_string(report.ground_truth_source) << ",\n";
  json << "  \"build_throughput_ratio\": " << json_number(report.build_throughput_ratio) << ",\n";
  json << "  \"systems\": [";
  for (size_t s = 0; s < report.systems.size(); ++s) {
    const SystemResult& system = report.systems[s];
    json << (s == 0 ? "\n" : ",\n") << "    {\n";
    json << "      \"system\": " << json_string(system.system) << ",\n";
    if (system.system == "annforge") {
      json << "      \"parameters\": {\"graph_degree\": " << report.degree << "},\n";
    } else {
      json << "      \"parameters\": {\"M\": " << kHnswM << ", \"ef_construction\": " << kHnswEfConstruction
           << ", \"space\": " << json_string(report.hnswlib_note) << "},\n";
    }
    json << "      \"width_parameter\": " << json_string(system.width_name) << ",\n";
    json << "      \"build_seconds\": " << json_number(system.build_seconds) << ",\n";
    json << "      \"vectors_per_second\": " << json_number(system.vectors_per_second) << ",\n";
    json << "      \"search\": [";
    for (size_t p = 0; p < system.points.size(); ++p) {
      const SearchPoint& point = system.points[p];
      json << (p == 0 ? "" : ", ") << "{\"width\": " << point.width << ", \"recall\": " << json_number(point.recall)
           << ", \"qps\": " << json_number(point.queries_per_second) << "}";
    }
    json << "]\n    }";
  }
  json << "\n  ]\n}\n";
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << json.str();
  file.close();
  if (!file) throw annforge::Error(annforge::ErrorCode::Io, path + ": cannot write the JSON report");
}

int run(const Options& options) {
  // Read one row more than asked: if it is there, the base file is larger than the slice and its
  // shipped ground truth (computed over the whole file) does not apply.
  const int64_t rows_to_read = options.rows < 0 ? -1 : options.rows + 1;
  annforge::Dataset base_file = annforge::read_vectors(options.base_path, rows_to_read);
  const bool base_is_slice = options.rows >= 0 && base_file.rows() > options.rows;
  annforge::DatasetView base_view = base_file.view();
  if (base_is_slice) base_view.rows = options.rows;
  // base_file keeps the storage alive for as long as the borrowed slice is used.
  annforge::Dataset base = base_is_slice ? annforge::Dataset::borrow(base_view) : base_file;

  annforge::Dataset query_file = annforge::read_vectors(options.queries_path, options.queries_limit);
  const annforge::DatasetView& queries = query_file.view();
  if (queries.dim != base_view.dim || queries.type != base_view.type) {
    throw annforge::Error(annforge::ErrorCode::InvalidArgument,
                          options.queries_path + ": holds " + std::to_string(queries.dim) + "-dimensional " +
                              annforge::to_string(queries.type) + " vectors but the base holds " +
                              std::to_string(base_view.dim) + "-dimensional " + annforge::to_string(base_view.type));
  }
  if (options.hnswlib_uint8 && base_view.type != annforge::ElementType::UInt8) {
    throw UsageError("--hnswlib-uint8: the base holds " + std::string(annforge::to_string(base_view.type)) + ", not uint8");
  }
  if (options.k > base_view.rows) {
    throw annforge::Error(annforge::ErrorCode::InvalidArgument,
                          "--k " + std::to_string(options.k) + " is more than the " + std::to_string(base_view.rows) + " base rows");
  }

  GroundTruth truth = load_ground_truth(options, base_view, queries, base_is_slice);

  Report report;
  report.base_path = options.base_path;
  report.queries_path = options.queries_path;
  report.element_type = annforge::to_string(base_view.type);
  report.rows = base_view.rows;
  report.base_is_slice = base_is_slice;
  report.dim = base_view.dim;
  report.queries = queries.rows;
  report.k = options.k;
  report.threads = options.threads;
  report.degree = options.degree;
  report.ground_truth_source = truth.source;

  report.systems.push_back(run_annforge(base, queries, truth, options));
  if (!options.skip_hnswlib) {
    report.systems.push_back(run_hnswlib_on(base_view, queries, truth, options, report.hnswlib_note));
    report.build_throughput_ratio = report.systems[0].vectors_per_second / report.systems[1].vectors_per_second;
  }

  print_report(report);
  if (!options.json_path.empty()) write_json(report, options.json_path);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse_options(argc, argv));
  } catch (const UsageError& error) {
    std::fprintf(stderr, "compare_hnswlib: %s\n\n%s", error.what(), kUsage);
    return 2;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "compare_hnswlib: %s\n", error.what());
    return 1;
  }
}
