// annforge search: search a batch of queries at one or more beam widths; report recall@k
// against ground truth when given, and queries per second.
#include <chrono>
#include <cstdio>

#include "annforge.hpp"
#include "host/cli/args.hpp"
#include "host/cli/commands.hpp"
#include "host/cli/inputs.hpp"
#include "host/cli/json.hpp"
#include "host/cli/progress_bar.hpp"

namespace annforge::cli {

const CommandSpec& search_spec() {
  static const CommandSpec spec{
      "search",
      "search an index with a batch of queries; recall@k against ground truth",
      "--index INDEX --queries FILE [flags]",
      {{"index", "INDEX", "", "the index to search", true},
       {"queries", "FILE", "", "the query vectors (an .hdf5 file: its 'test' dataset)", true},
       {"k", "K", "10", "neighbours per query (1..4096)"},
       {"beam", "N[,N...]", "", "beam widths to sweep (default: max(64, k))"},
       {"gt", "FILE", "", "ground-truth ids (.ivecs, .ibin, or an .hdf5 file's 'neighbors'): report recall@k"},
       {"out", "FILE", "", "write the found ids (.ivecs or .ibin; the last beam's)"},
       device_flag(),
       threads_flag(),
       json_flag("print one JSON object per beam width instead of text")},
      "",
      "",
      kVectorFileNote};
  return spec;
}

int run_search(const Args& args) {
  const std::string index_path = args.text("index");
  const std::string queries_path = args.text("queries");
  const int k = static_cast<int>(args.integer("k", 1, 4096));
  const std::vector<long long> beams =
      args.has("beam") ? args.integers("beam", 1, 1 << 20) : std::vector<long long>{std::max(64, k)};
  const std::string gt_path = args.text("gt");
  const std::string out_path = args.text("out");
  const bool json = args.has("json");
  SearchParams params;
  params.device = args.device();
  params.threads = static_cast<int>(args.integer("threads", 0, 4096));
  resolve_backend(params.device);

  Index index = load(index_path);
  Dataset queries = read_queries(queries_path);
  check_rows_for_index(queries, queries_path, "queries", index, index_path);
  Neighbors truth;
  if (!gt_path.empty()) {
    truth = read_neighbors(gt_path);
    if (truth.rows < queries.rows() || truth.k < k) {
      throw Error(ErrorCode::InvalidArgument, gt_path + ": ground truth is " + std::to_string(truth.rows) + " x " +
                                                  std::to_string(truth.k) + ", need at least " +
                                                  std::to_string(queries.rows()) + " x " + std::to_string(k));
    }
  }

  // The first search of an index sets up what later ones reuse (the CPU's compact copy of float
  // rows, the GPU's upload): one query first, timed apart, so that every width's queries/s is
  // the steady state (the first of several widths read up to 2x low: 1M x 64 float, beam 16,
  // 17.5K queries/s first, 35.1K again).
  double setup_seconds = 0;
  if (queries.rows() > 0) {
    SearchParams first = params;
    first.beam_width = static_cast<int>(std::max<long long>(beams.front(), k));
    DatasetView one = queries.view();
    one.rows = 1;
    auto start = std::chrono::steady_clock::now();
    search(index, one, k, first);
    setup_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!json) std::printf("first search (one query, setup included, not counted below): %.3f s\n", setup_seconds);
  }
  std::string results;
  Neighbors found;
  for (long long beam : beams) {
    params.beam_width = static_cast<int>(std::max<long long>(beam, k));
    ProgressBar bar(!json);
    params.progress = bar.callback();
    auto start = std::chrono::steady_clock::now();
    found = search(index, queries.view(), k, params);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    bar.done();
    double qps = queries.rows() / seconds;
    JsonObject o;
    o.add("beam", params.beam_width).add("queries", static_cast<long long>(queries.rows())).add("k", k);
    o.add("seconds", seconds).add("qps", qps);
    if (!gt_path.empty()) {
      double recall = recall_at_k(found, truth, k);
      o.add("recall", recall);
      if (!json) std::printf("beam %5d: recall@%d %.4f, %.0f queries/s\n", params.beam_width, k, recall, qps);
    } else if (!json) {
      std::printf("beam %5d: %.0f queries/s (no --gt: recall not measured)\n", params.beam_width, qps);
    }
    results += (results.empty() ? "" : ", ") + o.str();
  }
  if (!out_path.empty()) write_neighbors(out_path, found);
  if (json) {
    JsonObject o;
    o.add("command", "search").add("index", index_path).add("queries", queries_path);
    o.add("backend", resolve_backend(params.device)).add("setup_seconds", setup_seconds);
    o.raw("results", "[" + results + "]");
    std::printf("%s\n", o.str().c_str());
  }
  return 0;
}

}  // namespace annforge::cli
