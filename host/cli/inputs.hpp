// How the CLI's commands read their inputs: vectors (an .hdf5 file's `train` as the data and its
// `test` as the queries), the metric (--metric, else what the data file declares, else l2), and
// a one-line notice on stderr when values were converted at read (float16 / float64).
#pragma once

#include <string>

#include "annforge.hpp"
#include "host/cli/args.hpp"

namespace annforge::cli {

Dataset read_data(const std::string& path, int64_t max_rows = -1);
Dataset read_queries(const std::string& path);
Metric metric_for(const Args& args, const std::string& data_path);

// `rows` (read from `path`: `what`, e.g. "queries") checked for a search of, or an extend of, the
// index read from `index_path`: no NaN or infinity (reported with the file), the index's dimension
// and element type (an error naming both files).
void check_rows_for_index(const Dataset& rows, const std::string& path, const char* what, const Index& index,
                          const std::string& index_path);

// The --metric flag's declaration, shared by build and gt.
Flag metric_flag();

}  // namespace annforge::cli
