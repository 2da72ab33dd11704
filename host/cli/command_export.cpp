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

const CommandSpec& export_spec() {
  static const CommandSpec spec{
      "export",
      "write an index in a serving library's format (hnswlib, FAISS IndexHNSWFlat)",
      "--index INDEX --out FILE [flags]",
      {{"index", "INDEX", "", "the annforge index to export", true},
       {"out", "FILE", "", "the file to write (temporary name, then renamed)", true},
       {"format", "hnswlib|faiss", "hnswlib", "hnswlib: HierarchicalNSW::loadIndex; faiss: faiss::read_index"},
       {"links", "index|diverse", "index",
        "level 0: the index graph as it is, or each row's links chosen again by HNSW's heuristic from its "
        "two-hop neighbourhood (fewer links: more queries/s in hnswlib and FAISS at equal recall; a longer "
        "export)"},
       threads_flag("threads for building the upper levels and choosing links; 0: all"),
       {"seed", "S", "42", "random seed of the upper levels' membership"},
       json_flag()},
      "",
      "",
      "cosine indexes are written with normalised vectors (hnswlib's 'cosine' space, FAISS inner product);\n"
      "8-bit vectors are written as float32. See README.md, \"Serving the graph elsewhere\"."};
  return spec;
}

int run_export(const Args& args) {
  const std::string index_path = args.text("index");
  const std::string out = args.text("out");
  ExportParams params;
  params.format = parse_export_format(args.text("format"));
  params.links = parse_export_links(args.text("links"));
  params.threads = static_cast<int>(args.integer("threads", 0, 4096));
  params.seed = static_cast<uint64_t>(args.integer("seed", 0, (1ll << 62)));
  const auto start = std::chrono::steady_clock::now();
  const Index index = load(index_path);
  const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  export_index(index, out, params);
  const double export_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() - load_s;
  struct stat st {};
  ::stat(out.c_str(), &st);
  if (args.has("json")) {
    JsonObject o;
    o.add("index", index_path).add("format", to_string(params.format)).add("links", to_string(params.links));
    o.add("out", out);
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
