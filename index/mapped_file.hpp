// A read-only memory map of a whole file, and a writer that only becomes visible under its
// final name once it is complete and on disk (unique temporary name, fsync, rename, fsync of
// the directory).
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

// Writes `path` all or nothing. The bytes go to a temporary file beside it, named uniquely per
// writer (`PATH.tmp.<pid>.<sequence>.<random>`), created exclusively and held under an
// exclusive flock() for the writer's whole life. commit() flushes and fsyncs the file, renames
// it over `path` and fsyncs the directory, so after a crash `path` holds either the old file or
// the whole new one. A writer that died (kill -9, power loss) leaves its temporary behind;
// the next writer of the same path removes every `PATH.tmp.*` whose lock it can take, which is
// never a live writer's (the kernel drops a lock only when its holder closes it or dies).
class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(const std::string& path);
  ~AtomicFileWriter();  // removes the temporary file unless commit() ran
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
  void write(const void* data, size_t bytes);
  // Reserves the next `bytes` of the file for write_at() and moves past them; returns their
  // offset. write_at() may then run on several threads at once (pwrite), each on its own part.
  uint64_t reserve(uint64_t bytes);
  void write_at(uint64_t offset, const void* data, size_t bytes);
  void commit();  // flush, fsync, rename over `path`, fsync the directory

  const std::string& temp_path() const { return temp_path_; }

 private:
  std::string path_;
  std::string temp_path_;
  static constexpr size_t kWriteBufferBytes = size_t{4} << 20;
  std::unique_ptr<char[]> buffer_;  // stdio's buffer for file_ (outlives it: closed first)
  std::FILE* file_ = nullptr;
  uint64_t written_ = 0;  // bytes handed to write()
  uint64_t flushed_ = 0;  // ... of which the kernel was asked to start writing back
};

// Removes the temporaries that dead writers of `path` left behind (see AtomicFileWriter);
// returns how many it removed. Called by every AtomicFileWriter before it creates its own.
int remove_stale_temporaries(const std::string& path);

}  // namespace annforge::detail
