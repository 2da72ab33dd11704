// Helpers shared by the GoogleTest files: a temporary directory that cleans up after itself,
// raw file bytes, a little-endian byte builder, a deterministic clustered-data generator,
// the graph invariants every index must satisfy, a recall computed independently of
// annforge::recall_at_k, the backends a test runs on (Device::Cpu, Device::Gpu: GPU cases skip
// where this build or machine has none), and where the CLI binary and the data sets are.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <ostream>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "annforge.hpp"

namespace annforge_test {

inline const char* algorithm_name(annforge::BuildAlgorithm a) {
  switch (a) {
    case annforge::BuildAlgorithm::Auto: return "auto";
    case annforge::BuildAlgorithm::BruteForce: return "brute_force";
    case annforge::BuildAlgorithm::NNDescent: return "nn_descent";
  }
  return "unknown_algorithm";
}
inline const char* device_name(annforge::Device d) {
  switch (d) {
    case annforge::Device::Auto: return "Auto";
    case annforge::Device::Cpu: return "Cpu";
    case annforge::Device::Gpu: return "Gpu";
  }
  return "unknown_device";
}

}  // namespace annforge_test

// Readable parameter values in test output ("GetParam() = ..."), found by argument-dependent
// lookup.
namespace annforge {
inline void PrintTo(Metric m, std::ostream* os) { *os << to_string(m); }
inline void PrintTo(ElementType t, std::ostream* os) { *os << to_string(t); }
inline void PrintTo(BuildAlgorithm a, std::ostream* os) { *os << annforge_test::algorithm_name(a); }
inline void PrintTo(Device d, std::ostream* os) { *os << annforge_test::device_name(d); }
}  // namespace annforge

namespace annforge_test {

namespace fs = std::filesystem;

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "annforge-test-XXXXXX").string();
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    if (::mkdtemp(buffer.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + pattern);
    path_ = buffer.data();
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A float's bits and back (bit-exact comparisons, sentinels no arithmetic produces).
inline uint32_t bits_of(float x) {
  uint32_t b;
  std::memcpy(&b, &x, sizeof(b));
  return b;
}
inline float from_bits(uint32_t b) {
  float x;
  std::memcpy(&x, &b, sizeof(x));
  return x;
}
// What a kernel test's output buffers hold before the kernel runs: a signalling NaN no
// arithmetic produces, so a value written past the tile (or not written) shows.
constexpr uint32_t kSentinelBits = 0xFFBADBADu;

inline std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("test: cannot read " + path);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void write_bytes(const std::string& path, const void* data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("test: cannot write " + path);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out) throw std::runtime_error("test: short write to " + path);
}
inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  write_bytes(path, bytes.data(), bytes.size());
}
inline void write_bytes(const std::string& path, const std::string& bytes) { write_bytes(path, bytes.data(), bytes.size()); }

inline bool file_exists(const std::string& path) { return fs::exists(fs::symlink_status(path)); }

// The names in a directory, sorted.
inline std::vector<std::string> list_dir(const std::string& path) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(path)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// Little-endian bytes, built field by field (the test machine is little-endian, as annforge's
// file formats are; the static_assert keeps a big-endian port from reading garbage silently).
class Bytes {
 public:
  Bytes& u8(uint8_t v) { return raw(&v, 1); }
  Bytes& i8(int8_t v) { return raw(&v, 1); }
  Bytes& u16(uint16_t v) { return raw(&v, 2); }
  Bytes& u32(uint32_t v) { return raw(&v, 4); }
  Bytes& i32(int32_t v) { return raw(&v, 4); }
  Bytes& u64(uint64_t v) { return raw(&v, 8); }
  Bytes& f32(float v) { return raw(&v, 4); }
  Bytes& text(const std::string& s) { return raw(s.data(), s.size()); }
  Bytes& raw(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    data_.insert(data_.end(), b, b + n);
    return *this;
  }
  const std::vector<uint8_t>& data() const { return data_; }
  size_t size() const { return data_.size(); }

 private:
  std::vector<uint8_t> data_;
};
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "these tests write little-endian files with memcpy");

