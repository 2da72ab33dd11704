// The distributed build of index/annforge_mpi.hpp: the CPU backend's partitioned build
// (host/cpu/partitioned_build.hpp) with its pieces spread over the ranks.
//
//   rank 0: split into pieces  --broadcast-->  every rank: its pieces' kNN lists
//   --all-to-all, by row range-->  each rank: the lists of its rows merged in piece order,
//   borders repaired and the graph pruned for its rows (distributed_graph.hpp)
//   --gather-->  rank 0: entry points, connectivity, levels; the index
//
// Each row's lists are merged by the functions and in the order the one-process build uses,
// so the same pieces give the same lists (and with one thread per rank, the same index file).
#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <thread>

#include "host/backend.hpp"
#include "host/cpu/all_pairs/list_merge.hpp"
#include "host/cpu/cpu_pieces.hpp"
#include "host/cpu/parallel.hpp"
#include "host/cpu/partitioned_build.hpp"
#include "host/huge_pages.hpp"
#include "host/mpi/collective.hpp"
#include "host/mpi/distributed_graph.hpp"
#include "host/mpi/row_ranges.hpp"
#include "index/annforge_mpi.hpp"

namespace annforge {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Below this many rows a build is not split (it is exact, brute force, on rank 0).
constexpr int64_t kSplitMinRows = 3000;

// Pieces to ranks: largest first onto the least loaded rank (ties: the lower rank). Every rank
// computes the same assignment from the same offsets.
std::vector<int> pieces_of_rank(const cpu::Pieces& pieces, int ranks, int rank) {
  std::vector<int> order(pieces.count);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return pieces.size(a) > pieces.size(b); });
  std::vector<int64_t> load(ranks, 0);
  std::vector<int> mine;
  for (const int p : order) {
    const int least = static_cast<int>(std::min_element(load.begin(), load.end()) - load.begin());
    load[least] += pieces.size(p);
    if (least == rank) mine.push_back(p);
  }
  std::sort(mine.begin(), mine.end());
  return mine;
}

// Rank 0's split, as each rank needs it: the pieces' sizes everywhere, members of `assigned`
// (this rank's pieces) only; the other pieces are left empty. `split` holds every piece's
// members on rank 0 and the offsets (sizes) on every rank.
cpu::Pieces send_members(MPI_Comm comm, cpu::Pieces split, const std::vector<int>& assigned, RankReport& report) {
  const int ranks = mpi::size_of(comm);
  const int rank = mpi::rank_of(comm);
  for (int p = 0; p < split.count; ++p) {
    if (split.size(p) > INT_MAX) throw Error(ErrorCode::Unsupported, "MPI: a piece of more than 2^31 rows");
  }
  std::vector<MPI_Request> requests;
  if (rank == 0) {
    // Each other rank's pieces, a message per piece (tag: the piece), straight from the members.
    for (int r = 1; r < ranks; ++r) {
      for (const int p : pieces_of_rank(split, ranks, r)) {
        requests.emplace_back();
        MPI_Isend(&split.members[split.offsets[p]], static_cast<int>(split.size(p)), MPI_UINT32_T, r, p, comm,
                  &requests.back());
        report.bytes_sent += static_cast<uint64_t>(split.size(p)) * 4;
      }
    }
  }
  cpu::Pieces local;
  local.count = split.count;
  local.memberships = split.memberships;
  local.offsets.assign(split.count + 1, 0);
  std::vector<int64_t> size(split.count, 0);
  for (const int p : assigned) size[p] = split.size(p);
  for (int p = 0; p < split.count; ++p) local.offsets[p + 1] = local.offsets[p] + size[p];
  local.members.resize(local.offsets[split.count]);
  for (const int p : assigned) {
    if (rank == 0) {
      std::copy(split.members.begin() + split.offsets[p], split.members.begin() + split.offsets[p + 1],
                local.members.begin() + local.offsets[p]);
    } else {
      requests.emplace_back();
      MPI_Irecv(&local.members[local.offsets[p]], static_cast<int>(size[p]), MPI_UINT32_T, 0, p, comm,
                &requests.back());
      report.bytes_received += static_cast<uint64_t>(size[p]) * 4;
    }
  }
  for (MPI_Request& request : requests) mpi::wait_for(request);
  return local;
}

