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
// make_resident, parallel_for_each) with compare_cpu and nothing else. This file runs the rows;
// compare_gpu_setup.cpp reads the command line and the data, compare_gpu_report.cpp writes the
// table and the JSON, child_process.cpp runs the torch script. See bench/README.md.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "annforge.hpp"
#include "bench_support.hpp"
#include "child_process.hpp"
#include "compare_gpu.hpp"

namespace compare_gpu {
namespace {

using annforge_bench::ChildResult;
using annforge_bench::command_output;
using annforge_bench::cpu_model;
using annforge_bench::file_exists;
using annforge_bench::json_number;
using annforge_bench::json_string;
using annforge_bench::make_resident;
using annforge_bench::parse_flat_json;
using annforge_bench::recall_at_k;
using annforge_bench::run_child;
using annforge_bench::seconds_since;
using annforge_bench::shell_quote;
using annforge_bench::TemporaryFile;
using annforge_bench::trim;

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

// The GPU nvidia-smi names, whether annforge can build on it (and why not), the CPU.
Machine describe_machine() {
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
  return machine;
}

// Warm-up: the first GPU calls pay for the CUDA context, the cuBLAS handle and module loading;
// they run here, untimed in the table, on a small slice, and are reported apart. A device that
// turns out unusable marks `machine` so.
Warmup warm_up(const Options& options, const DatasetView& base, const DatasetView& queries, Machine& machine) {
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
  return warmup;
}

// The queries' ground truth: the --gt file where it applies to these rows, else exact_knn on the
// GPU where there is one, else on the CPU.
Truth ground_truth(const Options& options, const Data& data, const Machine& machine) {
  const DatasetView& base = data.base.view();
  const DatasetView& queries = data.queries.view();
  Truth result;
  GroundTruth& truth = result.truth;
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
        result.seconds = seconds_since(start);
        result.device = "gpu";
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
      result.seconds = seconds_since(start);
      result.device = "cpu";
    }
    truth.ids = std::move(exact.ids);
    truth.stride = exact.k;
    truth.source = "exact_knn " + how + " over the " + std::to_string(base.rows) + "-row base, k = " + std::to_string(options.k) + " (" +
                   format("%.2f", result.seconds) + " s)";
  }
  return result;
}

// 1. annforge-GPU, and its graph searched on the CPU; 2. annforge-CPU.
void run_annforge_rows(const Options& options, const Data& data, const Machine& machine, const GroundTruth& truth,
                       std::vector<Row>& rows) {
  const DatasetView& queries = data.queries.view();
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
}

// The sampled rows of the exact and torch checks.
std::vector<uint32_t> sample_rows(const Options& options, int64_t rows) {
  std::vector<uint32_t> sample;
  {
    std::vector<uint32_t> all(static_cast<size_t>(rows));
    for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint32_t>(i);
    std::mt19937_64 rng(options.seed);
    const size_t count = static_cast<size_t>(std::min<int64_t>(options.sample, rows));
    for (size_t i = 0; i < count; ++i) {
      std::uniform_int_distribution<size_t> pick(i, all.size() - 1);
      std::swap(all[i], all[pick(rng)]);
    }
    sample.assign(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(count));
    std::sort(sample.begin(), sample.end());
  }
  return sample;
}

// 3. The exact kNN graph on the GPU, its first `check_k` others of the sampled rows checked
// against the CPU's exact_knn (`check`), and kept as the torch row's `reference`.
Row run_exact_gpu(const Options& options, const DatasetView& base, const Machine& machine,
                  const std::vector<uint32_t>& sample, int check_k, ExactCheck& check, std::vector<uint32_t>& reference) {
  const std::string no_gpu = machine.gpu_reason.empty() ? "no GPU" : machine.gpu_reason;
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
  return exact;
}

// 4. PyTorch's kNN graph (a subprocess), checked on the same sampled rows.
Row run_torch(const Options& options, const Data& data, const std::vector<uint32_t>& sample, int check_k,
              const ExactCheck& check, const std::vector<uint32_t>& reference) {
  const DatasetView& base = data.base.view();
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
  return torch;
}

}  // namespace

void skip(Row& row, const std::string& reason) {
  row.status = "skipped";
  row.reason = reason;
}

int run(const Options& options) {
  Data data = load_data(options);
  const DatasetView& base = data.base.view();
  const DatasetView& queries = data.queries.view();
  if (options.k > base.rows) {
    throw UsageFailure("--k " + std::to_string(options.k) + " is more than the " + std::to_string(base.rows) + " base rows");
  }
  make_resident(base);
  make_resident(queries);

  Machine machine = describe_machine();
  const Warmup warmup = warm_up(options, base, queries, machine);
  const Truth truth = ground_truth(options, data, machine);
  std::vector<Row> rows;
  run_annforge_rows(options, data, machine, truth.truth, rows);
  const int check_k = static_cast<int>(std::min<int64_t>({10, options.degree, base.rows - 1}));
  const std::vector<uint32_t> sample = sample_rows(options, base.rows);
  ExactCheck check;
  std::vector<uint32_t> reference;  // sample x check_k: the exact GPU graph's first check_k others
  if (options.runs("exact-gpu")) rows.push_back(run_exact_gpu(options, base, machine, sample, check_k, check, reference));
  if (options.runs("torch")) rows.push_back(run_torch(options, data, sample, check_k, check, reference));
  write_report(options, data, machine, warmup, truth, rows);
  for (const Row& row : rows) {
    if (row.status == "failed") return 1;
  }
  return 0;
}

}  // namespace compare_gpu

int main(int argc, char** argv) {
  try {
    return compare_gpu::run(compare_gpu::parse_options(argc, argv));
  } catch (const compare_gpu::UsageFailure& error) {
    std::fprintf(stderr, "compare_gpu: %s\n\n%s", error.what(), compare_gpu::kUsage);
    return 2;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "compare_gpu: %s\n", error.what());
    return 1;
  }
}
