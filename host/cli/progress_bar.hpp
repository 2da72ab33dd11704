// A progress bar on stderr, drawn only when stderr is a terminal (and not in --json mode):
// logs and pipes stay clean.
#pragma once

#include <chrono>
#include <string>

#include "annforge.hpp"

namespace annforge::cli {

class ProgressBar {
 public:
  explicit ProgressBar(bool enabled);
  ~ProgressBar();
  ProgressCallback callback();
  void done();

 private:
  void draw(const Progress& progress);
  bool enabled_;
  bool drawn_ = false;
  std::string stage_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace annforge::cli
