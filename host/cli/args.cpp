// Flag parsing for the annforge CLI on top of CLI11; CLI11's errors are rewritten into the CLI's
// one-line form ("--degree: expected a whole number, got 'abc'").
#include "host/cli/args.hpp"

#include <CLI/CLI.hpp>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <memory>

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

// CLI11's help layout with the command's own synopsis in place of "[OPTIONS]".
class Formatter : public CLI::Formatter {
 public:
  explicit Formatter(std::string usage) : usage_(std::move(usage)) {}
  std::string make_usage(const CLI::App*, std::string) const override { return "\nUsage: " + usage_ + "\n"; }

 private:
  std::string usage_;
};

// The CLI11 application for one command: every flag kept as text (annforge checks values itself,
// so that every message has the same form), -h / --help as CLI11's own.
struct Parser {
  CLI::App app;
  std::vector<std::string> values;
  std::vector<bool> switches;  // storage for switch flags (std::vector<bool> cannot be bound)
  std::vector<CLI::Option*> options;
  std::string positional;

  explicit Parser(const CommandSpec& spec)
      : app(spec.summary, "annforge " + spec.name), values(spec.flags.size()), switches(spec.flags.size()) {
    app.set_help_flag("-h,--help", "print this help and exit");
    app.formatter(std::make_shared<Formatter>("annforge " + spec.name + (spec.usage.empty() ? "" : " " + spec.usage)));
    app.get_formatter()->column_width(34);
    app.get_formatter()->label("REQUIRED", "(required)");
    app.footer(spec.notes);
    bool_storage.reset(new bool[spec.flags.size()]());
    for (size_t i = 0; i < spec.flags.size(); ++i) {
      const Flag& f = spec.flags[i];
      CLI::Option* option;
      if (f.value.empty()) {
        option = app.add_flag("--" + f.name, bool_storage[i], f.help);
      } else {
        option = app.add_option("--" + f.name, values[i], f.required ? f.help + " (required)" : f.help)->type_name(f.value);
        if (!f.fallback.empty()) option->default_str(f.fallback);
      }
      options.push_back(option);
    }
    if (!spec.positional.empty()) {
      app.add_option(spec.positional, positional, spec.positional_help)->type_name("");
    }
  }
  std::unique_ptr<bool[]> bool_storage;
};

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

}  // namespace

Args::Args(const CommandSpec& spec, int argc, char** argv)
    : spec_(spec), values_(spec.flags.size()), given_(spec.flags.size(), false) {
  Parser parser(spec);
  // CLI11 wants the program name first and parses from the back of the vector.
  std::vector<std::string> arguments;
  for (int i = argc - 1; i >= 0; --i) arguments.emplace_back(argv[i]);
  try {
    parser.app.parse(arguments);
  } catch (const CLI::CallForHelp&) {
    help_ = true;
    return;
  } catch (const CLI::ExtrasError&) {
    // The first argument CLI11 did not take: an unknown flag, or a stray positional value.
    std::string extra;
    for (const std::string& a : parser.app.remaining()) {
      extra = a;
      break;
    }
    if (extra.rfind("--", 0) == 0) {
      const std::string name = extra.substr(2, extra.find('=') == std::string::npos ? std::string::npos : extra.find('=') - 2);
      for (const Flag& f : spec.flags) {
        if (f.name == name && f.value.empty()) bad("--" + name + " takes no value");
      }
      bad("unknown flag --" + name + " for 'annforge " + spec.name + "' (see 'annforge " + spec.name + " --help')");
    }
    bad("unexpected argument '" + extra + "' for 'annforge " + spec.name + "' (see 'annforge " + spec.name + " --help')");
  } catch (const CLI::ArgumentMismatch& e) {
    // "--degree: 1 required N missing": a flag given without its value.
    const std::string message = e.what();
    bad(message.substr(0, message.find(':')) + " needs a value");
  } catch (const CLI::ParseError& e) {
    bad(first_line(e.what()) + " (see 'annforge " + spec.name + " --help')");
  }
  for (size_t i = 0; i < spec.flags.size(); ++i) {
    const Flag& f = spec.flags[i];
    if (f.value.empty()) {
      given_[i] = parser.bool_storage[i];
      if (given_[i]) values_[i] = "1";
    } else {
      given_[i] = parser.options[i]->count() > 0;
      values_[i] = given_[i] ? parser.values[i] : f.fallback;
    }
  }
  positional_ = parser.positional;
  for (size_t i = 0; i < spec.flags.size(); ++i) {
    if (spec.flags[i].required && (!given_[i] || values_[i].empty())) {
      bad("'annforge " + spec.name + "' needs --" + spec.flags[i].name);
    }
  }
}

const Flag& Args::flag(const std::string& name) const {
  for (const Flag& f : spec_.flags) {
    if (f.name == name) return f;
  }
  throw Error(ErrorCode::Internal, "annforge " + spec_.name + ": no flag --" + name + " is declared");
}

bool Args::has(const std::string& name) const {
  const Flag& f = flag(name);
  return given_[&f - spec_.flags.data()];
}

std::string Args::text(const std::string& name) const {
  const Flag& f = flag(name);
  return values_[&f - spec_.flags.data()];
}

long long Args::integer(const std::string& name, long long min, long long max) const {
  return parse_integer(name, text(name), min, max);
}

double Args::number(const std::string& name, double min, double max) const {
  const std::string value = text(name);
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(value.c_str(), &end);
  if (value.empty() || *end != '\0' || errno != 0 || !std::isfinite(v)) bad("--" + name + ": expected a number, got '" + value + "'");
  if (v < min || v > max) bad("--" + name + ": " + value + " is out of range [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  return v;
}

Device Args::device() const {
  try {
    return parse_device(text("device"));
  } catch (const Error& e) {
    bad(std::string("--device: ") + e.what());
  }
}

std::vector<long long> Args::integers(const std::string& name, long long min, long long max) const {
  std::vector<long long> out;
  size_t start = 0;
  const std::string s = text(name);
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    out.push_back(parse_integer(name, s.substr(start, comma - start), min, max));
    start = comma + 1;
  }
  return out;
}

Flag json_flag(const char* help) { return {"json", "", "", help}; }

Flag threads_flag(const char* help) { return {"threads", "N", "0", help}; }

Flag device_flag() { return {"device", "auto|cpu|gpu", "auto", "backend; auto: the GPU where one is usable"}; }

std::string help_text(const CommandSpec& spec) {
  Parser parser(spec);
  return parser.app.help();
}

}  // namespace annforge::cli
