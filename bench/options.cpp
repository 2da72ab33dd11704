// options.cpp: compare_cpu's command line: the usage text, the flags and their checks, and the
// list of systems to run (which also depends on the name the program is called by and on whether
// it was built with FAISS).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.hpp"

namespace annforge_bench {

// Every system the program knows, in the order of the report.
const std::vector<std::string> kAllSystems = {"annforge",     "export-hnswlib", "hnswlib",   "faiss-export",
                                              "faiss-hnsw40", "faiss-hnsw200",  "faiss-nsg", "exact"};

const char* const kUsage =
    "usage: compare_cpu --base FILE --queries FILE [--gt FILE] [--rows N] [--queries-limit Q]\n"
    "                   [--k 10] [--threads T] [--degree 32] [--widths 32,64,128,256]\n"
    "                   [--beams LIST] [--ef-search LIST] [--search-l LIST] [--systems LIST]\n"
    "                   [--metric l2|ip|cosine] [--recall ids|ties] [--json FILE]\n"
    "                   [--plot FILE.png] [--skip-hnswlib] [--hnswlib-uint8] [--hnswlib-cache DIR]\n"
    "       compare_cpu --base FILE --slices 100000,250000,500000,1000000 [--threads T]\n"
    "                   [--degree 32] [--metric l2|ip|cosine] [--json FILE]\n"
    "\n"
    "  --base FILE          base vectors (.fvecs .bvecs .fbin .u8bin .i8bin .npy)\n"
    "  --queries FILE       query vectors, same element type and dimension as the base\n"
    "  --gt FILE            ground-truth neighbour ids (.ivecs .ibin) for the whole base file;\n"
    "                       ignored when --rows takes a smaller slice (exact ground truth is computed)\n"
    "  --rows N             use only the first N base vectors\n"
    "  --queries-limit Q    use only the first Q queries\n"
    "  --k K                neighbours per query, and the k of recall@k (default 10)\n"
    "  --metric M           l2 (squared Euclidean, default), ip (inner product: -<a,b>) or cosine\n"
    "                       (1 - cos); hnswlib and FAISS get unit-length copies of the vectors for\n"
    "                       cosine and search them by inner product. A --gt file must be for this metric\n"
    "  --recall R           ids (default): recall@k = (returned ids among the true top k) / k;\n"
    "                       ties: a returned id also counts when its exact distance (double precision)\n"
    "                       is <= the k-th true distance (+1e-6 relative +1e-9), for data with duplicates\n"
    "  --threads T          threads for every library (default: all hardware threads)\n"
    "  --degree D           annforge graph degree (default 32)\n"
    "  --widths LIST        search widths for every system (default 32,64,128,256); the three\n"
    "                       flags below override it for one system each\n"
    "  --beams LIST         annforge beam_width values\n"
    "  --ef-search LIST     hnswlib ef and FAISS HNSW efSearch values\n"
    "  --search-l LIST      FAISS NSG search_L values\n"
    "  --systems LIST       which systems to run, of: annforge, export-hnswlib, hnswlib, faiss-export,\n"
    "                       faiss-hnsw40, faiss-hnsw200, faiss-nsg, exact (default: all; the faiss-*\n"
    "                       ones only when built with FAISS; export-hnswlib / faiss-export: annforge's\n"
    "                       index exported and searched by that library, at the --ef-search widths;\n"
    "                       annforge,hnswlib when the program is called as compare_hnswlib)\n"
    "  --skip-hnswlib       leave hnswlib out\n"
    "  --hnswlib-uint8      give hnswlib uint8 data as bytes (its scalar L2SpaceI) instead of\n"
    "                       converting it to float32 for its SIMD L2Space (l2 only)\n"
    "  --hnswlib-cache DIR  keep hnswlib's index in DIR, named by the data file, its size and time,\n"
    "                       the rows, metric, space and parameters; a later run loads it instead of\n"
    "                       building (searches are measured again; the build time reported is the\n"
    "                       one measured then, and the report says so)\n"
    "  --json FILE          also write every figure as one JSON object to FILE\n"
    "  --plot FILE.png      draw recall@k vs queries/s and the build times into FILE.png\n"
    "                       (runs bench/plot_compare.py with /usr/bin/python3 and matplotlib)\n"
    "  --python PATH        the Python that runs the plot script (default /usr/bin/python3)\n"
    "  --plot-script PATH   the plot script (default: bench/plot_compare.py of the source tree)\n"
    "  --slices LIST        build annforge alone on each prefix of the base (rows, ascending) and\n"
    "                       print build s, vectors/s and s/(n log2 n) relative to the first slice;\n"
    "                       nothing else is run (--queries is not needed)\n";

namespace {


std::vector<std::string> split_list(const std::string& flag, const std::string& text) {
  std::vector<std::string> items;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) items.push_back(item);
  if (items.empty()) throw UsageError(flag + ": expects a comma-separated list");
  return items;
}

std::vector<int> parse_integer_list(const std::string& flag, const std::string& text) {
  std::vector<int> values;
  for (const std::string& item : split_list(flag, text)) values.push_back(static_cast<int>(parse_integer(flag, item, 1)));
  return values;
}

}  // namespace

