// report.cpp: compare_cpu's output: the table and its header lines on stdout, the JSON report
// (--json) and the plot (--plot, which runs bench/plot_compare.py on that JSON).
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "bench_support.hpp"

extern char** environ;

namespace annforge_bench {

// ---- output ----------------------------------------------------------------------------------

const char* memory_method(bool peak_is_hwm) {
  return peak_is_hwm ? "VmHWM after the build minus VmRSS before it (peak reset through /proc/self/clear_refs)"
                     : "VmRSS after the build minus VmRSS before it (the peak could not be reset: growth, not peak)";
}

namespace {

const SystemResult* find_system(const Report& report, const std::string& key) {
  for (const SystemResult& system : report.systems) {
    if (system.key == key && system.error.empty()) return &system;
  }
  return nullptr;
}

bool any_peak_is_hwm(const Report& report) {
  for (const SystemResult& system : report.systems) {
    if (system.error.empty()) return system.memory.peak_is_hwm;
  }
  return false;
}

}  // namespace

void print_report(const Report& report) {
  std::printf("base: %s (%s%lld rows, dim %lld, %s)\n", report.base_path.c_str(), report.base_is_slice ? "first " : "",
              static_cast<long long>(report.rows), static_cast<long long>(report.dim), report.element_type.c_str());
  std::printf("queries: %s (%lld queries, k = %d)\n", report.queries_path.c_str(), static_cast<long long>(report.queries),
              report.k);
  std::printf("threads: %d\n", report.threads);
  std::printf("ground truth: %s\n", report.ground_truth_source.c_str());
  if (!report.float_note.empty()) std::printf("float32: %s\n", report.float_note.c_str());
  if (!report.faiss_note.empty()) std::printf("faiss: %s\n", report.faiss_note.c_str());
  for (const SystemResult& system : report.systems) {
    if (!system.error.empty()) continue;
    std::printf("%s: %s%s%s\n", system.label.c_str(), system.parameters_text.c_str(),
                system.width_name.empty() ? "" : "; search width = ", system.width_name.c_str());
  }
  std::printf("build peak MiB: %s\n", memory_method(any_peak_is_hwm(report)));

  std::printf("\n| system | build s | build vectors/s | build peak MiB | search width | recall@%d | queries/s |\n", report.k);
  std::printf("|---|---:|---:|---:|---:|---:|---:|\n");
  for (const SystemResult& system : report.systems) {
    if (!system.error.empty()) {
      std::printf("| %s | failed: %s | | | | | |\n", system.label.c_str(), system.error.c_str());
      continue;
    }
    for (const SearchPoint& point : system.points) {
      std::string width = point.width < 0 ? "-" : system.width_name + " " + std::to_string(point.width);
      std::printf("| %s | %.2f | %.0f | %.0f | %s | %.4f | %.0f |\n", system.label.c_str(), system.build_seconds,
                  system.vectors_per_second, system.memory.peak_mib, width.c_str(), point.recall,
                  point.queries_per_second);
    }
  }
  const SystemResult* annforge_result = find_system(report, "annforge");
  if (annforge_result != nullptr) {
    std::string ratios;
    for (const SystemResult& system : report.systems) {
      if (system.key == "annforge" || system.key == "exact" || !system.error.empty()) continue;
      char text[128];
      std::snprintf(text, sizeof text, "%s%s %.2fx", ratios.empty() ? "" : ", ", system.label.c_str(),
                    annforge_result->vectors_per_second / system.vectors_per_second);
      ratios += text;
    }
    if (!ratios.empty()) std::printf("\nbuild throughput of annforge relative to: %s\n", ratios.c_str());
  }
}

std::string report_json(const Report& report) {
  std::ostringstream json;
  json << "{\n";
  json << "  \"mode\": \"compare\",\n";
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
  json << "  \"float32_conversion\": " << json_string(report.float_note) << ",\n";
  json << "  \"faiss\": " << json_string(report.faiss_note) << ",\n";
  json << "  \"memory_method\": " << json_string(memory_method(any_peak_is_hwm(report))) << ",\n";
  const SystemResult* annforge_result = find_system(report, "annforge");
  const SystemResult* hnswlib_result = find_system(report, "hnswlib");
  // annforge / hnswlib build vectors per second (the figure the first version of this benchmark gave).
  json << "  \"build_throughput_ratio\": "
       << json_number(annforge_result && hnswlib_result
                          ? annforge_result->vectors_per_second / hnswlib_result->vectors_per_second
                          : NAN)
       << ",\n";
  json << "  \"systems\": [";
  for (size_t s = 0; s < report.systems.size(); ++s) {
    const SystemResult& system = report.systems[s];
    json << (s == 0 ? "\n" : ",\n") << "    {\n";
    json << "      \"system\": " << json_string(system.key) << ",\n";
    json << "      \"label\": " << json_string(system.label) << ",\n";
    if (!system.error.empty()) {
      json << "      \"error\": " << json_string(system.error) << "\n    }";
      continue;
    }
    json << "      \"parameters\": " << system.parameters_json << ",\n";
    json << "      \"parameters_text\": " << json_string(system.parameters_text) << ",\n";
    json << "      \"width_parameter\": " << (system.width_name.empty() ? "null" : json_string(system.width_name)) << ",\n";
    json << "      \"build_seconds\": " << json_number(system.build_seconds) << ",\n";
    json << "      \"vectors_per_second\": " << json_number(system.vectors_per_second) << ",\n";
    json << "      \"annforge_build_speedup\": "
         << json_number(annforge_result && system.key != "exact" ? annforge_result->vectors_per_second / system.vectors_per_second : NAN)
         << ",\n";
    json << "      \"build_peak_mib\": " << json_number(system.memory.peak_mib) << ",\n";
    json << "      \"build_retained_mib\": " << json_number(system.memory.retained_mib) << ",\n";
    json << "      \"build_peak_is_hwm\": " << (system.memory.peak_is_hwm ? "true" : "false") << ",\n";
    json << "      \"search\": [";
    for (size_t p = 0; p < system.points.size(); ++p) {
      const SearchPoint& point = system.points[p];
      json << (p == 0 ? "" : ", ") << "{\"width\": " << (point.width < 0 ? std::string("null") : std::to_string(point.width))
           << ", \"recall\": " << json_number(point.recall) << ", \"qps\": " << json_number(point.queries_per_second) << "}";
    }
    json << "]\n    }";
  }
  json << "\n  ]\n}\n";
  return json.str();
}

void write_text_file(const std::string& path, const std::string& text) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << text;
  file.close();
  if (!file) throw annforge::Error(annforge::ErrorCode::Io, path + ": cannot write the JSON report");
}

// Runs `python plot_script JSON PNG` and waits for it.
void draw_plot(const Options& options, const std::string& json_path) {
  std::vector<std::string> arguments = {options.python, options.plot_script, json_path, options.plot_path};
  std::vector<char*> argv;
  for (std::string& argument : arguments) argv.push_back(argument.data());
  argv.push_back(nullptr);
  std::fflush(stdout);
  pid_t child = 0;
  int spawn_error = posix_spawn(&child, options.python.c_str(), nullptr, nullptr, argv.data(), environ);
  if (spawn_error != 0) {
    throw annforge::Error(annforge::ErrorCode::Io, "--plot: cannot run " + options.python + ": " + std::strerror(spawn_error) +
                                                       " (it needs python3-matplotlib; see --python)");
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) throw annforge::Error(annforge::ErrorCode::Io, std::string("--plot: waitpid: ") + std::strerror(errno));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw annforge::Error(annforge::ErrorCode::Io, "--plot: " + options.python + " " + options.plot_script +
                                                       " failed (see its message above); the figures are in the table");
  }
}

}  // namespace annforge_bench
