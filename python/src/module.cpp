// annforge._annforge: the C++ API for Python. One call per batch; arrays used in place
// (arrays.hpp); the GIL released for every long call; a progress callback that also checks for
// Ctrl-C, so that KeyboardInterrupt stops a build at its next progress report (the library's
// parallel loops stop their workers and rethrow; nothing is saved half-written).
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>

#include "annforge.hpp"
#include "arrays.hpp"

namespace nb = nanobind;
using namespace nb::literals;

namespace annforge::python {
namespace {

// An index shared with the NumPy views of its graph. Searches and the properties share the
// lock; extend takes it alone, so concurrent searches on one index are safe. extend() works in
// place where nothing else holds the index (its cost is then the new rows'); where a graph view
// holds it, it extends a copy and swaps it in, so the view stays valid (it keeps the old one).
struct PyIndex {
  std::shared_ptr<Index> index;
  std::shared_ptr<std::shared_mutex> lock = std::make_shared<std::shared_mutex>();

  // For callers holding the lock.
  const Index& get() const { return *index; }
  // The current index, held (for callers holding the GIL and not the lock: it is released while
  // the lock is awaited, since an extend holding the lock may report progress through Python).
  std::shared_ptr<const Index> pinned() const {
    nb::gil_scoped_release release;
    std::shared_lock<std::shared_mutex> shared(*lock);
    return index;
  }
};

// Called from the calling thread (with the GIL released around the library call): takes the
// GIL, raises a pending KeyboardInterrupt as an exception the library carries out of the call,
// then calls the Python callback, if any, with (stage, done, total). `callback` is borrowed:
// the caller's argument outlives the call (std::function copies must not touch refcounts
// without the GIL).
ProgressCallback progress_hook(PyObject* callback) {
  return [callback](const Progress& p) {
    nb::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) throw nb::python_error();
    if (callback != Py_None) nb::borrow<nb::object>(callback)(p.stage, p.done, p.total);
  };
}

// Python exception types: annforge.Error and one subclass per error code, each also a subclass
// of the built-in a Python caller would catch (ValueError, OSError, RuntimeError).
struct ErrorTypes {
  PyObject* base = nullptr;
  PyObject* by_code[7] = {};
};
ErrorTypes& error_types() {
  static ErrorTypes types;
  return types;
}

void add_error_types(nb::module_& m) {
  ErrorTypes& t = error_types();
  t.base = PyErr_NewExceptionWithDoc("annforge.Error", "Base class of every error annforge raises.", PyExc_Exception, nullptr);
  m.attr("Error") = nb::handle(t.base);
  auto add = [&](ErrorCode code, const char* name, PyObject* builtin, const char* doc) {
    nb::object bases = nb::make_tuple(nb::handle(t.base), nb::handle(builtin));
    PyObject* type = PyErr_NewExceptionWithDoc((std::string("annforge.") + name).c_str(), doc, bases.ptr(), nullptr);
    t.by_code[static_cast<int>(code)] = type;
    m.attr(name) = nb::handle(type);
  };
  add(ErrorCode::InvalidArgument, "InvalidArgumentError", PyExc_ValueError, "A bad argument: a value, a shape, a flag.");
  add(ErrorCode::Io, "FileError", PyExc_OSError, "A file that cannot be opened, read or written.");
  add(ErrorCode::Format, "FormatError", PyExc_ValueError, "A file whose contents are malformed, truncated or corrupt.");
  add(ErrorCode::Unsupported, "UnsupportedError", PyExc_RuntimeError, "Something this build or this input cannot do.");
  add(ErrorCode::NoDevice, "NoDeviceError", PyExc_RuntimeError, "device='gpu' without a usable GPU.");
  add(ErrorCode::Internal, "InternalError", PyExc_RuntimeError, "A failure inside annforge (out of memory, a bug).");
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const Error& e) {
      const int code = static_cast<int>(e.code());
      PyObject* type = (code >= 1 && code <= 6) ? error_types().by_code[code] : error_types().base;
      PyErr_SetString(type, e.what());
    }
  });
}

// Seconds the last build / search on this thread spent inside the library (between entering the
// C++ call and its return): what bench/python_overhead.py subtracts from the Python call's time
// to measure what the binding itself costs.
thread_local double library_seconds = 0.0;
class LibraryTimer {
 public:
  LibraryTimer() : start_(std::chrono::steady_clock::now()) {}
  ~LibraryTimer() { library_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }

 private:
  std::chrono::steady_clock::time_point start_;
};

Metric metric_from(const std::string& name) { return parse_metric(name); }

Device device_from(const std::string& name) { return parse_device(name); }

