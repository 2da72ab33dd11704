// annforge: the public C++ API. Build a fixed-degree proximity graph over a whole batch of
// vectors at once, search it with a whole batch of queries, extend it, save and load it.
// Everything here takes batches; there is no per-vector call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace annforge {

enum class Metric { L2, InnerProduct, Cosine };
enum class ElementType { Float32, UInt8, Int8 };
enum class Device { Auto, Cpu, Gpu };
enum class BuildAlgorithm { Auto, BruteForce, NNDescent };

// The one way annforge fails: an exception carrying a code and a message that names the file,
// flag or shape at fault. The C API maps the code to annforge_status; the CLI prints the message.
enum class ErrorCode { InvalidArgument = 1, Io = 2, Format = 3, Unsupported = 4, NoDevice = 5, Internal = 6 };
class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

size_t element_size(ElementType type);
const char* to_string(Metric metric);       // "l2", "ip", "cosine"
const char* to_string(ElementType type);    // "float32", "uint8", "int8"
Metric parse_metric(const std::string& name);  // throws InvalidArgument naming the value
Device parse_device(const std::string& name);  // "auto", "cpu", "gpu"

// A borrowed, row-major matrix of vectors: the caller owns the memory and keeps it alive.
// Rows may lie apart (`stride`): a texmex file (.fvecs, .bvecs) is read in place, its rows
// with the 4-byte header between them, and not copied into a packed block.
struct DatasetView {
  const void* data = nullptr;
  int64_t rows = 0;
  int64_t dim = 0;
  ElementType type = ElementType::Float32;
  size_t stride = 0;  // bytes from one row's start to the next; 0: packed (row_bytes())

  size_t row_bytes() const { return static_cast<size_t>(dim) * element_size(type); }
  size_t row_stride() const { return stride != 0 ? stride : row_bytes(); }
  bool packed() const { return row_stride() == row_bytes(); }
  const uint8_t* row(int64_t i) const { return static_cast<const uint8_t*>(data) + i * row_stride(); }
  // Rows [first, first + count), with this view's stride.
  DatasetView slice(int64_t first, int64_t count) const { return DatasetView{row(first), count, dim, type, stride}; }
};

// A matrix of vectors that keeps its storage alive: heap memory, a memory-mapped file, or
// (from Dataset::borrow) nothing at all, for the caller's memory. Copies share the storage.
class Dataset {
 public:
  Dataset() = default;
  static Dataset allocate(int64_t rows, int64_t dim, ElementType type);
  static Dataset copy_of(const DatasetView& view);
  static Dataset borrow(const DatasetView& view);
  static Dataset wrap(const DatasetView& view, std::shared_ptr<const void> keep_alive);
  // These rows followed by `more` (the same dim and type), in storage allocated by annforge with
  // room to grow. Where this dataset came from appended() and the room right after its rows is
  // still free, `more` is written there and the storage shared: rows are then copied a few times
  // each on average over many appends, not once per append. Otherwise all rows are copied into
  // new storage with room for half as many again (address space only until rows are written).
  // This dataset's own rows and view are untouched either way.
  Dataset appended(const DatasetView& more) const;

  const DatasetView& view() const { return view_; }
  int64_t rows() const { return view_.rows; }
  int64_t dim() const { return view_.dim; }
  ElementType type() const { return view_.type; }
  bool owns_storage() const { return storage_ != nullptr; }
  void* mutable_data();  // only for storage allocated by annforge
  // Where the vectors came from (read_vectors sets the file's path; empty otherwise): build()
  // names it in its errors about the data, such as a NaN's row and column.
  const std::string& source() const { return source_; }
  void set_source(const std::string& source) { source_ = source; }
  // "float16" or "float64" when read_vectors converted the file's values to float32 at read;
  // empty otherwise (the CLI prints a one-line notice).
  const std::string& converted_from() const { return converted_from_; }
  void set_converted_from(const std::string& type) { converted_from_ = type; }

 private:
  struct Room;  // appended()'s capacity and how much of it is taken
  std::shared_ptr<const void> storage_;
  std::shared_ptr<Room> room_;
  DatasetView view_;
  bool writable_ = false;
  std::string source_;
  std::string converted_from_;
};

// k neighbours per query, nearest first. Missing neighbours (k larger than the data) are
// reported as id kInvalidId with distance +infinity.
constexpr uint32_t kInvalidId = 0xFFFFFFFFu;
struct Neighbors {
  int64_t rows = 0;
  int k = 0;
  std::vector<uint32_t> ids;      // rows x k
  std::vector<float> distances;   // rows x k; smaller is nearer (see distance convention below)
};
// Distance convention: L2 is the squared Euclidean distance; InnerProduct is -<a,b>;
// Cosine is 1 - cos(a,b). In all three, smaller means nearer.

