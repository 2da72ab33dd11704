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
#include <cstring>
#include <limits>
#include <numeric>
#include <thread>

#include "host/backend.hpp"
#include "host/cpu/all_pairs/list_merge.hpp"
#include "host/cpu/cpu_pieces.hpp"
#include "host/cpu/parallel.hpp"
#include "host/cpu/partitioned_build.hpp"
#include "host/mpi/collective.hpp"
#include "host/mpi/distributed_graph.hpp"
#include "host/mpi/records.hpp"
#include "host/mpi/row_ranges.hpp"
#include "index/annforge_mpi.hpp"

namespace annforge {
namespace {

using mpi::RecordBuckets;

using Clock = std::chrono::steady_clock;
double since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Below this many rows a build is not split (it is exact, brute force, on rank 0).
constexpr int64_t kSplitMinRows = 3000;

// Pieces to ranks: largest first onto the least loaded rank (ties: the lower rank). Every rank
// computes the same owners from the same offsets.
std::vector<int> owner_of_piece(const cpu::Pieces& pieces, int ranks) {
  std::vector<int> order(pieces.count);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return pieces.size(a) > pieces.size(b); });
  std::vector<int64_t> load(ranks, 0);
  std::vector<int> owner(pieces.count, 0);
  for (const int p : order) {
    owner[p] = static_cast<int>(std::min_element(load.begin(), load.end()) - load.begin());
    load[owner[p]] += pieces.size(p);
  }
  return owner;
}

// Rank 0's split, as each rank needs it: the pieces' sizes everywhere, the members of its own
// pieces (`owner`) only; the other pieces are left empty. `split` holds every piece's members on
// rank 0 and the offsets (sizes) on every rank.
cpu::Pieces send_members(MPI_Comm comm, cpu::Pieces split, const std::vector<int>& owner, RankReport& report) {
  const int rank = mpi::rank_of(comm);
  for (int p = 0; p < split.count; ++p) {
    if (split.size(p) > INT_MAX) throw Error(ErrorCode::Unsupported, "MPI: a piece of more than 2^31 rows");
  }
  cpu::Pieces local;
  local.count = split.count;
  local.memberships = split.memberships;
  local.offsets.assign(split.count + 1, 0);
  for (int p = 0; p < split.count; ++p) {
    local.offsets[p + 1] = local.offsets[p] + (owner[p] == rank ? split.size(p) : 0);
  }
  local.members.resize(local.offsets[split.count]);
  // A message per piece (tag: the piece), straight from rank 0's members.
  std::vector<MPI_Request> requests;
  for (int p = 0; p < split.count; ++p) {
    const int size = static_cast<int>(split.size(p));
    if (rank == 0 && owner[p] == 0) {
      std::copy(split.members.begin() + split.offsets[p], split.members.begin() + split.offsets[p + 1],
                local.members.begin() + local.offsets[p]);
    } else if (rank == 0) {
      requests.emplace_back();
      MPI_Isend(&split.members[split.offsets[p]], size, MPI_UINT32_T, owner[p], p, comm, &requests.back());
      report.bytes_sent += static_cast<uint64_t>(size) * 4;
    } else if (owner[p] == rank) {
      requests.emplace_back();
      MPI_Irecv(&local.members[local.offsets[p]], size, MPI_UINT32_T, 0, p, comm, &requests.back());
      report.bytes_received += static_cast<uint64_t>(size) * 4;
    }
  }
  for (MPI_Request& request : requests) mpi::wait_for(request);
  return local;
}

// One row's list from one piece, as sent to the rank owning the row (host/mpi/records.hpp): row,
// piece, k ids (caller's), k distances' bits; unfilled slots kInvalidId / infinity.
int list_record_width(int k) { return 2 + 2 * k; }

// A piece's lists as records, bucketed by the rank owning each row.
void add_records(RecordBuckets& out, int64_t rows, int ranks, int piece, int k, const cpu::PieceKnn& lists,
                 const uint32_t* members) {
  const cpu::KnnGraph& knn = lists.knn;
  auto row_of = [&](uint32_t i) { return members[lists.row_of.empty() ? i : lists.row_of[i]]; };
  std::vector<uint32_t> record(list_record_width(k));
  for (int64_t i = 0; i < knn.rows; ++i) {
    const uint32_t row = row_of(static_cast<uint32_t>(i));
    record[0] = row;
    record[1] = static_cast<uint32_t>(piece);
    for (int j = 0; j < k; ++j) {
      const bool filled = j < knn.k && knn.ids[i * knn.k + j] != kInvalidId;
      const float distance = filled ? knn.distances[i * knn.k + j] : std::numeric_limits<float>::infinity();
      record[2 + j] = filled ? row_of(knn.ids[i * knn.k + j]) : kInvalidId;
      std::memcpy(&record[2 + k + j], &distance, 4);
    }
    out.add(0, mpi::owner_of(rows, ranks, row), record.data());
  }
}

