// compare_gpu's parts (compare_gpu.cpp runs the rows; compare_gpu_setup.cpp reads the command
// line and the data; compare_gpu_report.cpp prints the table and writes the JSON).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "annforge.hpp"
#include "bench_support.hpp"

namespace compare_gpu {

using annforge::Dataset;
using annforge::DatasetView;
using annforge::Device;
using annforge::ElementType;
using annforge_bench::GroundTruth;

// The target for the GPU build.
constexpr double kTargetVectorsPerSecond = 1e6;
constexpr double kTargetRecall = 0.95;

extern const std::vector<std::string> kSystems;
extern const char* const kUsage;

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

Options parse_options(int argc, char** argv);

struct Data {
  Dataset base_file;  // keeps the storage of a slice alive
  Dataset base;       // what every system gets (a borrowed slice, or the whole file)
  Dataset queries;
  bool is_slice = false;
  bool generated = false;
  std::string description;  // "data/sift-vl-1m/base.bvecs (first 20000 rows ...)"
  std::string queries_description;
};

Data load_data(const Options& options);

// The ground truth of the queries, where it came from, and what computing it took.
struct Truth {
  GroundTruth truth;
  double seconds = NAN;
  std::string device = "file";
};

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

void skip(Row& row, const std::string& reason);


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

struct ExactCheck {
  bool done = false;
  int64_t sample = 0;
  int check_k = 0;
  double strict = NAN;  // |GPU first check_k (minus self) ∩ CPU first check_k (minus self)| / check_k
  double ties = NAN;    // the same, counting an id as near as the CPU's check_k-th (an exact tie)
  double cpu_seconds = NAN;
};

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

// "1,234,568" for 1234567.8; `value` through a printf pattern; `text` cut at `separator`.
std::string grouped(double value);
std::string format(const char* pattern, double value);
std::vector<std::string> split(const std::string& text, char separator);

Target judge_target(const std::vector<Row>& rows, int64_t base_rows, int k);
// The report: the header lines and the table on stdout, and the JSON file where --json asks.
void write_report(const Options& options, const Data& data, const Machine& machine, const Warmup& warmup,
                  const Truth& truth, const std::vector<Row>& rows);

}  // namespace compare_gpu
