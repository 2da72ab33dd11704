// annforge convert: a vector file rewritten in another format (by the output's extension), for
// example texmex .bvecs into .u8bin, which builds map instead of reading whole (and which the
// ranks of a distributed build on one node share).
#include <chrono>
#include <cstdio>

#include "annforge.hpp"
#include "host/cli/args.hpp"
#include "host/cli/commands.hpp"
#include "host/cli/inputs.hpp"
#include "host/cli/json.hpp"

namespace annforge::cli {

const CommandSpec& convert_spec() {
  static const CommandSpec spec{
      "convert",
      "rewrite a vector file in another format (chosen by the output's extension), atomically",
      "--data FILE --out FILE [flags]",
      {data_flag(),
       {"out", "FILE", "", "the file to write: .fbin .u8bin .i8bin .f16bin .npy .fvecs .bvecs", true},
       {"rows", "N", "", "the first N rows only (default: all)"},
       json_flag("print one JSON object instead of text")},
      "",
      "",
      kVectorFileNote};
  return spec;
}

int run_convert(const Args& args) {
  const std::string data_path = args.text("data");
  const std::string out_path = args.text("out");
  const auto start = std::chrono::steady_clock::now();
  const Dataset data = read_data(data_path, args.has("rows") ? args.integer("rows", 1, INT64_MAX) : -1);
  write_vectors(out_path, data.view());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (args.has("json")) {
    JsonObject o;
    o.add("command", "convert").add("data", data_path).add("out", out_path);
    o.add("rows", static_cast<long long>(data.rows())).add("dim", static_cast<long long>(data.dim()));
    o.add("type", to_string(data.type())).add("seconds", seconds);
    std::printf("%s\n", o.str().c_str());
  } else {
    std::printf("wrote %lld x %lld %s vectors from %s to %s in %.2f s\n", static_cast<long long>(data.rows()),
                static_cast<long long>(data.dim()), to_string(data.type()), data_path.c_str(), out_path.c_str(),
                seconds);
  }
  return 0;
}

}  // namespace annforge::cli
