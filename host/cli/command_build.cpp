// annforge build: read vectors, build the graph, save the index (atomically).
#include <chrono>
#include <cstdio>

#include "annforge.hpp"
#include "host/cli/args.hpp"
#include "host/cli/commands.hpp"
#include "host/cli/json.hpp"
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

int run_build(int argc, char** argv) {
  Args args("build", argc, argv,
            {"data", "out", "metric", "degree", "intermediate-degree", "algorithm", "device", "threads", "rows",
             "seed", "iterations"},
            {"json"});
  const std::string data_path = args.required("data");
  const std::string out_path = args.required("out");
  BuildParams params;
  params.metric = parse_metric(args.text("metric", "l2"));
  params.graph_degree = static_cast<int>(args.integer("degree", 32, 1, 1024));
  params.intermediate_degree =
      static_cast<int>(args.integer("intermediate-degree", 0, 0, 4096));  // 0: the backend's choice
  params.algorithm = parse_algorithm(args.text("algorithm", "auto"));
  params.device = parse_device(args.text("device", "auto"));
  params.threads = static_cast<int>(args.integer("threads", 0, 0, 4096));
  params.seed = static_cast<uint64_t>(args.integer("seed", 42, 0, INT64_MAX));
  params.nn_descent_iterations = static_cast<int>(args.integer("iterations", params.nn_descent_iterations, 0, 1000));
  const bool json = args.has("json");
  // Resolve the device before reading anything, so device=gpu without a GPU fails at once.
  const std::string backend = resolve_backend(params.device);

  auto start = std::chrono::steady_clock::now();
  Dataset data = read_vectors(data_path, args.integer("rows", -1, 1, INT64_MAX));
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
    o.add("seconds", build_seconds).add("vectors_per_second", rate).add("seconds_with_save", total_seconds);
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
