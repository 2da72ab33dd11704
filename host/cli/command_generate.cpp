// annforge gen: deterministic synthetic clustered vectors (a Gaussian mixture), so the demo and
// tests need no download. Queries come from the same mixture through a separate random stream.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>

#include "annforge.hpp"
#include "host/cli/args.hpp"
#include "host/cli/commands.hpp"
#include "host/cli/json.hpp"
#include "host/cli/mixture.hpp"

namespace annforge::cli {

const CommandSpec& generate_spec() {
  static const CommandSpec spec{
      "gen",
      "generate a reproducible data set: a mixture of Gaussian clusters (and queries)",
      "--n N --dim D --out FILE [flags]",
      {{"n", "N", "", "rows to generate", true},
       {"dim", "D", "", "dimension (1..65536)", true},
       {"out", "FILE", "", "the vector file to write (type by extension)", true},
       {"queries", "M", "0", "also generate M queries from the same mixture"},
       {"queries-out", "FILE", "", "where the queries go (needed with --queries)"},
       {"clusters", "C", "", "mixture components (default: rows / 2000, at least 8)"},
       {"type", "float32|uint8", "float32", "element type"},
       {"duplicates", "F", "0", "share of rows replaced by exact copies of other rows, in [0, 1)"},
       {"seed", "S", "7", "random seed"},
       json_flag()},
      "",
      "",
      kVectorFileNote};
  return spec;
}

int run_generate(const Args& args) {
  const int64_t rows = args.integer("n", 1, int64_t{1} << 32);
  const int64_t dim = args.integer("dim", 1, 65536);
  const std::string out_path = args.text("out");
  const int64_t query_rows = args.integer("queries", 0, int64_t{1} << 32);
  if (query_rows > 0 && !args.has("queries-out")) throw Error(ErrorCode::InvalidArgument, "'annforge gen' needs --queries-out with --queries");
  const std::string queries_path = query_rows > 0 ? args.text("queries-out") : "";
  const int clusters = static_cast<int>(args.has("clusters") ? args.integer("clusters", 1, 1 << 24) : std::max<int64_t>(8, rows / 2000));
  const std::string type_name = args.text("type");
  ElementType type;
  if (type_name == "float32") type = ElementType::Float32;
  else if (type_name == "uint8") type = ElementType::UInt8;
  else throw Error(ErrorCode::InvalidArgument, "--type: unknown value '" + type_name + "' (expected float32 or uint8)");
  const uint64_t seed = static_cast<uint64_t>(args.integer("seed", 0, INT64_MAX));

  const std::string duplicates_text = args.text("duplicates");
  char* end = nullptr;
  const double duplicates = std::strtod(duplicates_text.c_str(), &end);
  if (duplicates_text.empty() || *end != '\0' || !(duplicates >= 0.0 && duplicates < 1.0)) {
    throw Error(ErrorCode::InvalidArgument, "--duplicates: expected a fraction of the rows in [0, 1), got '" + duplicates_text + "'");
  }

  Dataset base = generate_mixture(rows, dim, clusters, type, seed, 1);
  add_exact_duplicates(base, duplicates, seed);
  write_vectors(out_path, base.view());
  if (query_rows > 0) write_vectors(queries_path, generate_mixture(query_rows, dim, clusters, type, seed, 2).view());
  if (args.has("json")) {
    JsonObject o;
    o.add("command", "gen").add("out", out_path).add("rows", static_cast<long long>(rows)).add("dim", static_cast<long long>(dim));
    o.add("clusters", clusters).add("type", type_name).add("duplicates", duplicates);
    if (query_rows > 0) o.add("queries_out", queries_path).add("queries", static_cast<long long>(query_rows));
    std::printf("%s\n", o.str().c_str());
  } else {
    std::printf("generated %lld x %lld %s vectors in %d clusters: %s", static_cast<long long>(rows),
                static_cast<long long>(dim), type_name.c_str(), clusters, out_path.c_str());
    if (query_rows > 0) std::printf(" (+ %lld queries: %s)", static_cast<long long>(query_rows), queries_path.c_str());
    std::printf("\n");
  }
  return 0;
}

}  // namespace annforge::cli
