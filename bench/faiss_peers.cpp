// FAISS's IndexHNSWFlat and IndexNSGFlat for compare_cpu (see faiss_peers.hpp).
#include "faiss_peers.hpp"

#include <faiss/Index.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexNSG.h>
#include <faiss/index_io.h>
#include <omp.h>

#include <memory>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace bench {
namespace {

// What both FAISS indexes do the same way: add everything at once, search a batch on the
// configured threads. FAISS returns 64-bit labels (faiss::idx_t is int64_t in every version)
// and -1 for a missing neighbour.
void add_all(faiss::Index& index, int threads, const float* data, int64_t rows) {
  omp_set_num_threads(threads);
  index.add(rows, data);
}
void search_batch(faiss::Index& index, int threads, const float* queries, int64_t rows, int k, uint32_t* ids) {
  omp_set_num_threads(threads);
  std::vector<float> distances(static_cast<size_t>(rows) * k);
  std::vector<int64_t> labels(distances.size());
  index.search(rows, queries, k, distances.data(), labels.data());
  for (size_t i = 0; i < labels.size(); ++i) ids[i] = labels[i] < 0 ? 0xFFFFFFFFu : static_cast<uint32_t>(labels[i]);
}

faiss::MetricType metric_of(bool inner_product) {
  return inner_product ? faiss::METRIC_INNER_PRODUCT : faiss::METRIC_L2;
}
// The index's metric in words, appended to the parameters (nothing for L2, as before --metric).
std::string metric_text(const faiss::Index& index) {
  return index.metric_type == faiss::METRIC_INNER_PRODUCT ? ", METRIC_INNER_PRODUCT" : "";
}
const char* metric_json(const faiss::Index& index) {
  return index.metric_type == faiss::METRIC_INNER_PRODUCT ? "inner_product" : "l2";
}

class HnswFlat final : public FaissGraphIndex {
 public:
  HnswFlat(int dim, int m, int ef_construction, int threads, bool inner_product)
      : index_(dim, m, metric_of(inner_product)), m_(m), threads_(threads) {
    index_.hnsw.efConstruction = ef_construction;
  }
  void build(const float* data, int64_t rows) override { add_all(index_, threads_, data, rows); }
  void search(const float* queries, int64_t rows, int k, int width, uint32_t* ids) override {
    index_.hnsw.efSearch = width;
    search_batch(index_, threads_, queries, rows, k, ids);
  }
  std::string parameters_text() const override {
    std::ostringstream text;
    text << "IndexHNSWFlat M=" << m_ << ", efConstruction=" << index_.hnsw.efConstruction << metric_text(index_);
    return text.str();
  }
  std::string parameters_json() const override {
    std::ostringstream json;
    json << "{\"index\": \"IndexHNSWFlat\", \"M\": " << m_
         << ", \"ef_construction\": " << index_.hnsw.efConstruction << ", \"metric\": \"" << metric_json(index_)
         << "\"}";
    return json.str();
  }
  const char* width_name() const override { return "efSearch"; }

 private:
  faiss::IndexHNSWFlat index_;
  int m_;  // links per node above layer 0 (layer 0 has 2M)
  int threads_;
};

class NsgFlat final : public FaissGraphIndex {
 public:
  NsgFlat(int dim, int r, int threads, bool inner_product) : index_(dim, r, metric_of(inner_product)), threads_(threads) {}
  void build(const float* data, int64_t rows) override { add_all(index_, threads_, data, rows); }
  void search(const float* queries, int64_t rows, int k, int width, uint32_t* ids) override {
    // FAISS 1.7.3's IndexNSG::search rejects SearchParameters; search_L is a member of the graph.
    index_.nsg.search_L = width;
    search_batch(index_, threads_, queries, rows, k, ids);
  }
  std::string parameters_text() const override {
    std::ostringstream text;
    text << "IndexNSGFlat R=" << index_.nsg.R << " (build L=" << index_.nsg.L << ", C=" << index_.nsg.C
         << "), kNN graph K=" << index_.GK << " by "
         << (index_.build_type == 1 ? "NNDescent" : "brute force");
    if (index_.build_type == 1) {
      text << " (S=" << index_.nndescent_S << ", R=" << index_.nndescent_R << ", L=" << index_.nndescent_L
           << ", iter=" << index_.nndescent_iter << ")";
    }
    text << metric_text(index_);
    return text.str();
  }
  std::string parameters_json() const override {
    std::ostringstream json;
    json << "{\"index\": \"IndexNSGFlat\", \"R\": " << index_.nsg.R << ", \"build_L\": " << index_.nsg.L
         << ", \"build_C\": " << index_.nsg.C << ", \"knn_K\": " << index_.GK << ", \"knn_build\": \""
         << (index_.build_type == 1 ? "nndescent" : "brute_force") << "\", \"nndescent_S\": " << index_.nndescent_S
         << ", \"nndescent_R\": " << index_.nndescent_R << ", \"nndescent_L\": " << index_.nndescent_L
         << ", \"nndescent_iter\": " << index_.nndescent_iter << ", \"metric\": \"" << metric_json(index_) << "\"}";
    return json.str();
  }
  const char* width_name() const override { return "search_L"; }

