// A read-only memory map of a whole file, and a writer that only becomes visible under its
// final name once it is complete (temporary name + rename).
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

namespace annforge::detail {

class MappedFile {
 public:
  // Throws Error(Io) naming the path when the file is missing or unreadable.
  static std::shared_ptr<MappedFile> open(const std::string& path);
  ~MappedFile();
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile() = default;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(const std::string& path);
  ~AtomicFileWriter();  // removes the temporary file unless commit() ran
  void write(const void* data, size_t bytes);
  void commit();  // flush, close, rename over `path`

 private:
  std::string path_;
  std::string temp_path_;
  std::FILE* file_ = nullptr;
};

}  // namespace annforge::detail
