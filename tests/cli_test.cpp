// The annforge command line, run as a separate process: gen -> gt -> build -> search -> info
// end to end, and every failure path ending in a non-zero exit, exactly one line on stderr that
// names the file or flag at fault, and no output left behind (no index, no temporary file).
// The binary is the one this build made, or $ANNFORGE_CLI (test_support.hpp: cli_path()).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <cstring>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "annforge.hpp"
#include "tests/test_support.hpp"

#ifdef ANNFORGE_TEST_HDF5
#include "tests/hdf5_writer.hpp"
#endif

#ifndef ANNFORGE_CLI_PATH
#error "tests/CMakeLists.txt passes the CLI binary's path as ANNFORGE_CLI_PATH (test_support.hpp: cli_path())"
#endif

namespace {

using namespace annforge;
using namespace annforge_test;

struct Result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string quoted(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string slurp(const std::string& path) {
  const std::vector<uint8_t> bytes = read_bytes(path);
  return std::string(bytes.begin(), bytes.end());
}

// A fixture with a working directory (where the CLI reads and writes, run from inside it) and a
// separate one for captured stdout/stderr, so listing the working directory shows exactly what
// the CLI left there.
class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(::access(cli_.c_str(), X_OK) == 0)
        << "no annforge CLI binary at " << cli_ << " (build it, or set ANNFORGE_CLI to its path)";
  }

  Result run(const std::string& args) {
    const std::string out = io_.file("stdout"), err = io_.file("stderr");
    const std::string command = "cd " + quoted(work_.path()) + " && " + quoted(cli_) + " " + args +
                                " >" + quoted(out) + " 2>" + quoted(err) + " </dev/null";
    const int status = std::system(command.c_str());
    Result r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
  }
  std::string path(const std::string& name) const { return work_.file(name); }

  // Runs a command that must succeed.
  Result ok(const std::string& args) {
    Result r = run(args);
    EXPECT_EQ(r.exit_code, 0) << "annforge " << args << "\nstderr: " << r.err;
    return r;
  }

  // Runs a command that must fail: non-zero exit (not a crash), exactly one line on stderr,
  // naming each of `mentions`, and the working directory exactly as it was.
  void fails(const std::string& args, const std::vector<std::string>& mentions) {
    SCOPED_TRACE("annforge " + args);
    const std::vector<std::string> before = list_dir(work_.path());
    const Result r = run(args);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_LT(r.exit_code, 128) << "killed by a signal";
    ASSERT_FALSE(r.err.empty()) << "no message on stderr";
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "stderr: " << r.err;
    EXPECT_EQ(r.err.back(), '\n');
    for (const std::string& m : mentions) EXPECT_NE(r.err.find(m), std::string::npos) << "stderr: " << r.err;
    EXPECT_EQ(list_dir(work_.path()), before) << "a failed command left files behind (or removed some)";
  }

  // 3000 x 16 float32 base, 200 queries, exact 10-NN ground truth, an index of degree 16.
  void make_dataset() {
    ok("gen --n 3000 --dim 16 --out base.fbin --queries 200 --queries-out queries.fbin");
    ok("gt --data base.fbin --queries queries.fbin --k 10 --out gt.ivecs");
    ok("build --data base.fbin --out index.afi --degree 16");
  }

  const std::string cli_ = fs::absolute(cli_path()).string();  // the tests run the CLI from work_
  TempDir work_;
  TempDir io_;
};

// Every "recall": value in the search command's JSON report.
std::vector<double> recalls_in(const std::string& json) {
  std::vector<double> values;
  const std::string key = "\"recall\": ";
  for (size_t at = json.find(key); at != std::string::npos; at = json.find(key, at + 1)) {
    values.push_back(std::strtod(json.c_str() + at + key.size(), nullptr));
  }
  return values;
}

