// annforge extend: an index file grown by the rows of a vector file, saved (atomically) to a new
// file or over the old one. The new rows are linked into the graph (api.cpp's extend: the cost
// follows the new rows; a batch that outweighs the index rebuilds it).
#include <chrono>
#include <cstdio>

#include "annforge.hpp"
#include "host/cli/args.hpp"
#include "host/cli/commands.hpp"
#include "host/cli/inputs.hpp"
#include "host/cli/json.hpp"
#include "host/cli/progress_bar.hpp"

namespace annforge::cli {

const CommandSpec& extend_spec() {
  static const CommandSpec spec{
      "extend",
      "add the rows of a vector file to an index and save it (to --out, which may be the index itself)",
      "--index INDEX --data FILE --out INDEX [flags]",
      {{"index", "INDEX", "", "the index to extend (left as it was unless --out names it)", true},
       {"data", "FILE", "", "the new vectors: the index's dimension and element type", true},
       {"out", "INDEX", "", "the extended index (written to a temporary name, then renamed)", true},
       {"rows", "N", "", "add the first N rows of --data only (default: all)"},
       {"degree", "N", "32",
        "the degree to grow to where the index had too few rows for its degree (r rows hold r - 1 links "
        "each); any other index keeps its own (1..1024)"},
       device_flag(),
       threads_flag(),
       {"seed", "S", "42", "random seed (of upper levels, where they are built again)"},
       json_flag()},
      "",
      "",
      std::string(kVectorFileNote) +
          "\nThe index keeps its metric and degree (unless it had too few rows for the degree asked: a graph\n"
          "over r rows holds r - 1 links per row; it then grows to --degree). Its upper levels stay until it\n"
          "has a quarter more rows than they were built over; a batch larger than the index rebuilds it."};
  return spec;
}

int run_extend(const Args& args) {
  const std::string index_path = args.text("index");
  const std::string data_path = args.text("data");
  const std::string out_path = args.text("out");
  BuildParams params;
  params.device = args.device();
  params.threads = static_cast<int>(args.integer("threads", 0, 4096));
  params.seed = static_cast<uint64_t>(args.integer("seed", 0, INT64_MAX));
  const bool json = args.has("json");
  const auto start = std::chrono::steady_clock::now();
  Index index = load(index_path);
  const Dataset more = read_data(data_path, args.has("rows") ? args.integer("rows", 1, INT64_MAX) : -1);
  check_rows_for_index(more, data_path, "new vectors", index, index_path);
  const double read_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  params.metric = index.metric;
  // The library keeps the index's own degree; this one only counts where the old rows capped it
  // (extend_graph). The index's degree here would keep a graph begun with a few rows at their
  // count for good (5 rows, degree 4, extended to 3,005: recall@10 0.656 at beam 16 against
  // 0.999 built at once, 2026-12-07), and a one-row index (degree 0) could not be extended.
  params.graph_degree = static_cast<int>(args.integer("degree", 1, 1024));
  const int64_t old_rows = index.rows();
  ProgressBar bar(!json);
  params.progress = bar.callback();
  const auto linked = std::chrono::steady_clock::now();
  extend(index, more.view(), params);
  bar.done();
  const double extend_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - linked).count();
  save(index, out_path);
  const double total_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (json) {
    JsonObject o;
    o.add("command", "extend").add("index", index_path).add("data", data_path).add("out", out_path);
    o.add("old_rows", static_cast<long long>(old_rows)).add("added_rows", static_cast<long long>(more.rows()));
    o.add("rows", static_cast<long long>(index.rows())).add("graph_degree", index.graph_degree);
    o.add("backend", index.backend).add("read_seconds", read_seconds).add("seconds", extend_seconds);
    o.add("seconds_with_save", total_seconds);
    std::printf("%s\n", o.str().c_str());
  } else {
    std::printf("extended %lld -> %lld vectors (%s, degree %d) on %s in %.2f s (%.0f vectors/s); saved %s\n",
                static_cast<long long>(old_rows), static_cast<long long>(index.rows()), to_string(index.metric),
                index.graph_degree, index.backend.c_str(), extend_seconds,
                more.rows() / std::max(extend_seconds, 1e-9), out_path.c_str());
  }
  return 0;
}

}  // namespace annforge::cli