nb::tuple search_index(const PyIndex& self, const AnyArray& queries, int k, int beam_width, int threads,
                       const std::string& device, nb::handle progress) {
  const Dataset q = matrix_from(queries, "queries");
  if (k < 1) throw nb::value_error("k must be at least 1");
  uint32_t* ids = nullptr;
  float* distances = nullptr;
  auto ids_array = new_matrix<uint32_t>(q.rows(), k, &ids);
  auto distances_array = new_matrix<float>(q.rows(), k, &distances);
  SearchParams params;
  params.beam_width = beam_width;
  params.threads = threads;
  params.device = device_from(device);
  params.progress = progress_hook(progress.ptr());
  {
    nb::gil_scoped_release release;
    std::shared_lock<std::shared_mutex> shared(*self.lock);
    LibraryTimer timer;
    search(self.get(), q.view(), k, params, ids, distances);
  }
  return nb::make_tuple(ids_array, distances_array);
}

}  // namespace
}  // namespace annforge::python

using namespace annforge;
using namespace annforge::python;

NB_MODULE(_annforge, m) {
  m.doc() = "annforge's C++ engine (use the annforge package, which wraps it).";
  m.attr("__version__") = version();
  m.attr("INVALID_ID") = kInvalidId;
  add_error_types(m);

  nb::class_<PyIndex>(m, "Index", "A built index: the vectors, the fixed-degree graph and its search levels.")
      .def("__len__", [](const PyIndex& s) { return s.pinned()->rows(); }, "Number of vectors.")
      .def("__repr__",
           [](const PyIndex& s) {
             const std::shared_ptr<const Index> held = s.pinned();
             const Index& i = *held;
             return "<annforge.Index " + std::to_string(i.rows()) + " x " + std::to_string(i.dim()) + " " +
                    to_string(i.vectors.type()) + ", " + to_string(i.metric) + ", degree " +
                    std::to_string(i.graph_degree) + ", built on " + i.backend + ">";
           })
      .def_prop_ro("rows", [](const PyIndex& s) { return s.pinned()->rows(); }, "Number of vectors.")
      .def_prop_ro("dim", [](const PyIndex& s) { return s.pinned()->dim(); }, "Dimension of the vectors.")
      .def_prop_ro("graph_degree", [](const PyIndex& s) { return s.pinned()->graph_degree; }, "Out-degree of the graph.")
      .def_prop_ro("metric", [](const PyIndex& s) { return std::string(to_string(s.pinned()->metric)); },
                   "'l2', 'ip' or 'cosine'.")
      .def_prop_ro("dtype", [](const PyIndex& s) { return std::string(to_string(s.pinned()->vectors.type())); },
                   "Element type of the stored vectors: 'float32', 'uint8' or 'int8'.")
      .def_prop_ro("backend", [](const PyIndex& s) { return s.pinned()->backend; }, "'cpu' or 'cuda': which backend built it.")
      .def_prop_ro(
          "graph",
          [](const PyIndex& s) {
            // A read-only view of the graph; it keeps this version of the index alive.
            auto* keep = new std::shared_ptr<const Index>(s.pinned());
            nb::capsule owner(keep, [](void* p) noexcept { delete static_cast<std::shared_ptr<const Index>*>(p); });
            const Index& index = **keep;
            const size_t shape[2] = {static_cast<size_t>(index.rows()), static_cast<size_t>(index.graph_degree)};
            return nb::cast(nb::ndarray<nb::numpy, const uint32_t, nb::ndim<2>>(index.graph.data(), 2, shape, owner));
          },
          "The graph as a read-only (rows, graph_degree) uint32 array of neighbour ids, without a copy.")
      .def(
          "search", &search_index, "queries"_a, "k"_a = 10, "beam_width"_a = 64, "threads"_a = 0, "device"_a = "auto",
          "progress"_a = nb::none(),
          "Searches a batch of queries; returns (ids, distances), two (queries, k) arrays (uint32, float32).")
      .def(
          "extend",
          [](PyIndex& self, const AnyArray& more, int threads, uint64_t seed, nb::handle progress, int graph_degree) {
            const Dataset rows = matrix_from(more, "vectors");
            BuildParams params;
            {
              const std::shared_ptr<const Index> held = self.pinned();
              params.metric = held->metric;
            }
            // The index keeps its own degree unless its rows capped it (annforge::extend); then
            // it grows to this one.
            params.graph_degree = graph_degree;
            params.threads = threads;
            params.seed = seed;
            params.progress = progress_hook(progress.ptr());
            nb::gil_scoped_release release;
            std::unique_lock<std::shared_mutex> alone(*self.lock);
            // Held elsewhere (a graph view, or a property being read): extend a copy.
            if (self.index.use_count() == 1) {
              extend(*self.index, rows.view(), params);
            } else {
              auto next = std::make_shared<Index>(*self.index);
              extend(*next, rows.view(), params);
              self.index = std::move(next);
            }
          },
          "vectors"_a, "threads"_a = 0, "seed"_a = 42, "progress"_a = nb::none(), "graph_degree"_a = 32,
          "Adds a batch of vectors (copied into the index) and links them into the graph, at a cost that follows\n"
          "the batch (in place; on a copy while a graph view holds the index). The index keeps its degree,\n"
          "unless it had too few rows for it (r rows hold r - 1 links each): then it grows to graph_degree.")
      .def(
          "save",
          [](const PyIndex& self, const std::string& path) {
            nb::gil_scoped_release release;
            std::shared_lock<std::shared_mutex> shared(*self.lock);
            save(self.get(), path);
          },
          "path"_a, "Saves the index (to a temporary name, then renamed: never half-written).")
      .def(
          "export",
          [](const PyIndex& self, const std::string& path, const std::string& format, int threads, uint64_t seed,
             const std::string& links) {
            ExportParams params;
            params.format = parse_export_format(format);
            params.links = parse_export_links(links);
            params.threads = threads;
            params.seed = seed;
            nb::gil_scoped_release release;
            std::shared_lock<std::shared_mutex> shared(*self.lock);
            export_index(self.get(), path, params);
          },
          "path"_a, "format"_a = "hnswlib", "threads"_a = 0, "seed"_a = 42, "links"_a = "index",
          "Writes the index as an hnswlib or FAISS (IndexHNSWFlat) file those libraries load as they are.\n"
          "links: 'index' (level 0 is the index graph as it is) or 'diverse' (each row's links chosen\n"
          "again by HNSW's heuristic from its two-hop neighbourhood: more queries/s in those libraries at\n"
          "equal recall, a longer export).");

  m.def(
      "build",
      [](const AnyArray& vectors, const std::string& metric, int graph_degree, const std::string& device, int threads,
         nb::handle progress, uint64_t seed, int intermediate_degree, int partitions, uint64_t memory_limit) {
        const Dataset data = matrix_from(vectors, "vectors");
        BuildParams params;
        params.metric = metric_from(metric);
        params.graph_degree = graph_degree;
        params.intermediate_degree = intermediate_degree;
        params.device = device_from(device);
        params.threads = threads;
        params.seed = seed;
        params.partitions = partitions;
        params.memory_limit = memory_limit;
        params.progress = progress_hook(progress.ptr());
        PyIndex out;
        {
          nb::gil_scoped_release release;
          LibraryTimer timer;
          out.index = std::make_shared<Index>(build(data, params));
        }
        return out;
      },
      "vectors"_a, "metric"_a = "l2", "graph_degree"_a = 32, "device"_a = "auto", "threads"_a = 0,
      "progress"_a = nb::none(), "seed"_a = 42, "intermediate_degree"_a = 0, "partitions"_a = 0,
      "memory_limit"_a = 0);

  m.def(
      "plan",
      [](int64_t rows, int64_t dim, const std::string& dtype, const std::string& metric, int graph_degree,
         const std::string& device, int threads, int partitions, uint64_t memory_limit) {
        BuildParams params;
        params.metric = metric_from(metric);
        params.graph_degree = graph_degree;
        params.device = device_from(device);
        params.threads = threads;
        params.partitions = partitions;
        params.memory_limit = memory_limit;
        ElementType type;
        if (dtype == "float32") type = ElementType::Float32;
        else if (dtype == "uint8") type = ElementType::UInt8;
        else if (dtype == "int8") type = ElementType::Int8;
        else throw Error(ErrorCode::InvalidArgument, "plan: dtype must be float32, uint8 or int8 (got " + dtype + ")");
        const BuildPlan plan = plan_build(rows, dim, type, params);
        nb::list stages;
        for (const PlanStage& stage : plan.stages) {
          nb::dict st;
          st["name"] = stage.name;
          st["host_bytes"] = stage.host_bytes;
          st["device_bytes"] = stage.device_bytes;
          st["seconds"] = stage.seconds;
          stages.append(st);
        }
        nb::dict d;
        d["backend"] = plan.backend;
        d["rows"] = plan.rows;
        d["dim"] = plan.dim;
        d["graph_degree"] = plan.graph_degree;
        d["intermediate_degree"] = plan.intermediate_degree;
        d["threads"] = plan.threads;
        d["stages"] = stages;
        d["peak_host_bytes"] = plan.peak_host_bytes;
        d["peak_device_bytes"] = plan.peak_device_bytes;
        d["index_bytes"] = plan.index_bytes;
        d["seconds"] = plan.seconds;
        d["partitions"] = plan.partitions;
        d["partitions_why"] = plan.partitions_why;
        d["host_memory_limit"] = plan.host_memory_limit;
        d["fits"] = plan.fits;
        d["refusal"] = plan.refusal;
        return d;
      },
      "rows"_a, "dim"_a, "dtype"_a = "float32", "metric"_a = "l2", "graph_degree"_a = 32, "device"_a = "auto",
      "threads"_a = 0, "partitions"_a = 0, "memory_limit"_a = 0,
      "What a build of rows x dim vectors will take, before any work (annforge plan): per stage host and "
      "device bytes and seconds, the peak, the pieces chosen and why, and whether it fits memory_limit.");

  m.def(
      "load",
      [](const std::string& path) {
        PyIndex out;
        nb::gil_scoped_release release;
        out.index = std::make_shared<Index>(load(path));
        return out;
      },
      "path"_a);

  m.def(
      "exact_knn",
      [](const AnyArray& base, const AnyArray& queries, int k, const std::string& metric, int threads,
         const std::string& device) {
        const Dataset b = matrix_from(base, "base");
        const Dataset q = matrix_from(queries, "queries");
        const Metric m = metric_from(metric);
        const Device d = device_from(device);
        Neighbors found;
        {
          nb::gil_scoped_release release;
          found = exact_knn(b.view(), q.view(), k, m, threads, progress_hook(Py_None), d);
        }
        uint32_t* ids = nullptr;
        float* distances = nullptr;
        auto ids_array = new_matrix<uint32_t>(found.rows, found.k, &ids);
        auto distances_array = new_matrix<float>(found.rows, found.k, &distances);
        std::copy(found.ids.begin(), found.ids.end(), ids);
        std::copy(found.distances.begin(), found.distances.end(), distances);
        return nb::make_tuple(ids_array, distances_array);
      },
      "base"_a, "queries"_a, "k"_a = 10, "metric"_a = "l2", "threads"_a = 0, "device"_a = "cpu");

  m.def(
      "read_vectors",
      [](const std::string& path, int64_t max_rows, const std::string& member) -> nb::object {
        Dataset read;
        {
          nb::gil_scoped_release release;
          read = read_vectors(path, max_rows, member);
        }
        // The array views the file's mapping (or the converted copy); the capsule keeps it.
        auto* keep = new Dataset(read);
        nb::capsule owner(keep, [](void* p) noexcept { delete static_cast<Dataset*>(p); });
        const size_t shape[2] = {static_cast<size_t>(read.rows()), static_cast<size_t>(read.dim())};
        const void* data = read.view().data;
        // In elements; rows of a texmex file lie apart (its header before each row).
        const int64_t strides[2] = {static_cast<int64_t>(read.view().row_stride() / element_size(read.type())), 1};
        switch (read.type()) {
          case ElementType::Float32:
            return nb::cast(nb::ndarray<nb::numpy, const float, nb::ndim<2>>(data, 2, shape, owner, strides));
          case ElementType::UInt8:
            return nb::cast(nb::ndarray<nb::numpy, const uint8_t, nb::ndim<2>>(data, 2, shape, owner, strides));
          case ElementType::Int8:
            return nb::cast(nb::ndarray<nb::numpy, const int8_t, nb::ndim<2>>(data, 2, shape, owner, strides));
        }
        throw Error(ErrorCode::Internal, path + ": unknown element type");
      },
      "path"_a, "max_rows"_a = -1, "member"_a = "");

  m.def(
      "read_neighbors",
      [](const std::string& path, const std::string& member) {
        Neighbors n;
        {
          nb::gil_scoped_release release;
          n = read_neighbors(path, member);
        }
        uint32_t* ids = nullptr;
        auto ids_array = new_matrix<uint32_t>(n.rows, n.k, &ids);
        std::copy(n.ids.begin(), n.ids.end(), ids);
        return ids_array;
      },
      "path"_a, "member"_a = "");

  m.def("_library_seconds", []() { return library_seconds; },
        "Seconds the last build or search on this thread spent inside the C++ library.");

  m.def("system_info", []() {
    const SystemInfo info = system_info();
    nb::dict d;
    d["version"] = info.version;
    d["backends"] = info.backends;
    d["cpu_simd"] = info.cpu_simd;
    d["gpu_available"] = info.gpu_available;
    d["gpu"] = info.gpu;
    d["hdf5"] = info.hdf5;
    return d;
  });
}
