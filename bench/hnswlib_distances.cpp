// The deterministic cost of an hnswlib index: distances computed per query and recall@10 at
// each ef, counted by a distance function that wraps hnswlib's own (one thread). Queries/s on
// this VM move by 10-30% between runs of the same index; distance counts do not, so exported
// level-0 links can be compared with hnswlib's own index at equal recall without noise (the
// time per distance is the same for both: the same rows, the same kernel).
//
//   hnswlib_distances INDEX QUERIES(.fvecs|.bvecs) GROUNDTRUTH(.ivecs) l2|ip|cosine [QUERIES_USED]
//
// cosine: the index holds normalised rows in hnswlib's inner-product space (as the export
// writes them); the queries are normalised here.
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

long distance_count = 0;
hnswlib::DISTFUNC<float> wrapped = nullptr;

float counted_distance(const void* a, const void* b, const void* parameters) {
  ++distance_count;
  return wrapped(a, b, parameters);
}

// hnswlib's space with its distance counted (single-threaded use only).
class CountingSpace : public hnswlib::SpaceInterface<float> {
 public:
  explicit CountingSpace(hnswlib::SpaceInterface<float>* space) : space_(space) { wrapped = space->get_dist_func(); }
  size_t get_data_size() override { return space_->get_data_size(); }
  hnswlib::DISTFUNC<float> get_dist_func() override { return counted_distance; }
  void* get_dist_func_param() override { return space_->get_dist_func_param(); }

 private:
  hnswlib::SpaceInterface<float>* space_;
};

template <class T>
std::vector<std::vector<T>> read_vecs(const char* path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    std::fprintf(stderr, "%s: cannot open\n", path);
    std::exit(1);
  }
  std::vector<std::vector<T>> rows;
  int dim = 0;
  while (file.read(reinterpret_cast<char*>(&dim), 4)) {
    if (dim <= 0 || dim > (1 << 16)) {
      std::fprintf(stderr, "%s: bad dimension %d at row %zu\n", path, dim, rows.size());
      std::exit(1);
    }
    std::vector<T> row(dim);
    if (!file.read(reinterpret_cast<char*>(row.data()), dim * sizeof(T))) {
      std::fprintf(stderr, "%s: truncated at row %zu\n", path, rows.size());
      std::exit(1);
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace

int run(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: %s INDEX QUERIES GROUNDTRUTH l2|ip|cosine [QUERIES_USED]\n", argv[0]);
    return 2;
  }
  const std::string query_path = argv[2], metric = argv[4];
  if (metric != "l2" && metric != "ip" && metric != "cosine") {
    std::fprintf(stderr, "metric %s: expected l2, ip or cosine\n", argv[4]);
    return 2;
  }
  std::vector<std::vector<float>> queries;
  if (query_path.size() > 5 && query_path.substr(query_path.size() - 5) == "bvecs") {
    for (const auto& row : read_vecs<uint8_t>(argv[2])) queries.emplace_back(row.begin(), row.end());
  } else {
    queries = read_vecs<float>(argv[2]);
  }
  const auto truth = read_vecs<int>(argv[3]);
  int used = argc > 5 ? std::atoi(argv[5]) : 2000;
  used = std::min<int>({used, static_cast<int>(queries.size()), static_cast<int>(truth.size())});
  if (used <= 0 || queries.empty()) {
    std::fprintf(stderr, "no queries\n");
    return 1;
  }
  const int dim = static_cast<int>(queries[0].size());
  if (metric == "cosine") {
    for (auto& row : queries) {
      double norm = 0.0;
      for (float x : row) norm += double{x} * x;
      norm = std::sqrt(norm);
      if (norm > 0.0) {
        for (float& x : row) x = static_cast<float>(x / norm);
      }
    }
  }
  hnswlib::L2Space l2(dim);
  hnswlib::InnerProductSpace inner(dim);
  CountingSpace space(metric == "l2" ? static_cast<hnswlib::SpaceInterface<float>*>(&l2) : &inner);
  hnswlib::HierarchicalNSW<float> index(&space, argv[1]);
  long links = 0;
  for (size_t i = 0; i < index.cur_element_count; ++i) links += *index.get_linklist0(static_cast<unsigned>(i)) & 0xFFFF;
  std::printf("%s: %zu rows, %.2f level-0 links per row, %d queries\n", argv[1], index.cur_element_count,
              static_cast<double>(links) / index.cur_element_count, used);
  for (int ef : {16, 24, 32, 48, 64, 96, 128, 192, 256}) {
    index.setEf(ef);
    distance_count = 0;
    long hits = 0;
    for (int q = 0; q < used; ++q) {
      auto result = index.searchKnn(queries[q].data(), 10);
      const std::set<int> nearest(truth[q].begin(), truth[q].begin() + std::min<size_t>(10, truth[q].size()));
      for (; !result.empty(); result.pop()) hits += nearest.count(static_cast<int>(result.top().second));
    }
    std::printf("ef %3d  recall@10 %.4f  distances per query %.0f\n", ef, hits / (10.0 * used),
                static_cast<double>(distance_count) / used);
  }
  return 0;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", argc > 1 ? argv[1] : "hnswlib_distances", e.what());
    return 1;
  }
}
