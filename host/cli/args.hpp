// Command-line flags, parsed by CLI11 from each command's declared list (its CommandSpec): a
// flag's meaning and default are written once, where the command declares it, and serve both
// the parse and `annforge help COMMAND`. Errors are one line naming the flag and the bad value.
#pragma once

#include <string>
#include <vector>

#include "annforge.hpp"

namespace annforge::cli {

struct Flag {
  std::string name;      // without the leading "--"
  std::string value;     // the value's placeholder in help ("N", "FILE"); empty for a switch
  std::string fallback;  // the value when the flag is absent ("" : none, or computed; say so in help)
  std::string help;
  bool required = false;
};

struct CommandSpec {
  std::string name;     // "build"
  std::string summary;  // one line for `annforge help`
  std::string usage;    // the synopsis line after "annforge NAME"
  std::vector<Flag> flags;
  std::string positional;       // the placeholder of one optional positional argument ("" : none)
  std::string positional_help;
  std::string notes;            // text after the flags (file formats, examples)
};

class Args {
 public:
  // argv after the command name. Throws InvalidArgument on an unknown flag, a missing value or
  // a missing required flag; sets help_requested() for -h / --help (nothing else is checked then).
  Args(const CommandSpec& spec, int argc, char** argv);

  bool help_requested() const { return help_; }
  bool has(const std::string& name) const;
  // The given value, else the declared fallback.
  std::string text(const std::string& name) const;
  long long integer(const std::string& name, long long min, long long max) const;
  double number(const std::string& name, double min, double max) const;
  std::vector<long long> integers(const std::string& name, long long min, long long max) const;  // "64,128"
  Device device() const;  // --device auto|cpu|gpu; a bad value is an error naming the flag
  const std::string& positional() const { return positional_; }

 private:
  const Flag& flag(const std::string& name) const;

  const CommandSpec& spec_;
  std::vector<std::string> values_;  // per spec_.flags entry
  std::vector<bool> given_;
  std::string positional_;
  bool help_ = false;
};

// The flags several commands share, declared once.
Flag json_flag(const char* help = "print one JSON object instead of text");
Flag threads_flag(const char* help = "CPU threads; 0: all");
Flag device_flag();  // --device auto|cpu|gpu, default auto

// `annforge help COMMAND` / `annforge COMMAND --help`: the synopsis, every flag with its meaning
// and default, and the command's notes.
std::string help_text(const CommandSpec& spec);

}  // namespace annforge::cli
