// MPI plumbing of the distributed build: waits that do not spin a core, transfers of any size
// (MPI counts are ints), and fault injection for the tests.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace annforge::mpi {

int rank_of(MPI_Comm comm);
int size_of(MPI_Comm comm);
// Ranks of `comm` on this node (they share its cores).
int local_size_of(MPI_Comm comm);

// Waits for a nonblocking call, sleeping between tests: a rank waiting for another (rank 0's
// finish, a slow rank's pieces) would otherwise keep a core busy in the MPI library's polling
// loop, a core the working rank's threads need when ranks share a machine.
void wait_for(MPI_Request& request);

// Broadcasts `values` from `root` (resized on the other ranks) in chunks below INT_MAX bytes.
// Returns the bytes moved from this rank's point of view.
template <typename T>
uint64_t broadcast(MPI_Comm comm, std::vector<T>& values, int root);

// Fixed-size records to every rank: `to[r]` (whole records of `record_bytes`) goes to rank r,
// and is freed as it is sent. Returns what every rank sent this one, in rank order; adds the
// bytes that crossed between ranks to `sent` and `received`.
std::vector<uint8_t> all_to_all(MPI_Comm comm, std::vector<std::vector<uint8_t>>& to, size_t record_bytes,
                                uint64_t& sent, uint64_t& received);

// Every rank's `mine` (`records` of `record_bytes`) into `all` on every rank, in rank order;
// `all` holds `total_records`, the sum over the ranks.
void all_gather(MPI_Comm comm, const void* mine, int64_t records, size_t record_bytes, void* all,
                int64_t total_records, uint64_t& sent, uint64_t& received);

// Runs `work`: true where it returned; false where it threw, with the exception as an ErrorCode
// value and a message ("out of memory" for std::bad_alloc).
bool run_caught(const std::function<void()>& work, int& code, std::string& message);

// Runs a stage whose work includes collective calls: a rank that fails inside cannot tell the
// others, which wait in the next call, so it ends the job (MPI_Abort) with the rank, the stage
// and the cause on stderr. (agree_on_failure, annforge_mpi.hpp, is for rank-local work.)
void abort_on_failure(MPI_Comm comm, const char* stage, const std::function<void()>& work);

// A datatype of `bytes` contiguous bytes (committed; free it with MPI_Type_free).
MPI_Datatype byte_block(int64_t bytes);

// Testing knob ANNFORGE_MPI_FAULT="RANK:KIND[:STAGE]": rank RANK fails in the pieces' stage as
// KIND says: "error" (an annforge Error), "oom" (std::bad_alloc, as an allocation that fails),
// "kill" (SIGKILL: the rank dies). No effect when unset.
void inject_fault(MPI_Comm comm);

}  // namespace annforge::mpi