TEST_F(Cli, GenGroundTruthBuildSearchInfo) {
  make_dataset();
  // gen wrote what it said; gt is the exact answer; build wrote a valid index.
  const Dataset base = read_vectors(path("base.fbin"));
  const Dataset queries = read_vectors(path("queries.fbin"));
  ASSERT_EQ(base.rows(), 3000);
  ASSERT_EQ(base.dim(), 16);
  ASSERT_EQ(queries.rows(), 200);
  const Neighbors gt = read_neighbors(path("gt.ivecs"));
  ASSERT_EQ(gt.rows, 200);
  ASSERT_EQ(gt.k, 10);
  EXPECT_GE(recall(gt, exact_knn(base.view(), queries.view(), 10, Metric::L2), 10), 0.999);
  const Index index = load(path("index.afi"));
  EXPECT_TRUE(graph_invariants(index, 16));
  EXPECT_EQ(index.rows(), 3000);

  const Result s = ok("search --index index.afi --queries queries.fbin --k 10 --gt gt.ivecs --beam 32,64 --json "
                      "--out found.ivecs");
  const std::vector<double> r = recalls_in(s.out);
  ASSERT_EQ(r.size(), 2u) << "one result per beam width: " << s.out;
  // The one-query first search (the index's setup) is reported apart from every width's timing.
  EXPECT_NE(s.out.find("\"setup_seconds\": "), std::string::npos) << s.out;
  for (double value : r) EXPECT_GE(value, 0.9) << s.out;
  std::printf("[ recall   ] cli search: recall@10 %.4f at beam 32, %.4f at beam 64\n", r[0], r[1]);
  // --out holds the last beam's answer, the same the library gives for that index.
  SearchParams sp;
  sp.beam_width = 64;
  EXPECT_EQ(read_neighbors(path("found.ivecs")).ids, search(index, queries.view(), 10, sp).ids);

  const Result info = ok("info index.afi");
  EXPECT_NE(info.out.find("3000"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("16"), std::string::npos) << info.out;
  const Result info_json = ok("info --json index.afi");
  EXPECT_NE(info_json.out.find("\"rows\": 3000"), std::string::npos) << info_json.out;
  EXPECT_NE(info_json.out.find("\"dim\": 16"), std::string::npos) << info_json.out;

  EXPECT_EQ(list_dir(work_.path()),
            (std::vector<std::string>{"base.fbin", "found.ivecs", "gt.ivecs", "index.afi", "queries.fbin"}))
      << "no temporary files are left behind";
}

// extend: an index grown by a second file's rows, saved to a new file or over itself; the old
// file untouched by the first; a file of another dimension refused naming both files, nothing
// written.
TEST_F(Cli, ExtendAddsAFilesRows) {
  ok("gen --n 4000 --dim 16 --out all.fbin --queries 200 --queries-out queries.fbin --seed 9");
  const Dataset all = read_vectors(path("all.fbin"));
  write_vectors(path("first.fbin"), all.view().slice(0, 3000));
  write_vectors(path("more.fbin"), all.view().slice(3000, 1000));
  ok("gt --data all.fbin --queries queries.fbin --k 10 --out gt.ivecs");
  ok("build --data first.fbin --out index.afi --degree 16");
  const std::vector<uint8_t> before = read_bytes(path("index.afi"));
  const Result r = ok("extend --index index.afi --data more.fbin --out grown.afi --rows 600 --json");
  EXPECT_NE(r.out.find("\"added_rows\": 600"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"rows\": 3600"), std::string::npos) << r.out;
  EXPECT_EQ(read_bytes(path("index.afi")), before) << "--index is left as it was";
  const Index grown = load(path("grown.afi"));
  ASSERT_EQ(grown.rows(), 3600);
  EXPECT_TRUE(graph_invariants(grown, 16));
  // The rest over the grown index itself, then searched against the truth over all rows.
  ok("extend --index grown.afi --data more.fbin --out grown.afi");
  const Index whole = load(path("grown.afi"));
  ASSERT_EQ(whole.rows(), 4600) << "all 1,000 rows of more.fbin again (600 of them twice)";
  EXPECT_EQ(std::memcmp(whole.vectors.view().row(3600), all.view().row(3000), 1000 * all.view().row_bytes()), 0);
  ok("extend --index index.afi --data more.fbin --out whole.afi");
  const Result s = ok("search --index whole.afi --queries queries.fbin --k 10 --gt gt.ivecs --beam 64 --json");
  const std::vector<double> found = recalls_in(s.out);
  ASSERT_EQ(found.size(), 1u) << s.out;
  EXPECT_GE(found[0], 0.9) << s.out;
  ok("gen --n 100 --dim 8 --out narrow.fbin");
  fails("extend --index index.afi --data narrow.fbin --out other.afi", {"narrow.fbin", "index.afi", "8", "16"});
  fails("extend --index missing.afi --data more.fbin --out other.afi", {"missing.afi"});
  // An index begun with too few rows for its degree (a graph over r rows holds r - 1 links per
  // row) grows to --degree; a one-row index (degree 0) too.
  write_vectors(path("five.fbin"), all.view().slice(0, 5));
  ok("build --data five.fbin --out five.afi");
  EXPECT_EQ(load(path("five.afi")).graph_degree, 4);
  ok("extend --index five.afi --data first.fbin --out five.afi --degree 24");
  EXPECT_TRUE(graph_invariants(load(path("five.afi")), 24));
  write_vectors(path("one.fbin"), all.view().slice(0, 1));
  ok("build --data one.fbin --out one.afi");
  ok("extend --index one.afi --data more.fbin --out one.afi");
  EXPECT_EQ(load(path("one.afi")).graph_degree, 32);
  fails("extend --index one.afi --data more.fbin --out other.afi --degree 0", {"--degree"});
}

TEST_F(Cli, Uint8CosineThroughNpy) {
  ok("gen --n 2500 --dim 24 --type uint8 --out base.npy --queries 100 --queries-out queries.u8bin --seed 3");
  ok("gt --data base.npy --queries queries.u8bin --k 10 --metric cosine --out gt.ibin");
  ok("build --data base.npy --out index.afi --metric cosine --algorithm nn_descent --degree 24");
  const Result s = ok("search --index index.afi --queries queries.u8bin --k 10 --gt gt.ibin --json");
  const std::vector<double> r = recalls_in(s.out);
  ASSERT_EQ(r.size(), 1u) << s.out;
  EXPECT_GE(r[0], 0.9) << s.out;
  const Index index = load(path("index.afi"));
  EXPECT_EQ(index.metric, Metric::Cosine);
  EXPECT_EQ(index.vectors.type(), ElementType::UInt8);
  EXPECT_TRUE(graph_invariants(index, 24));
}

TEST_F(Cli, BuildWithMissingDataFile) {
  fails("build --data missing.fbin --out index.afi", {"missing.fbin"});
}

TEST_F(Cli, BuildWithTruncatedDataFile) {
  ok("gen --n 500 --dim 16 --out base.fbin");
  std::vector<uint8_t> bytes = read_bytes(path("base.fbin"));
  bytes.resize(bytes.size() - 10);
  write_bytes(path("cut.fbin"), bytes);
  fails("build --data cut.fbin --out index.afi", {"cut.fbin"});
  bytes.resize(30);  // a texmex file cut inside its first row
  write_bytes(path("cut.fvecs"), bytes);
  fails("build --data cut.fvecs --out index.afi", {"cut.fvecs"});
}

// gen --duplicates F: exactly round(F x n) rows are copies of other rows (n - that many distinct
// rows remain), the same bytes for the same seed, and a bad fraction is refused.
TEST_F(Cli, GenWithExactDuplicates) {
  ok("gen --n 3000 --dim 8 --out dup.fbin --duplicates 0.1 --seed 3");
  ok("gen --n 3000 --dim 8 --out again.fbin --duplicates 0.1 --seed 3");
  ok("gen --n 3000 --dim 8 --out plain.fbin --seed 3");
  EXPECT_EQ(read_bytes(path("dup.fbin")), read_bytes(path("again.fbin")));
  auto distinct_rows = [&](const std::string& name) {
    const Dataset d = read_vectors(path(name));
    std::set<std::vector<uint8_t>> rows;
    for (int64_t i = 0; i < d.rows(); ++i) rows.emplace(d.view().row(i), d.view().row(i) + d.view().row_bytes());
    return rows.size();
  };
  EXPECT_EQ(distinct_rows("plain.fbin"), 3000u);
  EXPECT_EQ(distinct_rows("dup.fbin"), 2700u);
  fails("gen --n 100 --dim 8 --out bad.fbin --duplicates 1.5", {"--duplicates", "1.5"});
  fails("gen --n 100 --dim 8 --out bad.fbin --duplicates x", {"--duplicates"});
}

// A NaN or infinity in any input file is reported with that file's name, row and column.
TEST_F(Cli, NonFiniteValuesAreReportedWithTheirFile) {
  make_dataset();
  std::vector<uint8_t> bytes = read_bytes(path("queries.fbin"));
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(bytes.data() + 8 + 4 * (16 * 7 + 3), &nan, 4);  // row 7, column 3
  write_bytes(path("nan.fbin"), bytes);
  fails("build --data nan.fbin --out other.afi", {"nan.fbin", "row 7, column 3", "NaN"});
  fails("search --index index.afi --queries nan.fbin --k 10", {"nan.fbin", "row 7", "NaN"});
  fails("extend --index index.afi --data nan.fbin --out other.afi", {"nan.fbin", "row 7", "NaN"});
  fails("gt --data base.fbin --queries nan.fbin --k 10 --out other.ivecs", {"nan.fbin", "NaN"});
  fails("gt --data nan.fbin --queries queries.fbin --k 10 --out other.ivecs", {"nan.fbin", "NaN"});
}

// The 128-byte .npy whose shape (2^44, 2^20) of uint8 wrapped to 0 bytes: with --rows 10 the
// build died of SIGBUS. Now: one line naming the file, a clean exit code.
TEST_F(Cli, NpyWhoseShapeOverflowsIsRefused) {
  std::string dict = "{'descr': '|u1', 'fortran_order': False, 'shape': (17592186044416, 1048576), }";
  dict.append(128 - 10 - dict.size() - 1, ' ');
  dict.push_back('\n');
  std::string file = std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(dict.size()) + '\0' + dict;
  ASSERT_EQ(file.size(), 128u);
  write_bytes(path("huge.npy"), file);
  fails("build --data huge.npy --out index.afi --rows 10", {"huge.npy"});
  fails("build --data huge.npy --out index.afi", {"huge.npy"});
}

TEST_F(Cli, BadFlagsAndValues) {
  ok("gen --n 500 --dim 16 --out base.fbin");
  fails("build --data base.fbin --out index.afi --degre 32", {"--degre"});
  fails("build --data base.fbin --out index.afi --degree abc", {"--degree", "abc"});
  fails("build --data base.fbin --out index.afi --degree 0", {"--degree"});
  fails("build --data base.fbin --out index.afi --degree", {"--degree"});
  fails("build --data base.fbin --out index.afi --metric foo", {"metric", "foo"});
  fails("build --data base.fbin --out index.afi --algorithm fastest", {"--algorithm", "fastest"});
  fails("build --data base.fbin --out index.afi --device quantum", {"device", "quantum"});
  ok("gen --n 20 --dim 16 --out queries.fbin");
  fails("gt --data base.fbin --queries queries.fbin --k 5 --out gt.ivecs --device bogus", {"--device", "bogus"});
  fails("gt --data base.fbin --queries queries.fbin --k 5 --out gt.ivecs --device", {"--device"});
  fails("build --data base.fbin", {"--out"});
  fails("build --out index.afi", {"--data"});
  fails("gen --n 10 --dim 4 --out x.fbin --type float64", {"--type", "float64"});
  fails("frobnicate", {"frobnicate"});
}

// Without a GPU (a CPU-only build, or no device), --device gpu fails at once with one line that
// says why, for every command that takes it; --device cpu (gt's default) and auto still work.
TEST_F(Cli, GpuOnACpuOnlyBuild) {
  if (gpu_available()) GTEST_SKIP() << "this build and machine have a CUDA backend";
  make_dataset();
  fails("build --data base.fbin --out gpu.afi --device gpu", {"gpu"});
  fails("search --index index.afi --queries queries.fbin --device gpu --out found.ivecs", {"gpu"});
  fails("gt --data base.fbin --queries queries.fbin --k 10 --out gpu.ivecs --device gpu", {"annforge gt", "gpu", "CUDA"});
  const Result r = run("gt --data base.fbin --queries queries.fbin --k 10 --out gpu.ivecs --device gpu");
  EXPECT_EQ(r.exit_code, 1) << "NoDevice is not a usage error: exit 1, not 2";
  EXPECT_TRUE(r.out.empty()) << r.out;
  ok("gt --data base.fbin --queries queries.fbin --k 10 --out cpu.ivecs --device cpu");
  ok("gt --data base.fbin --queries queries.fbin --k 10 --out auto.ivecs --device auto");
  EXPECT_EQ(read_bytes(path("cpu.ivecs")), read_bytes(path("gt.ivecs")));
  EXPECT_EQ(read_bytes(path("auto.ivecs")), read_bytes(path("gt.ivecs")));
}

// With a GPU: the whole pipeline on it. Its ground truth agrees with the CPU's up to exact ties,
// its index searches at the CPU's recall threshold, and the file says the GPU built it.
TEST_F(Cli, GpuEndToEnd) {
  ANNFORGE_SKIP_WITHOUT(Device::Gpu);
  make_dataset();
  const Result gt = ok("gt --data base.fbin --queries queries.fbin --k 10 --out gpu_gt.ivecs --device gpu --json");
  EXPECT_NE(gt.out.find("\"backend\": \"cuda\""), std::string::npos) << gt.out;
  const Dataset base = read_vectors(path("base.fbin"));
  const Dataset queries = read_vectors(path("queries.fbin"));
  const Neighbors cpu_gt = read_neighbors(path("gt.ivecs")), gpu_gt = read_neighbors(path("gpu_gt.ivecs"));
  ASSERT_EQ(gpu_gt.rows, cpu_gt.rows);
  ASSERT_EQ(gpu_gt.k, cpu_gt.k);
  // Each GPU id counts when it is among the CPU's 10 or no farther (in double precision, up to
  // float rounding) than the CPU's 10th: the same answer up to ties and near-ties.
  int64_t agree = 0;
  const int k = gpu_gt.k;
  for (int64_t q = 0; q < gpu_gt.rows; ++q) {
    const std::set<uint32_t> expected(cpu_gt.ids.begin() + q * k, cpu_gt.ids.begin() + (q + 1) * k);
    const double kth = naive_distance(Metric::L2, queries.view(), q, base.view(), cpu_gt.ids[q * k + k - 1]);
    std::set<uint32_t> seen;
    for (int j = 0; j < k; ++j) {
      const uint32_t id = gpu_gt.ids[q * k + j];
      if (id >= base.rows() || !seen.insert(id).second) continue;
      agree += expected.count(id) > 0 ||
               naive_distance(Metric::L2, queries.view(), q, base.view(), id) <= kth * (1 + 1e-6) + 1e-9;
    }
  }
  EXPECT_GE(agree, gpu_gt.rows * k * 999 / 1000) << "of " << gpu_gt.rows * k;

  ok("build --data base.fbin --out gpu.afi --degree 16 --device gpu");
  const Index index = load(path("gpu.afi"));
  EXPECT_EQ(index.backend, "cuda");
  EXPECT_TRUE(graph_invariants(index, 16));
  for (const char* device : {"gpu", "cpu"}) {
    const Result s = ok(std::string("search --index gpu.afi --queries queries.fbin --k 10 --gt gt.ivecs --json --device ") +
                        device);
    const std::vector<double> r = recalls_in(s.out);
    ASSERT_EQ(r.size(), 1u) << s.out;
    EXPECT_GE(r[0], 0.9) << "searched on " << device << ": " << s.out;
  }
  const Result info = ok("info --json gpu.afi");
  EXPECT_NE(info.out.find("cuda"), std::string::npos) << info.out;
}

TEST_F(Cli, SearchWithQueriesOfTheWrongDimension) {
  make_dataset();
  ok("gen --n 50 --dim 12 --out wide.fbin");
  fails("search --index index.afi --queries wide.fbin --k 10 --out found.ivecs", {"wide.fbin"});
  ok("gen --n 50 --dim 16 --type uint8 --out bytes.u8bin");
  fails("search --index index.afi --queries bytes.u8bin --k 10 --out found.ivecs", {"bytes.u8bin"});
  fails("search --index index.afi --queries queries.fbin --k 0 --out found.ivecs", {"--k"});
  fails("search --index missing.afi --queries queries.fbin --out found.ivecs", {"missing.afi"});
}

TEST_F(Cli, SearchWithTooSmallGroundTruth) {
  make_dataset();
  ok("gt --data base.fbin --queries queries.fbin --k 5 --out gt5.ivecs");
  fails("search --index index.afi --queries queries.fbin --k 10 --gt gt5.ivecs --out found.ivecs", {"gt5.ivecs"});
}

TEST_F(Cli, BuildIntoAMissingDirectory) {
  ok("gen --n 500 --dim 16 --out base.fbin");
  fails("build --data base.fbin --out no/such/dir/index.afi", {"no/such/dir/index.afi"});
}

TEST_F(Cli, InfoOnACorruptIndex) {
  make_dataset();
  std::vector<uint8_t> bytes = read_bytes(path("index.afi"));
  bytes[bytes.size() / 2] ^= 0x20;
  write_bytes(path("corrupt.afi"), bytes);
  fails("info corrupt.afi", {"corrupt.afi"});
  bytes.resize(100);
  write_bytes(path("short.afi"), bytes);
  fails("info short.afi", {"short.afi"});
  fails("info base.fbin", {"base.fbin"});
  fails("info missing.afi", {"missing.afi"});
  fails("search --index corrupt.afi --queries queries.fbin --out found.ivecs", {"corrupt.afi"});
}

// export writes each format whole (its size follows from the index: hnswlib's layout is fixed
// per element), says what it did in --json, and fails cleanly on bad input. Loading the files
// in hnswlib and FAISS is tests/export/'s work.
TEST_F(Cli, Export) {
  make_dataset();
  const Result r = ok("export --index index.afi --format hnswlib --out index.hnsw --json");
  EXPECT_NE(r.out.find("\"format\": \"hnswlib\""), std::string::npos) << r.out;
  const Index index = load(path("index.afi"));
  // Links (degree 16 and the free slot after them), the vector (16 floats), the label.
  const size_t per_element = 4 + 4 * (16 + 1) + 4 * 16 + 8;
  const std::vector<uint8_t> bytes = read_bytes(path("index.hnsw"));
  ASSERT_GT(bytes.size(), 100 + 3000 * per_element);
  uint64_t count = 0, element_bytes = 0;
  std::memcpy(&count, bytes.data() + 16, 8);
  std::memcpy(&element_bytes, bytes.data() + 24, 8);
  EXPECT_EQ(count, 3000u);
  EXPECT_EQ(element_bytes, per_element);
  ok("export --index index.afi --format faiss --out index.faiss");
  EXPECT_EQ(slurp(path("index.faiss")).substr(0, 4), "IHNf");
  // Diverse links: the same layout, shorter level-0 lists (link counts in each element's first
  // 4 bytes; the header is 96 bytes).
  const Result diverse = ok("export --index index.afi --links diverse --out diverse.hnsw --json");
  EXPECT_NE(diverse.out.find("\"links\": \"diverse\""), std::string::npos) << diverse.out;
  const std::vector<uint8_t> thinned = read_bytes(path("diverse.hnsw"));
  ASSERT_EQ(thinned.size(), bytes.size());
  uint64_t full_links = 0, diverse_links = 0;
  for (uint64_t e = 0; e < count; ++e) {
    uint32_t links = 0;
    std::memcpy(&links, bytes.data() + 96 + e * per_element, 4);
    full_links += links & 0xFFFF;
    std::memcpy(&links, thinned.data() + 96 + e * per_element, 4);
    diverse_links += links & 0xFFFF;
  }
  EXPECT_GE(full_links, 16u * count);
  EXPECT_LT(diverse_links, full_links);
  fails("export --index index.afi --links thin --out x.bin", {"thin", "diverse"});
  fails("export --index index.afi --format nmslib --out x.bin", {"nmslib", "hnswlib"});
  fails("export --index missing.afi --out x.bin", {"missing.afi"});
  fails("export --index index.afi", {"--out"});
  fails("export --index index.afi --out no/such/dir/x.hnsw", {"no/such/dir/x.hnsw"});
}

// `annforge help COMMAND` and `annforge COMMAND --help` print the same page: the synopsis and
// every flag the command takes; each flag the page lists is one the command accepts.
TEST_F(Cli, HelpForEveryCommand) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> commands = {
      {"plan", {"data", "degree", "intermediate-degree", "iterations", "partitions", "memory-limit", "device", "threads", "rows",
                "json"}},
      {"build", {"data", "out", "metric", "degree", "intermediate-degree", "algorithm", "iterations", "device",
                 "threads", "rows", "seed", "partitions", "memory-limit", "verbose", "json"}},
      {"search", {"index", "queries", "k", "beam", "gt", "out", "device", "threads", "json"}},
      {"gt", {"data", "queries", "out", "k", "metric", "rows", "device", "threads", "json"}},
      {"info", {"index", "json"}},
      {"export", {"index", "out", "format", "links", "threads", "seed", "json"}},
      {"extend", {"index", "data", "out", "rows", "degree", "device", "threads", "seed", "json"}},
      {"gen", {"n", "dim", "out", "queries", "queries-out", "clusters", "type", "duplicates", "seed", "json"}},
      {"convert", {"data", "out", "rows", "json"}},
  };
  for (const auto& [command, flags] : commands) {
    SCOPED_TRACE(command);
    const Result help = ok("help " + command);
    EXPECT_EQ(ok(command + " --help").out, help.out);
    EXPECT_EQ(ok(command + " -h").out, help.out);
    EXPECT_NE(help.out.find("Usage: annforge " + command), std::string::npos) << help.out;
    size_t listed = 0;
    for (size_t at = help.out.find("  --"); at != std::string::npos; at = help.out.find("  --", at + 1)) ++listed;
    EXPECT_EQ(listed, flags.size()) << "flags on the page: " << help.out;
    for (const std::string& flag : flags) {
      EXPECT_NE(help.out.find("--" + flag + " "), std::string::npos) << "--" << flag << " missing from:\n" << help.out;
      // Accepted (whatever else then fails, it is not an unknown flag).
      const Result r = run(command + " --" + flag + " 1");
      EXPECT_EQ(r.err.find("unknown flag"), std::string::npos) << r.err;
    }
    // Defaults are shown where a flag has one.
    if (command == "build") EXPECT_NE(help.out.find("--degree N=32"), std::string::npos) << help.out;
  }
  fails("help nosuch", {"nosuch"});
}

