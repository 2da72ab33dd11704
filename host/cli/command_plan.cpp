// annforge plan: what a build of a file will take, stage by stage, before any work; and the
// plan's text and JSON forms that `build --verbose` / `build --json` print too.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "annforge.hpp"
#include "host/cli/args.hpp"
#include "host/cli/commands.hpp"
#include "host/cli/inputs.hpp"
#include "host/cli/json.hpp"

namespace annforge::cli {
namespace {

double mib(uint64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

}  // namespace

uint64_t parse_size(const std::string& flag, const std::string& text) {
  char* end = nullptr;
  const double number = std::strtod(text.c_str(), &end);
  std::string unit(end ? end : "");
  for (char& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (unit == "IB" || unit == "B") unit.clear();
  if (unit.size() == 3 && unit.substr(1) == "IB") unit = unit.substr(0, 1);  // GiB -> G
  if (unit.size() == 2 && unit[1] == 'B') unit = unit.substr(0, 1);         // GB -> G (binary, as free(1))
  double scale = unit.empty() ? 1 : unit == "K" ? 1024.0 : unit == "M" ? 1024.0 * 1024 : unit == "G" ? 1024.0 * 1024 * 1024
               : unit == "T" ? 1024.0 * 1024 * 1024 * 1024 : -1;
  if (end == text.c_str() || scale < 0 || !std::isfinite(number) || number <= 0 || number * scale >= 1.8e19) {
    throw Error(ErrorCode::InvalidArgument, "--" + flag + ": '" + text + "' is not a size (for example 4G, 512M, 1.5GiB)");
  }
  return static_cast<uint64_t>(number * scale);
}

uint64_t available_host_memory() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  uint64_t kib = 0;
  std::string unit;
  while (meminfo >> key >> kib >> unit) {
    if (key == "MemAvailable:") return kib * 1024;
  }
  return 0;
}

std::string plan_json(const BuildPlan& plan) {
  std::string stages = "[";
  for (size_t i = 0; i < plan.stages.size(); ++i) {
    const PlanStage& s = plan.stages[i];
    JsonObject o;
    o.add("name", s.name).add("host_bytes", static_cast<long long>(s.host_bytes));
    o.add("device_bytes", static_cast<long long>(s.device_bytes)).add("seconds", s.seconds);
    stages += (i ? ", " : "") + o.str();
  }
  stages += "]";
  JsonObject o;
  o.add("backend", plan.backend).add("rows", static_cast<long long>(plan.rows)).add("dim", static_cast<long long>(plan.dim));
  o.add("element_type", to_string(plan.type)).add("graph_degree", plan.graph_degree);
  o.add("intermediate_degree", plan.intermediate_degree).add("threads", plan.threads);
  o.add("input_bytes", static_cast<long long>(plan.input_bytes));
  o.raw("stages", stages);
  o.add("peak_host_bytes", static_cast<long long>(plan.peak_host_bytes));
  o.add("peak_device_bytes", static_cast<long long>(plan.peak_device_bytes));
  o.add("index_bytes", static_cast<long long>(plan.index_bytes)).add("seconds", plan.seconds);
  o.add("partitions", plan.partitions).add("partitions_why", plan.partitions_why);
  o.add("host_memory_limit", static_cast<long long>(plan.host_memory_limit)).add("fits", plan.fits);
  if (!plan.fits) o.add("refusal", plan.refusal);
  return o.str();
}

void print_plan(std::FILE* out, const BuildPlan& plan) {
  std::fprintf(out, "plan: %lld x %lld %s vectors on the %s backend (%d threads), degree %d from a kNN graph of %d\n",
               static_cast<long long>(plan.rows), static_cast<long long>(plan.dim), to_string(plan.type),
               plan.backend.c_str(), plan.threads, plan.graph_degree, plan.intermediate_degree);
  const bool device = plan.peak_device_bytes > 0;
  std::fprintf(out, "  %-30s %12s%s %10s\n", "stage", "host MiB", device ? "   device MiB" : "", "est. s");
  for (const PlanStage& s : plan.stages) {
    std::fprintf(out, "  %-30s %12.0f", s.name.c_str(), mib(s.host_bytes));
    if (device) std::fprintf(out, " %12.0f", mib(s.device_bytes));
    std::fprintf(out, " %10.2f\n", s.seconds);
  }
  std::fprintf(out, "  peak: %.0f MiB host%s", mib(plan.peak_host_bytes), device ? "" : "\n");
  if (device) std::fprintf(out, ", %.0f MiB device\n", mib(plan.peak_device_bytes));
  std::fprintf(out, "  input vectors: %.0f MiB (a mapped file's pages are resident as they are read)\n", mib(plan.input_bytes));
  std::fprintf(out, "  index file: %.0f MiB; estimated build time %.1f s\n", mib(plan.index_bytes), plan.seconds);
  std::fprintf(out, "  partitions: %d (%s)\n", plan.partitions, plan.partitions_why.c_str());
  if (plan.host_memory_limit > 0) std::fprintf(out, "  host memory limit: %.0f MiB\n", mib(plan.host_memory_limit));
  if (plan.fits) {
    std::fprintf(out, "  fits: yes\n");
  } else {
    std::fprintf(out, "  fits: no: %s\n", plan.refusal.c_str());
  }
}

Flag data_flag() { return {"data", "FILE", "", "the vectors (an .hdf5 file: its 'train' dataset)", true}; }
Flag degree_flag() { return {"degree", "N", "32", "out-degree of the graph (1..1024)"}; }
Flag intermediate_degree_flag() {
  return {"intermediate-degree", "N", "0", "degree of the kNN graph before pruning; 0: the backend's choice"};
}
Flag iterations_flag() {
  return {"iterations", "N", "auto", "NN-Descent local-join rounds after the clustered start; auto: the backend's choice"};
}
Flag partitions_flag() {
  return {"partitions", "N", "0", "pieces the kNN stage is built in, one after another (CPU backend); 0: one, "
                                  "or the fewest that fit --memory-limit"};
}
Flag memory_limit_flag() {
  return {"memory-limit", "SIZE", "", "host memory the build may use (4G, 512M...); default: what the machine has available"};
}

const CommandSpec& plan_spec() {
  static const CommandSpec spec{
      "plan",
      "what a build of a file will take: memory and time per stage, before any work",
      "--data FILE [flags]",
      {data_flag(), degree_flag(), intermediate_degree_flag(), iterations_flag(), partitions_flag(), memory_limit_flag(), device_flag(),
       threads_flag(),
       {"rows", "N", "", "plan for the first N rows only (default: all)"},
       json_flag()},
      "",
      "",
      std::string("Memory is what the build allocates; the input's own pages come on top (input vectors).\n") +
          "Times are estimates from rates measured on the reference machines (NOTES.md).\n" + kVectorFileNote};
  return spec;
}

BuildParams build_params_of(const Args& args) {
  BuildParams params;
  params.graph_degree = static_cast<int>(args.integer("degree", 1, 1024));
  params.intermediate_degree = static_cast<int>(args.integer("intermediate-degree", 0, 4096));
  params.device = args.device();
  params.threads = static_cast<int>(args.integer("threads", 0, 4096));
  params.nn_descent_iterations =
      args.text("iterations") == "auto" ? -1 : static_cast<int>(args.integer("iterations", 0, 1000));
  params.partitions = static_cast<int>(args.integer("partitions", 0, 256));
  return params;
}

uint64_t memory_limit_of(const Args& args) {
  return args.has("memory-limit") ? parse_size("memory-limit", args.text("memory-limit")) : available_host_memory();
}

int run_plan(const Args& args) {
  const std::string data_path = args.text("data");
  BuildParams params = build_params_of(args);
  resolve_backend(params.device);
  const Dataset data = read_data(data_path, args.has("rows") ? args.integer("rows", 1, INT64_MAX) : -1);
  const BuildPlan plan = plan_build(data.rows(), data.dim(), data.type(), params, memory_limit_of(args));
  if (args.has("json")) {
    std::printf("%s\n", plan_json(plan).c_str());
  } else {
    print_plan(stdout, plan);
  }
  return 0;
}

}  // namespace annforge::cli