// One row's list from one piece, as sent to the rank owning the row: piece, row, k ids
// (caller's), k distances; unfilled slots kInvalidId / infinity.
struct RecordLayout {
  int k;
  size_t bytes() const { return 8 + static_cast<size_t>(k) * 8; }
  static uint32_t piece(const uint8_t* r) { uint32_t v; std::memcpy(&v, r, 4); return v; }
  static uint32_t row(const uint8_t* r) { uint32_t v; std::memcpy(&v, r + 4, 4); return v; }
  const uint32_t* ids(const uint8_t* r) const { return reinterpret_cast<const uint32_t*>(r + 8); }
  const float* distances(const uint8_t* r) const { return reinterpret_cast<const float*>(r + 8 + 4 * k); }
};

struct Outgoing {
  std::vector<std::vector<uint8_t>> to;  // per destination rank
};

// A piece's lists as records, appended per owning rank.
void add_records(Outgoing& out, const RecordLayout& layout, int64_t rows, int ranks, int piece,
                 const cpu::PieceKnn& lists, const uint32_t* members) {
  const cpu::KnnGraph& knn = lists.knn;
  auto row_of = [&](uint32_t i) { return members[lists.row_of.empty() ? i : lists.row_of[i]]; };
  std::vector<uint8_t> record(layout.bytes());
  for (int64_t i = 0; i < knn.rows; ++i) {
    const uint32_t row = row_of(static_cast<uint32_t>(i));
    const uint32_t header[2] = {static_cast<uint32_t>(piece), row};
    std::memcpy(record.data(), header, 8);
    auto* ids = reinterpret_cast<uint32_t*>(record.data() + 8);
    auto* distances = reinterpret_cast<float*>(record.data() + 8 + 4 * layout.k);
    for (int j = 0; j < layout.k; ++j) {
      const bool filled = j < knn.k && knn.ids[i * knn.k + j] != kInvalidId;
      ids[j] = filled ? row_of(knn.ids[i * knn.k + j]) : kInvalidId;
      distances[j] = filled ? knn.distances[i * knn.k + j] : std::numeric_limits<float>::infinity();
    }
    std::vector<uint8_t>& to = out.to[mpi::owner_of(rows, ranks, row)];
    to.insert(to.end(), record.begin(), record.end());
  }
}

// The records of rows [first, first + count) merged per row in piece order.
cpu::KnnGraph merge_records(const std::vector<uint8_t>& records, const RecordLayout& layout, int64_t first,
                            int64_t count, int threads) {
  const int k = layout.k;
  cpu::KnnGraph lists = cpu::unfilled_lists(count, k, threads);
  const size_t total = records.size() / layout.bytes();
  std::vector<int64_t> start(count + 1, 0);
  for (size_t i = 0; i < total; ++i) ++start[RecordLayout::row(&records[i * layout.bytes()]) - first + 1];
  std::partial_sum(start.begin(), start.end(), start.begin());
  std::vector<uint32_t> by_row(total);
  {
    std::vector<int64_t> fill(start.begin(), start.end() - 1);
    for (size_t i = 0; i < total; ++i) by_row[fill[RecordLayout::row(&records[i * layout.bytes()]) - first]++] = static_cast<uint32_t>(i);
  }
  cpu::parallel_for(count, threads, 1024, [&](int64_t begin, int64_t end, int) {
    std::vector<uint32_t> ids(k), scratch_ids(k);
    std::vector<float> distances(k), scratch_distances(k);
    cpu::ListIds listed(k);
    for (int64_t r = begin; r < end; ++r) {
      uint32_t* of_row = &by_row[start[r]];
      const int64_t n = start[r + 1] - start[r];
      std::sort(of_row, of_row + n, [&](uint32_t a, uint32_t b) {
        return RecordLayout::piece(&records[a * layout.bytes()]) < RecordLayout::piece(&records[b * layout.bytes()]);
      });
      uint32_t* list_ids = &lists.ids[static_cast<size_t>(r) * k];
      float* list_distances = &lists.distances[static_cast<size_t>(r) * k];
      for (int64_t j = 0; j < n; ++j) {
        const uint8_t* record = &records[static_cast<size_t>(of_row[j]) * layout.bytes()];
        int filled = 0;
        while (filled < k && layout.ids(record)[filled] != kInvalidId) ++filled;
        std::copy(layout.ids(record), layout.ids(record) + filled, ids.begin());
        std::copy(layout.distances(record), layout.distances(record) + filled, distances.begin());
        filled = cpu::drop_listed(listed, list_ids, k, ids.data(), distances.data(), filled);
        cpu::merge_sorted(list_ids, list_distances, ids.data(), distances.data(), filled, k, scratch_ids.data(),
                          scratch_distances.data());
      }
    }
  });
  return lists;
}