struct Progress {
  const char* stage;  // "knn-graph", "optimize", "search", ...
  int64_t done;
  int64_t total;
};
using ProgressCallback = std::function<void(const Progress&)>;

struct BuildParams {
  Metric metric = Metric::L2;
  int graph_degree = 32;          // out-degree of the final graph
  // Degree of the kNN graph that pruning starts from (>= graph_degree); 0: the backend's choice,
  // 3/2 x graph_degree on the CPU (48 for 32: the same recall as 64 on SIFT and MNIST at a
  // quarter less build time), 2 x graph_degree and at least 64 on the GPU (where it costs little).
  int intermediate_degree = 0;
  // Auto: exact brute force up to 3,000 rows, NN-Descent above (see NOTES.md for the crossover).
  // NN-Descent starts from exact neighbours within overlapping k-means clusters, then runs
  // local-join rounds to repair neighbours cut off at cluster borders.
  BuildAlgorithm algorithm = BuildAlgorithm::Auto;
  // Local-join rounds after the clustered start (0: none). -1: the backend's choice: on the CPU
  // one round where its partition measures that one cut leaves many neighbours apart (the data
  // that takes a second partition: text embeddings), none elsewhere (a round bought recall@10
  // +0.0005 to +0.003 on SIFT, MNIST and generated clusters for 12-20% of the build); one round on
  // the GPU.
  int nn_descent_iterations = -1;
  float nn_descent_termination = 0.001f;  // stop early when a round updates fewer than this share of edges
  int threads = 0;                // 0: all hardware threads
  uint64_t seed = 42;
  Device device = Device::Auto;
  ProgressCallback progress;      // called from the calling thread; may be empty
  // Pieces the kNN stage is built in, one after another (CPU backend): k-means over a sample
  // splits the rows, each row in its 2 nearest pieces; each piece's kNN lists are built over a
  // copy of its rows alone and merged, NN-Descent repairs the pieces' borders over all rows, and
  // the graph is optimised once. 1: one piece. 0: the build chooses, one piece unless
  // `memory_limit` needs more (the fewest pieces whose plan fits, plan_build).
  int partitions = 0;
  uint64_t memory_limit = 0;      // host bytes the build may hold (0: no limit); a build whose plan
                                  // cannot fit even in pieces is refused before any work
};

struct SearchParams {
  int beam_width = 64;            // candidates kept during the walk (>= k; at most 65,536, as k is); higher: better recall
  int threads = 0;
  Device device = Device::Auto;
  ProgressCallback progress;
};

// One upper level of the search hierarchy, as in HNSW: a sparse sample of the rows with a graph
// of its own. Each level's members are a subset of the level below's (and of all rows). The CPU
// backend builds level 1 (1 in graph_degree / 2 rows, and every entry point); a search scans
// the entry points, searches level 1 from the nearest, and starts on the base graph from what
// that found, so that it starts next to the query however many separate regions the data has.
struct UpperLevel {
  std::vector<uint32_t> members;  // row ids, ascending
  int degree = 0;
  std::vector<uint32_t> graph;    // members.size() x degree positions into `members`
};

// A built index: the vectors, the fixed-degree graph (rows x graph_degree ids, no self loops,
// no repeats), the metric and shape. `vectors` may borrow the caller's memory (zero copy).
struct Index {
  Metric metric = Metric::L2;
  Dataset vectors;
  int graph_degree = 0;
  std::vector<uint32_t> graph;
  // Where searches start: the vector nearest the centroid first, then one vector per region
  // of the data (from k-means), so a query starts near its own region even when the data
  // falls into well separated clusters.
  std::vector<uint32_t> entry_points;
  // The search hierarchy above the graph, densest first (levels[0] is level 1, which holds
  // every entry point), built by either backend (the GPU builds each level's graph with its own
  // pipeline). Empty for small data and for files of format version 1: their searches start
  // from all entry points on the base graph instead.
  std::vector<UpperLevel> levels;
  // The upper levels' beam is the search's beam_width / this (4 to 64 wide). The build measures
  // it: 4 where a narrow upper beam finds a query's region as often as a wide one, 2 or 1 on
  // data of many separate clusters, where a narrow one fills with a single cluster's members.
  int upper_width_divisor = 4;
  std::string backend;            // which backend built it: "cpu" or "cuda"

  int64_t rows() const { return vectors.rows(); }
  int64_t dim() const { return vectors.dim(); }
  const uint32_t* neighbors(int64_t i) const { return graph.data() + i * graph_degree; }
};

