// bench_support: what the files of compare_cpu share: the options, the results of one system and
// of the whole run, the ground truth, recall@k, the memory probe, the parallel loop, the float32
// copies of the data, timing and JSON helpers, and the declarations of the functions that
// options.cpp (the command line), peers.cpp (the systems) and report.cpp (the output) define.
// It does not include hnswlib (only peers.cpp does) nor FAISS's headers (faiss_peers.hpp, included
// for run_faiss, keeps them out).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "annforge.hpp"

#ifdef ANNFORGE_BENCH_HAVE_FAISS
#include "faiss_peers.hpp"
#endif

#ifndef ANNFORGE_BENCH_PLOT_SCRIPT
#define ANNFORGE_BENCH_PLOT_SCRIPT "bench/plot_compare.py"
#endif

namespace annforge_bench {

#ifdef ANNFORGE_BENCH_HAVE_FAISS
constexpr bool kHaveFaiss = true;
#else
constexpr bool kHaveFaiss = false;
#endif

// Every system the program knows, in the order of the report.
extern const std::vector<std::string> kAllSystems;

inline bool is_faiss_system(const std::string& key) { return key.rfind("faiss-", 0) == 0; }

struct Options {
  std::string program = "compare_cpu";
  std::string base_path;
  std::string queries_path;
  std::string ground_truth_path;
  std::string json_path;
  std::string plot_path;
  std::string python = "/usr/bin/python3";
  std::string plot_script = ANNFORGE_BENCH_PLOT_SCRIPT;
  int64_t rows = -1;           // -1: the whole file
  int64_t queries_limit = -1;  // -1: every query
  int k = 10;
  int threads = 0;
  int degree = 32;
  std::vector<int> beam_widths;
  std::vector<int> ef_values;
  std::vector<int> nsg_search_l;
  std::vector<std::string> systems;
  std::vector<int64_t> slices;  // non-empty: the growth mode
  bool hnswlib_uint8 = false;
  // Where hnswlib's built indexes are kept between runs (empty: none). Its builds are most of a
  // benchmark's time (4-8 minutes per 1M set on 2 cores); a kept index is loaded and searched
  // in this run, and its build time is the one measured when it was built (the report says so).
  std::string hnswlib_cache;
  // --metric: every system searches by it (hnswlib and FAISS through their own spaces, with
  // normalised vectors for cosine; see run_compare).
  annforge::Metric metric = annforge::Metric::L2;
  // --recall ties: a returned id whose exact distance equals the k-th true distance is a hit
  // (see recall_at_k); false: by ids, as the first version of this benchmark scored.
  bool recall_ties = false;

  bool runs(const std::string& key) const { return std::find(systems.begin(), systems.end(), key) != systems.end(); }
};

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A flag's integer value, at least `minimum`; throws UsageError naming the flag otherwise.
int64_t parse_integer(const std::string& flag, const std::string& text, int64_t minimum);

// ---- command line (options.cpp) ------------------------------------------------------------

extern const char* const kUsage;
// The last component of a path ("compare_cpu" of "build/bench/compare_cpu").
std::string base_name(const std::string& path);
// Parses the command line; --help prints the usage and exits. Throws UsageError.
Options parse_options(int argc, char** argv);

// ---- timing and JSON (bench_support.cpp) -----------------------------------------------------

inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// `text` as a quoted JSON string.
std::string json_string(const std::string& text);
// `value` as a JSON number (%.6g), or null where it is not finite.
std::string json_number(double value);

// ---- memory --------------------------------------------------------------------------------

// One field of /proc/self/status in KiB ("VmRSS", "VmHWM"), or -1 where it cannot be read.
int64_t status_kib(const char* field);

struct MemoryUse {
  double peak_mib = NAN;      // peak resident growth during the build (or growth after it, see peak_is_hwm)
  double retained_mib = NAN;  // resident growth still held right after the build (mostly the index)
  bool peak_is_hwm = false;   // true: VmHWM after the build, with the peak reset before it
};

// Resident-set growth of one build. The process-wide peak (VmHWM) is reset before the build by
// writing "5" to /proc/self/clear_refs (Linux 4.0+), so VmHWM afterwards is the build's own peak.
// Where that write is refused, the peak cannot be isolated and the growth of VmRSS from before to
// right after the build is reported instead (peak_is_hwm = false). Freed heap memory of earlier
// builds is handed back to the kernel first (malloc_trim), so the build starts from a clean RSS.
class MemoryProbe {
 public:
  MemoryProbe();
  MemoryUse finish() const;