// The plan before a build: `plan` prints it (text and JSON), `build --verbose` first, `build
// --json` with its report; a build whose plan exceeds --memory-limit is refused before any work,
// naming the file and the memory, and writes nothing; a bad size names the flag.
TEST_F(Cli, PlanAndMemoryLimit) {
  ok("gen --n 5000 --dim 16 --out base.fbin");
  const Result text = ok("plan --data base.fbin");
  for (const char* part : {"5000 x 16 float32", "all pairs in clusters", "peak:", "fits: yes"}) {
    EXPECT_NE(text.out.find(part), std::string::npos) << part << " missing from:\n" << text.out;
  }
  const Result json = ok("plan --data base.fbin --json --memory-limit 1G");
  for (const char* part : {"\"rows\": 5000", "\"peak_host_bytes\": ", "\"fits\": true", "\"host_memory_limit\": 1073741824"}) {
    EXPECT_NE(json.out.find(part), std::string::npos) << part << " missing from:\n" << json.out;
  }
  EXPECT_NE(ok("plan --data base.fbin --memory-limit 1K").out.find("fits: no"), std::string::npos);
  fails("build --data base.fbin --out index.afi --memory-limit 1K", {"base.fbin", "host memory", "limit"});
  fails("build --data base.fbin --out index.afi --memory-limit lots", {"--memory-limit", "lots"});
  fails("plan --data base.fbin --memory-limit 0", {"--memory-limit"});
  const Result verbose = ok("build --data base.fbin --out index.afi --verbose --memory-limit 2GiB");
  EXPECT_LT(verbose.out.find("plan:"), verbose.out.find("built 5000")) << verbose.out;
  const Result built = ok("build --data base.fbin --out index.afi --json");
  EXPECT_NE(built.out.find("\"plan\": {\"backend\": \"cpu\""), std::string::npos) << built.out;
  // Pieces asked for: the plan and the build take them; too few rows for two pieces: one.
  ok("gen --n 20000 --dim 16 --out large.fbin");
  const Result pieces = ok("build --data large.fbin --out pieces.afi --partitions 4 --json");
  EXPECT_NE(pieces.out.find("\"partitions\": 4"), std::string::npos) << pieces.out;
  EXPECT_NE(ok("plan --data base.fbin --rows 2500 --partitions 4").out.find("partitions: 1"), std::string::npos);
  fails("build --data large.fbin --out pieces.afi --partitions 300", {"--partitions"});
  EXPECT_NE(ok("info --index pieces.afi").out.find("20000"), std::string::npos);
}

