#include "host/mpi/collective.hpp"

#include <climits>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <chrono>
#include <thread>

#include "annforge.hpp"
#include "index/annforge_mpi.hpp"

namespace annforge::mpi {

int rank_of(MPI_Comm comm) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  return rank;
}

int size_of(MPI_Comm comm) {
  int size = 1;
  MPI_Comm_size(comm, &size);
  return size;
}

int local_size_of(MPI_Comm comm) {
  MPI_Comm local;
  MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank_of(comm), MPI_INFO_NULL, &local);
  const int size = size_of(local);
  MPI_Comm_free(&local);
  return size;
}

void wait_for(MPI_Request& request) {
  int done = 0;
  // Short waits stay short (a spin of a few tests); long ones sleep up to a millisecond a test.
  for (int tests = 0;; ++tests) {
    MPI_Test(&request, &done, MPI_STATUS_IGNORE);
    if (done) return;
    if (tests > 64) std::this_thread::sleep_for(std::chrono::microseconds(tests > 1024 ? 1000 : 50));
  }
}

template <typename T>
uint64_t broadcast(MPI_Comm comm, std::vector<T>& values, int root) {
  uint64_t count = values.size();
  MPI_Request request;
  MPI_Ibcast(&count, 1, MPI_UINT64_T, root, comm, &request);
  wait_for(request);
  if (rank_of(comm) != root) values.resize(count);
  constexpr uint64_t kChunk = 1u << 30;  // bytes per call
  auto* bytes = reinterpret_cast<char*>(values.data());
  const uint64_t total = count * sizeof(T);
  for (uint64_t at = 0; at < total; at += kChunk) {
    MPI_Ibcast(bytes + at, static_cast<int>(std::min(kChunk, total - at)), MPI_BYTE, root, comm, &request);
    wait_for(request);
  }
  const int ranks = size_of(comm);
  return rank_of(comm) == root ? total * static_cast<uint64_t>(ranks - 1) : total;
}
template uint64_t broadcast(MPI_Comm, std::vector<int64_t>&, int);
template uint64_t broadcast(MPI_Comm, std::vector<uint32_t>&, int);
template uint64_t broadcast(MPI_Comm, std::vector<char>&, int);

MPI_Datatype byte_block(int64_t bytes) {
  if (bytes <= 0 || bytes > INT_MAX) {
    throw Error(ErrorCode::Unsupported, "MPI: a record of " + std::to_string(bytes) + " bytes is too large");
  }
  MPI_Datatype type;
  MPI_Type_contiguous(static_cast<int>(bytes), MPI_BYTE, &type);
  MPI_Type_commit(&type);
  return type;
}

std::vector<uint8_t> all_to_all(MPI_Comm comm, std::vector<std::vector<uint8_t>>& to, size_t record_bytes,
                                uint64_t& sent_bytes, uint64_t& received_bytes) {
  const int ranks = size_of(comm);
  const int rank = rank_of(comm);
  std::vector<int> send_counts(ranks), receive_counts(ranks), send_at(ranks), receive_at(ranks);
  for (int r = 0; r < ranks; ++r) {
    const uint64_t records = to[r].size() / record_bytes;
    if (records > INT_MAX) throw Error(ErrorCode::Unsupported, "MPI: more than 2^31 records for one rank");
    send_counts[r] = static_cast<int>(records);
  }
  MPI_Request request;
  MPI_Ialltoall(send_counts.data(), 1, MPI_INT, receive_counts.data(), 1, MPI_INT, comm, &request);
  wait_for(request);
  int64_t sent = 0, received = 0;
  for (int r = 0; r < ranks; ++r) {
    send_at[r] = static_cast<int>(sent);
    receive_at[r] = static_cast<int>(received);
    sent += send_counts[r];
    received += receive_counts[r];
    if (sent > INT_MAX || received > INT_MAX) throw Error(ErrorCode::Unsupported, "MPI: more than 2^31 records on one rank");
  }
  // One contiguous send buffer in rank order, each rank's part freed once copied.
  std::vector<uint8_t> send(static_cast<size_t>(sent) * record_bytes);
  for (int r = 0; r < ranks; ++r) {
    std::copy(to[r].begin(), to[r].end(), send.begin() + static_cast<size_t>(send_at[r]) * record_bytes);
    std::vector<uint8_t>().swap(to[r]);
  }
  std::vector<uint8_t> receive(static_cast<size_t>(received) * record_bytes);
  MPI_Datatype record = byte_block(static_cast<int64_t>(record_bytes));
  MPI_Ialltoallv(send.data(), send_counts.data(), send_at.data(), record, receive.data(), receive_counts.data(),
                 receive_at.data(), record, comm, &request);
  wait_for(request);
  MPI_Type_free(&record);
  sent_bytes += static_cast<uint64_t>(sent - send_counts[rank]) * record_bytes;
  received_bytes += static_cast<uint64_t>(received - receive_counts[rank]) * record_bytes;
  return receive;
}

