// compare_gpu's report: the target's verdict, the table, the JSON.
#include <algorithm>
#include <fstream>
#include <sstream>

#include "compare_gpu.hpp"

namespace compare_gpu {

using annforge_bench::json_number;
using annforge_bench::json_string;

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

void write_report(const Options& options, const Data& data, const Machine& machine, const Warmup& warmup,
                  const Truth& ground_truth, const std::vector<Row>& rows) {
  const DatasetView& base = data.base.view();
  const DatasetView& queries = data.queries.view();
  const GroundTruth& truth = ground_truth.truth;
  const double truth_seconds = ground_truth.seconds;
  const std::string& truth_device = ground_truth.device;
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
}

}  // namespace compare_gpu
