// Durable, tidy saves (index/mapped_file.hpp, AtomicFileWriter): temporary names unique per
// call, so concurrent saves to one path never collide; a writer killed during its write leaves
// a temporary that the next save to the same path removes; a live writer's temporary is never
// removed; and the legacy PATH.tmp.<pid> of a dead process is removed too.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "annforge.hpp"
#include "annforge_c.h"
#include "index/mapped_file.hpp"
#include "tests/test_support.hpp"

namespace {

using namespace annforge;
using namespace annforge_test;

std::vector<std::string> temporaries_in(const std::string& dir) {
  std::vector<std::string> found;
  for (const std::string& name : list_dir(dir)) {
    if (name.find(".tmp.") != std::string::npos) found.push_back(name);
  }
  return found;
}

Dataset tiny_data() { return clustered(400, 8, ElementType::Float32, 5); }

// Two threads saving one C handle to one path, as annforge_c.h allows: every save succeeds and
// the file left behind is a whole index. (The per-process temporary name made 13 of 400 fail.)
TEST(AtomicWrite, ConcurrentSavesOfOneHandleToOnePathAllSucceed) {
  TempDir dir;
  const Dataset data = tiny_data();
  annforge_build_params params;
  annforge_build_params_default(&params);
  params.device = ANNFORGE_DEVICE_CPU;
  annforge_index* handle = nullptr;
  ASSERT_EQ(annforge_build(data.view().data, data.rows(), data.dim(), ANNFORGE_DTYPE_FLOAT32, &params, &handle), ANNFORGE_OK)
      << annforge_last_error();
  const std::string path = dir.file("shared.afi");
  std::atomic<int> failures{0};
  std::vector<std::string> first_error(2);
  auto saver = [&](int t) {
    for (int i = 0; i < 200; ++i) {
      if (annforge_save(handle, path.c_str()) != ANNFORGE_OK) {
        if (failures.fetch_add(1) == 0) first_error[t] = annforge_last_error();
      }
    }
  };
  std::thread a(saver, 0), b(saver, 1);
  a.join();
  b.join();
  EXPECT_EQ(failures.load(), 0) << first_error[0] << first_error[1];
  EXPECT_EQ(list_dir(dir.path()), std::vector<std::string>{"shared.afi"});
  const Index loaded = load(path);
  EXPECT_EQ(loaded.rows(), data.rows());
  annforge_free(handle);
}

// Two writers of one path open at once get different temporaries, and both commit.
TEST(AtomicWrite, TemporaryNamesAreUniquePerWriter) {
  TempDir dir;
  const std::string path = dir.file("out.bin");
  detail::AtomicFileWriter first(path);
  detail::AtomicFileWriter second(path);
  EXPECT_NE(first.temp_path(), second.temp_path());
  EXPECT_EQ(temporaries_in(dir.path()).size(), 2u);
  first.write("one", 3);
  second.write("two", 3);
  first.commit();
  second.commit();
  EXPECT_EQ(read_bytes(path), (std::vector<uint8_t>{'t', 'w', 'o'}));
  EXPECT_TRUE(temporaries_in(dir.path()).empty());
}

// A reserved range filled by write_at() from several threads, between sequential writes large
// enough to start the early writeback: the file holds every byte where it belongs.
TEST(AtomicWrite, ReservedRangeFilledFromThreadsLandsInPlace) {
  TempDir dir;
  const std::string path = dir.file("out.bin");
  std::vector<uint8_t> expected;
  auto pattern = [](size_t n, uint8_t seed) {
    std::vector<uint8_t> bytes(n);
    for (size_t i = 0; i < n; ++i) bytes[i] = static_cast<uint8_t>(seed + i * 7 + (i >> 9));
    return bytes;
  };
  detail::AtomicFileWriter out(path);
  const std::vector<uint8_t> head = pattern((size_t{65} << 20) + 3, 1);  // past the 64 MiB writeback step
  out.write(head.data(), head.size());
  expected.insert(expected.end(), head.begin(), head.end());
  constexpr size_t kPart = 300001;
  constexpr int kParts = 8;
  const uint64_t at = out.reserve(kPart * kParts);
  EXPECT_EQ(at, head.size());
  std::vector<std::vector<uint8_t>> parts;
  for (int p = 0; p < kParts; ++p) parts.push_back(pattern(kPart, static_cast<uint8_t>(40 + p)));
  std::vector<std::thread> writers;
  for (int t = 0; t < 2; ++t) {
    writers.emplace_back([&, t] {
      for (int p = kParts - 1 - t; p >= 0; p -= 2) out.write_at(at + p * kPart, parts[p].data(), kPart);
    });
  }
  for (std::thread& w : writers) w.join();
  for (const std::vector<uint8_t>& part : parts) expected.insert(expected.end(), part.begin(), part.end());
  const std::vector<uint8_t> tail = pattern(1000, 99);
  out.write(tail.data(), tail.size());
  expected.insert(expected.end(), tail.begin(), tail.end());
  out.commit();
  EXPECT_TRUE(read_bytes(path) == expected);
  EXPECT_TRUE(temporaries_in(dir.path()).empty());
}

// A save killed during its write (SIGKILL: no destructor, no clean-up) leaves its temporary;
// the next save to the same path removes it.
TEST(AtomicWrite, KilledWritersTemporaryIsRemovedByTheNextSave) {
  TempDir dir;
  const std::string path = dir.file("index.afi");
  const Index index = build(tiny_data(), BuildParams{});
  save(index, path);
  const std::vector<uint8_t> saved = read_bytes(path);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    detail::AtomicFileWriter writer(path);
    std::vector<uint8_t> half(saved.begin(), saved.begin() + saved.size() / 2);
    writer.write(half.data(), half.size());
    std::fflush(nullptr);
    ::raise(SIGKILL);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  ASSERT_EQ(temporaries_in(dir.path()).size(), 1u) << "the killed writer's temporary is left behind";
  EXPECT_EQ(read_bytes(path), saved) << "the old index is intact";

  save(index, path);
  EXPECT_EQ(list_dir(dir.path()), std::vector<std::string>{"index.afi"});
  EXPECT_EQ(read_bytes(path), saved);
}

// A live writer's temporary (here: one still open in this process) survives other saves to the
// same path, and its own commit still lands.
TEST(AtomicWrite, LiveWritersTemporaryIsNeverRemoved) {
  TempDir dir;
  const std::string path = dir.file("index.afi");
  const Index index = build(tiny_data(), BuildParams{});
  detail::AtomicFileWriter live(path);
  live.write("partial", 7);
  for (int i = 0; i < 3; ++i) save(index, path);
  ASSERT_TRUE(file_exists(live.temp_path()));
  EXPECT_EQ(detail::remove_stale_temporaries(path), 0);
  EXPECT_TRUE(file_exists(live.temp_path()));
  live.commit();
  EXPECT_EQ(read_bytes(path), (std::vector<uint8_t>{'p', 'a', 'r', 't', 'i', 'a', 'l'}));
  EXPECT_TRUE(temporaries_in(dir.path()).empty());
}

// Temporaries of other files in the folder are not touched; a legacy PATH.tmp.<pid> is removed
// once its process is gone, and kept while it lives.
TEST(AtomicWrite, CleanUpTouchesOnlyThisPathsDeadWriters) {
  TempDir dir;
  const std::string path = dir.file("index.afi");
  write_bytes(dir.file("other.afi.tmp.1.2.3"), std::string("not ours"));
  write_bytes(path + ".tmpfile", std::string("not a temporary of ours"));
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);  // a pid that no process has now
  write_bytes(path + ".tmp." + std::to_string(child), std::string("dead legacy writer"));
  write_bytes(path + ".tmp." + std::to_string(::getpid()), std::string("live legacy writer"));
  EXPECT_EQ(detail::remove_stale_temporaries(path), 1);
  EXPECT_EQ(list_dir(dir.path()),
            (std::vector<std::string>{"index.afi.tmp." + std::to_string(::getpid()), "index.afi.tmpfile",
                                      "other.afi.tmp.1.2.3"}));
}

}  // namespace
