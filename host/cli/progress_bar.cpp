// Terminal progress bar.
#include "host/cli/progress_bar.hpp"

#include <unistd.h>

#include <cstdio>

namespace annforge::cli {

ProgressBar::ProgressBar(bool enabled)
    : enabled_(enabled && ::isatty(STDERR_FILENO)), start_(std::chrono::steady_clock::now()) {}

ProgressBar::~ProgressBar() { done(); }

ProgressCallback ProgressBar::callback() {
  if (!enabled_) return {};
  return [this](const Progress& p) { draw(p); };
}

void ProgressBar::draw(const Progress& p) {
  auto now = std::chrono::steady_clock::now();
  bool new_stage = stage_ != p.stage;
  if (!new_stage && p.done < p.total && now - last_draw_ < std::chrono::milliseconds(100)) return;
  if (new_stage && drawn_) std::fputc('\n', stderr);
  stage_ = p.stage;
  last_draw_ = now;
  constexpr int kWidth = 30;
  double fraction = p.total > 0 ? static_cast<double>(p.done) / p.total : 1.0;
  int filled = static_cast<int>(fraction * kWidth);
  char bar[kWidth + 1];
  for (int i = 0; i < kWidth; ++i) bar[i] = i < filled ? '#' : '.';
  bar[kWidth] = '\0';
  double seconds = std::chrono::duration<double>(now - start_).count();
  std::fprintf(stderr, "\r%-12s [%s] %3d%%  %.1fs", p.stage, bar, static_cast<int>(fraction * 100), seconds);
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressBar::done() {
  if (drawn_) std::fputc('\n', stderr);
  drawn_ = false;
}

}  // namespace annforge::cli