// Every rank's rows of the graph (degree ids each) to rank 0, in row order.
std::vector<uint32_t> gather_graph(MPI_Comm comm, const std::vector<uint32_t>& mine, int64_t rows, int degree,
                                   RankReport& report) {
  const int ranks = mpi::size_of(comm);
  const int rank = mpi::rank_of(comm);
  std::vector<int> counts(ranks), at(ranks);
  for (int r = 0; r < ranks; ++r) {
    if (mpi::first_row(rows, ranks, r + 1) > INT_MAX) throw Error(ErrorCode::Unsupported, "MPI: more than 2^31 rows");
    counts[r] = static_cast<int>(mpi::first_row(rows, ranks, r + 1) - mpi::first_row(rows, ranks, r));
    at[r] = static_cast<int>(mpi::first_row(rows, ranks, r));
  }
  std::vector<uint32_t> all;
  if (rank == 0) all.resize(static_cast<size_t>(rows) * degree);
  MPI_Datatype row = mpi::byte_block(static_cast<int64_t>(degree) * 4);
  MPI_Request request;
  MPI_Igatherv(mine.data(), counts[rank], row, all.data(), counts.data(), at.data(), row, 0, comm, &request);
  mpi::wait_for(request);
  MPI_Type_free(&row);
  const uint64_t bytes = static_cast<uint64_t>(degree) * 4;
  if (rank == 0) {
    report.bytes_received += static_cast<uint64_t>(rows - counts[0]) * bytes;
  } else {
    report.bytes_sent += static_cast<uint64_t>(counts[rank]) * bytes;
  }
  return all;
}

// Runs a stage whose work includes collective calls: a rank that fails inside cannot tell the
// others, which wait in the next call, so it ends the job (MPI_Abort) with the rank, the stage
// and the cause on stderr.
void abort_on_failure(MPI_Comm comm, const char* stage, const std::function<void()>& work) {
  std::string message;
  try {
    work();
    return;
  } catch (const std::bad_alloc&) {
    message = "out of memory";
  } catch (const std::exception& e) {
    message = e.what();
  }
  std::fprintf(stderr, "annforge: rank %d of %d, %s: %s; ending the job\n", mpi::rank_of(comm), mpi::size_of(comm),
               stage, message.c_str());
  std::fflush(stderr);
  MPI_Abort(comm, 1);
}

}  // namespace

