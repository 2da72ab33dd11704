// report.cpp: compare_cpu's output: the table and its header lines on stdout, the queries/s at
// equal recall (interpolated between each system's swept points), the JSON report (--json) and
// the plot (--plot, which runs bench/plot_compare.py on that JSON).
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
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

// ---- queries/s at equal recall ----------------------------------------------------------------

const std::vector<double> kRecallTargets = {0.90, 0.95, 0.99};

namespace {

// A recall within this of the target counts as the target (the recall of q queries moves in
// steps of 1 / (q k); this only absorbs rounding of the division).
constexpr double kSameRecall = 1e-12;

// The system's usable points as a trade-off curve: recall ascending, queries/s descending.
std::vector<SearchPoint> recall_curve(const SystemResult& system) {
  std::vector<SearchPoint> points;
  if (!system.error.empty()) return points;
  for (const SearchPoint& point : system.points) {
    if (std::isfinite(point.recall) && std::isfinite(point.queries_per_second) && point.queries_per_second > 0) {
      points.push_back(point);
    }
  }
  // Highest recall first, the faster of equal recalls first; keep a point only when it is faster
  // than every point of higher (or equal) recall kept before it.
  std::sort(points.begin(), points.end(), [](const SearchPoint& a, const SearchPoint& b) {
    return a.recall != b.recall ? a.recall > b.recall : a.queries_per_second > b.queries_per_second;
  });
  std::vector<SearchPoint> curve;
  for (const SearchPoint& point : points) {
    if (curve.empty() || point.queries_per_second > curve.back().queries_per_second) curve.push_back(point);
  }
  std::reverse(curve.begin(), curve.end());
  return curve;
}

}  // namespace

// From the system's (recall, queries/s) points: first the points another point beats on both
// counts are dropped (a point with lower recall and lower queries/s than another is noise of the
// timing, not a trade-off), leaving a curve whose queries/s falls as recall rises; then, between
// the two points of that curve around the target, log(queries/s) is interpolated linearly in
// recall (a straight segment on the plot's log axis). A target above the best recall, or below
// the lowest recall of the sweep, is not covered: NAN (for the latter the table shows the lower
// bound ">= the fastest point's queries/s"). The exact row has one operating point and no width
// to trade: its queries/s stands for every target its recall reaches.
double queries_per_second_at_recall(const SystemResult& system, double target) {
  const std::vector<SearchPoint> curve = recall_curve(system);
  if (curve.empty()) return NAN;
  if (system.key == "exact") {
    // One operating point and no width to trade: it stands for every target its recall reaches.
    return curve.back().recall >= target - kSameRecall ? curve.back().queries_per_second : NAN;
  }
  for (const SearchPoint& point : curve) {
    if (std::fabs(point.recall - target) <= kSameRecall) return point.queries_per_second;
  }
  if (target > curve.back().recall || target < curve.front().recall) return NAN;
  for (size_t i = 0; i + 1 < curve.size(); ++i) {
    const SearchPoint& low = curve[i];
    const SearchPoint& high = curve[i + 1];
    if (low.recall < target && target < high.recall) {
      const double t = (target - low.recall) / (high.recall - low.recall);
      return std::exp(std::log(low.queries_per_second) +
                      t * (std::log(high.queries_per_second) - std::log(low.queries_per_second)));
    }
  }
  return NAN;
}

double queries_per_second_lower_bound_at_recall(const SystemResult& system, double target) {
  if (system.key == "exact") return NAN;
  const std::vector<SearchPoint> curve = recall_curve(system);
  if (curve.empty() || curve.front().recall <= target + kSameRecall) return NAN;
  return curve.front().queries_per_second;
}

namespace {

// "0.90" for the target 0.9: the targets' names in the table and the JSON keys.
std::string target_name(double target) {
  char text[16];
  std::snprintf(text, sizeof text, "%.2f", target);
  return text;
}

const char* metric_words(annforge::Metric metric) {
  switch (metric) {
    case annforge::Metric::L2: return "l2";
    case annforge::Metric::InnerProduct: return "ip";
    case annforge::Metric::Cosine: return "cosine";
  }
  return "?";
}

std::string recall_rule_text(const Report& report) {
  char text[400];
  if (report.recall_ties) {
    std::snprintf(text, sizeof text,
                  "ties: a returned id is a hit when its exact distance (double precision, this metric) is <= d_k + "
                  "%g |d_k| + %g, d_k the query's k-th true distance (k = %d; each id counted once, at most k hits "
                  "per query); hits / k, averaged over the queries",
                  kTieRelativeTolerance, kTieAbsoluteTolerance, report.k);
  } else {
    std::snprintf(text, sizeof text, "ids: |returned ids in the true top %d| / %d, averaged over the queries", report.k,
                  report.k);
  }
  return text;
}

const char* kInterpolationText =
    "from each system's (recall, queries/s) points, dominated points dropped, log(queries/s) interpolated "
    "linearly in recall between the two points around the target; null where the sweep does not cover the "
    "target (at_recall_at_least: the fastest point's queries/s where the whole sweep is above the target); "
    "the exact row's one point stands for every target its recall reaches";

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
  std::printf("metric: %s: %s\n", metric_words(report.metric), report.metric_note.c_str());
  std::printf("recall@%d: %s\n", report.k, recall_rule_text(report).c_str());
  std::printf("ground truth: %s\n", report.ground_truth_source.c_str());
  if (!report.float_note.empty()) std::printf("float32: %s\n", report.float_note.c_str());
  if (!report.faiss_note.empty()) std::printf("faiss: %s\n", report.faiss_note.c_str());
  for (const SystemResult& system : report.systems) {
    if (!system.error.empty()) continue;
    std::printf("%s: %s%s%s\n", system.label.c_str(), system.parameters_text.c_str(),
                system.width_name.empty() ? "" : "; search width = ", system.width_name.c_str());
  }
  std::printf("build peak MiB: %s\n", memory_method(any_peak_is_hwm(report)));

