// annforge gt: exact k nearest neighbours of every query by brute force.
#include <chrono>
#include <cstdio>

#include "annforge.hpp"
#include "host/cli/args.hpp"
#include "host/cli/commands.hpp"
#include "host/cli/inputs.hpp"
#include "host/cli/json.hpp"
#include "host/cli/progress_bar.hpp"

namespace annforge::cli {

const CommandSpec& ground_truth_spec() {
  static const CommandSpec spec{
      "gt",
      "exact k nearest neighbours of queries (ground truth), by blocked brute force",
      "--data FILE --queries FILE --out FILE [flags]",
      {{"data", "FILE", "", "the base vectors (an .hdf5 file: its 'train' dataset)", true},
       {"queries", "FILE", "", "the query vectors (an .hdf5 file: its 'test' dataset)", true},
       {"out", "FILE", "", "the neighbour ids to write (.ivecs or .ibin)", true},
       {"k", "K", "100", "neighbours per query (1..4096)"},
       metric_flag(),
       {"rows", "N", "", "use the first N base rows only (default: all)"},
       // The CPU by default: ground truth is the reference other results are judged by.
       {"device", "auto|cpu|gpu", "cpu", "backend; the CPU by default, as the reference"},
       threads_flag(),
       json_flag()},
      "",
      "",
      kVectorFileNote};
  return spec;
}

int run_ground_truth(const Args& args) {
  const std::string data_path = args.text("data");
  const std::string queries_path = args.text("queries");
  const std::string out_path = args.text("out");
  const int k = static_cast<int>(args.integer("k", 1, 4096));
  const int threads = static_cast<int>(args.integer("threads", 0, 4096));
  const bool json = args.has("json");
  // Resolved before reading anything, so --device gpu without a GPU fails at once.
  const Device device = args.device();
  const std::string backend = resolve_backend(device);

  const Metric metric = metric_for(args, data_path);
  Dataset base = read_data(data_path, args.has("rows") ? args.integer("rows", 1, INT64_MAX) : -1);
  Dataset queries = read_queries(queries_path);
  check_vectors(base.view(), data_path);  // a NaN is reported with the file it is in
  check_vectors(queries.view(), queries_path);
  if (queries.dim() != base.dim() || queries.type() != base.type()) {
    throw Error(ErrorCode::InvalidArgument, queries_path + ": queries are " + std::to_string(queries.dim()) + "-dimensional " +
                                                to_string(queries.type()) + ", " + data_path + " holds " +
                                                std::to_string(base.dim()) + "-dimensional " + to_string(base.type()));
  }
  if (k > base.rows()) {
    throw Error(ErrorCode::InvalidArgument, "--k " + std::to_string(k) + " exceeds the " + std::to_string(base.rows()) +
                                                " vectors in " + data_path);
  }
  ProgressBar bar(!json);
  auto start = std::chrono::steady_clock::now();
  Neighbors truth = exact_knn(base.view(), queries.view(), k, metric, threads, bar.callback(), device);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  bar.done();
  write_neighbors(out_path, truth);
  if (json) {
    JsonObject o;
    o.add("command", "gt").add("out", out_path).add("queries", static_cast<long long>(queries.rows()));
    o.add("base", static_cast<long long>(base.rows())).add("k", k).add("backend", backend).add("seconds", seconds);
    std::printf("%s\n", o.str().c_str());
  } else {
    std::printf("exact %d-NN of %lld queries over %lld vectors on %s in %.2f s; saved %s\n", k,
                static_cast<long long>(queries.rows()), static_cast<long long>(base.rows()), backend.c_str(), seconds,
                out_path.c_str());
  }
  return 0;
}

}  // namespace annforge::cli
