// peers.cpp: the systems compare_cpu measures, each built and searched over the same data with
// the same threads: annforge's CPU graph, hnswlib HNSW, the FAISS indexes (their calls are in
// faiss_peers.cpp) and exact brute force, plus the shipped ground truth.
//
// Only this translation unit includes hnswlib: hnswlib.h defines non-inline functions and picks
// its SIMD distance kernels from compile-time macros (see bench/CMakeLists.txt). FAISS is
// reached through faiss_peers.hpp, compiled separately with FAISS's own flags.
#include <hnswlib/hnswlib.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <stdexcept>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "annforge.hpp"

#ifdef ANNFORGE_BENCH_HAVE_FAISS
#include "faiss_peers.hpp"
#endif

#include "bench_support.hpp"

namespace annforge_bench {

// ---- the systems -----------------------------------------------------------------------------

annforge::BuildParams annforge_build_params(const Options& options) {
  annforge::BuildParams build_params;
  build_params.device = annforge::Device::Cpu;
  build_params.graph_degree = options.degree;
  build_params.metric = options.metric;
  // intermediate_degree stays 0: the CPU backend's own choice (3/2 x graph_degree), as a user
  // who sets only the degree gets it.
  build_params.threads = options.threads;
  return build_params;
}

SystemResult run_annforge(const annforge::Dataset& base, const annforge::DatasetView& queries,
                          const GroundTruth& truth, const Options& options, annforge::Index* keep) {
  const annforge::BuildParams build_params = annforge_build_params(options);
  SystemResult result;
  result.key = "annforge";
  result.label = "annforge";
  result.width_name = "beam_width";
  result.parameters_text = "cpu backend, graph_degree " + std::to_string(build_params.graph_degree) +
                           ", intermediate_degree " + std::to_string(build_params.intermediate_degree) +
                           " (0: the backend's choice, 3/2 x graph_degree)";
  if (build_params.metric != annforge::Metric::L2) {
    result.parameters_text += std::string(", metric ") + annforge::to_string(build_params.metric);
  }
  result.parameters_json = "{\"graph_degree\": " + std::to_string(build_params.graph_degree) +
                           ", \"intermediate_degree\": " + std::to_string(build_params.intermediate_degree) +
                           ", \"metric\": \"" + annforge::to_string(build_params.metric) + "\"}";
  std::fprintf(stderr, "annforge: building over %lld vectors ...\n", static_cast<long long>(base.rows()));
  MemoryProbe probe;
  auto start = std::chrono::steady_clock::now();
  annforge::Index index = annforge::build(base, build_params);
  result.build_seconds = seconds_since(start);
  result.memory = probe.finish();
  result.vectors_per_second = base.rows() / result.build_seconds;

  std::vector<uint32_t> ids(queries.rows * options.k);
  std::vector<float> distances(ids.size());
  {
    // The first search of an index makes what later searches reuse (on AVX-512 CPUs, the bf16
    // copy of float vectors): a one-time cost, timed and reported here, not in the first width.
    annforge::SearchParams warm;
    warm.device = annforge::Device::Cpu;
    warm.threads = options.threads;
    const annforge::DatasetView one{queries.data, 1, queries.dim, queries.type};
    start = std::chrono::steady_clock::now();
    annforge::search(index, one, options.k, warm, ids.data(), distances.data());
    const double setup = seconds_since(start);
    char text[96];
    std::snprintf(text, sizeof(text), "; first search %.3f s (a one-time setup)", setup);
    result.parameters_text += text;
    std::fprintf(stderr, "annforge: first search (one query, one-time setup included): %.3f s\n", setup);
  }
  for (int width : options.beam_widths) {
    annforge::SearchParams search_params;
    search_params.device = annforge::Device::Cpu;
    search_params.beam_width = width;
    search_params.threads = options.threads;
    start = std::chrono::steady_clock::now();
    annforge::search(index, queries, options.k, search_params, ids.data(), distances.data());
    double seconds = seconds_since(start);
    result.points.push_back(scored_point(width, ids, truth, queries.rows, options.k, queries.rows / seconds));
  }
  if (keep != nullptr) *keep = std::move(index);
  return result;
}

namespace {

// hnswlib parameters: the values its own README and most published comparisons use.
constexpr size_t kHnswM = 16;
constexpr size_t kHnswEfConstruction = 200;

// Row-major vectors as hnswlib takes them: a pointer to each row's bytes.
struct RowBytes {
  const uint8_t* data = nullptr;
  size_t row_bytes = 0;
  int64_t rows = 0;
  const void* row(int64_t i) const { return data + static_cast<size_t>(i) * row_bytes; }
};

// Searches every query at each of --ef-search's widths, on --threads threads.
template <typename Distance>
void sweep_hnswlib(hnswlib::HierarchicalNSW<Distance>& index, const RowBytes& queries, const GroundTruth& truth,
                   const Options& options, SystemResult& result) {
  const int k = options.k;
  std::vector<uint32_t> ids(queries.rows * k);
  for (int ef : options.ef_values) {
    index.setEf(static_cast<size_t>(ef));
    std::fill(ids.begin(), ids.end(), annforge::kInvalidId);
    const auto start = std::chrono::steady_clock::now();
    parallel_for_each(0, queries.rows, options.threads, [&](int64_t q) {
      auto found = index.searchKnn(queries.row(q), static_cast<size_t>(k));
      // The queue pops the farthest first; fill the row from its end so it reads nearest first.
      for (size_t position = found.size(); !found.empty(); found.pop()) {
        ids[q * k + --position] = static_cast<uint32_t>(found.top().second);
      }
    });
    double seconds = seconds_since(start);
    result.points.push_back(scored_point(ef, ids, truth, queries.rows, k, queries.rows / seconds));
  }
}

// Where a kept hnswlib index lives (--hnswlib-cache): one name per data file (its path, size and
// modification time), rows, metric, space and parameters, so that a changed file or setting is
// never served an old index.
std::string hnswlib_cache_stem(const Options& options, int64_t rows, const std::string& note) {
  namespace fs = std::filesystem;
  std::error_code error;
  const fs::path base = fs::absolute(options.base_path, error);
  const auto size = fs::file_size(base, error);
  const auto modified = fs::last_write_time(base, error).time_since_epoch().count();
  const std::string identity = base.string() + "|" + std::to_string(size) + "|" + std::to_string(modified) + "|" +
                               std::to_string(rows) + "|" + annforge::to_string(options.metric) + "|" + note + "|" +
                               std::to_string(kHnswM) + "|" + std::to_string(kHnswEfConstruction);
  uint64_t hash = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : identity) hash = (hash ^ c) * 1099511628211ull;
  char name[64];
  std::snprintf(name, sizeof name, "hnswlib-%016llx", static_cast<unsigned long long>(hash));
  return (fs::path(options.hnswlib_cache) / name).string();
}

template <typename Distance>
SystemResult run_hnswlib(hnswlib::SpaceInterface<Distance>& space, const RowBytes& base, const RowBytes& queries,
                         const GroundTruth& truth, const Options& options, const std::string& note) {
  SystemResult result;
  result.key = "hnswlib";
  result.label = "hnswlib HNSW M=16 efC=200";
  result.width_name = "ef";
  result.parameters_text = "M=" + std::to_string(kHnswM) + ", efConstruction=" + std::to_string(kHnswEfConstruction) + ", " + note;
  result.parameters_json = "{\"M\": " + std::to_string(kHnswM) + ", \"ef_construction\": " +
                           std::to_string(kHnswEfConstruction) + ", \"space\": " + json_string(note);
  const std::string stem = options.hnswlib_cache.empty() ? "" : hnswlib_cache_stem(options, base.rows, note);
  std::unique_ptr<hnswlib::HierarchicalNSW<Distance>> index;
  if (!stem.empty() && std::filesystem::exists(stem + ".bin") && std::filesystem::exists(stem + ".txt")) {
    // The build's figures as measured when the index was built: seconds, threads, memory, date.
    std::FILE* figures = std::fopen((stem + ".txt").c_str(), "r");
    int threads = 0, peak_is_hwm = 0;
    char built_on[32] = "";
    const bool read = figures != nullptr &&
                      std::fscanf(figures, "%lf %d %lf %lf %d %31s", &result.build_seconds, &threads,
                                  &result.memory.peak_mib, &result.memory.retained_mib, &peak_is_hwm, built_on) == 6;
    if (figures != nullptr) std::fclose(figures);
    if (read) {
      std::fprintf(stderr, "hnswlib: loading the index built on %s from %s.bin ...\n", built_on, stem.c_str());
      index = std::make_unique<hnswlib::HierarchicalNSW<Distance>>(&space, stem + ".bin");
      result.memory.peak_is_hwm = peak_is_hwm != 0;
      result.vectors_per_second = base.rows / result.build_seconds;
      result.parameters_text += "; build time measured on " + std::string(built_on) + " with " +
                                std::to_string(threads) + " threads (index kept in " + options.hnswlib_cache + ")";
      result.parameters_json += ", \"build_measured_on\": " + json_string(built_on) +
                                ", \"build_threads\": " + std::to_string(threads);
    }
  }
  if (!index) {
    std::fprintf(stderr, "hnswlib: building over %lld vectors ...\n", static_cast<long long>(base.rows));
    MemoryProbe probe;
    auto start = std::chrono::steady_clock::now();
    index = std::make_unique<hnswlib::HierarchicalNSW<Distance>>(&space, static_cast<size_t>(base.rows), kHnswM,
                                                                 kHnswEfConstruction);
    // The first point becomes the entry point; inserting it alone keeps the parallel inserts from
    // racing to create the top level of an empty graph.
    index->addPoint(base.row(0), 0);
    parallel_for_each(1, base.rows, options.threads,
                      [&](int64_t i) { index->addPoint(base.row(i), static_cast<hnswlib::labeltype>(i)); });
    result.build_seconds = seconds_since(start);
    result.memory = probe.finish();
    result.vectors_per_second = base.rows / result.build_seconds;
    if (!stem.empty()) {
      std::error_code error;
      std::filesystem::create_directories(options.hnswlib_cache, error);
      index->saveIndex(stem + ".bin.tmp");
      std::filesystem::rename(stem + ".bin.tmp", stem + ".bin");
      const std::time_t now = std::time(nullptr);
      char today[32];
      std::strftime(today, sizeof today, "%Y-%m-%d", std::gmtime(&now));
      if (std::FILE* figures = std::fopen((stem + ".txt").c_str(), "w")) {
        const int threads = options.threads > 0 ? options.threads : static_cast<int>(std::thread::hardware_concurrency());
        std::fprintf(figures, "%.6f %d %.3f %.3f %d %s\n", result.build_seconds, threads, result.memory.peak_mib,
                     result.memory.retained_mib, result.memory.peak_is_hwm ? 1 : 0, today);
        std::fclose(figures);
      }
    }
  }
  result.parameters_json += "}";

  sweep_hnswlib(*index, queries, truth, options, result);
  return result;
}

}  // namespace