  std::printf("\n| system | build s | build vectors/s | build peak MiB | search width | recall@%d%s | queries/s |\n", report.k,
              report.recall_ties ? " (ties)" : "");
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
      // The export rows' "build" is the export alone: no build to compare with.
      const bool exported = system.key == "export-hnswlib" || system.key == "faiss-export";
      if (system.key == "annforge" || system.key == "exact" || exported || !system.error.empty()) continue;
      char text[128];
      std::snprintf(text, sizeof text, "%s%s %.2fx", ratios.empty() ? "" : ", ", system.label.c_str(),
                    annforge_result->vectors_per_second / system.vectors_per_second);
      ratios += text;
    }
    if (!ratios.empty()) std::printf("\nbuild throughput of annforge relative to: %s\n", ratios.c_str());
  }

  // Queries/s at equal recall: one row per system that has figures, one column per target.
  std::printf("\nqueries/s at equal recall@%d%s (log(queries/s) interpolated linearly in recall between the two swept "
              "points around the target; -: the sweep does not reach the target; >= N: the whole sweep is above the "
              "target, N is its fastest point):\n\n",
              report.k, report.recall_ties ? " (ties)" : "");
  std::printf("| system |");
  for (double target : kRecallTargets) std::printf(" recall %s |", target_name(target).c_str());
  std::printf("\n|---|");
  for (size_t i = 0; i < kRecallTargets.size(); ++i) std::printf("---:|");
  std::printf("\n");
  for (const SystemResult& system : report.systems) {
    if (!system.error.empty()) continue;
    std::printf("| %s |", system.label.c_str());
    for (double target : kRecallTargets) {
      const double qps = queries_per_second_at_recall(system, target);
      const double at_least = queries_per_second_lower_bound_at_recall(system, target);
      if (std::isfinite(qps)) {
        std::printf(" %.0f |", qps);
      } else if (std::isfinite(at_least)) {
        std::printf(" >= %.0f |", at_least);
      } else {
        std::printf(" - |");
      }
    }
    std::printf("\n");
  }
  const SystemResult* hnswlib_result = find_system(report, "hnswlib");
  if (annforge_result != nullptr && hnswlib_result != nullptr) {
    // Where one side's sweep lies wholly above the target, only a bound of the ratio is known.
    std::string ratios;
    for (double target : kRecallTargets) {
      const double ours = queries_per_second_at_recall(*annforge_result, target);
      const double theirs = queries_per_second_at_recall(*hnswlib_result, target);
      const double ours_at_least = queries_per_second_lower_bound_at_recall(*annforge_result, target);
      const double theirs_at_least = queries_per_second_lower_bound_at_recall(*hnswlib_result, target);
      char text[64];
      const char* separator = ratios.empty() ? "" : ", ";
      if (std::isfinite(ours) && std::isfinite(theirs)) {
        std::snprintf(text, sizeof text, "%s%s %.2fx", separator, target_name(target).c_str(), ours / theirs);
      } else if (std::isfinite(ours_at_least) && std::isfinite(theirs)) {
        std::snprintf(text, sizeof text, "%s%s >= %.2fx", separator, target_name(target).c_str(), ours_at_least / theirs);
      } else if (std::isfinite(ours) && std::isfinite(theirs_at_least)) {
        std::snprintf(text, sizeof text, "%s%s <= %.2fx", separator, target_name(target).c_str(), ours / theirs_at_least);
      } else {
        std::snprintf(text, sizeof text, "%s%s -", separator, target_name(target).c_str());
      }
      ratios += text;
    }
    std::printf("\nqueries/s of annforge relative to %s at equal recall: %s\n", hnswlib_result->label.c_str(), ratios.c_str());
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
  json << "  \"metric\": " << json_string(metric_words(report.metric)) << ",\n";
  json << "  \"metric_handling\": " << json_string(report.metric_note) << ",\n";
  json << "  \"recall_mode\": " << json_string(report.recall_ties ? "ties" : "ids") << ",\n";
  json << "  \"recall_rule\": " << json_string(recall_rule_text(report)) << ",\n";
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
  // Queries/s at equal recall: how they are interpolated, and annforge / hnswlib at each target.
  auto at_recall_object = [](const std::function<double(double)>& value) {
    std::string text = "{";
    for (size_t i = 0; i < kRecallTargets.size(); ++i) {
      text += (i == 0 ? "\"" : ", \"") + target_name(kRecallTargets[i]) + "\": " + json_number(value(kRecallTargets[i]));
    }
    return text + "}";
  };
  json << "  \"at_recall_method\": " << json_string(kInterpolationText) << ",\n";
  json << "  \"at_recall_ratio_annforge_to_hnswlib\": " << at_recall_object([&](double target) {
    return annforge_result && hnswlib_result ? queries_per_second_at_recall(*annforge_result, target) /
                                                   queries_per_second_at_recall(*hnswlib_result, target)
                                             : NAN;
  }) << ",\n";
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
           << ", \"recall\": " << json_number(point.recall) << ", \"qps\": " << json_number(point.queries_per_second);
      if (report.recall_ties) json << ", \"recall_ids\": " << json_number(point.recall_by_ids);
      json << "}";
    }
    json << "],\n";
    json << "      \"at_recall\": "
         << at_recall_object([&](double target) { return queries_per_second_at_recall(system, target); }) << ",\n";
    json << "      \"at_recall_at_least\": "
         << at_recall_object([&](double target) { return queries_per_second_lower_bound_at_recall(system, target); })
         << "\n    }";
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
