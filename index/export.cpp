// export_index: checks, the HNSW hierarchy over the index, and the format's writer.
#include <cstdint>
#include <limits>
#include <string>

#include "annforge.hpp"
#include "host/backend.hpp"
#include "host/cpu/partition/kmeans.hpp"
#include "host/cpu/trace.hpp"
#include "index/export_formats.hpp"

namespace annforge {

const char* to_string(ExportFormat format) {
  switch (format) {
    case ExportFormat::Hnswlib: return "hnswlib";
    case ExportFormat::Faiss: return "faiss";
  }
  return "unknown";
}

ExportFormat parse_export_format(const std::string& name) {
  if (name == "hnswlib") return ExportFormat::Hnswlib;
  if (name == "faiss") return ExportFormat::Faiss;
  throw Error(ErrorCode::InvalidArgument, "unknown export format '" + name + "' (expected hnswlib or faiss)");
}

const char* to_string(ExportLinks links) {
  switch (links) {
    case ExportLinks::Diverse: return "diverse";
    case ExportLinks::Index: return "index";
  }
  return "unknown";
}

ExportLinks parse_export_links(const std::string& name) {
  if (name == "diverse") return ExportLinks::Diverse;
  if (name == "index") return ExportLinks::Index;
  throw Error(ErrorCode::InvalidArgument, "unknown export links '" + name + "' (expected diverse or index)");
}

namespace detail {

void rows_as_float32(const Index& index, int64_t first, int64_t count, float* out) {
  const DatasetView& data = index.vectors.view();
  for (int64_t i = 0; i < count; ++i) {
    cpu::row_as_float(data, first + i, index.metric == Metric::Cosine, out + i * data.dim);
  }
}

}  // namespace detail

void export_index(const Index& index, const std::string& path, const ExportParams& params) {
  const std::string what = path + ": cannot export " + to_string(params.format) + ": ";
  if (index.rows() <= 0) throw Error(ErrorCode::InvalidArgument, what + "the index is empty");
  if (index.rows() > 0xFFFFFFFFll - 1) throw Error(ErrorCode::InvalidArgument, what + "more rows than 32-bit ids");
  if (index.graph_degree <= 0 && index.rows() > 1) throw Error(ErrorCode::InvalidArgument, what + "the index has no graph");
  if (index.graph.size() != static_cast<size_t>(index.rows()) * index.graph_degree) {
    throw Error(ErrorCode::InvalidArgument, what + "the graph does not match rows x graph_degree");
  }
  if (index.graph_degree > 0xFFFF) throw Error(ErrorCode::Unsupported, what + "graph_degree above 65,535");
  if (params.format == ExportFormat::Faiss && index.rows() > std::numeric_limits<int32_t>::max()) {
    throw Error(ErrorCode::Unsupported, what + "FAISS's HNSW holds node ids as int32, the index has " +
                                            std::to_string(index.rows()) + " rows");
  }
  const cpu::HnswHierarchy hierarchy =
      cpu::build_hnsw_hierarchy(index, params.seed, params.threads, detail::cpu_build_flat,
                                 params.links == ExportLinks::Diverse);
  cpu::StageTimer timer;
  detail::AtomicFileWriter out(path);
  switch (params.format) {
    case ExportFormat::Hnswlib: detail::write_hnswlib(index, hierarchy, params.threads, out); break;
    case ExportFormat::Faiss: detail::write_faiss(index, hierarchy, params.threads, out); break;
  }
  timer.lap("export: %s file written", to_string(params.format));
  out.commit();
  timer.lap("export: file synced and renamed");
}

}  // namespace annforge
