// The search's approximate walks (host/cpu/search/approximate_rows.hpp: int8 codes and bf16),
// where the CPU has AVX-512 or AVX2 + FMA: on float data of each metric (L2 far from the origin, which only
// the centring keeps accurate; cosine; inner product) their recall against exact neighbours is
// the fp32 walk's within 0.01, and what they return are exact distances, sorted, for the ids
// they return; their distances are within each kind's rounding of the exact ones. All walks run
// in one process: ANNFORGE_CPU_SEARCH_BF16=0 switches the approximate rows off per call, and
// ANNFORGE_CPU_SEARCH_ROWS chooses their kind.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "annforge.hpp"
#include "host/cpu/distance/bf16.hpp"
#include "host/cpu/distance/distance.hpp"
#include "host/cpu/search/approximate_rows.hpp"
#include "tests/test_support.hpp"

namespace {

using namespace annforge;
using annforge_test::params_for;
using annforge_test::recall;
using annforge_test::search_params;

// Sets ANNFORGE_CPU_SEARCH_BF16 (and ANNFORGE_CPU_SEARCH_ROWS) for one scope.
class Bf16Search {
 public:
  explicit Bf16Search(bool on, const char* kind = "int8") {
    ::setenv("ANNFORGE_CPU_SEARCH_BF16", on ? "1" : "0", 1);
    ::setenv("ANNFORGE_CPU_SEARCH_ROWS", kind, 1);
  }
  ~Bf16Search() {
    ::unsetenv("ANNFORGE_CPU_SEARCH_BF16");
    ::unsetenv("ANNFORGE_CPU_SEARCH_ROWS");
  }
};

TEST(ApproximateSearch, KeepsTheFp32WalksRecallAndReturnsExactDistances) {
  Dataset probe = annforge_test::clustered(10, 32, ElementType::Float32, 1);
  if (!cpu::approximate_rows_usable(probe.view())) {
    GTEST_SKIP() << "neither AVX-512 nor AVX2 + FMA here (or ANNFORGE_CPU_SEARCH_BF16=0): searches walk the fp32 rows";
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
      Neighbors exact_walk;
      {
        Bf16Search off(false);
        exact_walk = search(index, queries.view(), 10, search_params(beam, Device::Cpu));
      }
      for (const char* kind : {"bf16", "int8"}) {
        Neighbors walk;
        {
          Bf16Search on(true, kind);
          walk = search(index, queries.view(), 10, search_params(beam, Device::Cpu));
        }
        const std::string what = std::string(to_string(metric)) + ", " + kind + ", beam " + std::to_string(beam);
        const double exact_recall = recall(exact_walk, truth, 10), walk_recall = recall(walk, truth, 10);
        EXPECT_GE(walk_recall, exact_recall - 0.01) << what;
        EXPECT_GE(walk_recall, beam == 16 ? 0.8 : 0.9) << what;
        for (int64_t q = 0; q < queries.rows(); ++q) {
          for (int j = 0; j < 10; ++j) {
            const uint32_t id = walk.ids[q * 10 + j];
            ASSERT_LT(id, data.rows()) << what;
            const float got = walk.distances[q * 10 + j];
            const float want =
                distance.to_query(queries.view().row(q), distance.query_inverse_norm(queries.view().row(q)), id);
            ASSERT_NEAR(got, want, 1e-5 * std::fabs(want) + 1e-5) << what << ", query " << q << " slot " << j;
            if (j > 0) ASSERT_LE(walk.distances[q * 10 + j - 1], got) << what << ": unsorted, query " << q;
          }
        }
      }
    }
  }
}

