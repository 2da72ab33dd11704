// A program of another project that uses an installed annforge through its C++ API
// (#include <annforge.hpp>, find_package(annforge)): builds a graph over random vectors in
// memory, searches it and holds recall@10 against exact_knn, exports it for hnswlib, and saves
// and loads it. Prints one line and exits 1 at the first failure; exits 0 when all of it holds.
#include <annforge.hpp>

#include <stdlib.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

namespace {

constexpr int64_t kRows = 2000;
constexpr int64_t kDim = 16;
constexpr int64_t kQueries = 100;
constexpr int kNeighbors = 10;
constexpr double kMinRecall = 0.9;

std::string temp_dir;

[[noreturn]] void fail(const std::string& what) {
  std::printf("consumer_cpp: FAIL: %s\n", what.c_str());
  if (!temp_dir.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(temp_dir, ignored);
  }
  std::exit(1);
}

std::vector<float> random_rows(int64_t rows, uint32_t seed) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  std::vector<float> values(static_cast<size_t>(rows * kDim));
  for (float& value : values) value = uniform(generator);
  return values;
}

void run() {
  const std::vector<float> base_values = random_rows(kRows, 1);
  const std::vector<float> query_values = random_rows(kQueries, 2);
  const annforge::DatasetView base{base_values.data(), kRows, kDim, annforge::ElementType::Float32};
  const annforge::DatasetView queries{query_values.data(), kQueries, kDim, annforge::ElementType::Float32};

  annforge::BuildParams build_params;
  build_params.metric = annforge::Metric::L2;
  build_params.graph_degree = 32;
  build_params.device = annforge::Device::Cpu;
  annforge::Index index = annforge::build(annforge::Dataset::borrow(base), build_params);
  if (index.rows() != kRows || index.dim() != kDim || index.graph_degree != 32)
    fail("build gave " + std::to_string(index.rows()) + " x " + std::to_string(index.dim()) + " with degree " +
         std::to_string(index.graph_degree));

  annforge::SearchParams search_params;
  search_params.beam_width = 64;
  search_params.device = annforge::Device::Cpu;
  const annforge::Neighbors found = annforge::search(index, queries, kNeighbors, search_params);
  const annforge::Neighbors truth = annforge::exact_knn(base, queries, kNeighbors, annforge::Metric::L2);
  const double recall = annforge::recall_at_k(found, truth, kNeighbors);
  if (recall < kMinRecall) fail("recall@10 " + std::to_string(recall) + " is below " + std::to_string(kMinRecall));

  std::string pattern = (std::filesystem::temp_directory_path() / "annforge-consumer-cpp.XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) fail("cannot create a temporary folder from " + pattern);
  temp_dir = pattern;

  const std::string export_path = temp_dir + "/index.hnsw";
  annforge::ExportParams export_params;
  export_params.format = annforge::ExportFormat::Hnswlib;
  annforge::export_index(index, export_path, export_params);
  std::error_code error;
  const auto export_size = std::filesystem::file_size(export_path, error);
  if (error || export_size == 0) fail("the hnswlib export " + export_path + " is missing or empty");

  const std::string index_path = temp_dir + "/index.afi";
  annforge::save(index, index_path);
  const annforge::Index loaded = annforge::load(index_path);
  if (loaded.rows() != kRows || loaded.dim() != kDim || loaded.graph_degree != index.graph_degree ||
      loaded.graph != index.graph)
    fail("the loaded index differs from the one saved");
  const annforge::Neighbors found_again = annforge::search(loaded, queries, kNeighbors, search_params);
  const double recall_again = annforge::recall_at_k(found_again, truth, kNeighbors);
  if (recall_again < kMinRecall) fail("recall@10 of the loaded index " + std::to_string(recall_again));

  std::filesystem::remove_all(temp_dir);
  temp_dir.clear();
  std::printf("consumer_cpp: ok: %lld x %lld, recall@10 %.3f (loaded %.3f), hnswlib export %llu bytes\n",
              static_cast<long long>(kRows), static_cast<long long>(kDim), recall, recall_again,
              static_cast<unsigned long long>(export_size));
}

}  // namespace

int main() {
  try {
    run();
  } catch (const annforge::Error& error) {
    fail(std::string("annforge::Error: ") + error.what());
  } catch (const std::exception& error) {
    fail(std::string("exception: ") + error.what());
  }
  return 0;
}
