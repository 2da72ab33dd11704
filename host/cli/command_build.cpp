// annforge build: read vectors, build the graph, save the index (atomically).
#include <chrono>
#include <cstdio>

#include "annforge.hpp"
#include "host/cli/args.hpp"
#include "host/cli/commands.hpp"
#include "host/cli/inputs.hpp"
#include "host/cli/json.hpp"
#include "host/cli/mpi_runtime.hpp"
#include "host/cli/progress_bar.hpp"

namespace annforge::cli {
namespace {

BuildAlgorithm parse_algorithm(const std::string& name) {
  if (name == "auto") return BuildAlgorithm::Auto;
  if (name == "brute_force" || name == "brute-force") return BuildAlgorithm::BruteForce;
  if (name == "nn_descent" || name == "nn-descent") return BuildAlgorithm::NNDescent;
  throw Error(ErrorCode::InvalidArgument, "--algorithm: unknown value '" + name + "' (expected auto, brute_force or nn_descent)");
}

}  // namespace

BuildParams build_command_params(const Args& args) {
  BuildParams params = build_params_of(args);
  params.algorithm = parse_algorithm(args.text("algorithm"));
  params.seed = static_cast<uint64_t>(args.integer("seed", 0, INT64_MAX));
  params.memory_limit = memory_limit_of(args);
  return params;
}

const CommandSpec& build_spec() {
  static const CommandSpec spec{
      "build",
      "build an index: the proximity graph over a file of vectors, saved atomically",
      "--data FILE --out INDEX [flags]",
      {data_flag(),
       {"out", "INDEX", "", "the index file to write (written to a temporary name, then renamed)", true},
       metric_flag(),
       degree_flag(),
       intermediate_degree_flag(),
       {"algorithm", "auto|brute_force|nn_descent", "auto", "kNN graph algorithm; auto: exact up to 3,000 rows"},
       iterations_flag(),
       device_flag(),
       threads_flag(),
       {"rows", "N", "", "build over the first N rows only (default: all)"},
       {"seed", "S", "42", "random seed (same input and seed: same index)"},
       partitions_flag(),
       memory_limit_flag(),
       {"verbose", "", "", "print the build's plan (annforge plan) before it starts"},
       json_flag("print one JSON object instead of text (with the plan)")},
      "",
      "",
      kVectorFileNote};
  return spec;
}

int run_build(const Args& args) {
  // Under mpirun: the same build spread over the ranks (host/cli/mpi_runtime.hpp).
  if (MpiRuntime::active()) return run_build_distributed(args);
  const std::string data_path = args.text("data");
  const std::string out_path = args.text("out");
  BuildParams params = build_command_params(args);
  const bool json = args.has("json");
  // build() plans the same pieces (and kNN degree) against params.memory_limit as the plan below.
  const uint64_t memory_limit = params.memory_limit;
  // Resolve the device before reading anything, so device=gpu without a GPU fails at once.
  const std::string backend = resolve_backend(params.device);

  auto start = std::chrono::steady_clock::now();
  params.metric = metric_for(args, data_path);
  Dataset data = read_data(data_path, args.has("rows") ? args.integer("rows", 1, INT64_MAX) : -1);
  // Mapped files (texmex ones too, rows in place) are read as the build touches them; converted
  // ones (float16, float64) are read here, in full.
  const double read_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // The plan before any work: a build that cannot fit is refused with it, nothing written.
  const BuildPlan plan = plan_build(data.rows(), data.dim(), data.type(), params, memory_limit);
  if (args.has("verbose") && !json) print_plan(stdout, plan);
  if (!plan.fits) {
    throw Error(ErrorCode::Unsupported, data_path + ": not built: " + plan.refusal + " (peak " +
                                                std::to_string(plan.peak_host_bytes >> 20) + " MiB host; see annforge plan)");
  }
  ProgressBar bar(!json);
  params.progress = bar.callback();
  Index index = build(data, params);
  bar.done();
  double build_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  save(index, out_path);
  double total_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  double rate = index.rows() / build_seconds;
  if (json) {
    JsonObject o;
    o.add("command", "build").add("data", data_path).add("out", out_path).add("vectors", static_cast<long long>(index.rows()));
    o.add("dim", static_cast<long long>(index.dim())).add("metric", to_string(index.metric));
    o.add("graph_degree", index.graph_degree).add("backend", index.backend);
    o.add("read_seconds", read_seconds).add("seconds", build_seconds).add("vectors_per_second", rate).add("seconds_with_save", total_seconds);
    o.raw("plan", plan_json(plan));
    std::printf("%s\n", o.str().c_str());
  } else {
    std::printf("built %lld x %lld %s vectors (%s, degree %d) on %s in %.2f s: %.0f vectors/s; saved %s\n",
                static_cast<long long>(index.rows()), static_cast<long long>(index.dim()), to_string(data.type()),
                to_string(index.metric), index.graph_degree, index.backend.c_str(), build_seconds, rate,
                out_path.c_str());
  }
  return 0;
}

}  // namespace annforge::cli