// Builds the graph over all of `data`. The Dataset overload shares the dataset's storage
// (a memory-mapped file stays mapped, a borrowed view stays borrowed); no vector is copied.
Index build(const Dataset& data, const BuildParams& params = {});

// What a build will take, planned before any work from the data's shape and the parameters
// (`annforge plan`; `annforge build --verbose` / `--json`): per stage, the host and device
// memory it holds and its estimated time. Memory counts what the build allocates, not the input
// vectors (input_bytes: a mapped file's pages become resident as they are read; a file read
// into memory, such as .fvecs or converted float16, adds them once).
struct PlanStage {
  std::string name;
  uint64_t host_bytes = 0;    // resident host memory held while the stage runs
  uint64_t device_bytes = 0;  // GPU memory held while the stage runs (GPU backend)
  double seconds = 0;         // estimate from the backend's measured rates
};
struct BuildPlan {
  std::string backend;        // "cpu" or "cuda": where the build would run
  int64_t rows = 0;
  int64_t dim = 0;
  ElementType type = ElementType::Float32;
  int graph_degree = 0;
  int intermediate_degree = 0;
  int threads = 0;            // resolved
  uint64_t input_bytes = 0;
  std::vector<PlanStage> stages;
  uint64_t peak_host_bytes = 0;    // the largest stage
  uint64_t peak_device_bytes = 0;
  uint64_t index_bytes = 0;        // the saved index file
  double seconds = 0;              // all stages
  int partitions = 1;              // pieces built one after another (1: in one piece)
  std::string partitions_why;
  uint64_t host_memory_limit = 0;  // what the plan was checked against (0: none)
  bool fits = true;                // peak_host_bytes within the limit (and the device's memory)
  std::string refusal;             // why not, when !fits
};

// Plans a build of `rows` x `dim` vectors of `type` with `params` (the device as build() would
// resolve it). `host_memory_limit` (bytes; 0: params.memory_limit) is checked against
// peak_host_bytes; with params.partitions 0 the plan takes the fewest pieces that fit it.
BuildPlan plan_build(int64_t rows, int64_t dim, ElementType type, const BuildParams& params,
                     uint64_t host_memory_limit = 0);

// Searches a whole batch; writes queries.rows x k ids and distances into caller memory.
void search(const Index& index, const DatasetView& queries, int k, const SearchParams& params,
            uint32_t* ids, float* distances);
Neighbors search(const Index& index, const DatasetView& queries, int k, const SearchParams& params = {});

// Adds a batch of vectors to the index (copying the index's vectors into owned storage) and
// links them into the graph, keeping its degree fixed.
void extend(Index& index, const DatasetView& more, const BuildParams& params = {});

// Exact k nearest neighbours by blocked brute force: ground truth, and the small-data build.
// `device` picks the backend (Cpu by default, so ground truth stays the CPU reference unless a
// caller asks for the GPU's blocked matrix products).
Neighbors exact_knn(const DatasetView& base, const DatasetView& queries, int k, Metric metric,
                    int threads = 0, const ProgressCallback& progress = {}, Device device = Device::Cpu);

// The annforge index file (see index/index_file.cpp for the layout). save writes a temporary
// file beside `path` and renames it, so a failure never leaves a half-written index.
void save(const Index& index, const std::string& path);
Index load(const std::string& path);
// The format version save() writes for `index`: 1 without upper levels (readable by older
// annforge builds), 2 with them.
int index_file_version(const Index& index);