// The int8 rows' distances against exact ones, per metric: each code is within half a step of
// its value, so a dot moves by at most sum |q_d| scale_d / 2 and an L2 distance by at most
// sum (|q_d - x_d| + scale_d / 4) scale_d (the walk only ranks by them).
TEST(ApproximateSearch, Int8DistancesAreWithinHalfAStep) {
  Dataset probe = annforge_test::clustered(10, 32, ElementType::Float32, 1);
  if (!cpu::approximate_rows_usable(probe.view())) GTEST_SKIP() << "neither AVX-512 nor AVX2 + FMA here: no approximate rows";
  for (Metric metric : {Metric::L2, Metric::Cosine, Metric::InnerProduct}) {
    for (int dim : {5, 16, 50}) {
      Dataset data = annforge_test::clustered(300, dim, ElementType::Float32, 7, 1, 4);
      float* x = static_cast<float*>(data.mutable_data());
      if (metric == Metric::L2) {
        for (int64_t i = 0; i < data.rows() * dim; ++i) x[i] += 100.0f;  // only the centring saves these
      }
      const cpu::ApproximateRows rows =
          cpu::make_approximate_rows(data.view(), metric, 2, cpu::ApproximateKind::Int8);
      const cpu::Distance distance(metric, data.view());
      ASSERT_EQ(rows.row_bytes(), static_cast<size_t>(dim));
      std::vector<float> prepared(rows.prepared_size());
      std::vector<const void*> pointers;
      for (int64_t i = 0; i < data.rows(); ++i) pointers.push_back(rows.bytes() + i * rows.row_bytes());
      std::vector<float> got(data.rows());
      for (int64_t q = 0; q < 20; ++q) {
        const float* query = x + q * 7 * dim;
        const float inverse = distance.query_inverse_norm(query);
        cpu::prepare_query(rows, query, inverse, prepared.data());
        cpu::approximate_distances(rows, prepared.data(), pointers.data(), static_cast<int>(data.rows()), got.data());
        for (int64_t i = 0; i < data.rows(); ++i) {
          const float* row = x + i * dim;
          const float row_inverse = metric == Metric::Cosine ? distance.query_inverse_norm(row) : 1.0f;
          double want = 0.0, bound = 0.0;
          for (int d = 0; d < dim; ++d) {
            const double s = rows.scales[d];
            if (metric == Metric::L2) {
              want += (double{query[d]} - row[d]) * (double{query[d]} - row[d]);
              bound += (std::fabs(double{query[d]} - row[d]) + s / 4) * s;
            } else {
              const double qd = metric == Metric::Cosine ? query[d] * double{inverse} : query[d];
              want -= qd * row[d] * row_inverse;
              bound += std::fabs(qd) * s / 2;
            }
          }
          if (metric == Metric::Cosine) want += 1.0;
          ASSERT_NEAR(got[i], want, bound * 1.01 + 1e-4 * (std::fabs(want) + 1))
              << to_string(metric) << " dim " << dim << " query " << q << " row " << i;
        }
      }
    }
  }
}

// The AVX2 kernels (CPUs without AVX-512) against the dispatched ones, every kind, metric and a
// dimension count with and without a tail of dim % 8 and dim % 16: the same distances up to the
// order of the sums (so a CPU with AVX-512 checks the kernels that a Zen 3 would run).
TEST(ApproximateSearch, Avx2KernelsGiveTheDispatchedDistances) {
  if (!cpu::cpu_has_avx2_fma()) GTEST_SKIP() << "no AVX2 + FMA here (or ANNFORGE_SIMD=scalar): no AVX2 kernels";
  for (cpu::ApproximateKind kind : {cpu::ApproximateKind::Int8, cpu::ApproximateKind::Bf16}) {
    for (Metric metric : {Metric::L2, Metric::Cosine, Metric::InnerProduct}) {
      for (int dim : {17, 24, 50, 96}) {
        const Dataset data = annforge_test::clustered(203, dim, ElementType::Float32, 11, 1, 4);
        const cpu::ApproximateRows rows = cpu::make_approximate_rows(data.view(), metric, 2, kind);
        const cpu::Distance distance(metric, data.view());
        std::vector<float> prepared(rows.prepared_size());
        std::vector<const void*> pointers;
        for (int64_t i = 0; i < data.rows(); ++i) pointers.push_back(rows.bytes() + i * rows.row_bytes());
        std::vector<float> dispatched(data.rows()), avx2(data.rows());
        for (int64_t q = 0; q < 5; ++q) {
          const void* query = data.view().row(q * 31);
          cpu::prepare_query(rows, static_cast<const float*>(query), distance.query_inverse_norm(query), prepared.data());
          // 203 rows: fifty blocks of four and three single rows.
          cpu::approximate_distances(rows, prepared.data(), pointers.data(), 203, dispatched.data());
          cpu::approximate_distances_avx2(rows, prepared.data(), pointers.data(), 203, avx2.data());
          for (int64_t i = 0; i < data.rows(); ++i) {
            ASSERT_NEAR(avx2[i], dispatched[i], 1e-5 * (std::fabs(dispatched[i]) + 1))
                << (kind == cpu::ApproximateKind::Int8 ? "int8 " : "bf16 ") << to_string(metric) << " dim " << dim
                << " query " << q << " row " << i;
          }
        }
      }
    }
  }
}