// Runs hnswlib on the data as a user would hand it over: float32 as is, uint8 and int8 widened
// to float32 (its only SIMD spaces; `base_floats` / `query_floats`, converted before and not
// timed) unless --hnswlib-uint8 asks for its scalar byte space. l2: L2Space; ip:
// InnerProductSpace (distance 1 - <a,b>, the same order as annforge's -<a,b>); cosine:
// InnerProductSpace over the unit-length copies run_compare made.
SystemResult run_hnswlib_on(const annforge::DatasetView& base, const annforge::DatasetView& queries,
                            const FloatRows* base_floats, const FloatRows* query_floats, const GroundTruth& truth,
                            const Options& options) {
  const size_t dim = static_cast<size_t>(base.dim);
  if (options.hnswlib_uint8) {
    // parse_options refuses --hnswlib-uint8 with another metric: L2SpaceI is L2 only.
    if (options.metric != annforge::Metric::L2) throw UsageError("--hnswlib-uint8: only with --metric l2");
    hnswlib::L2SpaceI space(dim);
    return run_hnswlib<int>(space, {base.row(0), base.row_bytes(), base.rows},
                            {queries.row(0), queries.row_bytes(), queries.rows}, truth, options,
                            "uint8 data given as bytes to L2SpaceI (scalar, integer distances)");
  }
  const bool is_float = base.type == annforge::ElementType::Float32;
  const std::string data = is_float ? "float32 data" : std::string(annforge::to_string(base.type)) + " data converted to float32";
  const size_t row_bytes = dim * sizeof(float);
  const RowBytes base_rows{reinterpret_cast<const uint8_t*>(base_floats->data), row_bytes, base.rows};
  const RowBytes query_rows{reinterpret_cast<const uint8_t*>(query_floats->data), row_bytes, queries.rows};
  if (options.metric == annforge::Metric::L2) {
    hnswlib::L2Space space(dim);
    return run_hnswlib<float>(space, base_rows, query_rows, truth, options,
                              is_float ? "float32 data, L2Space" : data + " for L2Space");
  }
  hnswlib::InnerProductSpace space(dim);
  const std::string note = options.metric == annforge::Metric::Cosine
                               ? data + ", normalised to unit length (cosine), InnerProductSpace"
                               : data + ", InnerProductSpace";
  return run_hnswlib<float>(space, base_rows, query_rows, truth, options, note);
}

