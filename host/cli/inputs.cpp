#include "host/cli/inputs.hpp"

#include <cstdio>

namespace annforge::cli {
namespace {

bool is_hdf5(const std::string& path) {
  const auto dot = path.find_last_of('.');
  const std::string ext = dot == std::string::npos ? "" : path.substr(dot + 1);
  return ext == "hdf5" || ext == "h5";
}

Dataset noted(Dataset data) {
  if (!data.converted_from().empty()) {
    std::fprintf(stderr, "annforge: note: %s: %s values converted to float32 at read\n", data.source().c_str(),
                 data.converted_from().c_str());
  }
  return data;
}

}  // namespace

Dataset read_data(const std::string& path, int64_t max_rows) { return noted(read_vectors(path, max_rows)); }

Dataset read_queries(const std::string& path) { return noted(read_vectors(path, -1, is_hdf5(path) ? "test" : "")); }

void check_rows_for_index(const Dataset& rows, const std::string& path, const char* what, const Index& index,
                          const std::string& index_path) {
  check_vectors(rows.view(), path);
  if (rows.dim() != index.dim() || rows.type() != index.vectors.type()) {
    throw Error(ErrorCode::InvalidArgument, path + ": " + what + " are " + std::to_string(rows.dim()) + "-dimensional " +
                                                to_string(rows.type()) + ", the index " + index_path + " holds " +
                                                std::to_string(index.dim()) + "-dimensional " +
                                                to_string(index.vectors.type()));
  }
}

Metric metric_for(const Args& args, const std::string& data_path) {
  if (args.has("metric")) {
    try {
      return parse_metric(args.text("metric"));
    } catch (const Error& e) {
      throw Error(ErrorCode::InvalidArgument, std::string("--metric: ") + e.what());
    }
  }
  Metric declared = Metric::L2;
  return declared_metric(data_path, &declared) ? declared : Metric::L2;
}

Flag metric_flag() {
  return {"metric", "l2|ip|cosine", "",
          "distance: squared L2, inner product or cosine (default: the .hdf5 file's 'distance', else l2)"};
}

}  // namespace annforge::cli