// A small deterministic generator (SplitMix64), so every platform and standard library sees
// the same numbers (std::normal_distribution is implementation-defined).
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }  // [0, 1)
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  uint64_t below(uint64_t n) { return next() % n; }
  double normal() {  // Box-Muller
    double u1 = uniform(), u2 = uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  uint64_t state_;
};

// Clustered data with the low intrinsic dimension of real embeddings: `clusters` Gaussian
// clusters in a latent space of rank min(dim, 8), overlapping somewhat (centre spread 1, point
// spread 0.5), mapped into `dim` coordinates by a fixed random linear map, plus faint isotropic
// noise (0.05). The model (map and centres) comes from `seed` alone and the points from `seed`
// and `stream`, so base and query sets of one seed share the clusters. uint8 maps [-4, 4] onto
// [0, 255] and int8 onto [-128, 127], rounded and clamped.
inline annforge::Dataset clustered(int64_t rows, int64_t dim, annforge::ElementType type, uint64_t seed,
                                   uint64_t stream = 1, int clusters = 16) {
  const int64_t rank = std::min<int64_t>(dim, 8);
  Rng model(seed * 1000003 + 17);
  std::vector<double> basis(rank * dim), centres(static_cast<size_t>(clusters) * rank);
  for (double& b : basis) b = model.normal() / std::sqrt(static_cast<double>(rank));
  for (double& c : centres) c = model.normal();
  Rng rng(seed * 0x9E3779B97F4A7C15ull + stream * 7919 + 1);
  annforge::Dataset out = annforge::Dataset::allocate(rows, dim, type);
  void* data = out.mutable_data();
  std::vector<double> latent(rank);
  for (int64_t i = 0; i < rows; ++i) {
    const double* centre = &centres[rng.below(clusters) * rank];
    for (int64_t r = 0; r < rank; ++r) latent[r] = centre[r] + 0.5 * rng.normal();
    for (int64_t c = 0; c < dim; ++c) {
      double v = 0.05 * rng.normal();
      for (int64_t r = 0; r < rank; ++r) v += latent[r] * basis[r * dim + c];
      switch (type) {
        case annforge::ElementType::Float32: static_cast<float*>(data)[i * dim + c] = static_cast<float>(v); break;
        case annforge::ElementType::UInt8:
          static_cast<uint8_t*>(data)[i * dim + c] =
              static_cast<uint8_t>(std::lround(std::clamp((v + 4.0) * 31.875, 0.0, 255.0)));
          break;
        case annforge::ElementType::Int8:
          static_cast<int8_t*>(data)[i * dim + c] =
              static_cast<int8_t>(std::lround(std::clamp(v * 32.0, -128.0, 127.0)));
          break;
      }
    }
  }
  return out;
}

// Element j of row i as a double, whatever the element type.
inline double element(const annforge::DatasetView& v, int64_t i, int64_t j) {
  const uint8_t* row = v.row(i);
  switch (v.type) {
    case annforge::ElementType::Float32: {
      float f;
      std::memcpy(&f, row + 4 * j, 4);
      return f;
    }
    case annforge::ElementType::UInt8: return row[j];
    case annforge::ElementType::Int8: return static_cast<int8_t>(row[j]);
  }
  return 0.0;
}

