// A flat JSON object written in insertion order; enough for the CLI's one-object reports.
#pragma once

#include <cmath>
#include <cstdio>
#include <string>

namespace annforge::cli {

class JsonObject {
 public:
  JsonObject& add(const std::string& key, const std::string& value) { return raw(key, quote(value)); }
  JsonObject& add(const std::string& key, const char* value) { return raw(key, quote(value)); }
  JsonObject& add(const std::string& key, double value) {
    char buffer[64];
    if (!std::isfinite(value)) return raw(key, "null");
    std::snprintf(buffer, sizeof buffer, "%.6g", value);
    return raw(key, buffer);
  }
  JsonObject& add(const std::string& key, long long value) { return raw(key, std::to_string(value)); }
  JsonObject& add(const std::string& key, int value) { return raw(key, std::to_string(value)); }
  JsonObject& add(const std::string& key, long value) { return raw(key, std::to_string(value)); }
  JsonObject& add(const std::string& key, bool value) { return raw(key, value ? "true" : "false"); }
  JsonObject& raw(const std::string& key, const std::string& json) {
    body_ += (body_.empty() ? "" : ", ") + quote(key) + ": " + json;
    return *this;
  }
  std::string str() const { return "{" + body_ + "}"; }

  static std::string quote(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
      if (c == '"' || c == '\\') out += '\\', out += c;
      else if (static_cast<unsigned char>(c) < 0x20) {
        char buffer[8];
        std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
        out += buffer;
      } else out += c;
    }
    return out + "\"";
  }

 private:
  std::string body_;
};

}  // namespace annforge::cli