// Rows of extreme values (subnormal, near float's largest) give finite int8 codes and scales,
// and a search over them still returns exact distances (the fuzzer found NaN codes once: a
// subnormal dimension's scale rounded to 0).
TEST(ApproximateSearch, Int8CodesOfExtremeValuesAreFinite) {
  Dataset probe = annforge_test::clustered(10, 32, ElementType::Float32, 1);
  if (!cpu::approximate_rows_usable(probe.view())) GTEST_SKIP() << "neither AVX-512 nor AVX2 + FMA here: no approximate rows";
  for (Metric metric : {Metric::L2, Metric::Cosine, Metric::InnerProduct}) {
    Dataset data = annforge_test::clustered(200, 4, ElementType::Float32, 5);
    float* x = static_cast<float*>(data.mutable_data());
    for (int64_t i = 0; i < 200; ++i) {
      x[i * 4 + 0] = 1e-44f * static_cast<float>(i % 3);      // subnormal: largest / 127 rounds to 0
      x[i * 4 + 1] = (i % 2 ? 1.0f : -1.0f) * 3.0e38f;        // near the largest float
      x[i * 4 + 2] = 0.0f;                                    // constant
    }
    const cpu::ApproximateRows rows = cpu::make_approximate_rows(data.view(), metric, 2, cpu::ApproximateKind::Int8);
    for (float s : rows.scales) ASSERT_TRUE(std::isnormal(s)) << to_string(metric) << ": scale " << s;
    for (int8_t c : rows.codes) ASSERT_GE(c, -127) << to_string(metric);
  }
}