 private:
  bool hwm_reset_ = false;
  int64_t rss_before_ = -1;
};

// Reads one byte of every page of `view`, so that memory-mapped input files are resident before
// any measurement: otherwise the first system to read the data is charged for its file pages.
void make_resident(const annforge::DatasetView& view);
// read_vectors with the rows packed: texmex files are read in place (a header between rows),
// and the peers' adapters and the ground truth's helpers index rows as one packed block.
annforge::Dataset read_packed_vectors(const std::string& path, int64_t max_rows);

// ---- search helpers --------------------------------------------------------------------------

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
  // Tie-aware scoring (enable_tie_aware_recall); empty: recall by ids. The views are borrowed
  // and must outlive every recall_at_k call.
  std::vector<double> kth_distance;  // per query: the k-th true distance, exact, in double
  annforge::DatasetView base;
  annforge::DatasetView queries;
  annforge::Metric metric = annforge::Metric::L2;
};

// The distance annforge's convention gives (L2 squared, IP -<a,b>, cosine 1 - cos; a zero vector
// has cosine 0), computed in double from the elements of base row `i` and query row `q` (both
// views of the same element type).
double exact_distance(const annforge::DatasetView& base, int64_t i, const annforge::DatasetView& queries, int64_t q,
                      annforge::Metric metric);

// Makes recall_at_k count ties: for each query, the exact distance of its k-th true neighbour
// (the largest of the true top-k's exact distances, which is the k-th's unless float rounding
// reordered them) is kept, and a returned id whose exact distance is at most that (+ the
// tolerance below) is a hit.
void enable_tie_aware_recall(GroundTruth& truth, const annforge::DatasetView& base, const annforge::DatasetView& queries,
                             annforge::Metric metric, int k);
constexpr double kTieRelativeTolerance = 1e-6;
constexpr double kTieAbsoluteTolerance = 1e-9;

// Mean over queries of hits / k. `found` holds queries x k ids. By ids (truth.kth_distance empty):
// hits = |found ∩ true top-k|. Tie-aware: hits = the distinct returned ids whose exact distance is
// <= d_k + 1e-6 |d_k| + 1e-9 (d_k: the query's k-th true distance), at most k.
double recall_at_k(const std::vector<uint32_t>& found, const GroundTruth& truth, int64_t queries, int k);
// Always by ids, whatever `truth` holds.
double recall_at_k_by_ids(const std::vector<uint32_t>& found, const GroundTruth& truth, int64_t queries, int k);

struct SearchPoint {
  int width = 0;  // -1: no width (exact search)
  double recall = 0;
  double queries_per_second = 0;
  double recall_by_ids = NAN;  // with --recall ties: the same results scored by ids, for comparison
};

// One search's point: its recall (by the truth's rule) and, when that rule is tie-aware, its
// recall by ids too.
SearchPoint scored_point(int width, const std::vector<uint32_t>& found, const GroundTruth& truth, int64_t queries, int k,
                         double queries_per_second);

struct SystemResult {
  std::string key;              // annforge, hnswlib, faiss-hnsw40, ...
  std::string label;            // the name in the table and the plot
  std::string parameters_text;  // the build parameters in words
  std::string parameters_json;  // the same as a JSON object
  std::string width_name;       // what "search width" sets for this system
  double build_seconds = NAN;
  double vectors_per_second = NAN;
  MemoryUse memory;
  std::vector<SearchPoint> points;
  std::string error;  // non-empty: the system failed and has no figures
};

// Element data as float32 for the peers that take nothing else (hnswlib's SIMD L2Space, FAISS).
// Float32 data is used in place; uint8 / int8 is widened into `storage`.
struct FloatRows {
  std::vector<float> storage;
  const float* data = nullptr;
  int64_t rows = 0;
  int64_t dim = 0;
};

FloatRows as_float32(const annforge::DatasetView& view);
// Scales every row to unit length (in a copy when `rows` borrows the caller's data; a zero row
// stays zero): how a user hands cosine data to a library that only offers the inner product.
void normalise_rows(FloatRows& rows);

// ---- the systems (peers.cpp; FAISS's own calls in faiss_peers.cpp) ------------------------------

