// annforge export: an index file to a library's own format (hnswlib, FAISS), with HNSW's upper
// levels built in bulk above annforge's graph (index/export.cpp).
#include <sys/stat.h>

#include <chrono>
#include <cstdio>

#include "annforge.hpp"
#include "host/cli/args.hpp"
#include "host/cli/commands.hpp"
#include "host/cli/json.hpp"

namespace annforge::cli {

int run_export(int argc, char** argv) {
  Args args("export", argc, argv, {"index", "format", "out", "threads", "seed"}, {"json"});
  const std::string index_path = args.required("index");
  const std::string out = args.required("out");
  ExportParams params;
  params.format = parse_export_format(args.text("format", "hnswlib"));
  params.threads = static_cast<int>(args.integer("threads", 0, 0, 4096));
  params.seed = static_cast<uint64_t>(args.integer("seed", 42, 0, (1ll << 62)));
  const auto start = std::chrono::steady_clock::now();
  const Index index = load(index_path);
  const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  export_index(index, out, params);
  const double export_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() - load_s;
  struct stat st {};
  ::stat(out.c_str(), &st);
  if (args.has("json")) {
    JsonObject o;
    o.add("index", index_path).add("format", to_string(params.format)).add("out", out);
    o.add("rows", static_cast<long long>(index.rows())).add("file_bytes", static_cast<long long>(st.st_size));
    o.add("load_seconds", load_s).add("export_seconds", export_s);
    std::printf("%s\n", o.str().c_str());
  } else {
    std::printf("exported %lld vectors (%s, degree %d) as %s in %.2f s (load %.2f s): %s, %lld bytes\n",
                static_cast<long long>(index.rows()), to_string(index.metric), index.graph_degree,
                to_string(params.format), export_s, load_s, out.c_str(), static_cast<long long>(st.st_size));
  }
  return 0;
}

}  // namespace annforge::cli
