// The search's bf16 walk (host/cpu/search/approximate_rows.hpp), where the CPU has AVX-512: on
// float data of each metric (L2 far from the origin, which only the centring keeps accurate;
// cosine; inner product) its recall against exact neighbours is the fp32 walk's within 0.01,
// and what it returns are exact distances, sorted, for the ids it returns. Both walks run in
// one process: ANNFORGE_CPU_SEARCH_BF16=0 switches the bf16 one off per call.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>

#include "annforge.hpp"
#include "host/cpu/distance/distance.hpp"
#include "host/cpu/search/approximate_rows.hpp"
#include "tests/test_support.hpp"

namespace {

using namespace annforge;
using annforge_test::params_for;
using annforge_test::recall;
using annforge_test::search_params;

// Sets ANNFORGE_CPU_SEARCH_BF16 for one scope.
class Bf16Search {
 public:
  explicit Bf16Search(bool on) { ::setenv("ANNFORGE_CPU_SEARCH_BF16", on ? "1" : "0", 1); }
  ~Bf16Search() { ::unsetenv("ANNFORGE_CPU_SEARCH_BF16"); }
};

TEST(ApproximateSearch, KeepsTheFp32WalksRecallAndReturnsExactDistances) {
  Dataset probe = annforge_test::clustered(10, 8, ElementType::Float32, 1);
  if (!cpu::approximate_rows_usable(probe.view())) {
    GTEST_SKIP() << "no AVX-512 here (or ANNFORGE_CPU_SEARCH_BF16=0): searches walk the fp32 rows";
  }
  for (Metric metric : {Metric::L2, Metric::Cosine, Metric::InnerProduct}) {
    Dataset data = annforge_test::clustered(8000, 96, ElementType::Float32, 31, 1, 24);
    Dataset queries = annforge_test::clustered(300, 96, ElementType::Float32, 31, 2, 24);
    if (metric == Metric::L2) {
      for (Dataset* d : {&data, &queries}) {
        float* x = static_cast<float*>(d->mutable_data());
        for (int64_t i = 0; i < d->rows() * 96; ++i) x[i] += 100.0f;
      }
    }
    const Index index = build(data, params_for(metric, BuildAlgorithm::Auto, 32, Device::Cpu));
    const Neighbors truth = exact_knn(data.view(), queries.view(), 10, metric);
    const cpu::Distance distance(metric, data.view());
    for (int beam : {16, 64}) {
      Neighbors exact_walk, bf16_walk;
      {
        Bf16Search off(false);
        exact_walk = search(index, queries.view(), 10, search_params(beam, Device::Cpu));
      }
      {
        Bf16Search on(true);
        bf16_walk = search(index, queries.view(), 10, search_params(beam, Device::Cpu));
      }
      const std::string what = std::string(to_string(metric)) + ", beam " + std::to_string(beam);
      const double exact_recall = recall(exact_walk, truth, 10), bf16_recall = recall(bf16_walk, truth, 10);
      EXPECT_GE(bf16_recall, exact_recall - 0.01) << what;
      EXPECT_GE(bf16_recall, beam == 16 ? 0.8 : 0.9) << what;
      for (int64_t q = 0; q < queries.rows(); ++q) {
        for (int j = 0; j < 10; ++j) {
          const uint32_t id = bf16_walk.ids[q * 10 + j];
          ASSERT_LT(id, data.rows()) << what;
          const float got = bf16_walk.distances[q * 10 + j];
          const float want = distance.to_query(queries.view().row(q), distance.query_inverse_norm(queries.view().row(q)), id);
          ASSERT_NEAR(got, want, 1e-5 * std::fabs(want) + 1e-5) << what << ", query " << q << " slot " << j;
          if (j > 0) ASSERT_LE(bf16_walk.distances[q * 10 + j - 1], got) << what << ": unsorted, query " << q;
        }
      }
    }
  }
}

// A value of the switch other than 0 or 1 is refused with its name, not read as "on".
TEST(ApproximateSearch, BadSwitchValueIsRefused) {
  const Dataset data = annforge_test::clustered(500, 16, ElementType::Float32, 3);
  const Index index = build(data, params_for(Metric::L2, BuildAlgorithm::Auto, 16, Device::Cpu));
  ::setenv("ANNFORGE_CPU_SEARCH_BF16", "off", 1);
  try {
    (void)search(index, data.view(), 10, search_params(32, Device::Cpu));
    ADD_FAILURE() << "ANNFORGE_CPU_SEARCH_BF16=off was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("ANNFORGE_CPU_SEARCH_BF16=off"), std::string::npos) << e.what();
  }
  ::unsetenv("ANNFORGE_CPU_SEARCH_BF16");
}

// The CPU backend keeps what searches reuse (the bf16 rows, cosine's inverse norms) for one
// index at a time: searches alternating between two indexes of the same shape each get their
// own index's answer, the same as the first time.
TEST(ApproximateSearch, ReusedCopiesBelongToTheIndexSearched) {
  for (Metric metric : {Metric::Cosine, Metric::L2}) {
    const Dataset a = annforge_test::clustered(3000, 32, ElementType::Float32, 41, 1, 8);
    const Dataset b = annforge_test::clustered(3000, 32, ElementType::Float32, 43, 1, 8);
    const Dataset queries = annforge_test::clustered(100, 32, ElementType::Float32, 41, 2, 8);
    const Index index_a = build(a, params_for(metric, BuildAlgorithm::Auto, 16, Device::Cpu));
    const Index index_b = build(b, params_for(metric, BuildAlgorithm::Auto, 16, Device::Cpu));
    const Neighbors a1 = search(index_a, queries.view(), 10, search_params(32, Device::Cpu));
    const Neighbors b1 = search(index_b, queries.view(), 10, search_params(32, Device::Cpu));
    const Neighbors a2 = search(index_a, queries.view(), 10, search_params(32, Device::Cpu));
    const Neighbors b2 = search(index_b, queries.view(), 10, search_params(32, Device::Cpu));
    EXPECT_EQ(a1.ids, a2.ids) << to_string(metric);
    EXPECT_EQ(a1.distances, a2.distances) << to_string(metric);
    EXPECT_EQ(b1.ids, b2.ids) << to_string(metric);
    EXPECT_NE(a1.ids, b1.ids) << to_string(metric) << ": different data gave the same answer";
    EXPECT_GE(recall(a2, exact_knn(a.view(), queries.view(), 10, metric), 10), 0.9) << to_string(metric);
    EXPECT_GE(recall(b2, exact_knn(b.view(), queries.view(), 10, metric), 10), 0.9) << to_string(metric);
  }
}

}  // namespace
