// Small process and text helpers of compare_gpu: running a child with its output captured and a
// time limit, reading its one-line JSON answer, the machine's description, temporary files.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace annforge_bench {

// `text` without trailing newlines / spaces and leading spaces.
std::string trim(std::string text);
// `word` as one shell word (quoted where it needs to be).
std::string shell_quote(const std::string& word);
// The first line of `command`'s output, or "" when it fails or prints nothing.
std::string command_output(const std::string& command);
// /proc/cpuinfo's model name.
std::string cpu_model();
bool file_exists(const std::string& path);
std::string directory_of(const std::string& path);

// A temporary file name (the file is created empty), removed by the destructor.
class TemporaryFile {
 public:
  explicit TemporaryFile(const std::string& suffix);
  ~TemporaryFile();
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A flat JSON object's fields: strings unescaped, everything else as its text.
std::map<std::string, std::string> parse_flat_json(const std::string& text);

struct ChildResult {
  int status = -1;  // exit status, or -1
  bool timed_out = false;
  std::string out;  // its stdout
  std::string spawn_error;
};

// Runs argv[0] (searched on PATH) with stdout captured and stderr passed through; kills it after
// `timeout` seconds.
ChildResult run_child(std::vector<std::string> arguments, double timeout);

}  // namespace annforge_bench
