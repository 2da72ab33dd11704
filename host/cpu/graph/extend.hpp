// Links new rows into an existing graph without rebuilding it.
#pragma once

#include "annforge.hpp"

namespace annforge::cpu {

// index.vectors holds old rows [0, first_new_row) and new rows after them; index.graph covers
// the old rows. On return the graph covers every row, with the same fixed degree.
void extend_graph(Index& index, int64_t first_new_row, const BuildParams& params);

}  // namespace annforge::cpu