std::string base_name(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

Options parse_options(int argc, char** argv) {
  Options options;
  // The program is also installed as compare_hnswlib (a link, for the commands of the README);
  // under that name it compares annforge with hnswlib only, as it did before the FAISS peers.
  const bool hnswlib_only = argc > 0 && base_name(argv[0]) == "compare_hnswlib";
  if (argc > 0) options.program = base_name(argv[0]);
  std::optional<std::vector<int>> widths, beams, ef_search, search_l;
  std::optional<std::vector<std::string>> systems;
  bool skip_hnswlib = false;
  bool recall_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (flag == "--skip-hnswlib") {
      skip_hnswlib = true;
      continue;
    }
    if (flag == "--hnswlib-uint8") {
      options.hnswlib_uint8 = true;
      continue;
    }
    if (i + 1 >= argc) throw UsageError(flag + ": missing value (or unknown flag)");
    const std::string value = argv[++i];
    if (flag == "--base") options.base_path = value;
    else if (flag == "--queries") options.queries_path = value;
    else if (flag == "--gt") options.ground_truth_path = value;
    else if (flag == "--json") options.json_path = value;
    else if (flag == "--plot") options.plot_path = value;
    else if (flag == "--hnswlib-cache") options.hnswlib_cache = value;
    else if (flag == "--python") options.python = value;
    else if (flag == "--plot-script") options.plot_script = value;
    else if (flag == "--rows") options.rows = parse_integer(flag, value, 1);
    else if (flag == "--queries-limit") options.queries_limit = parse_integer(flag, value, 1);
    else if (flag == "--k") options.k = static_cast<int>(parse_integer(flag, value, 1));
    else if (flag == "--threads") options.threads = static_cast<int>(parse_integer(flag, value, 0));
    else if (flag == "--degree") options.degree = static_cast<int>(parse_integer(flag, value, 1));
    else if (flag == "--widths") widths = parse_integer_list(flag, value);
    else if (flag == "--beams") beams = parse_integer_list(flag, value);
    else if (flag == "--ef-search") ef_search = parse_integer_list(flag, value);
    else if (flag == "--search-l") search_l = parse_integer_list(flag, value);
    else if (flag == "--systems") systems = split_list(flag, value);
    else if (flag == "--metric") {
      if (value != "l2" && value != "ip" && value != "cosine") {
        throw UsageError("--metric: unknown metric '" + value + "' (expected l2, ip or cosine)");
      }
      options.metric = annforge::parse_metric(value);
    } else if (flag == "--recall") {
      if (value != "ids" && value != "ties") throw UsageError("--recall: '" + value + "' is neither ids nor ties");
      options.recall_ties = value == "ties";
      recall_given = true;
    }
    else if (flag == "--slices") {
      for (const std::string& item : split_list(flag, value)) options.slices.push_back(parse_integer(flag, item, 2));
    } else {
      throw UsageError("unknown flag " + flag);
    }
  }
  if (options.base_path.empty()) throw UsageError("--base is required");
  if (options.threads == 0) {
    unsigned hardware = std::thread::hardware_concurrency();
    options.threads = hardware == 0 ? 1 : static_cast<int>(hardware);
  }
  if (!options.slices.empty()) {
    if (!std::is_sorted(options.slices.begin(), options.slices.end()) ||
        std::adjacent_find(options.slices.begin(), options.slices.end()) != options.slices.end()) {
      throw UsageError("--slices: the slice sizes must be strictly ascending");
    }
    if (!options.plot_path.empty()) throw UsageError("--plot: not available with --slices (the growth table has no plot)");
    if (options.rows >= 0) throw UsageError("--rows: not used with --slices (the slices give the rows)");
    if (recall_given) throw UsageError("--recall: not used with --slices (nothing is searched)");
    options.systems = {"annforge"};
    return options;
  }
  if (options.queries_path.empty()) throw UsageError("--queries is required");

  if (systems) {
    for (const std::string& key : *systems) {
      if (std::find(kAllSystems.begin(), kAllSystems.end(), key) == kAllSystems.end()) {
        throw UsageError("--systems: unknown system '" + key +
                         "' (known: annforge, export-hnswlib, hnswlib, faiss-export, faiss-hnsw40, faiss-hnsw200, faiss-nsg, exact)");
      }
      if (is_faiss_system(key) && !kHaveFaiss) {
        throw UsageError("--systems: " + key + " needs FAISS, and this program was built without it (see bench/README.md)");
      }
    }
    // Keep the report order whatever order the list gave.
    for (const std::string& key : kAllSystems) {
      if (std::find(systems->begin(), systems->end(), key) != systems->end()) options.systems.push_back(key);
    }
  } else if (hnswlib_only) {
    options.systems = {"annforge", "hnswlib"};
  } else {
    for (const std::string& key : kAllSystems) {
      if (!is_faiss_system(key) || kHaveFaiss) options.systems.push_back(key);
    }
  }
  if (skip_hnswlib) options.systems.erase(std::remove(options.systems.begin(), options.systems.end(), "hnswlib"), options.systems.end());
  if (options.systems.empty()) throw UsageError("--systems: no system left to run");
  if (options.hnswlib_uint8 && !options.runs("hnswlib")) throw UsageError("--hnswlib-uint8: hnswlib is not run");
  if (options.hnswlib_uint8 && options.metric != annforge::Metric::L2) {
    throw UsageError(std::string("--hnswlib-uint8: only with --metric l2 (hnswlib's byte space L2SpaceI has no ") +
                     (options.metric == annforge::Metric::Cosine ? "cosine" : "inner product") +
                     "); without the flag hnswlib gets float32 data");
  }

  const std::vector<int> default_widths = widths.value_or(std::vector<int>{32, 64, 128, 256});
  options.beam_widths = beams.value_or(default_widths);
  options.ef_values = ef_search.value_or(default_widths);
  options.nsg_search_l = search_l.value_or(default_widths);
  // A search that keeps fewer candidates than k cannot return k neighbours; hnswlib and FAISS
  // would silently widen it to k, which would make the table lie about the width used.
  auto check_widths = [&](const char* flag, const std::vector<int>& list) {
    for (int width : list) {
      if (width < options.k) throw UsageError(std::string(flag) + ": width " + std::to_string(width) + " is smaller than --k " + std::to_string(options.k));
    }
  };
  check_widths("--beams/--widths", options.beam_widths);
  check_widths("--ef-search/--widths", options.ef_values);
  check_widths("--search-l/--widths", options.nsg_search_l);
  return options;
}

}  // namespace annforge_bench