TEST_F(Cli, Version) {
  const Result v = ok("--version");
  EXPECT_EQ(v.out.rfind(std::string("annforge ") + annforge::version() + "\n", 0), 0u) << v.out;
  EXPECT_NE(v.out.find("backends: cpu"), std::string::npos) << v.out;
  EXPECT_NE(v.out.find("\ncpu: "), std::string::npos) << v.out;
  EXPECT_NE(v.out.find("\ngpu: "), std::string::npos) << v.out;
  const SystemInfo info = system_info();
  EXPECT_NE(v.out.find("cpu: " + info.cpu_simd), std::string::npos) << v.out;
  EXPECT_FALSE(info.cpu_simd.empty());
  EXPECT_EQ(info.gpu_available, gpu_available());
}

#ifdef ANNFORGE_TEST_HDF5
// An ann-benchmarks file end to end: build takes `train` and the file's metric, search takes
// `test` and `neighbors`, gt computes the same neighbours the file holds.
TEST_F(Cli, AnnBenchmarksHdf5) {
  Rng rng(23);
  const hsize_t rows = 3000, queries = 100, dim = 24, k = 10;
  std::vector<float> train(rows * dim);
  std::vector<double> test(queries * dim);
  for (float& v : train) v = static_cast<float>(rng.normal());
  for (double& v : test) v = rng.normal();
  std::vector<float> test_f(test.begin(), test.end());
  const Neighbors truth = exact_knn(DatasetView{train.data(), rows, dim, ElementType::Float32},
                                    DatasetView{test_f.data(), queries, dim, ElementType::Float32}, k, Metric::Cosine);
  std::vector<int32_t> ids(truth.ids.begin(), truth.ids.end());
  Hdf5Writer(path("set.hdf5"))
      .dataset("train", {rows, dim}, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, train)
      .dataset("test", {queries, dim}, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, test)
      .dataset("neighbors", {queries, k}, H5T_STD_I32LE, H5T_NATIVE_INT, ids)
      .attribute("distance", "angular");
  ok("build --data set.hdf5 --out index.afi --degree 16");
  EXPECT_EQ(load(path("index.afi")).metric, Metric::Cosine) << "the metric comes from the file's 'distance'";
  const Result s = ok("search --index index.afi --queries set.hdf5 --gt set.hdf5 --k 10 --beam 64 --json");
  EXPECT_NE(s.err.find("float64 values converted to float32"), std::string::npos) << "a one-line notice: " << s.err;
  const std::vector<double> r = recalls_in(s.out);
  ASSERT_EQ(r.size(), 1u) << s.out;
  EXPECT_GE(r[0], 0.9) << s.out;
  ok("gt --data set.hdf5 --queries set.hdf5 --k 10 --out gt.ivecs");
  EXPECT_EQ(read_neighbors(path("gt.ivecs")).ids, truth.ids);
  ok("build --data set.hdf5 --out l2.afi --metric l2");
  EXPECT_EQ(load(path("l2.afi")).metric, Metric::L2) << "--metric overrides the file";
  fails("build --data set.hdf5 --out x.afi --metric hamming", {"--metric", "hamming"});
  write_bytes(path("junk.hdf5"), std::string(1000, 'j'));
  fails("build --data junk.hdf5 --out x.afi", {"junk.hdf5", "not an HDF5 file"});
}
#endif