// A value of the switch other than 0 or 1 is refused with its name, not read as "on".
TEST(ApproximateSearch, BadSwitchValueIsRefused) {
  // 32 dimensions: rows of up to 16 are walked as they are, and the switches are not read.
  const Dataset data = annforge_test::clustered(500, 32, ElementType::Float32, 3);
  if (!cpu::approximate_rows_usable(data.view())) {
    GTEST_SKIP() << "neither AVX-512 nor AVX2 + FMA here: the search reads no switch of approximate rows";
  }
  const Index index = build(data, params_for(Metric::L2, BuildAlgorithm::Auto, 16, Device::Cpu));
  auto expect_refused = [&](const char* name, const char* value) {
    ::setenv(name, value, 1);
    const std::string setting = std::string(name) + "=" + value;
    try {
      (void)search(index, data.view(), 10, search_params(32, Device::Cpu));
      ADD_FAILURE() << setting << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
      EXPECT_NE(std::string(e.what()).find(setting), std::string::npos) << e.what();
    }
    ::unsetenv(name);
  };
  expect_refused("ANNFORGE_CPU_SEARCH_BF16", "off");
  expect_refused("ANNFORGE_CPU_SEARCH_ROWS", "int4");
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

// Rows appended to approximate rows (an index extended in place) take the rows' own centre and
// scales: the codes of the formula, clamped.
TEST(ApproximateSearch, AppendedRowsAreCodedWithTheRowsOwnScales) {
  Dataset data = annforge_test::clustered(500, 40, ElementType::Float32, 11, 1, 4);
  if (!cpu::approximate_rows_usable(data.view())) GTEST_SKIP() << "neither AVX-512 nor AVX2 + FMA here: no approximate rows";
  for (Metric metric : {Metric::L2, Metric::Cosine, Metric::InnerProduct}) {
    for (cpu::ApproximateKind kind : {cpu::ApproximateKind::Int8, cpu::ApproximateKind::Bf16}) {
      cpu::ApproximateRows rows = cpu::make_approximate_rows(data.view().slice(0, 300), metric, 2, kind);
      const cpu::ApproximateRows first = rows;
      cpu::append_approximate_rows(rows, data.view(), 2);
      ASSERT_EQ(rows.rows, 500);
      EXPECT_EQ(rows.centre, first.centre);
      EXPECT_EQ(rows.scales, first.scales);
      const cpu::Distance distance(metric, data.view());
      const float* x = static_cast<const float*>(data.view().data);
      int64_t clamped = 0;
      for (int64_t i = 0; i < 500; ++i) {
        const float scale = metric == Metric::Cosine ? distance.query_inverse_norm(x + i * 40) : 1.0f;
        for (int d = 0; d < 40; ++d) {
          const size_t at = static_cast<size_t>(i) * 40 + d;
          const float value = x[at] * scale - rows.centre[d];
          if (kind == cpu::ApproximateKind::Bf16) {
            ASSERT_EQ(rows.values[at], cpu::to_bf16(value)) << "row " << i;
            continue;
          }
          const float code = std::nearbyint(value / rows.scales[d]);
          clamped += std::fabs(code) > 127.0f;
          ASSERT_EQ(rows.codes[at], static_cast<int8_t>(std::clamp(code, -127.0f, 127.0f))) << "row " << i;
          if (i < 300) ASSERT_EQ(rows.codes[at], first.codes[at]);
        }
      }
      EXPECT_LT(clamped, 500 * 40 / 100) << "rows of the same kind mostly fit the first rows' scales";
    }
  }
}

// A search after an extend in place reuses the search's copies with the new rows appended: the
// new rows are found by their own vectors and the recall holds.
TEST(ApproximateSearch, AnIndexExtendedInPlaceFindsItsNewRows) {
  for (Metric metric : {Metric::Cosine, Metric::L2}) {
    const Dataset all = annforge_test::clustered(4000, 32, ElementType::Float32, 47, 1, 8);
    if (!cpu::approximate_rows_usable(all.view())) GTEST_SKIP() << "neither AVX-512 nor AVX2 + FMA here: no approximate rows";
    const Dataset queries = annforge_test::clustered(100, 32, ElementType::Float32, 47, 2, 8);
    const BuildParams params = params_for(metric, BuildAlgorithm::Auto, 16, Device::Cpu);
    Index index = build(Dataset::copy_of(all.view().slice(0, 3000)), params);
    extend(index, all.view().slice(3000, 10), params);  // into storage with room
    const void* storage = index.vectors.view().data;
    (void)search(index, queries.view(), 10, search_params(32, Device::Cpu));  // the copies made
    extend(index, all.view().slice(3010, 990), params);
    ASSERT_EQ(index.vectors.view().data, storage) << "extended in place";
    const Neighbors self = search(index, all.view().slice(3010, 990), 1, search_params(32, Device::Cpu));
    int64_t found = 0;
    for (int64_t i = 0; i < 990; ++i) found += self.ids[i] == static_cast<uint32_t>(3010 + i);
    EXPECT_GE(found, 990 * 98 / 100) << to_string(metric) << ": new rows found by their own vector";
    const Neighbors got = search(index, queries.view(), 10, search_params(32, Device::Cpu));
    EXPECT_GE(recall(got, exact_knn(all.view(), queries.view(), 10, metric), 10), 0.9) << to_string(metric);
  }
}

// extend() after a search walks the search's compact rows to find the new rows' candidates
// (the exact walk where no search made them): the graph it links is as good either way.
TEST(ApproximateSearch, AnExtendAfterASearchLinksAsWellAsOneWithout) {
  const Dataset all = annforge_test::clustered(6000, 48, ElementType::Float32, 53, 1, 10);
  if (!cpu::approximate_rows_usable(all.view())) GTEST_SKIP() << "neither AVX-512 nor AVX2 + FMA here: no approximate rows";
  const Dataset queries = annforge_test::clustered(200, 48, ElementType::Float32, 53, 2, 10);
  const Neighbors truth = exact_knn(all.view(), queries.view(), 10, Metric::Cosine);
  const BuildParams params = params_for(Metric::Cosine, BuildAlgorithm::Auto, 16, Device::Cpu);
  double recalls[2] = {0, 0};
  for (int searched = 0; searched < 2; ++searched) {
    Index index = build(Dataset::copy_of(all.view().slice(0, 4000)), params);
    extend(index, all.view().slice(4000, 10), params);  // into storage with room
    if (searched == 1) (void)search(index, queries.view(), 10, search_params(32, Device::Cpu));
    for (int64_t first = 4010; first < 6000; first += 500) {
      extend(index, all.view().slice(first, std::min<int64_t>(500, 6000 - first)), params);
    }
    const Neighbors got = search(index, queries.view(), 10, search_params(32, Device::Cpu));
    recalls[searched] = recall(got, truth, 10);
  }
  EXPECT_GE(recalls[0], 0.9) << "exact walk";
  EXPECT_GE(recalls[1], 0.9) << "compact rows' walk";
  EXPECT_NEAR(recalls[1], recalls[0], 0.02);
}

}  // namespace