#ifdef ANNFORGE_BENCH_HAVE_FAISS
SystemResult run_faiss(const std::string& key, const std::string& label,
                       const std::function<std::unique_ptr<bench::FaissGraphIndex>()>& make, const std::vector<int>& widths,
                       const FloatRows& base, const FloatRows& queries, const GroundTruth& truth, const Options& options) {
  SystemResult result;
  result.key = key;
  result.label = label;
  std::fprintf(stderr, "%s: building over %lld vectors ...\n", key.c_str(), static_cast<long long>(base.rows));
  MemoryProbe probe;
  auto start = std::chrono::steady_clock::now();
  std::unique_ptr<bench::FaissGraphIndex> index = make();
  index->build(base.data, base.rows);
  result.build_seconds = seconds_since(start);
  result.memory = probe.finish();
  result.vectors_per_second = base.rows / result.build_seconds;
  result.width_name = index->width_name();
  result.parameters_text = "FAISS " + bench::faiss_version() + " " + index->parameters_text();
  result.parameters_json = index->parameters_json();

  std::vector<uint32_t> ids(queries.rows * options.k);
  for (int width : widths) {
    start = std::chrono::steady_clock::now();
    index->search(queries.data, queries.rows, options.k, width, ids.data());
    double seconds = seconds_since(start);
    result.points.push_back(scored_point(width, ids, truth, queries.rows, options.k, queries.rows / seconds));
  }
  return result;
}
#endif