// The distance convention of annforge.hpp, in double precision with plain loops: the
// reference the library's kernels are checked against.
inline double naive_distance(annforge::Metric metric, const annforge::DatasetView& a, int64_t i,
                             const annforge::DatasetView& b, int64_t j) {
  double l2 = 0, dot = 0, na = 0, nb = 0;
  for (int64_t c = 0; c < a.dim; ++c) {
    double x = element(a, i, c), y = element(b, j, c);
    l2 += (x - y) * (x - y);
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  switch (metric) {
    case annforge::Metric::L2: return l2;
    case annforge::Metric::InnerProduct: return -dot;
    case annforge::Metric::Cosine: return (na == 0 || nb == 0) ? 1.0 : 1.0 - dot / std::sqrt(na * nb);
  }
  return 0.0;
}

// Mean recall@k of `found` (rows x found_k ids) against `truth` (rows x truth_k ids), the
// share of each row's first k true ids found among its first k found ids. Written here, not
// taken from the library, so a broken annforge::recall_at_k cannot hide a broken search.
inline double recall(const std::vector<uint32_t>& found, int found_k, const std::vector<uint32_t>& truth, int truth_k,
                     int64_t rows, int k) {
  int64_t hits = 0;
  for (int64_t q = 0; q < rows; ++q) {
    std::set<uint32_t> expected(truth.begin() + q * truth_k, truth.begin() + q * truth_k + k);
    expected.erase(annforge::kInvalidId);
    for (int j = 0; j < k; ++j) hits += expected.erase(found[q * found_k + j]);  // each true id counts once
  }
  return rows > 0 ? static_cast<double>(hits) / (static_cast<double>(rows) * k) : 0.0;
}
inline double recall(const annforge::Neighbors& found, const annforge::Neighbors& truth, int k) {
  return recall(found.ids, found.k, truth.ids, truth.k, std::min(found.rows, truth.rows), k);
}

// The properties every built graph must have (annforge.hpp, struct Index): rows x degree ids,
// degree = min(requested, rows - 1), every id a row, no self loops, no repeats in a row.
inline ::testing::AssertionResult graph_invariants(const annforge::Index& index, int requested_degree) {
  const int64_t rows = index.rows();
  const int64_t expected_degree = std::min<int64_t>(requested_degree, rows - 1);
  if (index.graph_degree != expected_degree) {
    return ::testing::AssertionFailure() << "graph_degree " << index.graph_degree << ", expected min("
                                         << requested_degree << ", rows - 1) = " << expected_degree;
  }
  if (index.graph.size() != static_cast<size_t>(rows * index.graph_degree)) {
    return ::testing::AssertionFailure() << "graph holds " << index.graph.size() << " ids for " << rows << " x "
                                         << index.graph_degree;
  }
  if (index.entry_points.empty()) return ::testing::AssertionFailure() << "no entry points";
  for (uint32_t e : index.entry_points) {
    if (e >= rows) return ::testing::AssertionFailure() << "entry point " << e << " >= rows " << rows;
  }
  std::vector<uint32_t> row;
  for (int64_t v = 0; v < rows; ++v) {
    row.assign(index.neighbors(v), index.neighbors(v) + index.graph_degree);
    for (int e = 0; e < index.graph_degree; ++e) {
      if (row[e] >= rows) return ::testing::AssertionFailure() << "row " << v << " edge " << e << " is id " << row[e];
      if (row[e] == v) return ::testing::AssertionFailure() << "row " << v << " has a self loop at edge " << e;
    }
    std::sort(row.begin(), row.end());
    auto repeat = std::adjacent_find(row.begin(), row.end());
    if (repeat != row.end()) return ::testing::AssertionFailure() << "row " << v << " repeats id " << *repeat;
  }
  return ::testing::AssertionSuccess();
}

// The share of rows reachable along graph edges from the entry points (where searches start).
inline double reachable_share(const annforge::Index& index) {
  const int64_t rows = index.rows();
  std::vector<uint8_t> seen(rows, 0);
  std::vector<uint32_t> stack;
  int64_t count = 0;
  for (uint32_t e : index.entry_points) {
    if (e < rows && !seen[e]) seen[e] = 1, ++count, stack.push_back(e);
  }
  while (!stack.empty()) {
    uint32_t v = stack.back();
    stack.pop_back();
    for (int e = 0; e < index.graph_degree; ++e) {
      uint32_t u = index.neighbors(v)[e];
      if (u < rows && !seen[u]) seen[u] = 1, ++count, stack.push_back(u);
    }
  }
  return static_cast<double>(count) / static_cast<double>(rows);
}

// Runs `body`, which must throw annforge::Error; checks its code and that its message holds
// every one of `needles`.
inline ::testing::AssertionResult throws_error(const std::function<void()>& body, annforge::ErrorCode code,
                                               const std::vector<std::string>& needles) {
  try {
    body();
  } catch (const annforge::Error& e) {
    std::string message = e.what();
    if (e.code() != code) {
      return ::testing::AssertionFailure() << "error code " << static_cast<int>(e.code()) << ", expected "
                                           << static_cast<int>(code) << "; message: " << message;
    }
    for (const std::string& needle : needles) {
      if (message.find(needle) == std::string::npos) {
        return ::testing::AssertionFailure() << "message does not mention '" << needle << "': " << message;
      }
    }
    return ::testing::AssertionSuccess() << message;
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "threw a non-annforge exception: " << e.what();
  }
  return ::testing::AssertionFailure() << "did not throw";
}

// Every returned row: ids distinct, distances ascending, each distance the metric distance of
// its id (checked in double precision), and padding only at the end.
inline ::testing::AssertionResult well_formed(const annforge::Neighbors& n, const annforge::DatasetView& base,
                                              const annforge::DatasetView& queries,
                                       annforge::Metric metric) {
  for (int64_t q = 0; q < n.rows; ++q) {
    std::set<uint32_t> seen;
    bool padding = false;
    for (int j = 0; j < n.k; ++j) {
      const uint32_t id = n.ids[q * n.k + j];
      const float d = n.distances[q * n.k + j];
      if (id == annforge::kInvalidId) {
        if (!std::isinf(d) || d < 0) return ::testing::AssertionFailure() << "query " << q << ": padding distance " << d;
        padding = true;
        continue;
      }
      if (padding) return ::testing::AssertionFailure() << "query " << q << ": a real id after padding";
      if (id >= base.rows) return ::testing::AssertionFailure() << "query " << q << ": id " << id << " out of range";
      if (!seen.insert(id).second) return ::testing::AssertionFailure() << "query " << q << ": id " << id << " repeated";
      if (j > 0 && d < n.distances[q * n.k + j - 1]) {
        return ::testing::AssertionFailure() << "query " << q << ": distances not ascending at " << j;
      }
      const double expected = naive_distance(metric, queries, q, base, id);
      if (std::fabs(expected - d) > 1e-4 * (1.0 + std::fabs(expected))) {
        return ::testing::AssertionFailure() << "query " << q << " id " << id << ": distance " << d << ", expected "
                                             << expected;
      }
    }
  }
  return ::testing::AssertionSuccess();
}

// Build parameters for the tests: intermediate degree twice the graph degree, on `device`
// (the CPU backend unless a test says otherwise; never Auto, which picks the GPU where there is
// one, so a Cpu case stays on the CPU everywhere).
inline annforge::BuildParams params_for(annforge::Metric metric, annforge::BuildAlgorithm algorithm, int degree = 32,
                                        annforge::Device device = annforge::Device::Cpu) {
  annforge::BuildParams p;
  p.metric = metric;
  p.graph_degree = degree;
  p.intermediate_degree = 2 * degree;
  p.algorithm = algorithm;
  p.device = device;
  return p;
}

inline annforge::SearchParams search_params(int beam_width, annforge::Device device = annforge::Device::Cpu) {
  annforge::SearchParams p;
  p.beam_width = beam_width;
  p.device = device;
  return p;
}

// --- backends ----------------------------------------------------------------------------------
//
// The build/search/extend/exact_knn tests are value-parameterised over the backend: every case
// runs once with Device::Cpu and once with Device::Gpu. Their names end in "Cpu" or "Gpu"
// ("/Gpu" where the device is the only parameter, "_Gpu" after the others), so
// --gtest_filter='*Gpu*' selects every GPU case. A GPU case skips, giving the reason, where this
// build has no CUDA backend or this machine no GPU; a CPU case always runs.

// The backends every parameterised test runs on.
inline auto backends() { return ::testing::Values(annforge::Device::Cpu, annforge::Device::Gpu); }

// Why `device` cannot be used by this process, or "" when it can. The library's NoDevice message
// says which it is: "this build of annforge has no CUDA backend (built with ANNFORGE_CUDA=OFF or
// without nvcc)" or "no CUDA device is present on this machine". Any other error is a real
// failure and propagates. Asked once per process.
inline std::string device_unavailable(annforge::Device device) {
  if (device != annforge::Device::Gpu) return "";
  static const std::string reason = [] {
    try {
      const std::string backend = annforge::resolve_backend(annforge::Device::Gpu);
      return backend == "cuda" ? std::string() : "device=gpu resolved to backend '" + backend + "', not 'cuda'";
    } catch (const annforge::Error& e) {
      if (e.code() != annforge::ErrorCode::NoDevice) throw;
      return std::string(e.what());
    }
  }();
  return reason;
}

// Skips the current test where `device` is unavailable. Called from a fixture's SetUp (as
// DeviceTest does), that skips the test body; called from a test body, it only returns from
// here: use ANNFORGE_SKIP_WITHOUT there instead.
inline void skip_without(annforge::Device device) {
  const std::string reason = device_unavailable(device);
  if (!reason.empty()) GTEST_SKIP() << "no CUDA device: " << reason;
}
#define ANNFORGE_SKIP_WITHOUT(device)                 \
  do {                                                \
    ::annforge_test::skip_without(device);            \
    if (::testing::Test::IsSkipped()) return;         \
  } while (0)

// The device in a test parameter: the parameter itself, or the one Device in a tuple.
inline annforge::Device device_of(annforge::Device device) { return device; }
template <class... T>
annforge::Device device_of(const std::tuple<T...>& param) {
  return std::get<annforge::Device>(param);
}

// A value-parameterised fixture whose parameter is (or holds) the Device to run on: its GPU
// cases skip in SetUp where there is no GPU.
template <class Param>
class DeviceTest : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override { skip_without(device()); }
  annforge::Device device() const { return device_of(this->GetParam()); }
};

