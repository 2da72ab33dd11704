// Flag parsing for the annforge CLI.
#include "host/cli/args.hpp"

#include <cerrno>
#include <cstdlib>

#include "annforge.hpp"

namespace annforge::cli {
namespace {

[[noreturn]] void bad(const std::string& message) { throw Error(ErrorCode::InvalidArgument, message); }

long long parse_integer(const std::string& flag, const std::string& value, long long min, long long max) {
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || errno != 0) bad("--" + flag + ": expected a whole number, got '" + value + "'");
  if (v < min || v > max) {
    bad("--" + flag + ": " + value + " is out of range [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  return v;
}

}  // namespace

Args::Args(const std::string& command, int argc, char** argv, const std::set<std::string>& flags,
           const std::set<std::string>& switches)
    : command_(command) {
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0 || arg.size() == 2) {
      positional_.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2), value;
    auto eq = name.find('=');
    bool inline_value = eq != std::string::npos;
    if (inline_value) value = name.substr(eq + 1), name = name.substr(0, eq);
    if (switches.count(name)) {
      if (inline_value) bad("--" + name + " takes no value");
      values_[name] = "1";
    } else if (flags.count(name)) {
      if (!inline_value) {
        if (i + 1 >= argc) bad("--" + name + " needs a value");
        value = argv[++i];
      }
      values_[name] = value;
    } else {
      bad("unknown flag --" + name + " for 'annforge " + command + "' (see 'annforge help')");
    }
  }
}

std::string Args::text(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

std::string Args::required(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) bad("'annforge " + command_ + "' needs --" + name);
  return it->second;
}

long long Args::integer(const std::string& name, long long fallback, long long min, long long max) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : parse_integer(name, it->second, min, max);
}

Device Args::device(const std::string& fallback) const {
  try {
    return parse_device(text("device", fallback));
  } catch (const Error& e) {
    bad(std::string("--device: ") + e.what());
  }
}

std::vector<long long> Args::integers(const std::string& name, const std::vector<long long>& fallback, long long min,
                                      long long max) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  std::vector<long long> out;
  size_t start = 0;
  const std::string& s = it->second;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    out.push_back(parse_integer(name, s.substr(start, comma - start), min, max));
    start = comma + 1;
  }
  return out;
}

}  // namespace annforge::cli
