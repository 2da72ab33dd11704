// compare_cpu: builds annforge's CPU graph and every CPU peer (hnswlib HNSW, FAISS IndexHNSWFlat
// at two construction widths, FAISS IndexNSGFlat, and exact brute force) over the same vectors
// with the same number of threads, then reports for each the build time, the build throughput,
// the build's peak memory and the recall@k / queries-per-second trade-off at several search
// widths. Every index answers the same queries and is scored against the same ground truth.
// `--slices` instead builds annforge alone on growing prefixes of the data (growth table).
// `--metric` picks l2, inner product or cosine for every system (hnswlib and FAISS get unit-length
// copies for cosine), `--recall ties` scores returned ids by exact distance against each query's
// k-th true distance (data with duplicates), and the report adds queries/s at equal recall.
//
// This file holds the two modes and main. The command line is in options.cpp, the systems in
// peers.cpp (the only file that includes hnswlib) and faiss_peers.cpp (FAISS), the output in
// report.cpp, and what they share in bench_support.hpp / bench_support.cpp.
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "annforge.hpp"

#ifdef ANNFORGE_BENCH_HAVE_FAISS
#include "faiss_peers.hpp"
#endif

#include "bench_support.hpp"

namespace {

using namespace annforge_bench;

// ---- the two modes ---------------------------------------------------------------------------

int run_compare(const Options& options) {
  // Read one row more than asked: if it is there, the base file is larger than the slice and its
  // shipped ground truth (computed over the whole file) does not apply.
  const int64_t rows_to_read = options.rows < 0 ? -1 : options.rows + 1;
  annforge::Dataset base_file = read_packed_vectors(options.base_path, rows_to_read);
  const bool base_is_slice = options.rows >= 0 && base_file.rows() > options.rows;
  annforge::DatasetView base_view = base_file.view();
  if (base_is_slice) base_view.rows = options.rows;
  // The slice shares base_file's storage (kept alive with it), so that the index owns its
  // vectors as one built from a whole file does (the CPU backend then keeps the search's bf16
  // copy between calls instead of making it per call, as it must for borrowed caller memory).
  annforge::Dataset base =
      base_is_slice
          ? annforge::Dataset::wrap(base_view, std::static_pointer_cast<const void>(std::make_shared<annforge::Dataset>(base_file)))
          : base_file;

  annforge::Dataset query_file = read_packed_vectors(options.queries_path, options.queries_limit);
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

  make_resident(base_view);
  make_resident(queries);

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
  report.metric = options.metric;
  report.recall_ties = options.recall_ties;

  // Ground truth: the shipped file when it applies; otherwise the exact search, which is also the
  // exact row. With the file, the exact row is a separate exact search scored against it.
  GroundTruth truth;
  std::optional<SystemResult> exact_result;
  const bool file_applies = !options.ground_truth_path.empty() && !base_is_slice;
  if (file_applies) {
    truth = ground_truth_from_file(options, base_view, queries);
  } else {
    if (!options.ground_truth_path.empty()) {
      std::fprintf(stderr, "%s is the ground truth for the whole base file, not this %lld-row slice; computing it exactly\n",
                   options.ground_truth_path.c_str(), static_cast<long long>(base_view.rows));
    }
    annforge::Neighbors exact;
    exact_result = run_exact(base_view, queries, options, exact);
    truth.ids = std::move(exact.ids);
    truth.stride = exact.k;
    truth.source = "exact_knn over the " + std::to_string(base_view.rows) + "-row " + (base_is_slice ? "slice" : "base") +
                   " (computed here; the exact row)";
    exact_result->points[0].recall = 1.0;
  }
  report.ground_truth_source = truth.source;
  // --recall ties: the k-th true distance of every query, recomputed exactly from the ground
  // truth's ids (so a shipped .ivecs without distances serves too). The exact row's own recall
  // stays 1.0 where it is the ground truth.
  if (options.recall_ties) {
    enable_tie_aware_recall(truth, base_view, queries, options.metric, options.k);
    if (exact_result) exact_result->points[0].recall_by_ids = 1.0;
  }
  if (options.runs("exact") && !exact_result) {
    exact_result = guarded("exact", [&] {
      annforge::Neighbors exact;
      SystemResult result = run_exact(base_view, queries, options, exact);
      result.points[0] = scored_point(-1, exact.ids, truth, queries.rows, options.k, result.points[0].queries_per_second);
      return result;
    });
  }

  // float32 copies for hnswlib (unless it takes bytes) and FAISS: made once, before their builds,
  // not timed, and not counted in their build memory (their indexes' own copies are). For
  // cosine they are scaled to unit length, as a user of those libraries would do, and searched
  // by inner product.
  const bool hnswlib_needs_floats =
      (options.runs("hnswlib") && !options.hnswlib_uint8) || options.runs("export-hnswlib");
  bool faiss_runs = false;
  for (const std::string& key : options.systems) faiss_runs = faiss_runs || is_faiss_system(key);
#ifdef ANNFORGE_BENCH_HAVE_FAISS
  if (faiss_runs) {
    report.faiss_note = "FAISS " + bench::faiss_version() + ", OpenMP threads set to " + std::to_string(options.threads);
  }
#else
  report.faiss_note = "this program was built without FAISS (not found at configure time, or ANNFORGE_BENCH_FAISS=OFF): no FAISS rows";
#endif
  const bool cosine = options.metric == annforge::Metric::Cosine;
  FloatRows base_floats, query_floats;
  if (hnswlib_needs_floats || faiss_runs) {
    base_floats = as_float32(base_view);
    query_floats = as_float32(queries);
    if (cosine) {
      normalise_rows(base_floats);
      normalise_rows(query_floats);
    }
    if (base_view.type != annforge::ElementType::Float32 || cosine) {
      const std::string what =
          base_view.type != annforge::ElementType::Float32
              ? report.element_type + " data converted to float32" + (cosine ? " and normalised to unit length" : "")
              : report.element_type + " data copied and normalised to unit length (cosine)";
      char note[320];
      std::snprintf(note, sizeof note,
                    "%s for %s before the builds (%.0f MiB); conversion not timed, "
                    "and the converted copy not counted in the build memory",
                    what.c_str(),
                    hnswlib_needs_floats && faiss_runs ? "hnswlib and FAISS" : (faiss_runs ? "FAISS" : "hnswlib"),
                    base_floats.storage.size() * sizeof(float) / 1048576.0);
      report.float_note = note;
    }
  }
  switch (options.metric) {
    case annforge::Metric::L2:
      report.metric_note = "squared Euclidean distance (annforge and exact: Metric::L2; hnswlib's L2 spaces, FAISS METRIC_L2)";
      break;
    case annforge::Metric::InnerProduct:
      report.metric_note = "inner product (annforge and exact: Metric::InnerProduct, distance -<a,b>); "
                           "hnswlib InnerProductSpace, FAISS METRIC_INNER_PRODUCT";
      break;
    case annforge::Metric::Cosine:
      report.metric_note = "cosine (annforge and exact: Metric::Cosine on the vectors as given, distance 1 - cos); "
                           "hnswlib and FAISS: base and queries normalised to unit length once before their builds "
                           "(not timed), then InnerProductSpace / METRIC_INNER_PRODUCT";
      break;
  }

  // FAISS by inner product for ip, and for cosine over the unit-length copies.
  [[maybe_unused]] const bool inner_product = options.metric != annforge::Metric::L2;
  // The export rows search annforge's index as the annforge row built it (or, without that row,
  // one built here and not reported).
  annforge::Index built;
  bool have_built = false;
  auto annforge_index = [&]() -> const annforge::Index& {
    if (!have_built) {
      std::fprintf(stderr, "annforge: building over %lld vectors for the export rows ...\n",
                   static_cast<long long>(base.rows()));
      built = annforge::build(base, annforge_build_params(options));
      have_built = true;
    }
    return built;
  };
  for (const std::string& key : options.systems) {
    if (key == "annforge") {
      report.systems.push_back(guarded(key, [&] {
        SystemResult result = run_annforge(base, queries, truth, options, &built);
        have_built = true;
        return result;
      }));
    } else if (key == "export-hnswlib") {
      report.systems.push_back(guarded(key, [&] {
        return run_exported_hnswlib(annforge_index(), query_floats, truth, options);
      }));
    } else if (key == "hnswlib") {
      report.systems.push_back(guarded(key, [&] {
        return run_hnswlib_on(base_view, queries, &base_floats, &query_floats, truth, options);
      }));
    } else if (key == "exact") {
      if (exact_result) report.systems.push_back(*exact_result);
    }
#ifdef ANNFORGE_BENCH_HAVE_FAISS
    else if (key == "faiss-export") {
      report.systems.push_back(guarded(key, [&] {
        return run_exported_faiss(annforge_index(), query_floats, truth, options);
      }));
    } else if (key == "faiss-hnsw40" || key == "faiss-hnsw200") {
      const int ef_construction = key == "faiss-hnsw40" ? 40 : 200;
      const std::string label = "faiss HNSWFlat M=32 efC=" + std::to_string(ef_construction);
      const int dim = static_cast<int>(base_view.dim);
      report.systems.push_back(guarded(key, [&] {
        return run_faiss(key, label, [&] { return bench::make_faiss_hnsw_flat(dim, kFaissHnswM, ef_construction, options.threads, inner_product); },
                         options.ef_values, base_floats, query_floats, truth, options);
      }));
    } else if (key == "faiss-nsg") {
      const int dim = static_cast<int>(base_view.dim);
      report.systems.push_back(guarded(key, [&] {
        return run_faiss(key, "faiss NSGFlat R=32", [&] { return bench::make_faiss_nsg_flat(dim, kFaissNsgR, options.threads, inner_product); },
                         options.nsg_search_l, base_floats, query_floats, truth, options);
      }));
    }
#endif
  }

  print_report(report);
  const std::string json = report_json(report);
  if (!options.json_path.empty()) write_text_file(options.json_path, json);
  if (!options.plot_path.empty()) {
    std::string json_path = options.json_path;
    std::string temporary;
    if (json_path.empty()) {
      char name[] = "/tmp/compare_cpu_XXXXXX.json";
      int fd = mkstemps(name, 5);
      if (fd < 0) throw annforge::Error(annforge::ErrorCode::Io, std::string("--plot: cannot create a temporary file: ") + std::strerror(errno));
      close(fd);
      temporary = json_path = name;
      write_text_file(json_path, json);
    }
    try {
      draw_plot(options, json_path);
    } catch (...) {
      if (!temporary.empty()) std::remove(temporary.c_str());
      throw;
    }
    if (!temporary.empty()) std::remove(temporary.c_str());
    std::printf("\nplot: %s\n", options.plot_path.c_str());
  }
  for (const SystemResult& system : report.systems) {
    if (!system.error.empty()) return 1;
  }
  return 0;
}

// Builds annforge alone on each prefix of the base and shows how the build time grows.
int run_slices(const Options& options) {
  const int64_t largest = options.slices.back();
  annforge::Dataset base_file = read_packed_vectors(options.base_path, largest);
  if (base_file.rows() < largest) {
    throw UsageError("--slices: " + options.base_path + " holds " + std::to_string(base_file.rows()) +
                     " rows, fewer than the slice of " + std::to_string(largest));
  }
  make_resident(base_file.view());
  const annforge::BuildParams build_params = annforge_build_params(options);

  struct Slice {
    int64_t rows;
    double seconds;
    MemoryUse memory;
    double nlogn_ratio;  // (s / (n log2 n)) / the same for the first slice
  };
  std::vector<Slice> slices;
  for (int64_t rows : options.slices) {
    annforge::DatasetView view = base_file.view();
    view.rows = rows;
    annforge::Dataset slice = annforge::Dataset::borrow(view);
    std::fprintf(stderr, "annforge: building over the first %lld vectors ...\n", static_cast<long long>(rows));
    MemoryProbe probe;
    auto start = std::chrono::steady_clock::now();
    {
      annforge::Index index = annforge::build(slice, build_params);
      slices.push_back({rows, seconds_since(start), probe.finish(), NAN});
    }
  }
  auto per_nlogn = [](const Slice& slice) {
    const double n = static_cast<double>(slice.rows);
    return slice.seconds / (n * std::log2(n));
  };
  for (Slice& slice : slices) slice.nlogn_ratio = per_nlogn(slice) / per_nlogn(slices.front());

  const annforge::DatasetView& view = base_file.view();
  std::printf("base: %s (prefixes of %lld rows, dim %lld, %s)\n", options.base_path.c_str(), static_cast<long long>(largest),
              static_cast<long long>(view.dim), annforge::to_string(view.type));
  std::printf("threads: %d\n", options.threads);
  std::printf("annforge: cpu backend, graph_degree %d, intermediate_degree %d%s%s\n", build_params.graph_degree,
              build_params.intermediate_degree, build_params.metric == annforge::Metric::L2 ? "" : ", metric ",
              build_params.metric == annforge::Metric::L2 ? "" : annforge::to_string(build_params.metric));
  std::printf("build peak MiB: %s\n", memory_method(!slices.empty() && slices.front().memory.peak_is_hwm));
  std::printf("s/(n log2 n): build seconds / (n log2 n), relative to the first slice (1.00 = n log n growth)\n");
  std::printf("\n| rows | build s | build vectors/s | build peak MiB | s/(n log2 n) rel. |\n");
  std::printf("|---:|---:|---:|---:|---:|\n");
  for (const Slice& slice : slices) {
    std::printf("| %lld | %.2f | %.0f | %.0f | %.2f |\n", static_cast<long long>(slice.rows), slice.seconds,
                slice.rows / slice.seconds, slice.memory.peak_mib, slice.nlogn_ratio);
  }

  if (!options.json_path.empty()) {
    std::ostringstream json;
    json << "{\n  \"mode\": \"slices\",\n";
    json << "  \"base\": " << json_string(options.base_path) << ",\n";
    json << "  \"element_type\": " << json_string(annforge::to_string(view.type)) << ",\n";
    json << "  \"dim\": " << view.dim << ",\n";
    json << "  \"threads\": " << options.threads << ",\n";
    json << "  \"parameters\": {\"graph_degree\": " << build_params.graph_degree
         << ", \"intermediate_degree\": " << build_params.intermediate_degree
         << ", \"metric\": " << json_string(annforge::to_string(build_params.metric)) << "},\n";
    json << "  \"memory_method\": " << json_string(memory_method(!slices.empty() && slices.front().memory.peak_is_hwm)) << ",\n";
    json << "  \"slices\": [";
    for (size_t i = 0; i < slices.size(); ++i) {
      const Slice& slice = slices[i];
      json << (i == 0 ? "\n" : ",\n") << "    {\"rows\": " << slice.rows << ", \"build_seconds\": " << json_number(slice.seconds)
           << ", \"vectors_per_second\": " << json_number(slice.rows / slice.seconds)
           << ", \"build_peak_mib\": " << json_number(slice.memory.peak_mib)
           << ", \"build_retained_mib\": " << json_number(slice.memory.retained_mib)
           << ", \"seconds_per_nlog2n_relative\": " << json_number(slice.nlogn_ratio) << "}";
    }
    json << "\n  ]\n}\n";
    write_text_file(options.json_path, json.str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string program = argc > 0 ? base_name(argv[0]) : "compare_cpu";
  try {
    Options options = parse_options(argc, argv);
    return options.slices.empty() ? run_compare(options) : run_slices(options);
  } catch (const UsageError& error) {
    std::fprintf(stderr, "%s: %s\n\n%s", program.c_str(), error.what(), kUsage);
    return 2;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "%s: %s\n", program.c_str(), error.what());
    return 1;
  }
}