// FAISS parameters (issue 5): IndexHNSWFlat M=32 at two construction widths, IndexNSGFlat R=32.
constexpr int kFaissHnswM = 32;
constexpr int kFaissNsgR = 32;

// annforge's build parameters for --degree and --threads.
annforge::BuildParams annforge_build_params(const Options& options);
// `keep`, when given, receives the built index (for the export rows).
SystemResult run_annforge(const annforge::Dataset& base, const annforge::DatasetView& queries,
                          const GroundTruth& truth, const Options& options, annforge::Index* keep = nullptr);
// annforge's index exported (index/export.cpp) and searched by the library it is for, at
// --ef-search's widths: build s is the export's time. `queries` as float32 (unit length for
// cosine), as for the natively built index of the same library.
SystemResult run_exported_hnswlib(const annforge::Index& index, const FloatRows& queries, const GroundTruth& truth,
                                  const Options& options);
#ifdef ANNFORGE_BENCH_HAVE_FAISS
SystemResult run_exported_faiss(const annforge::Index& index, const FloatRows& queries, const GroundTruth& truth,
                                const Options& options);
#endif
// Runs hnswlib on the data as a user would hand it over: float32 as is, uint8 and int8 widened
// to float32 (its only SIMD spaces; `base_floats` / `query_floats`, converted before and not
// timed) unless --hnswlib-uint8 asks for its scalar byte space. L2Space for l2,
// InnerProductSpace for ip and for cosine (then `base_floats` / `query_floats` are normalised).
SystemResult run_hnswlib_on(const annforge::DatasetView& base, const annforge::DatasetView& queries,
                            const FloatRows* base_floats, const FloatRows* query_floats, const GroundTruth& truth,
                            const Options& options);
#ifdef ANNFORGE_BENCH_HAVE_FAISS
// Builds the FAISS index `make` returns over `base` and searches it at each of `widths`.
SystemResult run_faiss(const std::string& key, const std::string& label,
                       const std::function<std::unique_ptr<bench::FaissGraphIndex>()>& make, const std::vector<int>& widths,
                       const FloatRows& base, const FloatRows& queries, const GroundTruth& truth, const Options& options);
#endif
// Exact search of every query (annforge::exact_knn): its time is reported as the exact row's
// "build", and its single search point has queries / that time.
SystemResult run_exact(const annforge::DatasetView& base, const annforge::DatasetView& queries, const Options& options,
                       annforge::Neighbors& found);
// Runs one system; a failure (a library's exception, out of memory) is recorded on its row and
// the other systems still run.
SystemResult guarded(const std::string& key, const std::function<SystemResult()>& run);
// The shipped ground truth of --gt, checked against the queries, --k and the base.
GroundTruth ground_truth_from_file(const Options& options, const annforge::DatasetView& base,
                                   const annforge::DatasetView& queries);

// ---- output (report.cpp) ---------------------------------------------------------------------

// How the build peak MiB column was measured, in words.
const char* memory_method(bool peak_is_hwm);

// The recall@k targets of the "queries/s at equal recall" table.
extern const std::vector<double> kRecallTargets;
// Queries/s of `system` at recall `target`, interpolated between its swept points (see
// report.cpp); NAN where its sweep does not reach or does not cover the target.
double queries_per_second_at_recall(const SystemResult& system, double target);
// Where the system's whole sweep lies above `target` (its lowest recall is higher): the
// queries/s of its fastest point, a lower bound of its queries/s at the target; NAN otherwise.
double queries_per_second_lower_bound_at_recall(const SystemResult& system, double target);

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
  annforge::Metric metric = annforge::Metric::L2;
  std::string metric_note;  // how each system gets the metric
  bool recall_ties = false;
  std::string ground_truth_source;
  std::string float_note;  // how hnswlib / FAISS got float32 data
  std::string faiss_note;  // FAISS version, or why its rows are missing
  std::vector<SystemResult> systems;
};

// The header lines, the table and the build throughput ratios, on stdout.
void print_report(const Report& report);
// The whole report as one JSON object (what --json writes and --plot reads).
std::string report_json(const Report& report);
void write_text_file(const std::string& path, const std::string& text);
// Runs `python plot_script JSON PNG` and waits for it.
void draw_plot(const Options& options, const std::string& json_path);

}  // namespace annforge_bench
