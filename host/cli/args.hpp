// Command-line flags: `--name value` pairs and bare `--switch`es, checked against the flags a
// command knows, with errors that name the flag and the bad value.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "annforge.hpp"

namespace annforge::cli {

class Args {
 public:
  // argv after the command name. `switches` take no value; `flags` take one.
  Args(const std::string& command, int argc, char** argv, const std::set<std::string>& flags,
       const std::set<std::string>& switches);

  bool has(const std::string& name) const { return values_.count(name) > 0; }
  std::string text(const std::string& name, const std::string& fallback = "") const;
  std::string required(const std::string& name) const;
  long long integer(const std::string& name, long long fallback, long long min, long long max) const;
  std::vector<long long> integers(const std::string& name, const std::vector<long long>& fallback, long long min,
                                  long long max) const;
  // --device auto|cpu|gpu; a bad value is an error naming the flag.
  Device device(const std::string& fallback) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::string command_;
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

}  // namespace annforge::cli