// Test-name pieces: "l2", "float32", "brute_force", "Gpu"; a tuple joins its pieces with '_'.
inline std::string name_of(annforge::Metric m) { return annforge::to_string(m); }
inline std::string name_of(annforge::ElementType t) { return annforge::to_string(t); }
inline std::string name_of(annforge::BuildAlgorithm a) { return algorithm_name(a); }
inline std::string name_of(annforge::Device d) { return device_name(d); }
template <class... T>
std::string name_of(const std::tuple<T...>& param) {
  std::string name;
  std::apply([&](const auto&... piece) { ((name += (name.empty() ? "" : "_") + name_of(piece)), ...); }, param);
  return name;
}
// The name generator for INSTANTIATE_TEST_SUITE_P.
struct ParamName {
  template <class Param>
  std::string operator()(const ::testing::TestParamInfo<Param>& info) const {
    return name_of(info.param);
  }
};

// --- where the CLI and the data sets are ---------------------------------------------------------
//
// tests/CMakeLists.txt bakes in the paths of this build (ANNFORGE_CLI_PATH, ANNFORGE_DATA_DIR);
// the environment variables ANNFORGE_CLI and ANNFORGE_DATA_DIR override them, so the test binary
// can run from another folder or on another machine.

inline std::string from_environment(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::string(value) : fallback;
}