 private:
  faiss::IndexNSGFlat index_;
  int threads_;
};

class LoadedHnsw final : public FaissGraphIndex {
 public:
  LoadedHnsw(const std::string& path, int threads) : threads_(threads) {
    std::unique_ptr<faiss::Index> read(faiss::read_index(path.c_str()));
    auto* hnsw = dynamic_cast<faiss::IndexHNSWFlat*>(read.get());
    if (hnsw == nullptr) throw std::runtime_error(path + ": not an IndexHNSWFlat");
    read.release();
    index_.reset(hnsw);
  }
  void build(const float*, int64_t) override { throw std::logic_error("a loaded index is not built"); }
  void search(const float* queries, int64_t rows, int k, int width, uint32_t* ids) override {
    index_->hnsw.efSearch = width;
    search_batch(*index_, threads_, queries, rows, k, ids);
  }
  std::string parameters_text() const override {
    std::ostringstream text;
    text << "IndexHNSWFlat read by faiss::read_index: level-0 slots " << index_->hnsw.nb_neighbors(0)
         << ", upper " << index_->hnsw.nb_neighbors(1) << ", max level " << index_->hnsw.max_level
         << metric_text(*index_);
    return text.str();
  }
  std::string parameters_json() const override {
    std::ostringstream json;
    json << "{\"index\": \"IndexHNSWFlat\", \"read_index\": true, \"level0_slots\": " << index_->hnsw.nb_neighbors(0)
         << ", \"upper_slots\": " << index_->hnsw.nb_neighbors(1) << ", \"max_level\": " << index_->hnsw.max_level
         << ", \"metric\": \"" << metric_json(*index_) << "\"}";
    return json.str();
  }
  const char* width_name() const override { return "efSearch"; }

 private:
  std::unique_ptr<faiss::IndexHNSWFlat> index_;
  int threads_;
};

}  // namespace

std::unique_ptr<FaissGraphIndex> load_faiss_hnsw(const std::string& path, int threads) {
  return std::make_unique<LoadedHnsw>(path, threads);
}

std::unique_ptr<FaissGraphIndex> make_faiss_hnsw_flat(int dim, int m, int ef_construction, int threads, bool inner_product) {
  return std::make_unique<HnswFlat>(dim, m, ef_construction, threads, inner_product);
}

// FAISS 1.7.3's NSG builds and searches by METRIC_INNER_PRODUCT correctly: checked against brute
// force by inner product (recall@10 0.988 at search_L 64 over 20,000 32-d Gaussian vectors of
// unequal norms), so compare_cpu skips no FAISS peer for ip or cosine.
std::unique_ptr<FaissGraphIndex> make_faiss_nsg_flat(int dim, int r, int threads, bool inner_product) {
  return std::make_unique<NsgFlat>(dim, r, threads, inner_product);
}

std::string faiss_version() {
  std::ostringstream text;
  text << FAISS_VERSION_MAJOR << "." << FAISS_VERSION_MINOR << "." << FAISS_VERSION_PATCH;
  return text.str();
}

}  // namespace bench