void all_gather(MPI_Comm comm, const void* mine, int64_t records, size_t record_bytes, void* all,
                int64_t total_records, uint64_t& sent_bytes, uint64_t& received_bytes) {
  const int ranks = size_of(comm);
  if (records > INT_MAX) throw Error(ErrorCode::Unsupported, "MPI: more than 2^31 records on one rank");
  int count = static_cast<int>(records);
  std::vector<int> counts(ranks), at(ranks);
  MPI_Request request;
  MPI_Iallgather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, comm, &request);
  wait_for(request);
  int64_t total = 0;
  for (int r = 0; r < ranks; ++r) {
    at[r] = static_cast<int>(total);
    total += counts[r];
    if (total > INT_MAX) throw Error(ErrorCode::Unsupported, "MPI: more than 2^31 records in all");
  }
  if (total != total_records) throw Error(ErrorCode::Internal, "MPI: the ranks' records do not add up");
  MPI_Datatype record = byte_block(static_cast<int64_t>(record_bytes));
  MPI_Iallgatherv(mine, count, record, all, counts.data(), at.data(), record, comm, &request);
  wait_for(request);
  MPI_Type_free(&record);
  sent_bytes += static_cast<uint64_t>(records) * record_bytes * static_cast<uint64_t>(ranks - 1);
  received_bytes += static_cast<uint64_t>(total - records) * record_bytes;
}

bool run_caught(const std::function<void()>& work, int& code, std::string& message) {
  try {
    work();
    return true;
  } catch (const Error& e) {
    code = static_cast<int>(e.code());
    message = e.what();
  } catch (const std::bad_alloc&) {
    code = static_cast<int>(ErrorCode::Internal);
    message = "out of memory";
  } catch (const std::exception& e) {
    code = static_cast<int>(ErrorCode::Internal);
    message = e.what();
  }
  return false;
}

void abort_on_failure(MPI_Comm comm, const char* stage, const std::function<void()>& work) {
  int code = 0;
  std::string message;
  if (run_caught(work, code, message)) return;
  std::fprintf(stderr, "annforge: rank %d of %d, %s: %s; ending the job\n", rank_of(comm), size_of(comm), stage,
               message.c_str());
  std::fflush(stderr);
  MPI_Abort(comm, 1);
}

void inject_fault(MPI_Comm comm) {
  const char* spec = std::getenv("ANNFORGE_MPI_FAULT");
  if (!spec || !*spec) return;
  const std::string text = spec;
  const size_t colon = text.find(':');
  if (colon == std::string::npos) return;
  if (std::atoi(text.substr(0, colon).c_str()) != rank_of(comm)) return;
  const std::string kind = text.substr(colon + 1);
  if (kind == "kill") std::raise(SIGKILL);
  if (kind == "oom") throw std::bad_alloc();
  if (kind == "error") throw Error(ErrorCode::Internal, "a fault injected by ANNFORGE_MPI_FAULT");
}

}  // namespace annforge::mpi

namespace annforge {

void agree_on_failure(MPI_Comm comm, const char* stage, const std::function<void()>& work) {
  int code = 0;
  std::string message;
  const bool failed = !mpi::run_caught(work, code, message);
  const int rank = mpi::rank_of(comm);
  int mine = failed ? rank : INT_MAX;
  int first = INT_MAX;
  MPI_Request request;
  MPI_Iallreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm, &request);
  mpi::wait_for(request);
  if (first == INT_MAX) return;
  // The lowest failing rank tells every rank what went wrong.
  std::vector<char> text(message.begin(), message.end());
  std::vector<int64_t> what{code};
  mpi::broadcast(comm, what, first);
  mpi::broadcast(comm, text, first);
  throw Error(static_cast<ErrorCode>(what[0]), "rank " + std::to_string(first) + " of " +
                                                   std::to_string(mpi::size_of(comm)) + ", " + stage + ": " +
                                                   std::string(text.begin(), text.end()));
}

}  // namespace annforge