// Export to the formats that serving stacks load as they are, with the graph annforge built as
// their base layer and HNSW's upper levels built in bulk above it (index/export.cpp):
//  - Hnswlib: hnswlib's saveIndex file (read by HierarchicalNSW::loadIndex, C++ and Python;
//    0.6 to 0.8). M = graph_degree / 2, so level 0 (2M links) can hold the graph exactly. Space:
//    l2 -> L2Space, ip -> InnerProductSpace, cosine -> the vectors written normalised, for
//    hnswlib's "cosine" space (Python) or InnerProductSpace (C++). Vectors are written as
//    float32 (8-bit rows converted); labels are the row ids.
//  - Faiss: an IndexHNSWFlat for faiss::read_index (L2, or inner product; cosine as normalised
//    vectors with inner product).
// The file is written to a temporary name and renamed, as save() does.
enum class ExportFormat { Hnswlib, Faiss };
const char* to_string(ExportFormat format);              // "hnswlib", "faiss"
ExportFormat parse_export_format(const std::string& name);  // throws InvalidArgument naming the value
// Level 0's links. Index: the index graph exactly as annforge searches it (full lists of
// graph_degree links). Diverse: each row's links chosen again by HNSW's neighbour heuristic
// from the nearest 5 x graph_degree of its two-hop neighbourhood in the index graph, then made
// symmetric (23.6 / 20.6 links per row at degree 32 on 1M SIFT / wordtext; hnswlib's own
// construction leaves 21.6 / 21.2): hnswlib and FAISS compute a distance for every link they
// read, so shorter, diverse lists serve more queries per second at equal recall (in hnswlib
// at recall@10 0.95, against its own M16 index: 1M SIFT 0.84x with Index, 0.97-1.02x with
// Diverse; 1M wordtext 0.73x and 0.83-0.91x), for an export ~10-20x longer (25 s instead of
// 2 s on 2 cores at 1M SIFT: ~900 scattered rows read per row). By inner product the pool is
// ranked by -<x, y> and the heuristic compares by angle (over -<x, y> itself it leaves a row
// almost no links: long rows win every comparison).
enum class ExportLinks { Index, Diverse };
const char* to_string(ExportLinks links);                 // "index", "diverse"
ExportLinks parse_export_links(const std::string& name);  // throws InvalidArgument naming the value
struct ExportParams {
  ExportFormat format = ExportFormat::Hnswlib;
  uint64_t seed = 42;  // the upper levels' membership
  int threads = 0;     // for building the upper levels and choosing level 0's links
  ExportLinks links = ExportLinks::Index;
};
void export_index(const Index& index, const std::string& path, const ExportParams& params = {});

// Vector files: .fvecs .bvecs .ivecs, .fbin .f16bin .u8bin .i8bin .ibin, .npy (float32, float16,
// float64, uint8, int8), and ann-benchmarks .hdf5 / .h5 (through libhdf5, where this build has
// it). Large contiguous formats are memory-mapped and used in place; float16 and float64 values
// are converted to float32 once at read (Dataset::converted_from says so). max_rows < 0 reads
// every row; otherwise the first max_rows, and a texmex file's row headers are checked only
// that far. `member` names an .hdf5 file's dataset: "train" when empty ("test" holds the
// queries); other formats take none.
Dataset read_vectors(const std::string& path, int64_t max_rows = -1, const std::string& member = "");
// Writes .fvecs .bvecs .fbin .u8bin .i8bin .npy in the data's own type, and .f16bin from float32
// rows (rounded to nearest even). .hdf5 is read only.
void write_vectors(const std::string& path, const DatasetView& data);
// Neighbour-id files (.ivecs, .ibin; .hdf5's "neighbors" when `member` is empty): ground truth
// and search output.
Neighbors read_neighbors(const std::string& path, const std::string& member = "");
void write_neighbors(const std::string& path, const Neighbors& neighbors);
// The metric a vector file declares, if its format carries one: ann-benchmarks .hdf5 files do
// (attribute `distance`: euclidean -> L2, angular -> Cosine, dot / ip -> InnerProduct). Returns
// false for a file that declares none; throws Unsupported for a declared metric annforge has not
// (hamming, jaccard).
bool declared_metric(const std::string& path, Metric* metric);

// Checks a matrix as build, search and exact_knn do before any work: rows and dim positive, data
// present and aligned to its elements, fewer rows than 32-bit ids address, and (float32) every
// value finite, every row's squared norm at most FLT_MAX / 16 (so that no float32 distance
// overflows). Throws InvalidArgument whose message starts with `what` (a file name, say) and
// names rows from `first_row` on (the data being a range of a larger matrix).
void check_vectors(const DatasetView& data, const std::string& what, int64_t first_row = 0);

// Mean recall@k: the share of each query's true k nearest (the first k columns of `truth`)
// found among the first k columns of `found`. Throws when either has fewer rows or columns.
double recall_at_k(const Neighbors& found, const Neighbors& truth, int k);

// Which backends this build and this machine offer, and which one `device` resolves to.
bool gpu_available();
std::string resolve_backend(Device device);  // "cpu" or "cuda"; throws NoDevice for Gpu without one

// The library's version ("0.1.0"), and what this build and this machine offer.
const char* version();
struct SystemInfo {
  std::string version;
  std::vector<std::string> backends;  // compiled in: "cpu", and "cuda" where built with it
  std::string cpu_simd;               // the CPU kernels' instruction set on this CPU: "avx512 +vnni +bf16 +amx-bf16", "avx2 +fma", ...
  bool gpu_available = false;
  std::string gpu;                    // the GPU in use ("NVIDIA H200 (140 GiB)"), or why none
  bool hdf5 = false;                  // .hdf5 input compiled in
};
SystemInfo system_info();

}  // namespace annforge
