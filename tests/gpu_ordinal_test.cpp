// Which GPU a process takes (host/gpu_ordinal.hpp): ANNFORGE_GPU_DEVICE first, refused when it
// names no device; else the launcher's local rank modulo the devices, so ranks sharing a node
// spread over its GPUs; else device 0.
#include <gtest/gtest.h>

#include <cstdlib>

#include "host/gpu_ordinal.hpp"
#include "tests/test_support.hpp"

namespace {

using annforge::detail::choose_gpu_ordinal;

// Sets or clears variables for one test and restores them after.
class Environment {
 public:
  void set(const char* name, const char* value) {
    const char* old = std::getenv(name);
    saved_.push_back({name, old ? old : "", old != nullptr});
    if (value) setenv(name, value, 1);
    else unsetenv(name);
  }
  ~Environment() {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
      if (it->had) setenv(it->name.c_str(), it->value.c_str(), 1);
      else unsetenv(it->name.c_str());
    }
  }

 private:
  struct Saved {
    std::string name, value;
    bool had;
  };
  std::vector<Saved> saved_;
};

void clear_all(Environment& env) {
  for (const char* name : {"ANNFORGE_GPU_DEVICE", "OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "PMI_LOCAL_RANK",
                           "SLURM_LOCALID"}) {
    env.set(name, nullptr);
  }
}

TEST(GpuOrdinal, FirstDeviceWithoutLauncherOrChoice) {
  Environment env;
  clear_all(env);
  EXPECT_EQ(choose_gpu_ordinal(1), 0);
  EXPECT_EQ(choose_gpu_ordinal(8), 0);
}

TEST(GpuOrdinal, LocalRankSpreadsOverTheDevices) {
  Environment env;
  clear_all(env);
  env.set("OMPI_COMM_WORLD_LOCAL_RANK", "5");
  EXPECT_EQ(choose_gpu_ordinal(8), 5);
  EXPECT_EQ(choose_gpu_ordinal(4), 1);
  EXPECT_EQ(choose_gpu_ordinal(1), 0);
  env.set("OMPI_COMM_WORLD_LOCAL_RANK", nullptr);
  env.set("SLURM_LOCALID", "3");
  EXPECT_EQ(choose_gpu_ordinal(2), 1);
  env.set("SLURM_LOCALID", "x");  // not a number: ignored
  EXPECT_EQ(choose_gpu_ordinal(2), 0);
}

TEST(GpuOrdinal, ExplicitChoiceWinsAndIsChecked) {
  Environment env;
  clear_all(env);
  env.set("OMPI_COMM_WORLD_LOCAL_RANK", "1");
  env.set("ANNFORGE_GPU_DEVICE", "2");
  EXPECT_EQ(choose_gpu_ordinal(4), 2);
  EXPECT_TRUE(annforge_test::throws_error([] { choose_gpu_ordinal(2); }, annforge::ErrorCode::InvalidArgument,
                                          {"ANNFORGE_GPU_DEVICE=2", "2 CUDA device(s)"}));
  env.set("ANNFORGE_GPU_DEVICE", "-1");
  EXPECT_TRUE(annforge_test::throws_error([] { choose_gpu_ordinal(2); }, annforge::ErrorCode::InvalidArgument,
                                          {"ANNFORGE_GPU_DEVICE=-1"}));
  env.set("ANNFORGE_GPU_DEVICE", "one");
  EXPECT_TRUE(annforge_test::throws_error([] { choose_gpu_ordinal(2); }, annforge::ErrorCode::InvalidArgument,
                                          {"ANNFORGE_GPU_DEVICE=one"}));
}

}  // namespace
