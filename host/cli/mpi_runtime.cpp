// MpiRuntime and the distributed `annforge build` (host/cli/mpi_runtime.hpp). Compiled in every
// build; without MPI (ANNFORGE_HAVE_MPI unset) MPI is never initialised.
#include "host/cli/mpi_runtime.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "annforge.hpp"
#include "host/cli/commands.hpp"
#include "host/cli/inputs.hpp"
#include "host/cli/json.hpp"
#include "host/cli/progress_bar.hpp"

#ifdef ANNFORGE_HAVE_MPI
#include "index/annforge_mpi.hpp"
#endif

namespace annforge::cli {
namespace {
bool g_active = false;
int g_rank = 0;
int g_size = 1;
}  // namespace

int launcher_ranks() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE", "MPI_LOCALNRANKS"}) {
    if (const char* value = std::getenv(name)) {
      const int ranks = std::atoi(value);
      if (ranks > 0) return ranks;
    }
  }
  return 1;
}

MpiRuntime::MpiRuntime(int* argc, char*** argv) {
  if (launcher_ranks() <= 1) return;
#ifdef ANNFORGE_HAVE_MPI
  int provided = 0;
  // The calling thread alone calls MPI; the build's worker threads never do.
  MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  g_active = g_size > 1;
#else
  (void)argc;
  (void)argv;
  throw Error(ErrorCode::Unsupported,
              "started by an MPI launcher with " + std::to_string(launcher_ranks()) +
                  " ranks, but this annforge was built without MPI (every rank would build alone): run it "
                  "without mpirun, or rebuild with MPI (Debian: libopenmpi-dev; cmake -DANNFORGE_MPI=ON)");
#endif
}

MpiRuntime::~MpiRuntime() {
#ifdef ANNFORGE_HAVE_MPI
  if (g_active) MPI_Finalize();
#endif
  g_active = false;
}

bool MpiRuntime::active() { return g_active; }
int MpiRuntime::rank() { return g_rank; }
int MpiRuntime::size() { return g_size; }

int run_build_distributed(const Args& args) {
#ifndef ANNFORGE_HAVE_MPI
  (void)args;
  throw Error(ErrorCode::Unsupported, "this annforge was built without MPI");
#else
  const MPI_Comm comm = MPI_COMM_WORLD;
  const bool root = g_rank == 0;
  const std::string data_path = args.text("data");
  const std::string out_path = args.text("out");
  BuildParams params = build_command_params(args);
  const bool json = args.has("json");

  const auto start = std::chrono::steady_clock::now();
  // Every rank maps the file: each reads the rows of its pieces (and checks its own range).
  Dataset data;
  agree_on_failure(comm, "reading the input", [&] {
    params.metric = metric_for(args, data_path);
    data = read_data(data_path, args.has("rows") ? args.integer("rows", 1, INT64_MAX) : -1);
  });
  const double read_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // The plan of the same build in one process (build_distributed refuses what it refuses), for
  // --verbose and --json; its pieces are at least one per rank.
  const BuildPlan plan = plan_build(data.rows(), data.dim(), data.type(), params, params.memory_limit);
  if (root && args.has("verbose") && !json) print_plan(stdout, plan);
  ProgressBar bar(root && !json);
  if (root) params.progress = bar.callback();
  DistributedReport report;
  Index index = build_distributed(comm, data, params, &report);
  bar.done();
  const double build_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  save_distributed(comm, index, out_path);
  const double total_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!root) return 0;

  const double rate = data.rows() / build_seconds;
  if (json) {
    std::string ranks = "[";
    for (const RankReport& r : report.per_rank) {
      JsonObject o;
      o.add("rank", r.rank).add("pieces", r.pieces).add("pieces_on", r.gpu_pieces ? "gpu" : "cpu").add("piece_rows", static_cast<long long>(r.piece_rows));
      o.add("split_seconds", r.split_seconds).add("pieces_seconds", r.pieces_seconds);
      o.add("exchange_seconds", r.exchange_seconds).add("merge_seconds", r.merge_seconds);
      o.add("wait_seconds", r.wait_seconds).add("repair_seconds", r.repair_seconds);
      o.add("optimise_seconds", r.optimise_seconds).add("gather_seconds", r.gather_seconds);
      o.add("finish_seconds", r.finish_seconds);
      o.add("bytes_sent", static_cast<long long>(r.bytes_sent)).add("bytes_received", static_cast<long long>(r.bytes_received));
      ranks += (ranks.size() > 1 ? ", " : "") + o.str();
    }
    ranks += "]";
    JsonObject o;
    o.add("command", "build").add("data", data_path).add("out", out_path).add("vectors", static_cast<long long>(index.rows()));
    o.add("dim", static_cast<long long>(index.dim())).add("metric", to_string(index.metric));
    o.add("graph_degree", index.graph_degree).add("backend", index.backend);
    o.add("ranks", report.ranks).add("pieces", report.pieces);
    o.add("read_seconds", read_seconds).add("seconds", build_seconds).add("vectors_per_second", rate);
    o.add("seconds_with_save", total_seconds).raw("per_rank", ranks).raw("plan", plan_json(plan));
    std::printf("%s\n", o.str().c_str());
  } else {
    std::printf("built %lld x %lld %s vectors (%s, degree %d) on %d ranks (%s, %d pieces) in %.2f s: %.0f vectors/s; "
                "saved %s\n",
                static_cast<long long>(index.rows()), static_cast<long long>(index.dim()), to_string(data.type()),
                to_string(index.metric), index.graph_degree, report.ranks, index.backend.c_str(), report.pieces,
                build_seconds, rate, out_path.c_str());
  }
  return 0;
#endif
}

}  // namespace annforge::cli
