// Dataset storage (heap, mapped or borrowed) and the small enum helpers of the public API.
#include "annforge.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "checked_size.hpp"
#include "row_runs.hpp"
#include "host/huge_pages.hpp"

namespace annforge {

size_t element_size(ElementType type) {
  switch (type) {
    case ElementType::Float32: return 4;
    case ElementType::UInt8: return 1;
    case ElementType::Int8: return 1;
  }
  throw Error(ErrorCode::InvalidArgument, "unknown element type");
}

const char* to_string(Metric metric) {
  switch (metric) {
    case Metric::L2: return "l2";
    case Metric::InnerProduct: return "ip";
    case Metric::Cosine: return "cosine";
  }
  return "unknown";
}

const char* to_string(ElementType type) {
  switch (type) {
    case ElementType::Float32: return "float32";
    case ElementType::UInt8: return "uint8";
    case ElementType::Int8: return "int8";
  }
  return "unknown";
}

Metric parse_metric(const std::string& name) {
  if (name == "l2" || name == "euclidean") return Metric::L2;
  if (name == "ip" || name == "inner_product" || name == "dot") return Metric::InnerProduct;
  if (name == "cosine" || name == "angular") return Metric::Cosine;
  throw Error(ErrorCode::InvalidArgument, "unknown metric '" + name + "' (expected l2, ip or cosine)");
}

Device parse_device(const std::string& name) {
  if (name == "auto") return Device::Auto;
  if (name == "cpu") return Device::Cpu;
  if (name == "gpu" || name == "cuda") return Device::Gpu;
  throw Error(ErrorCode::InvalidArgument, "unknown device '" + name + "' (expected auto, cpu or gpu)");
}

double recall_at_k(const Neighbors& found, const Neighbors& truth, int k) {
  if (k < 1 || found.k < k || truth.k < k) {
    throw Error(ErrorCode::InvalidArgument, "recall@" + std::to_string(k) + ": needs at least k columns (found has " +
                                                std::to_string(found.k) + ", truth has " + std::to_string(truth.k) + ")");
  }
  if (truth.rows < found.rows) {
    throw Error(ErrorCode::InvalidArgument, "recall: ground truth has " + std::to_string(truth.rows) + " rows for " +
                                                std::to_string(found.rows) + " queries");
  }
  int64_t hits = 0;
  for (int64_t q = 0; q < found.rows; ++q) {
    const uint32_t* f = &found.ids[q * found.k];
    const uint32_t* t = &truth.ids[q * truth.k];
    // Each true neighbour counts once, however often a (faulty) result repeats it.
    for (int j = 0; j < k; ++j) {
      for (int i = 0; i < k; ++i) {
        if (f[i] == t[j] && t[j] != kInvalidId) {
          ++hits;
          break;
        }
      }
    }
  }
  return found.rows > 0 ? static_cast<double>(hits) / (static_cast<double>(found.rows) * k) : 0.0;
}

Dataset Dataset::allocate(int64_t rows, int64_t dim, ElementType type) {
  if (rows < 0 || dim <= 0) {
    throw Error(ErrorCode::InvalidArgument,
                "cannot allocate a dataset of " + std::to_string(rows) + " x " + std::to_string(dim));
  }
  uint64_t bytes = 0;
  if (!detail::checked_product({static_cast<uint64_t>(rows), static_cast<uint64_t>(dim), element_size(type), 2}, &bytes)) {
    throw Error(ErrorCode::InvalidArgument, "cannot allocate a dataset of " + std::to_string(rows) + " x " +
                                                std::to_string(dim) + ": its size overflows 64 bits");
  }
  bytes /= 2;  // checked with headroom, so that rounding up to whole cache lines cannot wrap either
  // 64-byte alignment keeps SIMD loads of row starts on cache lines for common dimensions.
  void* memory = std::aligned_alloc(64, ((bytes + 63) / 64) * 64 + 64);
  if (!memory) throw Error(ErrorCode::Internal, "out of memory allocating " + std::to_string(bytes) + " bytes");
  advise_huge_pages(memory, bytes);  // before the first touch (host/huge_pages.hpp)
  Dataset d;
  d.storage_ = std::shared_ptr<const void>(memory, [](const void* p) { std::free(const_cast<void*>(p)); });
  d.view_ = DatasetView{memory, rows, dim, type};
  d.writable_ = true;
  return d;
}

namespace {

// `from`'s rows packed from `to` on (rows apart copied a run at a time).
void write_rows(uint8_t* to, const DatasetView& from) {
  detail::for_each_row_run(from, [&](const void* bytes, size_t size) {
    std::memcpy(to, bytes, size);
    to += size;
  });
}

}  // namespace

Dataset Dataset::copy_of(const DatasetView& view) {
  Dataset d = allocate(view.rows, view.dim, view.type);
  write_rows(static_cast<uint8_t*>(d.mutable_data()), view);
  return d;
}

struct Dataset::Room {
  int64_t capacity_rows = 0;
  std::atomic<int64_t> taken_rows{0};  // rows written; the next append goes right after them
};

Dataset Dataset::appended(const DatasetView& more) const {
  if (more.dim != view_.dim || more.type != view_.type) {
    throw Error(ErrorCode::InvalidArgument, "cannot append " + std::to_string(more.rows) + " x " +
                                                std::to_string(more.dim) + " " + to_string(more.type) +
                                                " rows to a dataset of " + std::to_string(view_.dim) + "-dimensional " +
                                                to_string(view_.type) + " rows");
  }
  const int64_t total = view_.rows + more.rows;
  // Only the dataset whose rows end where the room's taken part ends may write after them: two
  // datasets sharing the storage (an index and its copy, each extended) must not both write there.
  if (room_ != nullptr && total <= room_->capacity_rows) {
    int64_t expected = view_.rows;
    if (room_->taken_rows.compare_exchange_strong(expected, total)) {
      write_rows(static_cast<uint8_t*>(const_cast<void*>(view_.data)) + view_.rows * view_.row_bytes(), more);
      Dataset d = *this;
      d.view_.rows = total;
      d.source_.clear();
      d.converted_from_.clear();
      return d;
    }
  }
  const int64_t capacity = std::max<int64_t>(total + total / 2, 16);
  Dataset d = allocate(capacity, view_.dim, view_.type);
  auto* to = static_cast<uint8_t*>(d.mutable_data());
  write_rows(to, view_);
  write_rows(to + view_.rows * view_.row_bytes(), more);
  d.view_.rows = total;
  d.room_ = std::make_shared<Room>();
  d.room_->capacity_rows = capacity;
  d.room_->taken_rows = total;
  return d;
}

Dataset Dataset::borrow(const DatasetView& view) {
  Dataset d;
  d.view_ = view;
  return d;
}

Dataset Dataset::wrap(const DatasetView& view, std::shared_ptr<const void> keep_alive) {
  Dataset d;
  d.storage_ = std::move(keep_alive);
  d.view_ = view;
  return d;
}

void* Dataset::mutable_data() {
  if (!writable_) throw Error(ErrorCode::Internal, "dataset storage is read-only (mapped or borrowed)");
  return const_cast<void*>(view_.data);
}

}  // namespace annforge