// The annforge CLI binary: $ANNFORGE_CLI, else the one this build made.
inline std::string cli_path() {
#ifdef ANNFORGE_CLI_PATH
  return from_environment("ANNFORGE_CLI", ANNFORGE_CLI_PATH);
#else
  return from_environment("ANNFORGE_CLI", "");
#endif
}

// The folder holding the real data sets (mnist/, sift-vl-1m/): $ANNFORGE_DATA_DIR, else the
// repository's data/ folder.
inline std::string data_dir() {
#ifdef ANNFORGE_DATA_DIR
  return from_environment("ANNFORGE_DATA_DIR", ANNFORGE_DATA_DIR);
#else
  return from_environment("ANNFORGE_DATA_DIR", "");
#endif
}

// The folder under data_dir() (or $ANNFORGE_DATA) holding `set`/base.EXT, query.EXT and
// groundtruth.ivecs, or "" with `looked` saying where it looked.
inline std::string find_data_set(const std::string& set, std::string* looked, const std::string& extension = "bvecs") {
  std::vector<std::string> roots{data_dir()};
  if (const char* env = std::getenv("ANNFORGE_DATA"); env != nullptr && *env != '\0') roots.push_back(env);
  *looked = "";
  for (const std::string& root : roots) {
    const std::string folder = root + "/" + set;
    if (file_exists(folder + "/base." + extension) && file_exists(folder + "/query." + extension) &&
        file_exists(folder + "/groundtruth.ivecs")) {
      return folder;
    }
    *looked += (looked->empty() ? "" : " and ") + folder;
  }
  return "";
}

}  // namespace annforge_test