// The records of rows [first, first + count) merged per row in piece order.
cpu::KnnGraph merge_records(const std::vector<uint8_t>& received, int k, int64_t first, int64_t count, int threads) {
  cpu::KnnGraph lists = cpu::unfilled_lists(count, k, threads);
  mpi::ByTarget by_row = mpi::group_by_target(received, list_record_width(k), first, count);
  cpu::parallel_for(count, threads, 1024, [&](int64_t begin, int64_t end, int) {
    std::vector<uint32_t> ids(k), scratch_ids(k);
    std::vector<float> distances(k), scratch_distances(k);
    cpu::ListIds listed(k);
    for (int64_t r = begin; r < end; ++r) {
      std::sort(by_row.order.begin() + by_row.start[r], by_row.order.begin() + by_row.start[r + 1],
                [&](uint32_t a, uint32_t b) {  // by piece
                  return by_row.records[static_cast<size_t>(a) * by_row.width + 1] <
                         by_row.records[static_cast<size_t>(b) * by_row.width + 1];
                });
      uint32_t* list_ids = &lists.ids[static_cast<size_t>(r) * k];
      float* list_distances = &lists.distances[static_cast<size_t>(r) * k];
      for (int64_t j = by_row.start[r]; j < by_row.start[r + 1]; ++j) {
        const uint32_t* record = by_row.record(j);
        int filled = 0;
        while (filled < k && record[2 + filled] != kInvalidId) ++filled;
        std::copy(record + 2, record + 2 + filled, ids.begin());
        std::memcpy(distances.data(), record + 2 + k, 4 * static_cast<size_t>(filled));
        cpu::merge_unlisted(listed, list_ids, list_distances, k, ids.data(), distances.data(), filled,
                            scratch_ids.data(), scratch_distances.data());
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
    const DatasetView range = data.view().slice(lo, std::max<int64_t>(1, hi - lo));
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
    const std::vector<int> owner = owner_of_piece(split_rows, ranks);
    std::vector<int> assigned;
    for (int p = 0; p < split_rows.count; ++p) {
      if (owner[p] == rank) assigned.push_back(p);
    }
    split_rows = send_members(comm, std::move(split_rows), owner, mine);
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
    RecordBuckets out(1, ranks, list_record_width(stages.k));
    auto at = Clock::now();
    agree_on_failure(comm, "the pieces' kNN lists", [&] {
      const auto work = Clock::now();
      mine.pieces = static_cast<int>(assigned.size());
      int done = 0;
      cpu::build_piece_lists(data.view(), stages.k, split_rows, assigned, piece_threads, build_piece,
                             [&](int p, const cpu::PieceKnn& lists, const uint32_t* members) {
                               mine.piece_rows += split_rows.size(p);
                               mpi::inject_fault(comm);
                               add_records(out, rows, ranks, p, stages.k, lists, members);
                               if (piece_params.progress) {
                                 piece_params.progress(Progress{"pieces", ++done, static_cast<int64_t>(assigned.size())});
                               }
                             });
      mine.pieces_seconds = since(work);  // this rank's own work; the wait for others is in the next
    });
    split_rows = cpu::Pieces{};
    mine.wait_seconds += since(at) - mine.pieces_seconds;

    at = Clock::now();
    std::vector<std::vector<uint8_t>> to = out.per_rank();
    std::vector<uint8_t> received = mpi::all_to_all(comm, to, out.record_bytes(), mine.bytes_sent, mine.bytes_received);
    mine.exchange_seconds = since(at);
    at = Clock::now();
    const int64_t lo = mpi::first_row(rows, ranks, rank), hi = mpi::first_row(rows, ranks, rank + 1);
    cpu::KnnGraph lists;
    agree_on_failure(comm, "merging the lists of its rows", [&] {
      lists = merge_records(received, stages.k, lo, hi - lo, piece_threads);
      mine.merge_seconds = since(at);
    });
    mine.wait_seconds += since(at) - mine.merge_seconds;
    std::vector<uint8_t>().swap(received);
    // The borders repaired and the graph optimised by row range (host/mpi/distributed_graph.hpp).
    at = Clock::now();
    std::vector<uint32_t> graph_rows;
    mpi::abort_on_failure(comm, "repairing borders, optimising the graph", [&] {
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