TEST_F(Cli, HelpAndUsage) {
  const Result none = run("");
  EXPECT_NE(none.exit_code, 0) << "no command is an error";
  EXPECT_NE(none.err.find("annforge build"), std::string::npos) << "usage goes to stderr";
  const Result help = run("help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("annforge search"), std::string::npos);
}


// convert: texmex .bvecs to .u8bin and .npy and back, every value kept (byte for byte where the
// format is the same), --rows, and a missing input failing with nothing written.
TEST_F(Cli, Convert) {
  ok("gen --n 500 --dim 12 --type uint8 --out base.bvecs --seed 5");
  ok("convert --data base.bvecs --out base.u8bin");
  ok("convert --data base.u8bin --out copy.npy --rows 300");
  ok("convert --data base.u8bin --out again.bvecs");
  EXPECT_EQ(read_bytes(path("again.bvecs")), read_bytes(path("base.bvecs")));
  const Dataset original = read_vectors(path("base.bvecs"));
  const Dataset converted = read_vectors(path("base.u8bin"));
  const Dataset first = read_vectors(path("copy.npy"));
  ASSERT_EQ(converted.type(), ElementType::UInt8);
  ASSERT_EQ(converted.rows(), 500);
  ASSERT_EQ(first.rows(), 300);
  for (int64_t r = 0; r < 500; ++r) {
    const uint8_t* a = original.view().row(r);
    ASSERT_TRUE(std::equal(a, a + 12, converted.view().row(r))) << "row " << r;
    if (r < 300) ASSERT_TRUE(std::equal(a, a + 12, first.view().row(r))) << "row " << r;
  }
  const Result json = ok("convert --data base.bvecs --out f.u8bin --json");
  EXPECT_NE(json.out.find("\"rows\": 500"), std::string::npos) << json.out;
  fails("convert --data missing.bvecs --out x.u8bin", {"missing.bvecs"});
  fails("convert --data base.bvecs --out x.unknown", {"x.unknown"});
}

}  // namespace