Index build_distributed(MPI_Comm comm, const Dataset& data, const BuildParams& params, DistributedReport* report) {
  const int ranks = mpi::size_of(comm);
  const int rank = mpi::rank_of(comm);
  const int64_t rows = data.rows();
  RankReport mine;
  mine.rank = rank;
  // Threads: where ranks share a node, the pieces' stage gives each its share of the cores
  // (unless asked); rank 0's finish, with the other ranks asleep in their waits, takes all.
  BuildParams resolved = params;
  const int hardware = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int local_ranks = mpi::local_size_of(comm);
  int pieces = 1;
  auto start = Clock::now();
  agree_on_failure(comm, "checking the input", [&] {
    // Each rank checks its own range of rows (NaN, infinity) and the parameters.
    const int64_t lo = mpi::first_row(rows, ranks, rank), hi = mpi::first_row(rows, ranks, rank + 1);
    DatasetView range = data.view();
    range.data = static_cast<const uint8_t*>(range.data) + lo * range.row_bytes();
    range.rows = std::max<int64_t>(1, hi - lo);
    if (hi > lo) check_vectors(range, data.source().empty() ? "build data" : data.source(), lo);
    const BuildPlan plan = plan_build(rows, data.dim(), data.type(), params, params.memory_limit);
    if (!plan.fits) throw Error(ErrorCode::Unsupported, "not built: " + plan.refusal);
    // As build() resolves them: the plan's pieces, and its shorter kNN lists where it took them.
    pieces = params.partitions > 1 || params.memory_limit > 0 ? plan.partitions : 1;
    if (plan.partitions > 1 && params.intermediate_degree == 0) resolved.intermediate_degree = plan.intermediate_degree;
    // At least a piece per rank.
    pieces = cpu::effective_pieces(rows, std::max(pieces, ranks));
  });
  resolved.partitions = pieces;
  const bool split = pieces > 1 && rows > kSplitMinRows && params.algorithm != BuildAlgorithm::BruteForce;
  Index index;
  if (!split) {
    // Too small to split: rank 0 builds it alone.
    agree_on_failure(comm, "building (one piece, rank 0)", [&] {
      if (rank == 0) index = build(data, params);
    });
    mine.finish_seconds = since(start);
  } else {
    const int piece_threads = params.threads > 0 ? params.threads : std::max(1, hardware / local_ranks);
    BuildParams piece_params = resolved;
    piece_params.threads = piece_threads;
    piece_params.progress = rank == 0 ? params.progress : nullptr;
    cpu::Pieces split_rows;
    agree_on_failure(comm, "splitting into pieces", [&] {
      if (rank == 0) {
        split_rows = cpu::split_into_pieces(data.view(), params.metric, pieces, cpu::kPieceMemberships, piece_threads,
                                            params.seed);
      }
    });
    // Every rank learns the pieces' sizes (and so which pieces are whose), and receives the
    // members of its own pieces only: rows x 8 / ranks bytes each instead of rows x 8.
    std::vector<int64_t> header{split_rows.count, split_rows.memberships};
    const uint64_t moved = mpi::broadcast(comm, header, 0) + mpi::broadcast(comm, split_rows.offsets, 0);
    (rank == 0 ? mine.bytes_sent : mine.bytes_received) += moved;
    split_rows.count = static_cast<int>(header[0]);
    split_rows.memberships = static_cast<int>(header[1]);
    const std::vector<int> assigned = pieces_of_rank(split_rows, ranks, rank);
    split_rows = send_members(comm, std::move(split_rows), assigned, mine);
    mine.split_seconds = since(start);

    const detail::CpuPieceStages stages = detail::cpu_piece_stages(params.metric, rows, piece_params);
    // The pieces on this rank's GPU where it has one (device auto or gpu; each rank takes the GPU
    // of its place on the node: host/gpu_ordinal.hpp), else on its CPU.
    cpu::PieceKnnBuild build_piece = stages.build_piece;
    agree_on_failure(comm, "choosing the device", [&] {
      if (params.device == Device::Cpu) return;
      cpu::PieceKnnBuild on_gpu = detail::cuda_piece_builder(params.metric, piece_params);
      if (!on_gpu && params.device == Device::Gpu) {
        detail::backend_for(Device::Gpu);  // throws NoDevice saying why (no CUDA backend, no usable GPU)
        throw Error(ErrorCode::NoDevice, "device=gpu: no usable GPU");
      }
      if (on_gpu) {
        build_piece = std::move(on_gpu);
        mine.gpu_pieces = 1;
      }
    });
    const RecordLayout layout{stages.k};
    Outgoing out;
    out.to.resize(ranks);
    auto at = Clock::now();
    agree_on_failure(comm, "the pieces' kNN lists", [&] {
      const auto work = Clock::now();
      mine.pieces = static_cast<int>(assigned.size());
      int done = 0;
      cpu::build_piece_lists(data.view(), stages.k, split_rows, assigned, piece_threads, build_piece,
                             [&](int p, const cpu::PieceKnn& lists, const uint32_t* members) {
                               mine.piece_rows += split_rows.size(p);
                               mpi::inject_fault(comm);
                               add_records(out, layout, rows, ranks, p, lists, members);
                               if (piece_params.progress) {
                                 piece_params.progress(Progress{"pieces", ++done, static_cast<int64_t>(assigned.size())});
                               }
                             });
      mine.pieces_seconds = since(work);  // this rank's own work; the wait for others is in the next
    });
    split_rows = cpu::Pieces{};
    mine.wait_seconds += since(at) - mine.pieces_seconds;

    at = Clock::now();
    std::vector<uint8_t> received = mpi::all_to_all(comm, out.to, layout.bytes(), mine.bytes_sent, mine.bytes_received);
    mine.exchange_seconds = since(at);
    at = Clock::now();
    const int64_t lo = mpi::first_row(rows, ranks, rank), hi = mpi::first_row(rows, ranks, rank + 1);
    cpu::KnnGraph lists;
    agree_on_failure(comm, "merging the lists of its rows", [&] {
      lists = merge_records(received, layout, lo, hi - lo, piece_threads);
      mine.merge_seconds = since(at);
    });
    mine.wait_seconds += since(at) - mine.merge_seconds;
    std::vector<uint8_t>().swap(received);
    // The borders repaired and the graph optimised by row range (host/mpi/distributed_graph.hpp).
    at = Clock::now();
    std::vector<uint32_t> graph_rows;
    abort_on_failure(comm, "repairing borders, optimising the graph", [&] {
      cpu::fill_short_lists(lists, lo, rows, piece_threads);
      const cpu::Distance distance(params.metric, data.view());
      cpu::NNDescentParams nn;
      nn.k = stages.k;
      nn.max_iterations = std::max(1, resolved.nn_descent_iterations);
      nn.termination = resolved.nn_descent_termination;
      nn.threads = piece_threads;
      nn.seed = resolved.seed;
      mpi::repair_borders(comm, distance, lists, lo, nn, mine);
      mine.repair_seconds = since(at);
      at = Clock::now();
      graph_rows = mpi::optimise_rows(comm, std::move(lists), lo, rows, stages.degree, piece_threads, mine);
      mine.optimise_seconds = since(at);
    });
    at = Clock::now();
    std::vector<uint32_t> graph = gather_graph(comm, graph_rows, rows, stages.degree, mine);
    std::vector<uint32_t>().swap(graph_rows);
    mine.gather_seconds = since(at);
    at = Clock::now();
    agree_on_failure(comm, "entry points, connectivity, upper levels", [&] {
      if (rank != 0) return;
      index.metric = params.metric;
      index.vectors = data;
      index.backend = "cpu";
      detail::cpu_finish_graph(index, std::move(graph), resolved);
    });
    mine.finish_seconds = since(at);
  }

  if (report) {
    report->ranks = ranks;
    report->pieces = split ? pieces : 1;
    report->per_rank.assign(rank == 0 ? ranks : 1, RankReport{});
    MPI_Datatype block = mpi::byte_block(sizeof(RankReport));
    MPI_Request request;
    MPI_Igather(&mine, 1, block, report->per_rank.data(), 1, block, 0, comm, &request);
    mpi::wait_for(request);
    MPI_Type_free(&block);
    if (rank != 0) report->per_rank[0] = mine;
  } else {
    MPI_Barrier(comm);  // nobody returns before rank 0 has the index
  }
  return index;
}

void save_distributed(MPI_Comm comm, const Index& index, const std::string& path) {
  agree_on_failure(comm, "saving the index", [&] {
    if (mpi::rank_of(comm) == 0) save(index, path);
  });
}

}  // namespace annforge
