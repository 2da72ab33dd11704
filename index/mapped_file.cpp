// Memory-mapped reading and all-or-nothing, durable writing of files.
#include "mapped_file.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <random>

#include "annforge.hpp"

namespace annforge::detail {
namespace {

// The directory that holds `path`, and the file's own name in it.
std::string directory_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return std::string(".");
  return slash == 0 ? std::string("/") : path.substr(0, slash);
}
std::string name_in_directory(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool all_digits(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Temporaries of annforge before 0.1 were named PATH.tmp.<pid> and held no lock: one of those
// is stale only once its process is gone.
bool legacy_writer_alive(const std::string& suffix) {
  if (!all_digits(suffix) || suffix.size() > 9) return false;
  const pid_t pid = static_cast<pid_t>(std::atoi(suffix.c_str()));
  return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM);
}

// Unique per call, not per process: two threads (or two processes in different PID namespaces
// sharing a file system) never pick the same name, and O_EXCL makes sure of it.
std::string temporary_name(const std::string& path) {
  static std::atomic<uint64_t> sequence{0};
  thread_local std::mt19937_64 random{std::random_device{}() ^ (uint64_t(::getpid()) << 32)};
  return path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(sequence.fetch_add(1)) + "." +
         std::to_string(random() & 0xFFFFFFFFu);
}

void fsync_directory_of(const std::string& path) {
  const std::string dir = directory_of(path);
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // a directory we cannot open cannot be synced either; the rename stands
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

std::shared_ptr<MappedFile> MappedFile::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(ErrorCode::Io, path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(ErrorCode::Io, path + ": not a regular file");
  }
  std::shared_ptr<MappedFile> file(new MappedFile());
  file->path_ = path;
  file->size_ = static_cast<size_t>(st.st_size);
  if (file->size_ > 0) {
    void* p = ::mmap(nullptr, file->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      throw Error(ErrorCode::Io, path + ": cannot map: " + std::strerror(err));
    }
    ::madvise(p, file->size_, MADV_WILLNEED);
    file->data_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);
  return file;
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

int remove_stale_temporaries(const std::string& path) {
  const std::string dir = directory_of(path);
  const std::string prefix = name_in_directory(path) + ".tmp.";
  DIR* listing = ::opendir(dir.c_str());
  if (!listing) return 0;  // an unreadable directory: nothing to tidy, and the save may still work
  int removed = 0;
  while (const dirent* entry = ::readdir(listing)) {
    const std::string entry_name = entry->d_name;
    if (entry_name.size() <= prefix.size() || entry_name.compare(0, prefix.size(), prefix) != 0) continue;
    if (legacy_writer_alive(entry_name.substr(prefix.size()))) continue;
    const std::string candidate = dir + "/" + entry_name;
    int fd = ::open(candidate.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) continue;
    // A live writer holds its lock from creation to rename; taking it means the writer is gone.
    struct stat opened {}, named {};
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0 && ::fstat(fd, &opened) == 0 && S_ISREG(opened.st_mode) &&
        ::lstat(candidate.c_str(), &named) == 0 && named.st_dev == opened.st_dev && named.st_ino == opened.st_ino) {
      if (::unlink(candidate.c_str()) == 0) ++removed;
    }
    ::close(fd);  // drops the lock
  }
  ::closedir(listing);
  return removed;
}

AtomicFileWriter::AtomicFileWriter(const std::string& path) : path_(path) {
  remove_stale_temporaries(path);
  for (int attempt = 0;; ++attempt) {
    temp_path_ = temporary_name(path);
    int fd = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) {
      if (errno == EEXIST && attempt < 8) continue;
      throw Error(ErrorCode::Io, path + ": cannot create: " + std::strerror(errno));
    }
    // Between open() and flock() another writer's clean-up may take the lock of this brand-new
    // file and unlink it: then the file has no name any more, and a fresh one is made.
    struct stat st {};
    if (::flock(fd, LOCK_EX) != 0 || ::fstat(fd, &st) != 0 || st.st_nlink == 0) {
      ::close(fd);
      if (attempt < 8) continue;
      throw Error(ErrorCode::Io, path + ": cannot lock the temporary file " + temp_path_);
    }
    file_ = ::fdopen(fd, "wb");
    if (!file_) {
      int err = errno;
      ::unlink(temp_path_.c_str());
      ::close(fd);
      throw Error(ErrorCode::Io, path + ": cannot create: " + std::strerror(err));
    }
    // Writes of whole 4 MiB blocks: with stdio's 4 KiB buffer, an index whose rows lie apart in
    // a .fvecs file (written a row at a time) went out as 250,000 writes of 4 KiB at offsets off
    // the page grid, and ext4 zeroed each new page's uncovered part first: 1.7 s of kernel
    // memset to save 1M x 256 floats (AMD EPYC Zen 4 VM, 2026-12-07). The buffer is freed with
    // the writer (a failure only keeps stdio's default).
    buffer_ = std::make_unique<char[]>(kWriteBufferBytes);
    std::setvbuf(file_, buffer_.get(), _IOFBF, kWriteBufferBytes);
    return;
  }
}

AtomicFileWriter::~AtomicFileWriter() {
  if (file_) {
    ::unlink(temp_path_.c_str());  // while the lock is still held
    std::fclose(file_);
  }
}

void AtomicFileWriter::write(const void* data, size_t bytes) {
  if (bytes > 0 && std::fwrite(data, 1, bytes, file_) != bytes) {
    throw Error(ErrorCode::Io, path_ + ": write failed: " + std::strerror(errno));
  }
  written_ += bytes;
#ifdef SYNC_FILE_RANGE_WRITE
  // Every 64 MiB, the disk starts on what is written while the rest is computed, so that
  // commit()'s fsync waits for the tail only (a 729 MB hnswlib export of 1M SIFT: the fsync
  // alone took 0.37-0.57 s after the last write). Best effort: commit() still fsyncs all.
  constexpr uint64_t kWritebackChunk = uint64_t{64} << 20;
  if (written_ - flushed_ >= kWritebackChunk && std::fflush(file_) == 0) {
    ::sync_file_range(::fileno(file_), static_cast<off_t>(flushed_), static_cast<off_t>(written_ - flushed_),
                      SYNC_FILE_RANGE_WRITE);
    flushed_ = written_;
  }
#endif
}

uint64_t AtomicFileWriter::reserve(uint64_t bytes) {
  if (std::fflush(file_) != 0 || ::fseeko(file_, static_cast<off_t>(written_ + bytes), SEEK_SET) != 0) {
    throw Error(ErrorCode::Io, path_ + ": write failed: " + std::strerror(errno));
  }
  const uint64_t offset = written_;
  written_ += bytes;
  flushed_ = written_;  // write_at() starts the writeback of its own parts
  return offset;
}

void AtomicFileWriter::write_at(uint64_t offset, const void* data, size_t bytes) {
  const char* from = static_cast<const char*>(data);
  for (size_t done = 0; done < bytes;) {
    const ssize_t n = ::pwrite(::fileno(file_), from + done, bytes - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw Error(ErrorCode::Io, path_ + ": write failed: " + std::strerror(n < 0 ? errno : EIO));
    done += static_cast<size_t>(n);
  }
#ifdef SYNC_FILE_RANGE_WRITE
  ::sync_file_range(::fileno(file_), static_cast<off_t>(offset), static_cast<off_t>(bytes), SYNC_FILE_RANGE_WRITE);
#endif
}

void AtomicFileWriter::commit() {
  // The data must be on disk before the rename is: otherwise a crash right after the rename
  // can leave an empty or partial file under the final name.
  bool ok = std::fflush(file_) == 0 && ::fsync(::fileno(file_)) == 0;
  int err = errno;
  if (ok && std::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    ok = false;
    err = errno;
  }
  if (!ok) {
    ::unlink(temp_path_.c_str());
    std::fclose(file_);
    file_ = nullptr;
    throw Error(ErrorCode::Io, path_ + ": cannot finish writing: " + std::strerror(err));
  }
  // The lock is dropped only after the rename, so no clean-up can remove the finished file.
  const bool closed = std::fclose(file_) == 0;
  err = errno;
  file_ = nullptr;
  fsync_directory_of(path_);
  if (!closed) throw Error(ErrorCode::Io, path_ + ": cannot finish writing: " + std::strerror(err));
}

}  // namespace annforge::detail
