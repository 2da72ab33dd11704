// annforge info: what an index file holds, after a full integrity check (load verifies it).
#include <sys/stat.h>

#include <cstdio>

#include "annforge.hpp"
#include "host/cli/args.hpp"
#include "host/cli/commands.hpp"
#include "host/cli/json.hpp"

namespace annforge::cli {

const CommandSpec& info_spec() {
  static const CommandSpec spec{
      "info",
      "describe an index: shape, metric, degree, backend, file version, in-degree spread",
      "INDEX [--json]",
      {{"index", "INDEX", "", "the index (or give it as the one argument)"},
       json_flag()},
      "INDEX",
      "the index file",
      ""};
  return spec;
}

int run_info(const Args& args) {
  std::string path = args.text("index");
  if (!path.empty() && !args.positional().empty()) {
    throw Error(ErrorCode::InvalidArgument, "'annforge info' needs exactly one index file (got --index and " + args.positional() + ")");
  }
  if (path.empty()) path = args.positional();
  if (path.empty()) throw Error(ErrorCode::InvalidArgument, "'annforge info' needs exactly one index file");
  Index index = load(path);
  struct stat st {};
  ::stat(path.c_str(), &st);
  // In-degree spread says how evenly the reverse edges spread the graph's reach.
  std::vector<uint32_t> in_degree(index.rows(), 0);
  for (uint32_t id : index.graph) ++in_degree[id];
  int64_t unreachable = 0;
  uint32_t max_in = 0;
  for (uint32_t d : in_degree) unreachable += d == 0, max_in = std::max(max_in, d);
  if (args.has("json")) {
    JsonObject o;
    o.add("index", path).add("rows", static_cast<long long>(index.rows())).add("dim", static_cast<long long>(index.dim()));
    o.add("element_type", to_string(index.vectors.type())).add("metric", to_string(index.metric));
    o.add("graph_degree", index.graph_degree).add("entry_points", static_cast<long long>(index.entry_points.size()));
    o.add("built_by", index.backend).add("file_bytes", static_cast<long long>(st.st_size));
    o.add("rows_without_in_edges", static_cast<long long>(unreachable)).add("max_in_degree", static_cast<long long>(max_in));
    o.add("format_version", index_file_version(index)).add("upper_levels", static_cast<int>(index.levels.size()));
    if (!index.levels.empty()) {
      o.add("level1_rows", static_cast<long long>(index.levels[0].members.size())).add("level1_degree", index.levels[0].degree);
      o.add("upper_width_divisor", index.upper_width_divisor);
    }
    std::printf("%s\n", o.str().c_str());
  } else {
    std::printf("%s: annforge index, format version %d, checksum ok\n", path.c_str(), index_file_version(index));
    std::printf("  vectors       %lld x %lld %s\n", static_cast<long long>(index.rows()),
                static_cast<long long>(index.dim()), to_string(index.vectors.type()));
    std::printf("  metric        %s\n", to_string(index.metric));
    std::printf("  graph degree  %d (%zu entry points)\n", index.graph_degree, index.entry_points.size());
    std::printf("  in-degree     max %u, %lld rows with none\n", max_in, static_cast<long long>(unreachable));
    if (index.levels.empty()) {
      std::printf("  upper levels  none (searches start from every entry point)\n");
    } else {
      std::printf("  upper levels  %zu (level 1: %zu rows, degree %d; searched with beam / %d)\n", index.levels.size(),
                  index.levels[0].members.size(), index.levels[0].degree, index.upper_width_divisor);
    }
    std::printf("  built by      %s backend\n", index.backend.c_str());
    std::printf("  file size     %lld bytes\n", static_cast<long long>(st.st_size));
  }
  return 0;
}

}  // namespace annforge::cli