// ---- annforge's graph in the libraries it exports to (index/export.cpp) --------------------------

namespace {

// A fresh folder under $TMPDIR (or /tmp) for an exported file, removed with it.
class ExportFolder {
 public:
  ExportFolder() {
    std::string pattern = (std::filesystem::temp_directory_path() / "compare_cpu-export-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + pattern);
    path_ = pattern;
  }
  ~ExportFolder() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Exports `index` to `path`; the seconds (file written, synced and renamed) are the row's build
// time, the memory its peak.
void timed_export(const annforge::Index& index, const std::string& path, annforge::ExportFormat format,
                  const Options& options, SystemResult& result) {
  std::fprintf(stderr, "%s: exporting annforge's index ...\n", result.key.c_str());
  annforge::ExportParams params;
  params.format = format;
  params.threads = options.threads;
  MemoryProbe probe;
  const auto start = std::chrono::steady_clock::now();
  annforge::export_index(index, path, params);
  result.build_seconds = seconds_since(start);
  result.memory = probe.finish();
  result.vectors_per_second = index.rows() / result.build_seconds;
}

}  // namespace

SystemResult run_exported_hnswlib(const annforge::Index& index, const FloatRows& queries, const GroundTruth& truth,
                                  const Options& options) {
  SystemResult result;
  result.key = "export-hnswlib";
  result.label = "annforge graph in hnswlib (export)";
  result.width_name = "ef";
  ExportFolder folder;
  const std::string path = folder.file("index.hnsw");
  timed_export(index, path, annforge::ExportFormat::Hnswlib, options, result);
  const size_t dim = static_cast<size_t>(index.dim());
  std::unique_ptr<hnswlib::SpaceInterface<float>> space;
  if (index.metric == annforge::Metric::L2) {
    space = std::make_unique<hnswlib::L2Space>(dim);
  } else {
    space = std::make_unique<hnswlib::InnerProductSpace>(dim);
  }
  const auto start = std::chrono::steady_clock::now();
  hnswlib::HierarchicalNSW<float> loaded(space.get(), path);
  const double load = seconds_since(start);
  char text[320];
  std::snprintf(text, sizeof text,
                "annforge's index exported (build s = the export: upper levels, long links, file written and "
                "synced), read by hnswlib's loadIndex in %.2f s (not counted); M=%zu, maxM0=%zu, maxM=%zu, %s",
                load, loaded.M_, loaded.maxM0_, loaded.maxM_,
                index.metric == annforge::Metric::L2 ? "L2Space" : "InnerProductSpace");
  result.parameters_text = text;
  result.parameters_json = "{\"export\": \"hnswlib\", \"load_seconds\": " + std::to_string(load) +
                           ", \"M\": " + std::to_string(loaded.M_) + ", \"maxM0\": " + std::to_string(loaded.maxM0_) + "}";
  const RowBytes query_rows{reinterpret_cast<const uint8_t*>(queries.data), dim * sizeof(float), queries.rows};
  sweep_hnswlib(loaded, query_rows, truth, options, result);
  return result;
}

#ifdef ANNFORGE_BENCH_HAVE_FAISS
SystemResult run_exported_faiss(const annforge::Index& index, const FloatRows& queries, const GroundTruth& truth,
                                const Options& options) {
  SystemResult result;
  result.key = "faiss-export";
  result.label = "annforge graph in FAISS (export)";
  ExportFolder folder;
  const std::string path = folder.file("index.faiss");
  timed_export(index, path, annforge::ExportFormat::Faiss, options, result);
  const auto start = std::chrono::steady_clock::now();
  std::unique_ptr<bench::FaissGraphIndex> loaded = bench::load_faiss_hnsw(path, options.threads);
  const double load = seconds_since(start);
  result.width_name = loaded->width_name();
  char text[96];
  std::snprintf(text, sizeof text, " (build s = the export; read_index %.2f s, not counted)", load);
  result.parameters_text = "FAISS " + bench::faiss_version() + " " + loaded->parameters_text() + text;
  result.parameters_json = loaded->parameters_json();
  std::vector<uint32_t> ids(queries.rows * options.k);
  for (int width : options.ef_values) {
    const auto search_start = std::chrono::steady_clock::now();
    loaded->search(queries.data, queries.rows, options.k, width, ids.data());
    const double seconds = seconds_since(search_start);
    result.points.push_back(scored_point(width, ids, truth, queries.rows, options.k, queries.rows / seconds));
  }
  return result;
}
#endif

// Exact search of every query (annforge::exact_knn): its time is reported as the exact row's
// "build", and its single search point has queries / that time.
SystemResult run_exact(const annforge::DatasetView& base, const annforge::DatasetView& queries, const Options& options,
                       annforge::Neighbors& found) {
  SystemResult result;
  result.key = "exact";
  result.label = "exact (brute force)";
  result.width_name = "";
  result.parameters_text = std::string("annforge::exact_knn") +
                           (options.metric == annforge::Metric::L2 ? "" : std::string(" (metric ") + annforge::to_string(options.metric) + ")") +
                           ", all queries against all vectors; \"build\" = the time of that search";
  result.parameters_json = std::string("{\"method\": \"annforge::exact_knn\", \"metric\": \"") + annforge::to_string(options.metric) + "\"}";
  std::fprintf(stderr, "exact: searching %lld queries over %lld vectors ...\n", static_cast<long long>(queries.rows),
               static_cast<long long>(base.rows));
  MemoryProbe probe;
  auto start = std::chrono::steady_clock::now();
  found = annforge::exact_knn(base, queries, options.k, options.metric, options.threads);
  result.build_seconds = seconds_since(start);
  result.memory = probe.finish();
  result.vectors_per_second = base.rows / result.build_seconds;
  std::fprintf(stderr, "exact: %.1f s\n", result.build_seconds);
  result.points.push_back({-1, NAN, queries.rows / result.build_seconds});
  return result;
}

// Runs one system; a failure (a library's exception, out of memory) is recorded on its row and
// the other systems still run.
SystemResult guarded(const std::string& key, const std::function<SystemResult()>& run) {
  try {
    return run();
  } catch (const std::exception& error) {
    std::fprintf(stderr, "%s: failed: %s\n", key.c_str(), error.what());
    SystemResult failed;
    failed.key = key;
    failed.label = key;
    failed.error = error.what();
    return failed;
  }
}

GroundTruth ground_truth_from_file(const Options& options, const annforge::DatasetView& base,
                                   const annforge::DatasetView& queries) {
  GroundTruth truth;
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

}  // namespace annforge_bench
