// The build plan (annforge::plan_build; the CPU backend's host/cpu/memory_plan.*): its stages and
// peak are consistent, it grows with the data as the build does, a limit below its peak refuses,
// and its peak is within 15% of the resident peak a real build reaches (VmHWM, reset through
// /proc/self/clear_refs before the build), on generated data and on real data where present.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>

#include "annforge.hpp"
#include "tests/test_support.hpp"

namespace {

using namespace annforge;
using namespace annforge_test;

int64_t status_kib(const char* field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  const std::string key = std::string(field) + ":";
  while (std::getline(status, line)) {
    if (line.compare(0, key.size(), key) == 0) return std::strtoll(line.c_str() + key.size(), nullptr, 10);
  }
  return -1;
}

// The resident peak of `body` above the resident set before it, in bytes; -1 where the peak
// cannot be reset (no /proc/self/clear_refs).
template <typename Body>
double measured_peak(Body body) {
  malloc_trim(0);
  const int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  const bool reset = write(fd, "5", 1) == 1;
  close(fd);
  if (!reset) return -1;
  const int64_t before = status_kib("VmRSS");
  body();
  const int64_t peak = status_kib("VmHWM");
  if (before < 0 || peak < 0) return -1;
  return static_cast<double>(peak - before) * 1024.0;
}

BuildParams cpu_params(Metric metric = Metric::L2) {
  BuildParams params;
  params.metric = metric;
  params.device = Device::Cpu;
  params.threads = 2;
  return params;
}

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAddressSanitizer = true;
#else
constexpr bool kAddressSanitizer = false;
#endif
#else
constexpr bool kAddressSanitizer = false;
#endif

// Builds `data` and checks the plan's peak against the measured one. A small build first, once
// per process: what a process sets up once (the CUDA runtime's probe for a device in a build
// with the CUDA backend, thread-local buffers) is not a build's memory.
void expect_plan_near_peak(const Dataset& data, Metric metric, const std::string& what, int partitions = 0) {
  if (kAddressSanitizer) GTEST_SKIP() << "AddressSanitizer's shadow memory and quarantine are in the resident set";
  static const bool warm = [] {
    build(clustered(5000, 16, ElementType::Float32, 1), cpu_params());
    return true;
  }();
  (void)warm;
  BuildParams params = cpu_params(metric);
  params.partitions = partitions;
  const BuildPlan plan = plan_build(data.rows(), data.dim(), data.type(), params);
  Index index;
  const double peak = measured_peak([&] { index = build(data, params); });
  if (peak < 0) GTEST_SKIP() << "the resident peak cannot be reset here (/proc/self/clear_refs)";
  const double planned = static_cast<double>(plan.peak_host_bytes);
  std::printf("[ memory   ] %s: plan %.1f MiB, measured peak %.1f MiB (%+.1f%%)\n", what.c_str(), planned / 1048576,
              peak / 1048576, 100.0 * (planned - peak) / peak);
  EXPECT_NEAR(planned, peak, 0.15 * peak) << what;
  EXPECT_EQ(index.rows(), data.rows());
}

TEST(MemoryPlan, StagesPeakAndGrowth) {
  const BuildParams params = cpu_params();
  const BuildPlan plan = plan_build(1000000, 128, ElementType::UInt8, params);
  EXPECT_EQ(plan.backend, "cpu");
  EXPECT_EQ(plan.rows, 1000000);
  EXPECT_EQ(plan.graph_degree, 32);
  EXPECT_EQ(plan.intermediate_degree, 48);
  ASSERT_GE(plan.stages.size(), 6u);
  uint64_t largest = 0;
  double seconds = 0;
  for (const PlanStage& stage : plan.stages) {
    EXPECT_FALSE(stage.name.empty());
    EXPECT_EQ(stage.device_bytes, 0u) << stage.name;
    largest = std::max(largest, stage.host_bytes);
    seconds += stage.seconds;
  }
  EXPECT_EQ(plan.peak_host_bytes, largest);
  EXPECT_NEAR(seconds, plan.seconds, 0.05 * plan.seconds);
  EXPECT_GT(plan.seconds, 0.0);
  // At least the kNN lists (1M x 48 ids and distances) and the renumbered rows.
  EXPECT_GT(plan.peak_host_bytes, 1000000ull * (48 * 8 + 128));
  EXPECT_EQ(plan.input_bytes, 128000000u);
  EXPECT_GT(plan.index_bytes, 1000000ull * (128 + 32 * 4));
  EXPECT_TRUE(plan.fits);
  // Linear in rows; float rows hold 4x the bytes.
  const BuildPlan twice = plan_build(2000000, 128, ElementType::UInt8, params);
  EXPECT_NEAR(static_cast<double>(twice.peak_host_bytes), 2.0 * plan.peak_host_bytes, 0.05 * plan.peak_host_bytes);
  const BuildPlan floats = plan_build(1000000, 128, ElementType::Float32, params);
  EXPECT_GT(floats.peak_host_bytes, plan.peak_host_bytes + 1000000ull * 128 * 2);
  // A limit below the peak: refused, saying why; at the peak: fits.
  BuildParams one_piece = params;
  one_piece.partitions = 1;
  const BuildPlan tight = plan_build(1000000, 128, ElementType::UInt8, one_piece, plan.peak_host_bytes - 1);
  EXPECT_FALSE(tight.fits);
  EXPECT_NE(tight.refusal.find("host memory"), std::string::npos) << tight.refusal;
  EXPECT_TRUE(plan_build(1000000, 128, ElementType::UInt8, params, plan.peak_host_bytes).fits);
  // The build's own choice under that limit: pieces whose peak fits it, or a refusal.
  const BuildPlan chosen = plan_build(1000000, 128, ElementType::UInt8, params, plan.peak_host_bytes - 1);
  if (chosen.fits) {
    EXPECT_GT(chosen.partitions, 1);
    EXPECT_LT(chosen.peak_host_bytes, plan.peak_host_bytes);
  } else {
    EXPECT_NE(chosen.refusal.find("host memory"), std::string::npos) << chosen.refusal;
  }
  EXPECT_TRUE(throws_error([&] { plan_build(0, 128, ElementType::UInt8, params); }, ErrorCode::InvalidArgument, {"rows"}));
  BuildParams bad = params;
  bad.graph_degree = 0;
  EXPECT_TRUE(throws_error([&] { plan_build(100, 8, ElementType::UInt8, bad); }, ErrorCode::InvalidArgument, {"graph_degree"}));
}

TEST(MemoryPlan, NearTheMeasuredPeakOnGeneratedData) {
  expect_plan_near_peak(clustered(200000, 128, ElementType::UInt8, 3), Metric::L2, "200K x 128 uint8");
  expect_plan_near_peak(clustered(100000, 96, ElementType::Float32, 4), Metric::L2, "100K x 96 float32");
  expect_plan_near_peak(clustered(100000, 96, ElementType::Float32, 5), Metric::Cosine, "100K x 96 float32 cosine");
  expect_plan_near_peak(clustered(200000, 128, ElementType::UInt8, 3), Metric::L2, "200K x 128 uint8, 8 pieces", 8);
}

TEST(MemoryPlan, NearTheMeasuredPeakOnRealData) {
  const std::string sift = data_dir() + "/sift-vl-1m/base.bvecs";
  const std::string mnist = data_dir() + "/mnist/base.bvecs";
  if (!file_exists(sift) || !file_exists(mnist)) GTEST_SKIP() << "needs " << sift << " and " << mnist << " (scripts/data.sh)";
  expect_plan_near_peak(read_vectors(sift, 200000), Metric::L2, "sift-vl-1m, 200K rows");
  expect_plan_near_peak(read_vectors(mnist), Metric::L2, "mnist");
}

}  // namespace
